"""Chords per bar from transcribed notes and the shared front-end's chroma.

For every bar of a beat grid, two pitch-class profiles are built and mixed:

* from the **notes** sounding in the bar (each weighted by how long it sounds in the bar, its
  velocity, and less in the top octaves), and
* from the front-end's **chroma** (:meth:`technob_fx.core.frontend.Frontend.chroma`, spectral peaks
  only, so drums barely count), averaged over the bar;

then every root and quality of :data:`QUALITIES` (major, minor, dominant / major / minor seventh,
sus2, sus4, diminished, augmented) is scored: the profile mass on the chord's tones minus a penalty
for the mass outside them, divided by the number of tones to a power below 1 (a tetrad must earn its
fourth tone), plus a bonus when the bar's lowest note is the root. A bar with no notes and little
chroma energy is ``"N"``.

Labels follow Harte et al. / mir_eval (``"A:min"``, ``"G:7"``, ``"F:maj7"``, ``"D:sus4"``, ``"N"``).
The weights were chosen on generated progressions under a drum bed (seeds 2000-2015 of
:mod:`technob_fx.synth.notes`); ``benchmarks/bench_notes.py`` scores other seeds with mir_eval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.frontend import frontend_for
from ..core.node import Result
from ..core.results import BeatGrid, NoteEvent

if TYPE_CHECKING:
    from ..core.frontend import Frontend

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Chord qualities (Harte shorthands) and their intervals above the root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
}
#: Prior added to each quality's score (triads are the common case).
QUALITY_PRIOR = {"maj": 0.02, "min": 0.02, "7": -0.05, "maj7": -0.05, "min7": -0.05, "sus2": -0.06, "sus4": -0.06,
                 "dim": -0.04, "aug": -0.05}


@dataclass
class Chord(Result):
    """The chord of one bar: ``start``/``end`` in seconds, Harte ``label``, ``confidence`` in [0, 1]."""

    start: float
    end: float
    label: str
    confidence: float = 0.0


class ChordNamer:
    """Pitch-class profile -> chord label (see the module docstring).

    Parameters
    ----------
    note_weight : float
        Share of the note profile in the mixed profile (the rest is chroma).
    outside_penalty : float
        Weight of the profile mass outside the chord's tones.
    size_power : float
        Scores are divided by ``n_tones ** size_power``.
    bass_bonus : float
        Added when the bar's lowest note is the chord's root.
    min_energy : float
        Bars whose chroma energy is below this fraction of the track's 90th percentile, and that
        have no notes, are ``"N"``.
    """

    def __init__(self, note_weight: float = 0.3, outside_penalty: float = 0.6, size_power: float = 0.8,
                 bass_bonus: float = 0.04, min_energy: float = 0.05) -> None:
        self.note_weight = float(note_weight)
        self.outside_penalty = float(outside_penalty)
        self.size_power = float(size_power)
        self.bass_bonus = float(bass_bonus)
        self.min_energy = float(min_energy)
        names, masks = [], []
        for q, ivs in QUALITIES.items():
            for r in range(12):
                m = np.zeros(12)
                m[[(r + i) % 12 for i in ivs]] = 1.0
                names.append((r, q))
                masks.append(m)
        self._names = names
        self._masks = np.array(masks)
        self._sizes = self._masks.sum(axis=1)
        self._prior = np.array([QUALITY_PRIOR[q] for _, q in names])

    def __call__(self, profile: np.ndarray, bass_pc: int | None) -> tuple[str, float]:
        """``(label, confidence)`` of a normalised 12-bin profile (sum 1)."""
        inside = self._masks @ profile
        score = (inside - self.outside_penalty * (1.0 - inside)) / self._sizes**self.size_power + self._prior
        if bass_pc is not None:
            score = score + self.bass_bonus * np.array([r == bass_pc for r, _ in self._names])
        i = int(np.argmax(score))
        r, q = self._names[i]
        srt = np.sort(score)
        conf = float(np.clip((srt[-1] - srt[-2]) * 5.0 + inside[i] - 0.5, 0.0, 1.0))
        return f"{PITCH_CLASSES[r]}:{q}", conf


def bar_profiles(notes: list[NoteEvent], bars: np.ndarray, chroma: np.ndarray | None, chroma_rate: float,
                 note_weight: float) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
    """Mixed pitch-class profiles per bar.

    Returns
    -------
    profiles : np.ndarray, ``(n_bars, 12)``
        Each row sums to 1 (zeros for an empty bar).
    energy : np.ndarray, ``(n_bars,)``
        Chroma energy per bar plus the note mass (for the ``"N"`` decision).
    bass : list of int or None
        Pitch class with the most sounding time among the bar's low notes (at most G3, MIDI 55;
        else the lowest note of the bar).
    """
    nb = len(bars) - 1
    pn = np.zeros((max(nb, 0), 12))
    lowest: list[tuple[int, int] | None] = [None] * max(nb, 0)
    arr = np.array([(n.onset, n.offset, n.pitch, n.velocity) for n in notes], float).reshape(-1, 4)
    for b in range(nb):
        a, e = bars[b], bars[b + 1]
        if arr.size == 0:
            continue
        ov = np.minimum(arr[:, 1], e) - np.maximum(arr[:, 0], a)
        sel = ov > 0
        if not sel.any():
            continue
        w = ov[sel] / (e - a) * (arr[sel, 3] / 127.0) * np.where(arr[sel, 2] > 84, 0.5, 1.0)
        np.add.at(pn[b], arr[sel, 2].astype(int) % 12, w)
        pitches = arr[sel, 2]
        low = pitches <= 55
        if not low.any():
            low = pitches == pitches.min()
        bp = np.zeros(12)
        np.add.at(bp, pitches[low].astype(int) % 12, ov[sel][low])
        lowest[b] = (int(pitches[low].min()), int(np.argmax(bp)))
    pc = np.zeros((max(nb, 0), 12))
    energy = pn.sum(axis=1)
    if chroma is not None and chroma.shape[1] and nb > 0:
        t = (np.arange(chroma.shape[1]) + 0.5) * (1.0 / chroma_rate)  # frame centres (4096-pt windows, hop 2048)
        t = t + 0.5 * (4096 - 2048) / 11025.0
        idx = np.searchsorted(bars, t, side="right") - 1
        ok = (idx >= 0) & (idx < nb)
        c = np.log1p(20.0 * chroma / max(float(np.percentile(chroma.sum(axis=0), 90)), 1e-9))
        np.add.at(pc, idx[ok], c[:, ok].T)
        counts = np.bincount(idx[ok], minlength=nb)[:nb]
        pc /= np.maximum(counts, 1)[:, None]
        energy = energy + pc.sum(axis=1)

    def norm(x: np.ndarray) -> np.ndarray:
        s = x.sum(axis=1, keepdims=True)
        return np.where(s > 0, x / np.maximum(s, 1e-12), 0.0)

    mixed = note_weight * norm(pn) + (1.0 - note_weight) * norm(pc)
    has_n, has_c = pn.sum(axis=1) > 0, pc.sum(axis=1) > 0
    mixed = np.where((has_n & ~has_c)[:, None], norm(pn), mixed)
    mixed = np.where((~has_n & has_c)[:, None], norm(pc), mixed)
    return norm(mixed), energy, [x[1] if x else None for x in lowest]


def estimate_chords(notes: list[NoteEvent], grid: BeatGrid, *, frontend: Frontend | None = None,
                    audio: np.ndarray | None = None, sr: float | None = None,
                    namer: ChordNamer | None = None) -> list[Chord]:
    """The chord of every bar of ``grid``.

    Parameters
    ----------
    notes : list of NoteEvent
        Transcribed notes (:func:`technob_fx.stages.notes.transcribe`).
    grid : BeatGrid
        Bars are its downbeats; the last bar ends one bar length after the last downbeat.
    frontend : Frontend, optional
        Shared front-end of the audio, for its chroma (or give ``audio`` and ``sr``; without either
        the chords come from the notes alone).
    namer : ChordNamer, optional

    Returns
    -------
    list of Chord
        One per bar, ``"N"`` where nothing harmonic sounds.
    """
    namer = namer or ChordNamer()
    db = np.asarray(grid.downbeats, float)
    if db.size == 0:
        return []
    bar_len = float(np.median(np.diff(db))) if db.size > 1 else 60.0 / max(grid.tempo, 1e-6) * grid.beats_per_bar
    bars = np.concatenate([db, [db[-1] + bar_len]])
    chroma, rate = None, 1.0
    if frontend is None and audio is not None and sr is not None:
        frontend = frontend_for(audio, sr)
    if frontend is not None:
        chroma, rate = frontend.chroma()
    prof, energy, bass = bar_profiles(notes, bars, chroma, rate, namer.note_weight)
    ref = float(np.percentile(energy, 90)) if energy.size else 0.0
    out = []
    for b in range(len(bars) - 1):
        if energy[b] <= namer.min_energy * ref or prof[b].sum() == 0:
            out.append(Chord(float(bars[b]), float(bars[b + 1]), "N", 1.0))
            continue
        label, conf = namer(prof[b], bass[b])
        out.append(Chord(float(bars[b]), float(bars[b + 1]), label, conf))
    return out

