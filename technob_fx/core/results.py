"""Result types shared by analysis stages, the quantizer and the DAW bridge.

All are dataclasses that serialise to and from JSON (:class:`~technob_fx.core.node.Result`). Times are
in seconds from the start of the audio, tempi in beats per minute, pitches in MIDI note numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import TechnobError
from .node import Result

#: Section labels used by segmentation, markers and regions.
SECTION_LABELS = ("intro", "build", "drop", "breakdown", "outro")


@dataclass
class BeatGrid(Result):
    """Beat and bar positions of a track.

    Attributes
    ----------
    beats : np.ndarray, shape ``(n_beats,)``
        Beat times in seconds, strictly increasing.
    downbeats : np.ndarray, shape ``(n_bars,)``
        Times of the first beat of each bar (a subset of ``beats``), seconds.
    tempo : float
        Global tempo in BPM (median of the local tempi for a drifting grid). The tempo map every
        export uses is :func:`technob_fx.core.tempo.fit_tempo_map` of the grid.
    beats_per_bar : int
        Meter numerator (4 for techno).
    """

    beats: np.ndarray
    downbeats: np.ndarray
    tempo: float
    beats_per_bar: int = 4

    def __post_init__(self) -> None:
        self.beats = np.asarray(self.beats, dtype=np.float64).reshape(-1)
        self.downbeats = np.asarray(self.downbeats, dtype=np.float64).reshape(-1)
        self.tempo = float(self.tempo)
        self.beats_per_bar = int(self.beats_per_bar)
        if self.beats.size > 1 and np.any(np.diff(self.beats) <= 0):
            raise TechnobError("beat times must be strictly increasing")

    @classmethod
    def from_tempo(
        cls,
        bpm: float,
        duration: float,
        *,
        first_beat: float = 0.0,
        beats_per_bar: int = 4,
        first_downbeat_index: int = 0,
    ) -> BeatGrid:
        """A constant-tempo grid.

        Parameters
        ----------
        bpm : float
            Tempo in BPM, in ``(0, 1000]``.
        duration : float
            Length to cover, seconds.
        first_beat : float
            Time of the first beat, seconds.
        beats_per_bar : int
            Meter numerator.
        first_downbeat_index : int
            Index of the first beat that starts a bar.
        """
        if not (0 < bpm <= 1000):
            raise TechnobError(f"tempo {bpm} BPM is out of range (0, 1000]")
        period = 60.0 / bpm
        n = max(int(np.floor((duration - first_beat) / period + 1e-9)) + 1, 1)
        beats = first_beat + period * np.arange(n)
        downbeats = beats[first_downbeat_index::beats_per_bar]
        return cls(beats=beats, downbeats=downbeats, tempo=float(bpm), beats_per_bar=beats_per_bar)

    @property
    def beat_in_bar(self) -> np.ndarray:
        """Position of each beat in its bar, 1-based (1 = downbeat), shape ``(n_beats,)``."""
        pos = np.zeros(self.beats.size, dtype=np.int64)
        if self.beats.size == 0:
            return pos
        if self.downbeats.size == 0:
            return (np.arange(self.beats.size) % self.beats_per_bar) + 1
        idx = np.searchsorted(self.beats, self.downbeats - 1e-6)
        first = int(idx[0])
        counts = np.arange(self.beats.size) - first
        return (counts % self.beats_per_bar) + 1

    @property
    def local_tempi(self) -> np.ndarray:
        """Tempo between each beat and the next, BPM, shape ``(n_beats - 1,)``."""
        if self.beats.size < 2:
            return np.zeros(0)
        return 60.0 / np.diff(self.beats)

    def bars(self) -> np.ndarray:
        """Bar start times (the downbeats), seconds."""
        return self.downbeats.copy()


@dataclass
class Segment(Result):
    """One section of a track.

    Attributes
    ----------
    start, end : float
        Seconds; ``end > start``. Boundaries sit on bar lines when a beat grid is known.
    label : str
        One of :data:`SECTION_LABELS` for techno segmentation (free text is allowed).
    """

    start: float
    end: float
    label: str

    @property
    def duration(self) -> float:
        """``end - start`` in seconds."""
        return self.end - self.start


@dataclass
class Segmentation(Result):
    """An ordered, non-overlapping list of :class:`Segment` covering the track.

    ``labeller`` names how the labels were given: ``"techno"`` (intro/build/drop/breakdown/outro,
    four-to-the-floor music), ``"repetition"`` (A, B, A', ... by repetition) or ``""`` (unknown,
    e.g. read from a hand-written file or a DAW).
    """

    segments: list[Segment] = field(default_factory=list)
    labeller: str = ""

    def __iter__(self):  # noqa: ANN204
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, i: int) -> Segment:
        return self.segments[i]

    def boundaries(self) -> np.ndarray:
        """Start of every segment plus the end of the last, seconds."""
        if not self.segments:
            return np.zeros(0)
        return np.array([s.start for s in self.segments] + [self.segments[-1].end])


@dataclass
class KeyEstimate(Result):
    """Musical key.

    Attributes
    ----------
    tonic : str
        Pitch class name with sharps (``"A"``, ``"F#"``).
    mode : str
        ``"major"`` or ``"minor"``.
    confidence : float
        Correlation of the best key profile, ``[-1, 1]``.
    """

    tonic: str
    mode: str
    confidence: float = 0.0

    @property
    def label(self) -> str:
        """E.g. ``"A minor"`` (the format mir_eval.key expects)."""
        return f"{self.tonic} {self.mode}"


@dataclass
class NoteEvent(Result):
    """One note: ``onset``/``offset`` in seconds, ``pitch`` as a MIDI number, ``velocity`` 1-127."""

    onset: float
    offset: float
    pitch: int
    velocity: int = 100
