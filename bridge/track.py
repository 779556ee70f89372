"""The track the bridge exports or sends: :class:`TrackData`, and where it comes from.

:class:`TrackData` gathers what every exporter needs (beat grid, sections, key, notes, stems) from
the shared result types of :mod:`technob_fx.core.results`. It is built from

* an audio file, through :func:`technob_fx.stages.analysis.analyze_file` (imported lazily: it pulls in
  the analysis stages),
* an ``analysis.json``, read by :func:`technob_fx.stages.analysis.read_analysis` (the one reader
  and schema), or
* a :class:`technob_fx.synth.SynthTruth` (tests and the demo).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from technob_fx.core.errors import PathError
from technob_fx.core.results import BeatGrid, KeyEstimate, NoteEvent, Segment, Segmentation

if TYPE_CHECKING:
    from technob_fx.core.tempo import TempoMap
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
        Chord per bar (Harte labels, ``"N"`` for none): text events / markers in the exports.
    pickup : str
        How exports lay out the time before the first downbeat: ``"auto"``, ``"trim"`` or
        ``"bar"`` (:func:`technob_fx.core.tempo.fit_tempo_map`).
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
    pickup: str = "auto"

    def tempo_map(self, ramps: str | None = None, *, constant: bool = False) -> TempoMap:
        """The track's tempo map (:func:`technob_fx.core.tempo.fit_tempo_map` of its grid):
        steps for SMF and Live, ``ramps="time"`` for REAPER, ``ramps="beats"`` for DAWproject."""
        from technob_fx.core.tempo import fit_tempo_map

        return fit_tempo_map(self.grid, ramps=ramps, pickup=self.pickup, constant=constant)

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
        """From a :class:`technob_fx.stages.analysis.Analysis` (its ``source`` and ``stems`` unless given)."""
        audio = audio if audio is not None else analysis.source
        if stems is None:
            stems = {k: Path(v) for k, v in analysis.stems.items()}
        tr = analysis.transcription
        if tr is not None:
            from technob_fx.stages.notes import split_roles
        return cls(
            duration=float(analysis.duration), sample_rate=float(analysis.sample_rate),
            grid=analysis.grid, segmentation=analysis.segments, key=analysis.key,
            notes=list(analysis.pitch.notes),
            audio=Path(audio) if audio else None, stems=dict(stems),
            name=name or (Path(audio).stem if audio else "track"),
            note_tracks=split_roles(tr.notes) if tr is not None else {},
            chords=[(c.start, c.end, c.label) for c in tr.chords] if tr is not None else [],
        )

    def to_analysis(self) -> Analysis:
        """An :class:`~technob_fx.stages.analysis.Analysis` holding what this track knows (no
        features, no pitch arrays), to write or send as an ``analysis.json`` document."""
        from technob_fx.stages.analysis import Analysis
        from technob_fx.stages.chords import Chord
        from technob_fx.stages.notes import Transcription
        from technob_fx.stages.pitch import PitchTrack

        empty = np.zeros(0)
        tr = None
        if self.note_tracks or self.chords:  # the sources are not stored: read back, roles are re-split
            every = sorted((n for ns in self.note_tracks.values() for n in ns), key=lambda n: (n.onset, n.pitch))
            tr = Transcription(every, [Chord(a, b, c) for a, b, c in self.chords], float(self.duration))
        return Analysis(
            duration=float(self.duration), sample_rate=float(self.sample_rate), tempo=float(self.tempo),
            grid=self.grid, segments=self.segmentation, key=self.key,
            pitch=PitchTrack(empty, empty, empty, list(self.notes)), features=None, channels=0,
            source=str(self.audio) if self.audio else None,
            stems={k: str(v) for k, v in self.stems.items()}, transcription=tr,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``analysis.json`` document (:meth:`technob_fx.stages.analysis.Analysis.to_dict`)
        of :meth:`to_analysis`; :func:`read_analysis_json` reads it back."""
        return self.to_analysis().to_dict()


# --------------------------------------------------------------------------------------------
# Reading inputs
# --------------------------------------------------------------------------------------------


def read_analysis_json(path: str | Path) -> TrackData:
    """Read an ``analysis.json`` (or a folder holding one) into :class:`TrackData`.

    The document is read and validated by :func:`technob_fx.stages.analysis.read_analysis`
    (its docstring has the schema); ``source`` (or ``audio``) and ``stems`` are relative to the
    JSON file's folder.

    Raises
    ------
    PathError
        No such file.
    technob_fx.stages.analysis.AnalysisFileError
        Not JSON, or fields missing, of the wrong type or inconsistent (one line per problem).
    """
    from technob_fx.stages.analysis import read_analysis

    p = Path(path)
    analysis = read_analysis(p)
    name = Path(analysis.source).stem if analysis.source else p.stem.replace(".analysis", "")
    return TrackData.from_analysis(analysis, name=name)


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
