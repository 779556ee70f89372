"""Tempo, key and loudness for the blend stage.

Tempo and key come from the analysis stages (:func:`technob_fx.stages.beats.track_beats`,
:func:`technob_fx.stages.key.estimate_key`); where the beat tracker finds no beat (rubato classical
often), librosa's tracker gives the tempo. Loudness is the project's one ITU-R BS.1770 implementation (``stages.features``).
:func:`key_from_chroma` (Krumhansl-Schmuckler profiles) keys the learner's phrases.
"""

from __future__ import annotations

import numpy as np

_KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def beat_times(mono: np.ndarray, sr: float) -> tuple[float, np.ndarray]:
    """``(tempo BPM, beat times s)`` of a mono signal; ``(0.0, [])`` for silence."""
    if mono.size < sr or float(np.abs(mono).max()) < 1e-4:
        return 0.0, np.zeros(0)
    from ..stages.beats import track_beats

    grid = track_beats(mono, sr)
    if grid.tempo > 0 and len(grid.beats) >= 2:
        return float(grid.tempo), np.asarray(grid.beats, dtype=np.float64)
    import librosa  # no beat found (rubato, no drums): librosa's tracker still gives a tempo

    tempo, beats = librosa.beat.beat_track(y=mono, sr=int(sr), hop_length=512, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def key_from_chroma(c: np.ndarray) -> tuple[int, str, float]:
    """Krumhansl-Schmuckler: ``(tonic pitch class, "major"|"minor", correlation)``."""
    best = (0, "major", -2.0)
    for mode, prof in (("major", _KS_MAJOR), ("minor", _KS_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(c, np.roll(prof, tonic))[0, 1])
            if np.isfinite(r) and r > best[2]:
                best = (tonic, mode, r)
    return best


def estimate_key(mono: np.ndarray, sr: float) -> tuple[str, float]:
    """``("A minor", confidence)``; ``("", 0.0)`` for silence."""
    if float(np.abs(mono).max()) < 1e-4:
        return "", 0.0
    from ..stages.key import estimate_key as stage_key

    k = stage_key(mono, sr)
    return k.label, float(k.confidence)


def loudness(audio: np.ndarray, sr: float) -> float:
    """Integrated loudness (LUFS) of ``(channels, n)`` audio; -70 for silence or < 0.4 s.

    The project's one BS.1770-4 implementation: K-weighted 100 ms block powers
    (:func:`technob_fx.core.frontend.k_weighted_block_power`) gated by
    :func:`technob_fx.stages.features.loudness`.
    """
    from ..core.frontend import k_weighted_block_power
    from ..stages.features import loudness as bs1770

    a = np.atleast_2d(np.asarray(audio, np.float32))
    if a.shape[-1] < int(0.4 * sr) or float(np.abs(a).max()) < 1e-5:
        return -70.0
    block = max(1, int(round(sr * 0.1)))
    _, _, v = bs1770(k_weighted_block_power(a, sr, block), sr / block)
    return float(v) if np.isfinite(v) and v > -70.0 else -70.0


def fold_tempo(bpm: float, lo: float = 60.0, hi: float = 120.0) -> float:
    """Halve or double a tempo into ``[lo, hi)`` (beat trackers often report double time)."""
    if bpm <= 0:
        return bpm
    while bpm >= hi:
        bpm /= 2.0
    while bpm < lo:
        bpm *= 2.0
    return bpm
