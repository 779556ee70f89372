"""The track the bridge exports or sends: :class:`TrackData`, and where it comes from.

:class:`TrackData` gathers what every exporter needs (beat grid, sections, key, notes, stems) from
the shared result types of :mod:`technob_fx.core.results`. It is built from

* an audio file, through :func:`technob_fx.stages.analysis.analyze_file` (imported lazily: it pulls in
  the analysis stages),
* an ``analysis.json`` (see :func:`read_analysis_json` for the fields read), or
* a :class:`technob_fx.synth.SynthTruth` (tests and the demo).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from technob_fx.core.errors import PathError, TechnobError
from technob_fx.core.results import BeatGrid, KeyEstimate, NoteEvent, Segment, Segmentation

if TYPE_CHECKING:
    from technob_fx.stages.analysis import Analysis

#: Suffixes treated as audio input (anything else must be an analysis JSON file).
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif", ".m4a")


@dataclass
class TrackData:
    """Everything the bridge sends or exports about one track.

    Attributes
    ----------
    duration : float
        Seconds.
    sample_rate : float
        Hz of the audio (0 when unknown).
    grid : BeatGrid
        Beat and downbeat times (seconds) and global tempo (BPM).
    segmentation : Segmentation
        Sections (seconds, labels).
    key : KeyEstimate or None
    notes : list of NoteEvent
        Pitch-tracking notes (seconds, MIDI numbers).
    audio : Path or None
        The analysed mix, if known.
    stems : dict
        Stem name -> audio file.
    name : str
        Base name for exported files.
    note_tracks : dict
        Transcribed notes per source (``bass``, ``chords``, ``lead`` or a stem name ->
        list of NoteEvent), one MIDI track each.
    chords : list of (start_s, end_s, label)
        Chord per bar (Harte labels, ``"N"`` for none), text events / markers in the exports.
    """

    duration: float
    sample_rate: float
    grid: BeatGrid
    segmentation: Segmentation = field(default_factory=Segmentation)
    key: KeyEstimate | None = None
    notes: list[NoteEvent] = field(default_factory=list)
    audio: Path | None = None
    stems: dict[str, Path] = field(default_factory=dict)
    name: str = "track"
    note_tracks: dict[str, list[NoteEvent]] = field(default_factory=dict)
    chords: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def tempo(self) -> float:
        """Global tempo, BPM."""
        return self.grid.tempo

    @property
    def segments(self) -> list[Segment]:
        """The sections as a list."""
        return list(self.segmentation.segments)

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_truth(cls, truth: Any, *, audio: str | Path | None = None,
                   stems: dict[str, Path] | None = None, name: str = "track") -> TrackData:
        """From a :class:`technob_fx.synth.SynthTruth` (ground truth of a synthesised track)."""
        tonic, _, mode = str(truth.key).partition(" ")
        return cls(
            duration=float(truth.duration), sample_rate=float(truth.sample_rate), grid=truth.grid,
            segmentation=truth.segmentation, key=KeyEstimate(tonic, mode or "minor", 1.0),
            notes=list(truth.notes), audio=Path(audio) if audio else None,
            stems=dict(stems or {}), name=name,
        )

    @classmethod
    def from_analysis(cls, analysis: Analysis, *, audio: str | Path | None = None,
                      stems: dict[str, Path] | None = None, name: str | None = None) -> TrackData:
        """From a :class:`technob_fx.stages.analysis.Analysis`."""
        from technob_fx.stages.notes import split_roles

        tr = getattr(analysis, "transcription", None)
        return cls(
            duration=float(analysis.duration), sample_rate=float(analysis.sample_rate),
            grid=analysis.grid, segmentation=analysis.segments, key=analysis.key,
            notes=list(analysis.pitch.notes),
            audio=Path(audio) if audio else None, stems=dict(stems or {}),
            name=name or (Path(audio).stem if audio else "track"),
            note_tracks=split_roles(tr.notes) if tr is not None else {},
            chords=[(c.start, c.end, c.label) for c in tr.chords] if tr is not None else [],
        )

    def to_dict(self) -> dict[str, Any]:
        """The analysis-JSON form read back by :func:`read_analysis_json`."""
        return {
            "duration": self.duration, "sample_rate": self.sample_rate, "tempo": self.tempo,
            "beats_per_bar": self.grid.beats_per_bar,
            "beats": [float(b) for b in self.grid.beats],
            "downbeats": [float(b) for b in self.grid.downbeats],
            "segments": [{"start": s.start, "end": s.end, "label": s.label} for s in self.segments],
            "key": ({"tonic": self.key.tonic, "mode": self.key.mode, "confidence": self.key.confidence}
                    if self.key else None),
            "notes": [{"onset": n.onset, "offset": n.offset, "pitch": n.pitch, "velocity": n.velocity}
                      for n in self.notes],
            "audio": str(self.audio) if self.audio else None,
            "stems": {k: str(v) for k, v in self.stems.items()},
            "transcription": [{"onset": n.onset, "offset": n.offset, "pitch": n.pitch, "velocity": n.velocity,
                               "source": k} for k, ns in self.note_tracks.items() for n in ns],
            "chords": [{"start": a, "end": b, "label": c} for a, b, c in self.chords],
        }


# --------------------------------------------------------------------------------------------
# Reading inputs
# --------------------------------------------------------------------------------------------


def _num_list(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value if value is not None else [], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TechnobError(f"analysis JSON: {what} must be a list of numbers") from None
    if not np.isfinite(arr).all():
        raise TechnobError(f"analysis JSON: {what} contains non-finite values")
    return arr


def _parse_key(value: Any) -> KeyEstimate | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        tonic, _, mode = value.strip().replace(":", " ").partition(" ")
        return KeyEstimate(tonic, mode.strip() or "major", 0.0)
    if isinstance(value, dict) and "tonic" in value:
        return KeyEstimate(str(value["tonic"]), str(value.get("mode", "major")),
                           float(value.get("confidence", 0.0) or 0.0))
    raise TechnobError("analysis JSON: key must be 'A minor' or {tonic, mode}")


def read_analysis_json(path: str | Path) -> TrackData:
    """Read an analysis JSON file into :class:`TrackData`.

    Fields read (all times in seconds, tempo in BPM):

    * ``duration`` (required unless beats/segments give it), ``sample_rate``;
    * ``beats``, ``downbeats``, ``tempo``, ``beats_per_bar`` -- top level or under ``grid``;
    * ``segments``: ``[{start, end, label}, ...]`` (or ``{"segments": [...]}``);
    * ``key``: ``"A minor"`` or ``{tonic, mode, confidence}``;
    * ``notes``: ``[{onset, offset, pitch, velocity}]`` -- top level or under ``pitch``;
    * ``transcription``: ``[{onset, offset, pitch, velocity, source?}]`` (polyphonic notes; without
      ``source`` they are split into bass / chords / lead) and ``chords``: ``[{start, end, label}]``;
    * ``audio`` (or ``source``, as :meth:`technob_fx.stages.analysis.Analysis.write` names it) and
      ``stems`` (name -> path), relative to the JSON file's folder.

    Raises
    ------
    TechnobError
        Unreadable JSON or fields of the wrong type.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise PathError(f"{p}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TechnobError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TechnobError(f"{p}: expected a JSON object")
    g = data.get("grid") if isinstance(data.get("grid"), dict) else data
    beats = _num_list(g.get("beats"), "beats")
    downbeats = _num_list(g.get("downbeats"), "downbeats")
    bpb = int(g.get("beats_per_bar", data.get("beats_per_bar", 4)) or 4)
    tempo = g.get("tempo", data.get("tempo"))
    if tempo is None:
        tempo = float(np.median(60.0 / np.diff(beats))) if beats.size > 1 else 120.0
    if isinstance(tempo, dict):
        tempo = tempo.get("bpm", tempo.get("tempo"))
    segs_raw = data.get("segments") or []
    if isinstance(segs_raw, dict):
        segs_raw = segs_raw.get("segments") or []
    try:
        segments = [Segment(float(s["start"]), float(s["end"]), str(s.get("label", ""))) for s in segs_raw]
    except (KeyError, TypeError, ValueError):
        raise TechnobError(f"{p}: segments must be [{{start, end, label}}, ...]") from None
    notes_raw = data.get("notes")
    if notes_raw is None and isinstance(data.get("pitch"), dict):
        notes_raw = data["pitch"].get("notes")
    try:
        notes = [NoteEvent(float(n["onset"]), float(n["offset"]), int(round(float(n["pitch"]))),
                           int(n.get("velocity", 100))) for n in (notes_raw or [])]
    except (KeyError, TypeError, ValueError):
        raise TechnobError(f"{p}: notes must be [{{onset, offset, pitch}}, ...]") from None
    ends = [float(data.get("duration") or 0.0)]
    ends += [float(beats[-1])] if beats.size else []
    ends += [segments[-1].end] if segments else []
    duration = max(ends)
    if duration <= 0:
        raise TechnobError(f"{p}: no duration, beats or segments")
    if beats.size == 0:
        grid = BeatGrid.from_tempo(float(tempo), duration, beats_per_bar=bpb)
    else:
        grid = BeatGrid(beats, downbeats, float(tempo), bpb)

    def rel(v: Any) -> Path:
        q = Path(str(v))
        return q if q.is_absolute() else p.parent / q

    stems = {str(k): rel(v) for k, v in (data.get("stems") or {}).items()}
    note_tracks, chords = _transcription(data, p)
    audio = data.get("audio") or data.get("source")
    return TrackData(
        duration=duration, sample_rate=float(data.get("sample_rate") or 0.0), grid=grid,
        segmentation=Segmentation(segments), key=_parse_key(data.get("key")), notes=notes,
        audio=rel(audio) if audio else None, stems=stems,
        name=Path(str(audio)).stem if audio else p.stem.replace(".analysis", ""),
        note_tracks=note_tracks, chords=chords,
    )


def _transcription(data: dict, p: Path) -> tuple[dict[str, list[NoteEvent]], list[tuple[float, float, str]]]:
    """``transcription`` and ``chords`` of an analysis JSON document (see :func:`read_analysis_json`)."""
    tracks: dict[str, list[NoteEvent]] = {}
    unsourced: list[NoteEvent] = []
    try:
        for n in data.get("transcription") or []:
            ev = NoteEvent(float(n["onset"]), float(n["offset"]), int(round(float(n["pitch"]))),
                           int(n.get("velocity", 100)))
            if n.get("source"):
                tracks.setdefault(str(n["source"]), []).append(ev)
            else:
                unsourced.append(ev)
        chords = [(float(c["start"]), float(c["end"]), str(c["label"])) for c in data.get("chords") or []]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise TechnobError(f"{p}: transcription must be [{{onset, offset, pitch}}, ...] and chords "
                           "[{start, end, label}, ...]") from None
    if unsourced:
        from technob_fx.stages.notes import split_roles

        for k, v in split_roles(unsourced).items():
            tracks.setdefault(k, []).extend(v)
    return tracks, chords


def load_track_data(path: str | Path, *, progress: Callable[[float, str], None] | None = None) -> TrackData:
    """An analysis JSON file, or an audio file analysed with :func:`technob_fx.stages.analysis.analyze_file`."""
    p = Path(path)
    if not p.exists():
        raise PathError(f"{p}: no such file")
    if p.suffix.lower() not in AUDIO_SUFFIXES:
        return read_analysis_json(p)
    from technob_fx.stages.analysis import analyze_file

    analysis = analyze_file(p, progress=progress)
    return TrackData.from_analysis(analysis, audio=p, name=p.stem)
