"""Full analysis of a track: beats, downbeats, sections, key, pitch and features in one pass.

:func:`analyze` builds one :class:`~technob_fx.core.frontend.Frontend` and runs every stage on it, so
the mono mix, the STFT-derived features, the onset envelope and the chroma are computed once.
:meth:`Analysis.write` stores ``analysis.json`` (the schema below) and the large arrays beside it.

``analysis.json`` schema (times in seconds, tempi in BPM)::

    {
      "schema": "technob-analysis/1",
      "source": "../track.wav" | null,     # the input, relative to the analysis.json folder
      "duration": 52.5, "sample_rate": 44100.0, "channels": 2,
      "tempo": 128.0,                       # median local tempo
      "tempo_map": [[0.0, 128.0], ...],     # (time, BPM) where the bar tempo changes > 1 BPM
      "beats_per_bar": 4,
      "beats": [...], "downbeats": [...],
      "segments": [{"start": 0.0, "end": 7.5, "label": "intro"}, ...],
      "key": {"label": "A minor", "tonic": "A", "mode": "minor", "confidence": 0.70},
      "notes": [{"onset": ..., "offset": ..., "pitch": 69, "velocity": 100}, ...],   # monophonic (pitch)
      "transcription": [{"onset": ..., "offset": ..., "pitch": 45, "velocity": 96}, ...],  # polyphonic
      "chords": [{"start": 0.0, "end": 1.875, "label": "A:min", "confidence": 0.8}, ...],  # per bar
      "features": {"integrated_lufs": ..., "loudness_range_lu": ..., "rms_dbfs": ...,
                   "mean_centroid_hz": ..., "mean_flatness": ..., "mean_onset_strength": ...,
                   "max_short_term_lufs": ..., "voiced_fraction": ...},
      "bars": {"times": [...], "onset": [...], "rms_db": [...], "centroid": [...],
               "flatness": [...], "lufs": [...], "pitch": [...]},
      "arrays": {"frames": "frames.npz", "pitch": "pitch.npz", "loudness": "loudness.npz"},
      "timings": {"beats": 0.1, ...}        # seconds per stage
    }

``frames.npz``: ``times``, ``onset_strength``, ``rms``, ``centroid``, ``flatness``, ``mfcc``
``(n, 13)``, ``f0`` (86.13 frames/s) and ``bar_mfcc``; ``pitch.npz``: ``times``, ``f0`` (NaN
unvoiced), ``voiced_prob``; ``loudness.npz``: ``momentary_lufs``, ``short_term_lufs`` (10/s).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.audio import as_audio, check_sample_rate
from ..core.errors import AudioError
from ..core.node import Result
from ..core.progress import ProgressCallback, scaled
from ..core.results import BeatGrid, KeyEstimate, Segmentation
from .features import Features
from .notes import Transcription
from .pitch import PitchTrack

SCHEMA = "technob-analysis/1"


def _clean(x: Any) -> Any:
    """JSON-safe floats (NaN/inf -> None), rounded to 6 decimals."""
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return round(v, 6) if np.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def tempo_map(grid: BeatGrid, tolerance_bpm: float = 1.0) -> list[list[float]]:
    """Bar-by-bar tempo changes ``[[time_s, bpm], ...]`` (one entry for a steady track).

    The tempo of each bar is its beat count over its length; a new entry starts where it moves
    more than ``tolerance_bpm`` away from the current entry.
    """
    db = grid.downbeats
    if db.size < 2:
        return [[float(grid.beats[0]), grid.tempo]] if grid.beats.size else []
    bpm = 60.0 * grid.beats_per_bar / np.diff(db)
    out = [[float(db[0]), float(bpm[0])]]
    for t, b in zip(db[1:-1], bpm[1:], strict=True):
        if abs(b - out[-1][1]) > tolerance_bpm:
            out.append([float(t), float(b)])
    return out


@dataclass
class Analysis(Result):
    """Everything :func:`analyze` measures.

    Attributes
    ----------
    duration : float
        Seconds.
    sample_rate : float
        Hz of the analysed audio.
    tempo : float
        Median local tempo, BPM (0 when no beat was found).
    grid : BeatGrid
        Beats and downbeats.
    segments : Segmentation
        Labelled sections.
    key : KeyEstimate
    pitch : PitchTrack
        f0, voicing and notes.
    features : Features
        Frame and bar features.
    channels : int
        Channel count of the input.
    source : str or None
        Input file path, when analysed from a file (written relative to the output folder).
    timings : dict
        Seconds spent per stage.
    transcription : Transcription or None
        Polyphonic notes and chords per bar (:mod:`technob_fx.stages.notes`), unless turned off.
    """

    duration: float
    sample_rate: float
    tempo: float
    grid: BeatGrid
    segments: Segmentation
    key: KeyEstimate
    pitch: PitchTrack
    features: Features
    channels: int = 1
    source: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    transcription: Transcription | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-compatible data (NaN as ``null``); :meth:`from_dict` reverses it."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            out[name] = v.to_dict() if isinstance(v, Result) else _clean(v)
        return out

    def summary_dict(self, out_dir: str | Path | None = None) -> dict[str, Any]:
        """The ``analysis.json`` document (see the module docstring for the schema).

        With ``out_dir``, an absolute ``source`` path is written relative to it (how readers of
        ``analysis.json`` resolve it).
        """
        f = self.features
        source = self.source
        if source is not None and out_dir is not None and Path(source).is_absolute():
            import os

            try:
                source = os.path.relpath(source, Path(out_dir).resolve())
            except ValueError:  # another drive (Windows)
                pass
        return _clean({
            "schema": SCHEMA,
            "source": source,
            "duration": self.duration,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "tempo": self.tempo,
            "tempo_map": tempo_map(self.grid),
            "beats_per_bar": self.grid.beats_per_bar,
            "beats": self.grid.beats,
            "downbeats": self.grid.downbeats,
            "segments": [{"start": s.start, "end": s.end, "label": s.label} for s in self.segments],
            "key": {"label": self.key.label, "tonic": self.key.tonic, "mode": self.key.mode,
                    "confidence": self.key.confidence},
            "notes": [n.to_dict() for n in self.pitch.notes],
            "transcription": [n.to_dict() for n in self.transcription.notes] if self.transcription else [],
            "chords": [c.to_dict() for c in self.transcription.chords] if self.transcription else [],
            "features": f.summary(),
            "bars": {"times": f.bar_times, "onset": f.bar_onset, "rms_db": f.bar_rms_db,
                     "centroid": f.bar_centroid, "flatness": f.bar_flatness, "lufs": f.bar_lufs,
                     "pitch": f.bar_pitch},
            "arrays": {"frames": "frames.npz", "pitch": "pitch.npz", "loudness": "loudness.npz"},
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        })

    def write(self, out_dir: str | Path) -> Path:
        """Write ``analysis.json`` and the ``.npz`` arrays into ``out_dir`` (created), atomically.

        Returns
        -------
        Path
            The ``analysis.json`` path.
        """
        from ..core.io import atomic_write_bytes, atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        f = self.features

        def npz(name: str, **arrays: np.ndarray) -> None:
            buf = io.BytesIO()
            np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
            atomic_write_bytes(out / name, buf.getvalue())

        npz("frames.npz", times=f.times.astype(np.float32), onset_strength=f.onset_strength.astype(np.float32),
            rms=f.rms.astype(np.float32), centroid=f.centroid.astype(np.float32),
            flatness=f.flatness.astype(np.float32), mfcc=f.mfcc.astype(np.float32), f0=f.f0.astype(np.float32),
            bar_mfcc=f.bar_mfcc.astype(np.float32))
        npz("pitch.npz", times=self.pitch.times, f0=self.pitch.f0, voiced_prob=self.pitch.voiced_prob)
        npz("loudness.npz", momentary_lufs=f.momentary_lufs, short_term_lufs=f.short_term_lufs,
            rate=np.array(f.loudness_rate))
        path = out / "analysis.json"
        atomic_write_text(path, json.dumps(self.summary_dict(out), indent=1, allow_nan=False) + "\n")
        return path


def analyze(
    audio: np.ndarray,
    sr: float,
    *,
    progress: ProgressCallback | None = None,
    min_bpm: float | None = None,
    max_bpm: float | None = None,
    frontend: Any = None,
    notes: bool = True,
) -> Analysis:
    """Run every analysis stage on one buffer, sharing one front-end.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified); any channel count, 1 kHz to 768 kHz.
    sr : float
        Sample rate, Hz.
    progress : callable, optional
        ``progress(fraction, message)``.
    min_bpm, max_bpm : float, optional
        Tempo range of the beat tracker (defaults 70-180 BPM).
    frontend : Frontend, optional
        Shared front-end of ``audio`` (created when absent).
    notes : bool
        Also transcribe the polyphonic notes and name the chord of every bar
        (:func:`technob_fx.stages.notes.transcribe`; the slowest stage).

    Returns
    -------
    Analysis

    Raises
    ------
    AudioError
        Empty audio, NaN/inf samples, a bad shape or sample rate.
    """
    from ..core.frontend import Frontend
    from . import beats as _beats
    from .features import extract_features
    from .key import estimate_key
    from .pitch import track_pitch
    from .segmentation import segment

    sr = check_sample_rate(sr)
    a, _ = as_audio(audio, name="audio")
    fe = frontend if frontend is not None and frontend.matches(audio, sr) else Frontend(a, sr)
    timings: dict[str, float] = {}

    def step(frac: float, name: str) -> None:
        if progress is not None:
            progress(frac, name)

    def timed(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t0
        return out

    kw: dict[str, float] = {}
    if min_bpm is not None:
        kw["min_bpm"] = min_bpm
    if max_bpm is not None:
        kw["max_bpm"] = max_bpm
    step(0.0, "front-end")
    timed("frontend", lambda: (fe.spectral(), fe.onset_bands()))
    step(0.3, "beats")
    grid = timed("beats", lambda: _beats.track_beats(a, sr, frontend=fe, **kw))
    step(0.45, "sections")
    segs = timed("segments", lambda: segment(a, sr, grid=grid, frontend=fe))
    step(0.55, "key")
    key = timed("key", lambda: estimate_key(a, sr, frontend=fe))
    step(0.65, "pitch")
    pitch = timed("pitch", lambda: track_pitch(a, sr, frontend=fe))
    step(0.7, "features")
    feats = timed("features", lambda: extract_features(a, sr, grid=grid, pitch=pitch, frontend=fe))
    tr = None
    if notes:
        from .notes import transcribe

        step(0.75, "notes")
        sub = scaled(progress, 0.75, 1.0)
        tr = timed("notes", lambda: transcribe(a, sr, chords=True, grid=grid, frontend=fe, progress=sub))
    step(1.0, "done")
    return Analysis(
        duration=fe.duration, sample_rate=sr, tempo=grid.tempo, grid=grid, segments=segs, key=key,
        pitch=pitch, features=feats, channels=int(a.shape[0]), timings=timings, transcription=tr,
    )


def analyze_file(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    progress: ProgressCallback | None = None,
    min_bpm: float | None = None,
    max_bpm: float | None = None,
    notes: bool = True,
) -> Analysis:
    """Decode an audio file, :func:`analyze` it and optionally :meth:`~Analysis.write` the results.

    Parameters
    ----------
    path : str or Path
        wav, flac, mp3, ogg or aiff file (never modified).
    out_dir : str or Path, optional
        Folder for ``analysis.json`` and the arrays.
    progress : callable, optional
        ``progress(fraction, message)``.
    min_bpm, max_bpm : float, optional
        Tempo range of the beat tracker.
    notes : bool
        Polyphonic notes and chords too (see :func:`analyze`).

    Returns
    -------
    Analysis
    """
    t0 = time.perf_counter()
    fe, sr, channels = load_frontend(path)
    t_load = time.perf_counter() - t0
    res = analyze(fe.audio, fe.sample_rate, progress=progress, min_bpm=min_bpm, max_bpm=max_bpm, frontend=fe,
                  notes=notes)
    res.sample_rate = sr
    res.channels = channels
    res.timings = {"load": t_load, **res.timings}
    res.source = str(Path(path).resolve())
    if out_dir is not None:
        res.write(out_dir)
    return res


def load_frontend(path: str | Path, block_seconds: float = 10.0) -> tuple[Any, float, int]:
    """Stream a file into a :class:`~technob_fx.core.frontend.Frontend` with bounded memory.

    The file is decoded block by block: each block's channels are mixed to mono and resampled to
    the analysis rate (a streaming soxr resampler), and its K-weighted 100 ms block powers are
    measured per channel at the file's own rate for loudness. The full-rate multichannel audio is
    never held in memory (a 6-minute stereo 44.1 kHz file needs 32 MiB instead of 127 MiB).

    Returns
    -------
    frontend : Frontend
        Over the mono signal at :data:`~technob_fx.core.frontend.ANALYSIS_SR`, with ``loudness_blocks``
        and ``duration`` seeded from the original audio.
    sample_rate : float
        The file's rate, Hz.
    channels : int
        The file's channel count.

    Raises
    ------
    AudioError
        Missing, empty, corrupt or unsupported file; NaN/inf samples.
    """
    from ..core.frontend import FrontendBuilder
    from ..core.io import audio_info, stream_audio

    info = audio_info(path)
    sr = check_sample_rate(info.sample_rate)
    builder = FrontendBuilder(sr)
    lblock = max(1, int(round(sr * 0.1)))
    for block in stream_audio(path, lblock * max(1, int(block_seconds * 10))):
        builder.add(block)
    try:
        fe = builder.finish()
    except AudioError:
        raise AudioError(f"{path}: contains no audio samples") from None
    return fe, sr, int(info.channels)
