"""Tempo, key and loudness for the blend stage.

Tempo and key come from the analysis stages (:func:`technob_fx.stages.beats.track_beats`,
:func:`technob_fx.stages.key.estimate_key`), so they are what ``technob analyze`` says: where the
beat tracker finds no beat (rubato classical often) the tempo is 0, as in ``analysis.json``.
Loudness is the project's one ITU-R BS.1770 implementation (``stages.features``).
:func:`key_from_chroma` keys the learner's phrases with the key profiles of ``stages.key``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.results import BeatGrid


def chunk_grid(audio: np.ndarray, sr: float, frontend: Any = None) -> BeatGrid:
    """The :class:`~technob_fx.stages.beats.BeatGrid` of a chunk cut from a piece (never read as a
    loop), on ``frontend`` when given (the grid is cached there); a chunk without a pulse is
    expected here, so its empty grid comes without a ``NoPulseWarning``."""
    import warnings

    from ..stages.beats import NoPulseWarning, track_beats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoPulseWarning)
        return track_beats(audio, sr, loop=False, frontend=frontend)


def beat_times(mono: np.ndarray, sr: float, frontend: Any = None) -> tuple[float, np.ndarray]:
    """``(tempo BPM, beat times s)`` of a mono signal (:func:`chunk_grid`, on ``frontend`` when
    given: its grid is cached there for later calls); ``(0.0, [])`` for silence or where no beat
    is found."""
    if mono.size < sr or float(np.abs(mono).max()) < 1e-4:
        return 0.0, np.zeros(0)
    grid = chunk_grid(mono, sr, frontend)
    if grid.tempo > 0 and len(grid.beats) >= 2:
        return float(grid.tempo), np.asarray(grid.beats, dtype=np.float64)
    return 0.0, np.zeros(0)


def key_from_chroma(c: np.ndarray) -> tuple[int, str, float]:
    """``(tonic pitch class, "major"|"minor", correlation)`` of a 12-bin chroma vector: the best of
    :func:`technob_fx.stages.key.key_scores` (the project's key profiles); ``(0, "major", 0.0)``
    for a flat vector."""
    from ..stages.key import key_scores

    scores = key_scores(np.asarray(c, dtype=np.float64))
    best = int(np.argmax(scores))
    return best % 12, "major" if best < 12 else "minor", float(scores[best])


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
