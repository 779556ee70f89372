"""Harmonic / percussive / residual separation (median-filtering HPSS) that streams seamlessly.

The classic HPSS of Fitzgerald (2010), with the soft masks and margins of Driedger et al. (2014)
as in :func:`librosa.decompose.hpss`: a magnitude spectrogram median-filtered across time gives
the harmonic (sustained) part, across frequency the percussive (transient) part; Wiener-like
soft masks with margins split the STFT into harmonic, percussive and a residual (what neither
claims when a margin is above 1).

Streaming: the STFT (Hann window, hop ``n_fft / 4``) runs over a zero-extended stream; the
time-median of a frame needs ``harmonic_kernel // 2`` frames of look-ahead, so the node has a fixed
latency of ``harmonic_kernel // 2 * hop + n_fft`` samples (:attr:`HarmonicPercussive.latency`).
Fed block by block (``reset=False``), its output is the whole-buffer output delayed by that
latency, whatever the block sizes; :meth:`HarmonicPercussive.flush` gives back the last
``latency`` samples at the end of a stream. A whole-buffer call (``reset=True``) compensates the
latency itself (same length, aligned); ``reset=False`` blocks after it start a new stream. :func:`hpss_file` streams a file with compensation, so
its output equals whole-buffer processing with bounded memory.

Masks come from the sum of the channels' magnitudes, so every channel is split the same way
(the stereo image of each part stays put).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.audio import as_audio, check_sample_rate, restore_layout
from ..core.errors import AudioError
from ..core.node import EffectNode, Param
from ..core.progress import ProgressCallback

PARTS = ("harmonic", "percussive", "residual")


def _odd(k: int) -> int:
    return int(k) if int(k) % 2 else int(k) + 1


def _latency(n_fft: int, kernel_h: int) -> int:
    """Streaming delay, samples: the time median's look-ahead (``kernel // 2`` hops) plus a frame."""
    return _odd(kernel_h) // 2 * (n_fft // 4) + n_fft


class _HPSSEngine:
    """Block-in, block-out HPSS state machine (fixed latency, exact across block splits)."""

    def __init__(self, channels: int, n_fft: int, kernel_h: int, kernel_p: int, margin_h: float,
                 margin_p: float, power: float) -> None:
        self.ch = channels
        self.n_fft = n_fft
        self.hop = n_fft // 4
        self.kh = _odd(kernel_h)
        self.kp = _odd(kernel_p)
        self.h = self.kh // 2
        self.margin_h = margin_h
        self.margin_p = margin_p
        self.power = power
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
        # Hann analysis x Hann synthesis at hop n_fft/4 sums to 1.5: normalise.
        self.synth = (self.window / 1.5).astype(np.float32)
        self.latency = _latency(n_fft, kernel_h)
        nb = n_fft // 2 + 1
        # Input: zero prefix so the first frame ends one hop into the signal.
        self.inbuf = np.zeros((channels, n_fft - self.hop), np.float32)
        # Spectra of frames not yet synthesised and magnitude context (h zero frames before 0).
        self.spec = np.zeros((channels, nb, 0), np.complex64)
        self.mag = np.zeros((nb, self.h), np.float32)
        # Output accumulator of the overlap-add, per part, starting at buffer position `ola_pos`.
        self.ola = np.zeros((3, channels, n_fft), np.float32)
        # FIFO of finished output samples per part; starts with `latency` samples of silence
        # minus the zero prefix, which is itself finished output before the signal starts.
        self.fifo = np.zeros((3, channels, self.latency - (n_fft - self.hop)), np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed ``(channels, n)``; return ``(3, channels, n)`` delayed by :attr:`latency`."""
        from scipy.ndimage import median_filter

        n = x.shape[1]
        self.inbuf = np.concatenate([self.inbuf, x], axis=1)
        n_frames = (self.inbuf.shape[1] - self.n_fft) // self.hop + 1 if self.inbuf.shape[1] >= self.n_fft else 0
        if n_frames > 0:
            idx = np.arange(n_frames)[:, None] * self.hop + np.arange(self.n_fft)[None, :]
            frames = self.inbuf[:, idx] * self.window  # (ch, frames, n_fft)
            spec = np.fft.rfft(frames, axis=-1).astype(np.complex64).transpose(0, 2, 1)  # (ch, nb, frames)
            self.inbuf = self.inbuf[:, n_frames * self.hop :]
            self.spec = np.concatenate([self.spec, spec], axis=2)
            self.mag = np.concatenate([self.mag, np.abs(spec).sum(axis=0)], axis=1)
        # Frames whose time-median has its full look-ahead.
        ready = self.mag.shape[1] - 2 * self.h
        out_parts: list[np.ndarray] = []
        if ready > 0:
            mag = self.mag
            harm = median_filter(mag, size=(1, self.kh), mode="nearest")[:, self.h : self.h + ready]
            center = mag[:, self.h : self.h + ready]
            perc = median_filter(center, size=(self.kp, 1), mode="reflect")
            p = self.power
            eps = np.finfo(np.float32).tiny
            hh = harm**p
            pp = perc**p
            mh = hh / np.maximum(hh + (self.margin_h * perc) ** p, eps)
            mp = pp / np.maximum(pp + (self.margin_p * harm) ** p, eps)
            z = (hh + pp) <= eps  # silent bins: split evenly, like librosa's split_zeros
            mh = np.where(z, 0.5 if self.margin_h == self.margin_p == 1.0 else 0.0, mh)
            mp = np.where(z, 0.5 if self.margin_h == self.margin_p == 1.0 else 0.0, mp)
            spec = self.spec[:, :, :ready]
            sh = spec * mh[None].astype(np.float32)
            sp = spec * mp[None].astype(np.float32)
            sr_ = spec - sh - sp
            for part, s in enumerate((sh, sp, sr_)):
                frames = np.fft.irfft(s.transpose(0, 2, 1), n=self.n_fft, axis=-1).astype(np.float32)
                frames *= self.synth
                out_parts.append(self._overlap_add(part, frames))
            self.spec = self.spec[:, :, ready:]
            self.mag = self.mag[:, ready:]
        if out_parts:
            self.fifo = np.concatenate([self.fifo, np.stack(out_parts)], axis=2)
        out = self.fifo[:, :, :n]
        self.fifo = self.fifo[:, :, n:]
        if out.shape[2] < n:  # cannot happen with the latency above; keep the contract anyway
            out = np.concatenate([out, np.zeros((3, self.ch, n - out.shape[2]), np.float32)], axis=2)
        return out

    def _overlap_add(self, part: int, frames: np.ndarray) -> np.ndarray:
        """Overlap-add ``(ch, k, n_fft)`` synthesis frames of one part; return finished samples."""
        k = frames.shape[1]
        hop, n_fft = self.hop, self.n_fft
        acc = np.zeros((self.ch, k * hop + n_fft), np.float32)
        acc[:, :n_fft] += self.ola[part]
        for r in range(n_fft // hop):
            # Frames r, r + 4, ... do not overlap each other: add them in one vectorised step.
            seg = frames[:, :, r * hop : (r + 1) * hop]  # (ch, k, hop)
            acc[:, r * hop : r * hop + k * hop] += seg.reshape(self.ch, k * hop)
        self.ola[part] = acc[:, k * hop :]
        return acc[:, : k * hop]


def _aligned(eng: _HPSSEngine, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Latency-compensated parts ``(3, channels, k)`` of a stream of ``(channels, k)`` blocks.

    Pushes the blocks, then ``latency`` samples of silence, and drops the first ``latency``
    output samples: the parts are aligned with the input and as long as it in all.
    """
    skip = eng.latency
    for x in itertools.chain(blocks, [np.zeros((eng.ch, eng.latency), np.float32)]):
        y = eng.push(x)
        cut = min(skip, y.shape[2])
        skip -= cut
        yield y[:, :, cut:]


class HarmonicPercussive(EffectNode):
    """Split audio into harmonic, percussive and residual parts and mix them with gains.

    ``percussive_db=+3, harmonic_db=-6`` gives "drums louder, synths down" in one node; a gain at
    -60 dB mutes its part. With margins of 1 the residual is empty and the three gains at 0 dB
    rebuild the input (up to the STFT's round-off).

    Streams with a fixed :attr:`latency` (see the module docs); whole-buffer calls are aligned.
    """

    type_name = "hpss"
    harmonic_db = Param(float, 0.0, -60.0, 24.0, unit="dB", doc="gain of the harmonic part (-60 = off)")
    percussive_db = Param(float, 0.0, -60.0, 24.0, unit="dB", doc="gain of the percussive part (-60 = off)")
    residual_db = Param(float, 0.0, -60.0, 24.0, unit="dB", doc="gain of the residual (-60 = off)")
    margin_harmonic = Param(float, 1.0, 1.0, 16.0, unit="x", doc="harmonic mask margin (>1: stricter)")
    margin_percussive = Param(float, 1.0, 1.0, 16.0, unit="x", doc="percussive mask margin (>1: stricter)")
    harmonic_kernel = Param(int, 31, 3, 127, unit="frames", doc="time median length (odd; sets latency)")
    percussive_kernel = Param(int, 31, 3, 255, unit="bins", doc="frequency median length (odd)")
    n_fft = Param(int, 2048, 256, 16384, unit="samples", doc="FFT size (hop = n_fft / 4; power of 2)")
    power = Param(float, 2.0, 0.5, 8.0, doc="soft-mask exponent")

    _STRUCTURAL = ("margin_harmonic", "margin_percussive", "harmonic_kernel", "percussive_kernel", "n_fft", "power")

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        self._engine: _HPSSEngine | None = None
        super().__init__(name=name, **params)
        if self.n_fft & (self.n_fft - 1):
            from ..core.errors import ParameterError

            raise ParameterError(f"{self.name}.n_fft must be a power of 2, got {self.n_fft}")

    @property
    def latency(self) -> int:
        """Delay of the streamed output, samples (independent of the sample rate)."""
        return _latency(self.n_fft, self.harmonic_kernel)

    def _parameter_changed(self, key: str) -> None:
        if key in self._STRUCTURAL:
            self._engine = None  # rebuilt (state cleared) at the next block

    def reset(self) -> None:
        self._engine = None

    def _new_engine(self, channels: int) -> _HPSSEngine:
        return _HPSSEngine(channels, self.n_fft, self.harmonic_kernel, self.percussive_kernel,
                           self.margin_harmonic, self.margin_percussive, self.power)

    def _gains(self) -> np.ndarray:
        g = [0.0 if db <= -60.0 else 10 ** (db / 20)
             for db in (self.harmonic_db, self.percussive_db, self.residual_db)]
        return np.asarray(g, np.float32)

    def split(self, audio: np.ndarray, sample_rate: float) -> dict[str, np.ndarray]:
        """Whole-buffer split into parts (aligned with the input).

        Parameters
        ----------
        audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
        sample_rate : float
            Hz (HPSS itself does not depend on it; checked for consistency).

        Returns
        -------
        dict with ``harmonic``, ``percussive``, ``residual`` : np.ndarray, float32
            Same shape as ``audio``; they sum to the input up to round-off.
        """
        check_sample_rate(sample_rate)
        x, was_mono = as_audio(audio, name=f"{self.name} input")
        parts = self._whole(x)
        return {k: restore_layout(parts[i], was_mono) for i, k in enumerate(PARTS)}

    def _whole(self, x: np.ndarray, block: int = 1 << 16) -> np.ndarray:
        # Latency-compensated parts of a whole buffer, ``(3, channels, samples)``. The engine is
        # fed in blocks (exact across splits), so only the output grows with the buffer, not
        # the spectrogram: a 3-minute stereo track needs ~190 MB instead of ~3 GB.
        n = x.shape[1]
        out = np.empty((3, x.shape[0], n), np.float32)
        pos = 0
        for parts in _aligned(self._new_engine(x.shape[0]), (x[:, i : i + block] for i in range(0, n, block))):
            out[:, :, pos : pos + parts.shape[2]] = parts
            pos += parts.shape[2]
        return out

    def flush(self) -> np.ndarray:
        """End a stream: the last :attr:`latency` samples of output, ``(channels, latency)``."""
        with self._lock:
            if self._engine is None:
                return np.zeros((1, 0), np.float32)
            parts = self._engine.push(np.zeros((self._engine.ch, self._engine.latency), np.float32))
            self._engine = None
        return np.tensordot(self._gains(), parts, axes=1).astype(np.float32)

    def _run(self, audio, sample_rate, buffer_size, *, reset, frontend):  # noqa: ANN001
        gains = self._gains()
        if reset:
            # Whole buffer, latency-compensated. reset=False blocks after it start a new stream.
            self._engine = None
            return np.tensordot(gains, self._whole(audio), axes=1).astype(np.float32)
        if self._engine is None or self._engine.ch != audio.shape[0]:
            self._engine = self._new_engine(audio.shape[0])
        parts = self._engine.push(audio)
        return np.tensordot(gains, parts, axes=1).astype(np.float32)


def hpss_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    parts: tuple[str, ...] = ("harmonic", "percussive"),
    block_size: int = 65536,
    fmt: str = "wav",
    bit_depth: int | None = None,
    progress: ProgressCallback | None = None,
    **params: Any,
) -> dict[str, Path]:
    """Split an audio file into harmonic / percussive / residual files, streaming.

    Memory is bounded by ``block_size``; the output is latency-compensated, so each file equals
    :meth:`HarmonicPercussive.split` of the whole file (up to float round-off).

    Parameters
    ----------
    path : str or Path
        Input audio (never modified).
    out_dir : str or Path
        Folder (created); files are ``<part>.<fmt>``.
    parts : tuple of str
        Which of ``harmonic``, ``percussive``, ``residual`` to write.
    block_size : int
        Samples per block.
    fmt : str
        Output extension.
    bit_depth : int, optional
        16, 24 or 32 (wav/flac/aiff).
    progress : callable, optional
        ``progress(fraction, message)``.
    **params
        :class:`HarmonicPercussive` parameters (margins, kernels, ``n_fft``, ``power``).

    Returns
    -------
    dict of str -> Path
    """
    from ..core.io import audio_info
    from ..core.runner import AudioOutputs, per_block, run_file

    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise AudioError(f"parts must be among {', '.join(PARTS)}; got {', '.join(bad) or 'none'}")
    src = Path(path)
    info = audio_info(src)
    node = HarmonicPercussive(**{k: v for k, v in params.items() if not k.endswith("_db")})
    out = Path(out_dir)
    paths = {p: out / f"{p}.{fmt.lstrip('.')}" for p in parts}
    idx = [PARTS.index(p) for p in parts]
    eng = node._new_engine(info.channels)

    def split(x: np.ndarray) -> dict[str, np.ndarray]:
        y = eng.push(x)
        return {p: y[i] for p, i in zip(parts, idx, strict=True)}

    # The folder is created with the files and removed again if the run fails or is stopped.
    outputs = AudioOutputs(paths, info.sample_rate, inputs=[src], bit_depth=bit_depth, make_folders=True)
    run_file(src, per_block(split), outputs, block_size=block_size, latency=eng.latency,
             progress=progress,
             message=lambda done, _: f"HPSS {done / info.sample_rate:.0f}/{info.duration:.0f} s")
    return paths
