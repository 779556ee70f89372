"""How much of a generated track is a verbatim copy of its sources, measured on the audio.

The renderer's log says how long a stretch of one recording it played (the longest note sample in
generative mode, the longest chain of consecutive phrases in slice mode); this module checks that
figure on the sound itself, without trusting the log for *where* anything came from.

Both the output and the sources become log-frequency spectrograms (3 bins per semitone from
130 Hz (C3) to 5.3 kHz, STFT 4096 / hop 1024 at 22.05 kHz: 46 ms frames), each frame a dB vector
floored 25 dB below its loudest bin, mean-removed and unit length (silent frames are zero). A copy that was re-pitched by
``s`` semitones and played ``rho`` times slower or faster is undone by shifting the output's bins
by ``-s`` and resampling its frames in time by ``rho``; the output is then compared with every
source frame (cosine matrix), the cosines are averaged over ``window`` seconds along each
diagonal, and a copy is a run of windows above ``threshold`` along a diagonal (one frame of
jitter allowed per step, for piecewise time warps; the path's source span must stay within 15 %
of its output span). The longest such run, in output seconds, over all candidate
``(s, rho)`` pairs, is the longest verbatim copy.

Candidates: :func:`resample_candidates` (a sampler re-pitching by resampling, as generative mode
does: ``rho = 2 ** (s / 12)``) and the ``(shift, tempo ratio)`` pairs of slice mode's log.

A time-reversed copy of the sources holds the same spectra but no forward copies: the same
search against it gives the chance level (sustained chords that match for a while) reported
beside the figure.

Sensitivity (``benchmarks/bench_blend.py --music``, real recordings): a 4.0-s source excerpt
re-pitched +2 semitones and added to a generated mix at the mix's RMS is found in the right
recording near the right place but measured 1.9-2.5 s long; at -6 dB under the mix 1.1 s (the
chance level of these mixes is 0.5-0.9 s). On its own or dominating (slice mode, synthetic
tests) a copy is measured within about 0.3 s of its length. The figure is a lower bound for
copies buried in a mix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Analysis rate, STFT size and hop of the copy features.
RATE = 22050.0
N_FFT = 4096
HOP = 1024
#: Bins per semitone, MIDI number of the lowest bin and number of bins.
PER_SEMITONE = 3
LOW_MIDI = 48
BINS = 64 * PER_SEMITONE
#: Frames this far (dB) below the signal's loudest frame are treated as silence.
SILENCE_DB = 50.0
#: Each frame's dB floor below its loudest bin (quiet detail that a mix would bury is ignored).
FLOOR_DB = 25.0
#: Mean frame cosine over a window that counts as the same audio.
THRESHOLD = 0.6
#: ... and by how much it must beat the same source shifted by CONTRAST_LAG_S either way.
CONTRAST = 0.1
CONTRAST_LAG_S = 0.3


def _filterbank() -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    midi = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1e-3) / 440.0)
    fb = np.zeros((BINS, freqs.size), np.float32)
    for b in range(BINS):
        centre = LOW_MIDI + b / PER_SEMITONE
        fb[b] = np.maximum(0.0, 1.0 - np.abs(midi - centre) * PER_SEMITONE)
        if not fb[b].any():  # narrower than an FFT bin: the nearest one
            fb[b, int(np.argmin(np.abs(midi - centre)))] = 1.0
    return fb


def copy_features(mono: np.ndarray, sr: float) -> np.ndarray:
    """Semitone spectrogram frames of a mono signal, each mean-removed and unit length.

    Parameters
    ----------
    mono : np.ndarray, shape ``(samples,)``
    sr : float
        Hz (resampled to :data:`RATE`).

    Returns
    -------
    np.ndarray, float32, shape ``(frames, BINS)``
        Frames at ``HOP / RATE`` s; silent frames are all zero.
    """
    e = _semitone_energy(mono, sr)
    level = 10.0 * np.log10(np.sum(e ** 2, axis=1) + 1e-12)
    db = 20.0 * np.log10(e + 1e-6)
    db = np.maximum(db, db.max(axis=1, keepdims=True) - FLOOR_DB)
    f = db - db.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    f = np.where(norm > 0, f / np.maximum(norm, 1e-9), 0.0)
    f[level < level.max() - SILENCE_DB] = 0.0
    return f.astype(np.float32)


def _semitone_energy(mono: np.ndarray, sr: float) -> np.ndarray:
    from ..core.io import resample

    x = np.asarray(mono, np.float32)
    if float(sr) != RATE:
        x = resample(x, sr, RATE)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    n = 1 + (x.size - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    mag = np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT).astype(np.float32), axis=1)).astype(np.float32)
    return mag @ _filterbank().T  # (frames, BINS)


def _undo(out: np.ndarray, semitones: int, rho: float) -> np.ndarray:
    """Output frames mapped back to the source's pitch and time (see the module docstring)."""
    f = np.zeros_like(out)
    s = int(semitones) * PER_SEMITONE
    if s >= 0:
        f[:, : BINS - s] = out[:, s:]
    else:
        f[:, -s:] = out[:, : BINS + s]
    n = max(1, int(np.floor((out.shape[0] - 1) * rho)) + 1)
    t = np.arange(n) / rho  # output frame of each source-rate frame
    i0 = np.clip(np.floor(t).astype(int), 0, out.shape[0] - 1)
    i1 = np.minimum(i0 + 1, out.shape[0] - 1)
    w = (t - i0)[:, None].astype(np.float32)
    g = (1.0 - w) * f[i0] + w * f[i1]
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    return np.where(norm > 1e-6, g / np.maximum(norm, 1e-9), 0.0).astype(np.float32)


def _longest_run(match: np.ndarray, jitter: bool) -> tuple[int, int, int, int]:
    """Longest path of True cells moving one row down and ``1 (+-1 with jitter)`` columns right.

    Returns ``(length in rows, end row, end column, start column)``; paths whose column span
    differs from their row span by more than 15 % (+1) do not count.
    """
    k, u = match.shape
    run = np.zeros(u, np.int32)
    start = np.zeros(u, np.int32)  # start column of the path ending here
    best = (0, -1, -1, -1)
    cols = np.arange(u)
    for r in range(k):
        prev = np.zeros(u, np.int32)
        pst = cols.astype(np.int32).copy()
        prev[1:], pst[1:] = run[:-1], start[:-1]  # diagonal
        if jitter:
            for lag in (2, 0):  # (r-1, u-2) and (r-1, u)
                cand = np.zeros(u, np.int32)
                cst = cols.astype(np.int32).copy()
                if lag:
                    cand[lag:], cst[lag:] = run[:-lag], start[:-lag]
                else:
                    cand, cst = run.copy(), start.copy()
                take = cand > prev
                prev, pst = np.where(take, cand, prev), np.where(take, cst, pst)
        m = match[r]
        run = np.where(m, prev + 1, 0).astype(np.int32)
        start = np.where(m & (prev > 0), pst, cols).astype(np.int32)
        span = cols - start + 1
        ok = m & (np.abs(span - run) <= 0.15 * run + 1)
        if ok.any():
            j = int(np.argmax(np.where(ok, run, 0)))
            if run[j] > best[0]:
                best = (int(run[j]), r, j, int(start[j]))
    return best


@dataclass
class SourceBank:
    """Copy features of the source recordings, end to end with silent gaps between them.

    Attributes
    ----------
    features : np.ndarray, shape ``(frames, BINS)``
    names : list of str
    starts : np.ndarray
        First frame of each recording in ``features``.
    """

    features: np.ndarray
    names: list[str]
    starts: np.ndarray

    @classmethod
    def from_signals(cls, signals: Mapping[str, tuple[np.ndarray, float]], gap_s: float = 2.0) -> SourceBank:
        """Bank of ``{name: (mono, sr)}``."""
        gap = np.zeros((int(gap_s * RATE / HOP) + 1, BINS), np.float32)
        feats, names, starts, pos = [], [], [], 0
        for name, (mono, sr) in signals.items():
            f = copy_features(mono, sr)
            names.append(name)
            starts.append(pos)
            feats.extend([f, gap])
            pos += f.shape[0] + gap.shape[0]
        return cls(np.concatenate(feats) if feats else np.zeros((0, BINS), np.float32), names,
                   np.asarray(starts, int))

    @classmethod
    def from_dataset(cls, dataset: str | Path, genres: Iterable[str] | None = None) -> SourceBank:
        """Bank of a dataset's recordings (its chunks put back in order per source)."""
        from ..core.io import read_audio
        from .dataset import read_manifest

        dataset = Path(dataset)
        rows = read_manifest(dataset)
        want = set(genres) if genres is not None else None
        by_src: dict[str, list[dict]] = {}
        for r in rows:
            if want is None or r["genre"] in want:
                by_src.setdefault(f"{r['genre']}: {r['source']}", []).append(r)
        signals = {}
        for name, rs in sorted(by_src.items()):
            parts = []
            for r in sorted(rs, key=lambda r: r["offset"]):
                a, sr = read_audio(dataset / r["wav"], mono=True)
                parts.append(np.asarray(a).reshape(-1)[: r["real_samples"]])
            signals[name] = (np.concatenate(parts), sr)
        return cls.from_signals(signals)

    def reversed(self) -> SourceBank:
        """The same frames in reverse time order (the chance-level control)."""
        return SourceBank(self.features[::-1].copy(), [f"reversed {n}" for n in self.names],
                          self.features.shape[0] - 1 - self.starts)

    def index_at(self, frame: int) -> int:
        """Index of the source recording that frame ``frame`` belongs to."""
        return max(int(np.searchsorted(self.starts, frame, side="right")) - 1, 0)

    def name_at(self, frame: int) -> str:
        return self.names[self.index_at(frame)] if self.names else ""


def resample_candidates(max_shift: int = 7) -> list[tuple[int, float]]:
    """``(semitones, rho)`` of a sampler that re-pitches by resampling: ``rho = 2 ** (s / 12)``."""
    return [(s, float(2.0 ** (s / 12.0))) for s in range(-max_shift, max_shift + 1)]


def longest_copy(
    audio: np.ndarray,
    sr: float,
    bank: SourceBank,
    candidates: Iterable[tuple[int, float]],
    *,
    window: float = 0.75,
    threshold: float = THRESHOLD,
    contrast: float = CONTRAST,
    jitter: bool = True,
) -> dict:
    """Longest stretch of ``audio`` that copies one of ``bank``'s recordings.

    Parameters
    ----------
    audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
    sr : float
        Hz.
    bank : SourceBank
    candidates : iterable of ``(semitones, rho)``
        Pitch shift of the copy (semitones, up) and source seconds per output second.
    window : float
        Seconds of the diagonal mean of the frame cosines.
    threshold : float
        Mean cosine over a window that counts as the same audio.
    contrast : float
        How much higher (mean cosine) a window must match than the same source
        :data:`CONTRAST_LAG_S` earlier or later: a copy lines up at one lag only, a sustained
        chord that merely sounds alike matches at every lag. 0 turns the test off.
    jitter : bool
        Allow one frame of drift per step (piecewise time warps).

    Returns
    -------
    dict
        ``seconds`` (output seconds; 0 when nothing matches for one window), ``source`` (name),
        ``source_at`` (s into it), ``output_at`` (s), ``semitones``, ``rho``.
    """
    a = np.asarray(audio, np.float32)
    mono = a.mean(axis=0) if a.ndim == 2 else a
    out = copy_features(mono, sr)
    hop_s = HOP / RATE
    w = max(1, int(round(window / hop_s)))
    src = bank.features
    best = {"seconds": 0.0, "source": "", "source_at": None, "output_at": None, "semitones": 0, "rho": 1.0}
    if src.shape[0] < w or out.shape[0] < w:
        return best
    for semis, rho in sorted(set((int(s), round(float(r), 4)) for s, r in candidates)):
        o = _undo(out, semis, rho)
        if o.shape[0] < w:
            continue
        c = o @ src.T  # (k, u) frame cosines
        k, u = c.shape[0] - w + 1, c.shape[1] - w + 1
        acc = np.zeros((k, u), np.float32)
        for j in range(w):
            acc += c[j:j + k, j:j + u]
        match = acc >= threshold * w
        if contrast > 0:  # the alignment must be sharp: the same source shifted by +-lag matches less
            d = max(1, int(round(CONTRAST_LAG_S / hop_s)))
            near = np.full_like(acc, -np.inf)
            near[:, d:] = acc[:, :-d]
            near[:, :-d] = np.maximum(near[:, :-d], acc[:, d:])
            match &= acc - near >= contrast * w
        if not match.any():
            continue
        n, r_end, u_end, u0 = _longest_run(match, jitter)
        if not n:
            continue
        # the run's windows cover frames [r0, r_end + w); drop its first and last frames whose own
        # cosine is below the threshold (a window that only half overlaps a copy can still pass)
        r0 = r_end - n + 1
        head = c[r0 + np.arange(w), u0 + np.arange(w)] >= threshold
        tail = c[r_end + np.arange(w), u_end + np.arange(w)] >= threshold
        lead = int(np.argmax(head)) if head.any() else 0
        trail = int(np.argmax(tail[::-1])) if tail.any() else 0
        frames = max(1, n - 1 + w - lead - trail)
        seconds = frames * hop_s / rho
        if seconds > best["seconds"]:
            best = {"seconds": round(float(seconds), 3), "source": bank.name_at(u0),
                    "source_at": round(float((u0 + lead - bank.starts[bank.index_at(u0)]) * hop_s), 2),
                    "output_at": round(float((r0 + lead) * hop_s / rho), 2), "semitones": semis,
                    "rho": rho}
    return best
