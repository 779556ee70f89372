"""Decimated waveform peaks: what the page and the picture draw instead of raw samples."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.io import audio_info, stream_audio
from ..core.progress import ProgressCallback

#: Peaks per second drawn at the deepest zoom (one per 5 ms).
PEAK_RATE = 200.0
#: Upper bound on the peaks of one lane, so an hour-long mix stays a light page.
MAX_PEAKS = 1 << 17


@dataclass
class Peaks:
    """Min/max envelope of a signal in equal bins.

    Attributes
    ----------
    rate : float
        Bins per second.
    lo, hi : np.ndarray, float32, ``(n_bins,)``
        Lowest and highest sample of each bin over all channels, divided by ``scale``
        (so within ``[-1, 1]``).
    scale : float
        Peak amplitude of the signal (1.0 = full scale).
    kind : str
        ``"peaks"`` (from samples) or ``"rms"`` (an RMS envelope standing in for missing audio).
    """

    rate: float
    lo: np.ndarray
    hi: np.ndarray
    scale: float
    kind: str = "peaks"

    def resampled(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` over ``n`` equal bins (min of mins, max of maxes)."""
        size = self.lo.size
        if size == 0:
            return np.zeros(n), np.zeros(n)
        edges = np.linspace(0, size, n + 1).astype(np.int64)
        edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
        edges = np.minimum(edges, size)
        starts = np.minimum(edges[:-1], size - 1)
        return np.minimum.reduceat(self.lo, starts), np.maximum.reduceat(self.hi, starts)

    def to_json(self) -> dict[str, object]:
        """``{"rate", "scale", "kind", "lo", "hi"}`` with lo/hi as base64 of int8 (x 127)."""

        def enc(a: np.ndarray) -> str:
            q = np.clip(np.round(a * 127.0), -127, 127).astype(np.int8)
            return base64.b64encode(q.tobytes()).decode("ascii")

        return {"rate": round(self.rate, 6), "scale": round(self.scale, 6), "kind": self.kind,
                "lo": enc(self.lo), "hi": enc(self.hi)}


def peak_rate(duration: float, rate: float = PEAK_RATE, max_peaks: int = MAX_PEAKS) -> float:
    """Bins per second for a track of ``duration`` s: ``rate``, lowered to keep ``max_peaks``."""
    return float(min(rate, max_peaks / max(duration, 1e-9)))


def file_peaks(
    path: str | Path,
    rate: float = PEAK_RATE,
    *,
    max_peaks: int = MAX_PEAKS,
    progress: ProgressCallback | None = None,
) -> Peaks:
    """Stream an audio file into min/max peaks with bounded memory.

    Parameters
    ----------
    path : str or Path
        Audio file (never modified).
    rate : float
        Wanted bins per second (lowered so a long file gives at most ``max_peaks``).
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Peaks
        With ``rate`` = sample rate / the whole number of samples per bin.
    """
    info = audio_info(path)
    sr = info.sample_rate
    hop = max(1, int(round(sr / peak_rate(info.duration, rate, max_peaks))))
    block = hop * max(1, int(sr * 10) // hop)  # ~10 s per block
    los: list[np.ndarray] = []
    his: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    done = 0
    for chunk in stream_audio(path, block):
        lo_s = chunk.min(axis=0)
        hi_s = chunk.max(axis=0)
        done += chunk.shape[1]
        if carry.size:
            lo_s = np.concatenate([carry[0], lo_s])
            hi_s = np.concatenate([carry[1], hi_s])
        n = lo_s.size // hop
        los.append(lo_s[: n * hop].reshape(n, hop).min(axis=1))
        his.append(hi_s[: n * hop].reshape(n, hop).max(axis=1))
        carry = np.stack([lo_s[n * hop :], hi_s[n * hop :]])
        if progress is not None:
            progress(min(done / max(info.frames, 1), 1.0), f"peaks {done / sr:.0f}/{info.duration:.0f} s")
    if carry.size and carry.shape[1]:
        los.append(carry[0].min(keepdims=True))
        his.append(carry[1].max(keepdims=True))
    lo = np.concatenate(los).astype(np.float32) if los else np.zeros(0, np.float32)
    hi = np.concatenate(his).astype(np.float32) if his else np.zeros(0, np.float32)
    scale = float(max(np.abs(lo).max(initial=0.0), np.abs(hi).max(initial=0.0)))
    if scale > 0:
        lo, hi = lo / scale, hi / scale
    return Peaks(rate=sr / hop, lo=lo, hi=hi, scale=scale, kind="peaks")


def envelope_peaks(times: np.ndarray, rms: np.ndarray) -> Peaks:
    """A symmetric RMS envelope (``frames.npz``) standing in for peaks when the audio is missing."""
    rms = np.nan_to_num(np.asarray(rms, dtype=np.float64))
    rate = 1.0 / float(np.median(np.diff(times))) if times.size > 1 else 1.0
    amp = rms * np.sqrt(2.0)
    scale = float(amp.max(initial=0.0))
    hi = (amp / scale if scale > 0 else amp).astype(np.float32)
    return Peaks(rate=rate, lo=-hi, hi=hi, scale=scale, kind="rms")
