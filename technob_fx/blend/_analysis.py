"""Tempo, key, loudness and band onsets for the blend stage.

Uses the analysis stages (``technob_fx.beats``, ``technob_fx.key``, ``technob_fx.features``)
when they are importable and falls back to librosa / pyloudnorm otherwise, so this stage works
whichever of them has landed. ``which()`` reports the implementation used.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np

from .genres import PITCH_CLASSES

_KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _stage(name: str, attr: str):  # noqa: ANN202
    """``technob_fx.<name>.<attr>`` when that stage has landed, else None."""
    try:
        if importlib.util.find_spec(f"technob_fx.{name}") is None:
            return None
        return getattr(importlib.import_module(f"technob_fx.{name}"), attr, None)
    except Exception:  # noqa: BLE001 - a half-landed stage must not break this one
        return None


def which() -> dict[str, str]:
    """Which implementation each analysis uses right now."""
    return {
        "tempo": "technob_fx.beats.track_beats" if _stage("beats", "track_beats") else "librosa.beat",
        "key": "technob_fx.key.estimate_key" if _stage("key", "estimate_key") else "Krumhansl-Schmuckler (librosa chroma)",
        "loudness": "pyloudnorm (ITU-R BS.1770)",
        "hpss": "technob_fx.hpss.HarmonicPercussive" if _stage("hpss", "HarmonicPercussive") else "librosa.effects.percussive",
        "warp": "technob_fx.quantize.warp" if _stage("quantize", "warp") else "pedalboard.time_stretch",
    }


def beat_times(mono: np.ndarray, sr: float) -> tuple[float, np.ndarray]:
    """``(tempo BPM, beat times s)`` of a mono signal; ``(0.0, [])`` for silence."""
    if mono.size < sr or float(np.abs(mono).max()) < 1e-4:
        return 0.0, np.zeros(0)
    track = _stage("beats", "track_beats")
    if track is not None:
        try:
            grid = track(mono, sr)
            if grid.tempo > 0 and len(grid.beats) >= 2:
                return float(grid.tempo), np.asarray(grid.beats, dtype=np.float64)
        except Exception:  # noqa: BLE001 - fall back to librosa
            pass
    import librosa

    tempo, beats = librosa.beat.beat_track(y=mono, sr=int(sr), hop_length=512, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def chroma(mono: np.ndarray, sr: float) -> np.ndarray:
    """Mean 12-bin chroma (C..B), sums to 1."""
    import librosa

    c = librosa.feature.chroma_stft(y=mono, sr=int(sr), n_fft=4096, hop_length=2048)
    v = c.mean(axis=1)
    return v / max(float(v.sum()), 1e-9)


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
    est = _stage("key", "estimate_key")
    if est is not None:
        try:
            k = est(mono, sr)
            return f"{k.tonic} {k.mode}", float(k.confidence)
        except Exception:  # noqa: BLE001
            pass
    tonic, mode, r = key_from_chroma(chroma(mono, sr))
    return f"{PITCH_CLASSES[tonic]} {mode}", r


def parse_key(label: str) -> tuple[int, str] | None:
    """``"F# minor"`` -> ``(6, "minor")``; None when empty or unknown."""
    parts = label.split()
    if len(parts) != 2 or parts[0] not in PITCH_CLASSES:
        return None
    return PITCH_CLASSES.index(parts[0]), parts[1]


def loudness(audio: np.ndarray, sr: float) -> float:
    """Integrated loudness (LUFS) of ``(channels, n)`` audio; -70 for silence or < 0.4 s."""
    import pyloudnorm

    if audio.shape[-1] < int(0.4 * sr) or float(np.abs(audio).max()) < 1e-5:
        return -70.0
    meter = pyloudnorm.Meter(int(sr))
    with np.errstate(divide="ignore"):
        v = float(meter.integrated_loudness(np.ascontiguousarray(audio.T, dtype=np.float64)))
    return v if np.isfinite(v) else -70.0


def fold_tempo(bpm: float, lo: float = 60.0, hi: float = 120.0) -> float:
    """Halve or double a tempo into ``[lo, hi)`` (beat trackers often report double time)."""
    if bpm <= 0:
        return bpm
    while bpm >= hi:
        bpm /= 2.0
    while bpm < lo:
        bpm *= 2.0
    return bpm
