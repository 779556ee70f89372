"""Monophonic pitch tracking: f0 with voicing over time, and note events.

A vectorised YIN (de Cheveigne & Kawahara 2002): the front-end's mono signal is brought to
11 025 Hz, cut into frames (46 ms integration window, 23 ms hop), and for all frames at once the
difference function is computed from FFT cross-correlations and running energies, normalised
(cumulative mean normalised difference, CMNDF), and its first dip under ``threshold`` is refined by
parabolic interpolation. The CMNDF value at the chosen lag gives a voicing probability. A median
filter over 5 frames removes octave blips, and short voiced/unvoiced runs are absorbed. Notes are
runs of voiced frames on one rounded MIDI pitch.

It does what librosa's pyin does for a monophonic line at a small fraction of the cost (no HMM
over 2000 pitch states per frame); see ``benchmarks/bench_analysis.py`` for the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ParameterError
from ..core.frontend import StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode, Param, Result
from ..core.results import NoteEvent

if TYPE_CHECKING:
    from ..core.frontend import Frontend

PITCH_SR = 11025
WINDOW = 512
HOP = 256


@dataclass
class PitchTrack(Result):
    """f0 over time plus note events.

    Attributes
    ----------
    times : np.ndarray, shape ``(n_frames,)``
        Frame centre times, seconds.
    f0 : np.ndarray, shape ``(n_frames,)``
        Fundamental frequency, Hz; NaN where unvoiced.
    voiced_prob : np.ndarray, shape ``(n_frames,)``
        Voicing probability, ``[0, 1]``.
    notes : list of NoteEvent
        Note events (onset, offset in seconds, MIDI pitch).
    """

    times: np.ndarray
    f0: np.ndarray
    voiced_prob: np.ndarray
    notes: list[NoteEvent] = field(default_factory=list)

    @property
    def voiced(self) -> np.ndarray:
        """Boolean voicing per frame, ``(n_frames,)``."""
        return np.isfinite(self.f0)


def _median_filter(x: np.ndarray, k: int) -> np.ndarray:
    if x.size < k:
        return x.copy()
    pad = k // 2
    xp = np.pad(x, pad, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(xp, k), axis=1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True in ``mask``."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def yin(
    y: np.ndarray, sr: float, *, fmin: float, fmax: float, threshold: float, window: int, hop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised YIN.

    Parameters
    ----------
    y : np.ndarray, shape ``(samples,)``
        Mono signal.
    sr : float
        Hz.
    fmin, fmax : float
        Search range, Hz.
    threshold : float
        CMNDF dip threshold.
    window, hop : int
        Integration window and hop, samples.

    Returns
    -------
    f0 : np.ndarray, ``(n_frames,)``
        Hz (of the best dip, voiced or not).
    cmndf_min : np.ndarray, ``(n_frames,)``
        CMNDF at the chosen lag (0 = perfectly periodic).
    rms : np.ndarray, ``(n_frames,)``
        Frame RMS.
    """
    import scipy.fft

    tau_min = max(2, int(np.floor(sr / fmax)))
    tau_max = int(np.ceil(sr / fmin))
    n = window + tau_max + 1
    nfft = scipy.fft.next_fast_len(n + window)
    yp = np.pad(y.astype(np.float32), (window // 2, n))
    n_frames = max(1, 1 + (y.size - 1) // hop)
    frames_all = np.lib.stride_tricks.sliding_window_view(yp, n)[::hop][:n_frames]
    f0 = np.empty(n_frames)
    dmin = np.empty(n_frames)
    rms = np.empty(n_frames)
    taus = np.arange(tau_max + 1)
    chunk = 2048
    for i in range(0, n_frames, chunk):
        fr = np.asarray(frames_all[i : i + chunk], dtype=np.float32)
        m = fr.shape[0]
        a = scipy.fft.rfft(fr[:, :window], nfft, axis=1, workers=2)
        b = scipy.fft.rfft(fr, nfft, axis=1, workers=2)
        r = scipy.fft.irfft(np.conj(a) * b, nfft, axis=1, workers=2)[:, : tau_max + 1]
        sq = np.concatenate([np.zeros((m, 1), np.float32), np.cumsum(fr.astype(np.float64) ** 2, axis=1)], axis=1)
        e = sq[:, taus + window] - sq[:, taus]  # energy of x[tau : tau + window]
        d = np.maximum(e[:, :1] + e - 2.0 * r, 0.0)
        d[:, 0] = 0.0
        cum = np.cumsum(d[:, 1:], axis=1)
        cmndf = np.ones_like(d)
        cmndf[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
        c = cmndf[:, tau_min : tau_max]
        local_min = np.zeros_like(c, dtype=bool)
        local_min[:, 1:-1] = (c[:, 1:-1] <= c[:, :-2]) & (c[:, 1:-1] < c[:, 2:])
        below = (c < threshold) & local_min
        first = np.argmax(below, axis=1)
        has = below.any(axis=1)
        best = np.where(has, first, np.argmin(c, axis=1))
        # walk down to the bottom of the dip
        k = best + tau_min
        rows = np.arange(m)
        for _ in range(3):
            step = (cmndf[rows, np.minimum(k + 1, tau_max)] < cmndf[rows, k]) & (k + 1 < tau_max)
            k = k + step
        y0 = cmndf[rows, np.maximum(k - 1, 1)]
        y1 = cmndf[rows, k]
        y2 = cmndf[rows, np.minimum(k + 1, tau_max)]
        den = y0 - 2 * y1 + y2
        off = np.where(den > 1e-12, 0.5 * (y0 - y2) / np.where(den > 1e-12, den, 1.0), 0.0)
        off = np.clip(off, -0.5, 0.5)
        f0[i : i + m] = sr / (k + off)
        dmin[i : i + m] = y1
        rms[i : i + m] = np.sqrt(e[:, 0] / window)
    return f0, dmin, rms


def track_pitch(
    audio: np.ndarray,
    sr: float,
    *,
    fmin: float = 65.0,
    fmax: float = 1500.0,
    threshold: float = 0.15,
    voicing: float = 0.3,
    min_note: float = 0.06,
    frontend: Frontend | None = None,
) -> PitchTrack:
    """Track the f0 of a monophonic line, with voicing and note events.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    fmin, fmax : float
        Pitch range, Hz (``20 <= fmin < fmax <= 4000``).
    threshold : float
        YIN dip threshold (smaller is stricter).
    voicing : float
        A frame is voiced when its CMNDF minimum is below this (and it is not near-silent).
    min_note : float
        Shortest note event, seconds.
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    PitchTrack
        ``times`` every 23.2 ms, ``f0`` in Hz (NaN unvoiced), ``voiced_prob`` and ``notes``.
    """
    if not (20.0 <= fmin < fmax <= 4000.0):
        raise ParameterError(f"pitch range must satisfy 20 <= fmin < fmax <= 4000 Hz, got [{fmin}, {fmax}]")
    fe = frontend_for(audio, sr, frontend)
    y = fe.mono_at(PITCH_SR)
    f0, dmin, rms = yin(y, PITCH_SR, fmin=fmin, fmax=fmax, threshold=threshold, window=WINDOW, hop=HOP)
    times = np.arange(f0.size) * HOP / PITCH_SR
    peak = float(rms.max()) if rms.size else 0.0
    prob = np.clip(1.0 - dmin, 0.0, 1.0)
    prob[rms < max(peak * 10 ** (-50 / 20), 1e-5)] = 0.0
    voiced = (dmin < voicing) & (prob > 0)
    # smooth: median of the pitch (in semitones) over voiced neighbours, then absorb short runs
    midi = 69.0 + 12.0 * np.log2(np.maximum(f0, 1e-6) / 440.0)
    sm = _median_filter(np.where(voiced, midi, np.nan), 5)
    midi = np.where(np.isfinite(sm), sm, midi)
    v = voiced.copy()
    for a, b in _runs(~v):
        if b - a <= 1 and a > 0 and b < v.size:
            v[a:b] = True
    for a, b in _runs(v):
        if b - a < 3:
            v[a:b] = False
    f0_out = np.where(v, 440.0 * 2 ** ((midi - 69.0) / 12.0), np.nan)
    notes: list[NoteEvent] = []
    min_frames = max(1, int(round(min_note * PITCH_SR / HOP)))
    for a, b in _runs(v):
        q = np.round(midi[a:b]).astype(np.int64)
        # split where the rounded pitch changes and stays changed
        start = 0
        for j in range(1, q.size + 1):
            if j == q.size or (q[j] != q[start] and np.all(q[j : j + 2] == q[j])):
                if j - start >= min_frames:
                    pitch = int(np.median(q[start:j]))
                    amp = float(np.median(rms[a + start : a + j]))
                    vel = int(np.clip(127 + 40 * np.log10(max(amp, 1e-9) / max(peak, 1e-9)), 1, 127))
                    notes.append(NoteEvent(float(times[a + start]), float(times[a + j - 1] + HOP / PITCH_SR), pitch, vel))
                start = j
    return PitchTrack(times, f0_out, prob, notes)


class PitchTracker(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: f0, voicing and notes (:func:`track_pitch`); result is a :class:`PitchTrack`."""

    type_name = "pitch_tracker"
    provides = "pitch"
    fmin = Param(float, 65.0, 20.0, 4000.0, unit="Hz", doc="lowest pitch")
    fmax = Param(float, 1500.0, 20.0, 4000.0, unit="Hz", doc="highest pitch")
    threshold = Param(float, 0.15, 0.01, 1.0, doc="YIN dip threshold")
    voicing = Param(float, 0.3, 0.01, 1.0, doc="CMNDF below this is voiced")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return track_pitch(
            audio, sample_rate, fmin=self.fmin, fmax=self.fmax, threshold=self.threshold,
            voicing=self.voicing, frontend=frontend,
        )
