"""Musical key estimation (Krumhansl-Schmuckler with Temperley-style profiles on chroma).

The chroma of the shared front-end (4096-point STFT at 11 025 Hz, so bass notes resolve) is
log-compressed per frame, averaged over the loud frames and correlated with the 24 rotated major
and minor key profiles; the best correlation wins. Between a
key and its relative (C major / A minor), when their correlations are within 0.15, the one whose
tonic pitch class is more prominent wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frontend import StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode
from ..core.results import KeyEstimate

if TYPE_CHECKING:
    from ..core.frontend import Frontend

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Temperley (Kostka-Payne corpus) key profiles, tonic first.
MAJOR_PROFILE = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
MINOR_PROFILE = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])


def key_scores(chroma_mean: np.ndarray) -> np.ndarray:
    """Correlation of a 12-bin pitch-class distribution with every key profile.

    Parameters
    ----------
    chroma_mean : np.ndarray, shape ``(12,)``
        Pitch-class weights, index 0 = C.

    Returns
    -------
    np.ndarray, shape ``(24,)``
        Pearson correlation for C major .. B major, then C minor .. B minor.
    """
    x = np.asarray(chroma_mean, dtype=np.float64)
    out = np.zeros(24)
    if not np.all(np.isfinite(x)) or x.std() < 1e-12:
        return out
    for mode, prof in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            out[mode * 12 + tonic] = np.corrcoef(x, np.roll(prof, tonic))[0, 1]
    return out


def estimate_key(audio: np.ndarray, sr: float, *, frontend: Frontend | None = None) -> KeyEstimate:
    """Estimate the key of a track.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    KeyEstimate
        ``tonic`` (e.g. ``"A"``), ``mode`` (``"major"``/``"minor"``) and ``confidence`` (the
        winning correlation, ``[-1, 1]``; 0 for silence or audio without pitch content).
    """
    fe = frontend_for(audio, sr, frontend)
    chroma, _ = fe.chroma()
    if chroma.shape[1] == 0:
        return KeyEstimate("C", "major", 0.0)
    energy = chroma.sum(axis=0)
    if not np.any(energy > 1e-6):
        return KeyEstimate("C", "major", 0.0)
    loud = energy >= 0.1 * np.percentile(energy, 90)
    c = chroma[:, loud] / np.maximum(energy[loud], 1e-9)
    c = np.log1p(20.0 * c)
    dist = c.mean(axis=1)
    scores = key_scores(dist)
    best = int(np.argmax(scores))
    # relative major/minor share their notes: when the two are close, the more prominent tonic wins
    rel = (best % 12 + 9) % 12 + 12 if best < 12 else (best % 12 + 3) % 12
    if scores[best] - scores[rel] < 0.15 and dist[rel % 12] > dist[best % 12]:
        best = rel
    return KeyEstimate(PITCH_CLASSES[best % 12], "major" if best < 12 else "minor", float(scores[best]))


class KeyDetector(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: the key (:func:`estimate_key`); result is a :class:`KeyEstimate`."""

    type_name = "key_detector"

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return estimate_key(audio, sample_rate, frontend=frontend)
