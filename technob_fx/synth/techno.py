"""A synthesised techno track with exact ground truth.

The embedded default of ``technob demo`` and the fixture of the test suite and benchmarks: a 4/4
track with a known tempo (optionally drifting), beats, downbeats, sections (intro / build / drop /
breakdown / outro), key and lead-line notes, plus its stems (drums, bass, pad, lead) so
separation can be scored against them.

Arrangement per section label:

============  =====================================================================
intro         kick, off-beat open hat in the second half, bass from the second half
build         snare roll accelerating 1/4 -> 1/8 -> 1/16, rising noise sweep,
              kick in the first half only, pad
drop          kick, clap on 2 and 4, closed 16th hats, open off-beat hat, bass, pad,
              lead
breakdown     no drums at all (the grid must survive it): pad chords and the lead
outro         kick, hats, bass fading out
============  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.node import Result
from ..core.results import BeatGrid, NoteEvent, Segment, Segmentation

#: Default arrangement: 96 bars, 3 minutes at 128 BPM.
DEFAULT_STRUCTURE: tuple[tuple[str, int], ...] = (
    ("intro", 16),
    ("build", 8),
    ("drop", 16),
    ("breakdown", 16),
    ("build", 8),
    ("drop", 16),
    ("outro", 16),
)
#: A short arrangement for tests (28 bars, about 52 s at 128 BPM).
SHORT_STRUCTURE: tuple[tuple[str, int], ...] = (
    ("intro", 4),
    ("build", 4),
    ("drop", 8),
    ("breakdown", 4),
    ("drop", 4),
    ("outro", 4),
)

# A minor: i - VI - III - VII (Am, F, C, G), one chord per bar.
_CHORDS = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))
_BASS_ROOTS = (33, 29, 36, 31)  # A1, F1, C2, G1
# Lead motif in A natural minor, (beat offset in bar, length in beats, MIDI), two bars long.
_LEAD = (
    (0.0, 1.0, 69), (1.0, 0.5, 72), (1.5, 0.5, 71), (2.0, 1.5, 69), (3.5, 0.5, 67),
    (4.0, 1.0, 64), (5.0, 1.0, 65), (6.0, 1.5, 67), (7.5, 0.5, 69),
)  # fmt: skip


@dataclass
class SynthTruth(Result):
    """Ground truth of a synthesised track.

    Attributes
    ----------
    tempo : float
        BPM at the start (the constant tempo unless ``bpm_end`` was given).
    beats, downbeats : np.ndarray
        Seconds.
    segments : list of Segment
        Sections with their labels; boundaries on downbeats.
    key : str
        ``"A minor"``.
    notes : list of NoteEvent
        The monophonic lead line.
    sample_rate : float
        Hz.
    duration : float
        Seconds.
    drums_by_section : dict
        Label -> whether the kick plays in it.
    """

    tempo: float
    beats: np.ndarray
    downbeats: np.ndarray
    segments: list[Segment]
    key: str
    notes: list[NoteEvent]
    sample_rate: float
    duration: float
    tempo_end: float = 0.0
    kick_times: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def grid(self) -> BeatGrid:
        """The true :class:`~technob_fx.core.results.BeatGrid`."""
        return BeatGrid(self.beats, self.downbeats, self.tempo, 4)

    @property
    def segmentation(self) -> Segmentation:
        """The true sections as a :class:`~technob_fx.core.results.Segmentation`."""
        return Segmentation(list(self.segments))


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    """Mix ``sig`` (1-D or ``(c, n)``) into ``buf`` at sample ``start``, clipped at the end."""
    if start >= buf.shape[-1] or start < 0:
        return
    n = min(sig.shape[-1], buf.shape[-1] - start)
    buf[..., start : start + n] += sig[..., :n]


class _Kit:
    """One-shot drum and synth voices rendered once per track."""

    def __init__(self, sr: int, rng: np.random.Generator) -> None:
        self.sr = sr
        t = np.arange(int(0.35 * sr)) / sr
        # Kick: pitch sweep 160 -> 48 Hz, exponential decay, a short click.
        f = 48.0 + 112.0 * np.exp(-t * 38.0)
        phase = 2 * np.pi * np.cumsum(f) / sr
        kick = np.sin(phase) * np.exp(-t * 9.0)
        kick[: int(0.002 * sr)] += np.hanning(2 * int(0.002 * sr))[: int(0.002 * sr)] * 0.5
        self.kick = (0.95 * kick).astype(np.float32)
        # Hats: high-passed noise bursts.
        n = rng.standard_normal(int(0.25 * sr))
        hp = np.diff(np.diff(n, prepend=0.0), prepend=0.0)
        th = np.arange(hp.size) / sr
        self.hat_closed = (0.22 * hp / 4 * np.exp(-th * 70.0)).astype(np.float32)
        self.hat_open = (0.20 * hp / 4 * np.exp(-th * 14.0)).astype(np.float32)
        # Clap / snare: band-passed noise with a body tone.
        n2 = rng.standard_normal(int(0.22 * sr))
        bp = np.diff(n2, prepend=0.0)
        tc = np.arange(bp.size) / sr
        self.clap = (0.35 * (bp / 2 * np.exp(-tc * 22.0) + 0.5 * np.sin(2 * np.pi * 190 * tc) * np.exp(-tc * 30.0))).astype(np.float32)
        self.snare = (0.30 * (bp / 2 * np.exp(-tc * 30.0) + 0.6 * np.sin(2 * np.pi * 220 * tc) * np.exp(-tc * 40.0))).astype(np.float32)

    def tone(self, midi: float, dur: float, kind: str, amp: float) -> np.ndarray:
        """A pitched note: ``kind`` in ``bass`` (saw-ish, plucked), ``lead`` (bright), ``pad``."""
        sr = self.sr
        n = max(int(dur * sr), 1)
        t = np.arange(n) / sr
        f0 = _midi_hz(midi)
        if kind == "bass":
            sig = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 7))
            env = np.exp(-t * 6.0)
        elif kind == "lead":
            sig = sum(np.sin(2 * np.pi * f0 * k * t) * (0.6**(k - 1)) for k in range(1, 6))
            env = np.minimum(1.0, t / 0.005) * np.exp(-t * 1.5)
        else:  # pad: detuned saws, low-passed by taking few harmonics
            sig = sum(
                np.sin(2 * np.pi * f0 * d * k * t) / k for d in (0.997, 1.0, 1.003) for k in range(1, 5)
            ) / 3
            env = np.minimum(1.0, t / 0.3)
        rel = min(int(0.01 * sr), n)
        env[-rel:] *= np.linspace(1.0, 0.0, rel)
        return (amp * sig * env).astype(np.float32)


def beat_times(n_beats: int, bpm: float, bpm_end: float | None = None, offset: float = 0.0) -> np.ndarray:
    """Times of ``n_beats`` beats, seconds, for a tempo gliding linearly (per beat) to ``bpm_end``."""
    if bpm_end is None or bpm_end == bpm:
        return offset + np.arange(n_beats) * 60.0 / bpm
    tempi = np.linspace(bpm, bpm_end, n_beats)
    return offset + np.concatenate([[0.0], np.cumsum(60.0 / tempi[:-1])])


def synth_techno(
    structure: tuple[tuple[str, int], ...] | list[tuple[str, int]] = DEFAULT_STRUCTURE,
    *,
    bpm: float = 128.0,
    bpm_end: float | None = None,
    sample_rate: int = 44100,
    offset: float = 0.0,
    seed: int = 0,
    return_stems: bool = False,
) -> tuple[np.ndarray, SynthTruth] | tuple[np.ndarray, SynthTruth, dict[str, np.ndarray]]:
    """Render a techno track with known beats, downbeats, sections, key and notes.

    Parameters
    ----------
    structure : sequence of ``(label, bars)``
        Sections in order; labels from ``intro, build, drop, breakdown, outro``.
    bpm : float
        Tempo at the start, BPM.
    bpm_end : float, optional
        Tempo at the end; the tempo glides linearly per beat (a drifting track).
    sample_rate : int
        Hz.
    offset : float
        Seconds of silence before the first downbeat.
    seed : int
        Random seed (noise of hats and sweeps); same seed, same samples.
    return_stems : bool
        Also return the stems.

    Returns
    -------
    audio : np.ndarray, float32, shape ``(2, samples)``
        Peak-normalised to -1 dBFS.
    truth : SynthTruth
    stems : dict of str -> np.ndarray, shape ``(2, samples)``
        ``drums``, ``bass``, ``pad``, ``lead`` (only with ``return_stems``); they sum to
        ``audio``.
    """
    rng = np.random.default_rng(seed)
    sr = int(sample_rate)
    n_bars = sum(b for _, b in structure)
    beats = beat_times(n_bars * 4 + 1, bpm, bpm_end, offset)  # +1: the end of the last bar
    duration = float(beats[-1] + 0.5)
    n = int(duration * sr)
    kit = _Kit(sr, rng)
    stems = {k: np.zeros((2, n), np.float32) for k in ("drums", "bass", "pad", "lead")}
    drums, bass, pad, lead = stems["drums"], stems["bass"], stems["pad"], stems["lead"]

    def at(t: float) -> int:
        return int(round(t * sr))

    def beat_t(b: float) -> float:
        """Time of fractional beat index ``b`` (interpolated within the beat)."""
        i = int(np.floor(b))
        frac = b - i
        return float(beats[i] + frac * (beats[i + 1] - beats[i]))

    segments: list[Segment] = []
    notes: list[NoteEvent] = []
    kicks: list[float] = []
    bar = 0
    for label, n_sec_bars in structure:
        s_beat = bar * 4
        e_beat = (bar + n_sec_bars) * 4
        segments.append(Segment(float(beats[s_beat]), float(beats[e_beat]), label))
        for b in range(n_sec_bars):
            gbar = bar + b  # global bar index
            half2 = b >= n_sec_bars // 2
            chord = _CHORDS[gbar % 4]
            root = _BASS_ROOTS[gbar % 4]
            bar_len = beats[gbar * 4 + 4] - beats[gbar * 4]
            beat_len = bar_len / 4
            for q in range(4):
                bi = gbar * 4 + q
                kick_on = label in ("intro", "drop", "outro") or (label == "build" and not half2)
                if kick_on:
                    _add(drums, at(beats[bi]), kit.kick)
                    kicks.append(float(beats[bi]))
                if label in ("drop", "outro") or (label == "intro" and half2):
                    _add(drums, at(beat_t(bi + 0.5)), kit.hat_open * np.array([[0.8], [1.0]], np.float32))
                if label == "drop":
                    if q in (1, 3):
                        _add(drums, at(beats[bi]), kit.clap)
                    for s in range(4):
                        _add(drums, at(beat_t(bi + s / 4)), kit.hat_closed * np.array([[1.0], [0.7]], np.float32) * (0.6 if s % 2 else 1.0))
                if label in ("drop", "outro") or (label == "intro" and half2):
                    amp = 0.35 if label != "outro" else 0.35 * (1 - b / n_sec_bars)
                    _add(bass, at(beat_t(bi + 0.5)), kit.tone(root, beat_len * 0.45, "bass", amp))
            if label == "build":
                # Snare roll: quarters, then eighths, then sixteenths over the section.
                frac = b / n_sec_bars
                div = 1 if frac < 0.5 else (2 if frac < 0.75 else 4)
                for s in range(4 * div):
                    vel = 0.5 + 0.5 * (b + s / (4 * div)) / n_sec_bars
                    _add(drums, at(beat_t(gbar * 4 + s / div)), kit.snare * vel)
                sweep = rng.standard_normal(int(bar_len * sr)).astype(np.float32)
                sweep = np.diff(sweep, prepend=0.0) * 0.02 * (b + 1) / n_sec_bars
                _add(drums, at(beats[gbar * 4]), sweep)
            if label in ("build", "drop", "breakdown"):
                amp = 0.07 if label == "drop" else 0.11
                for m in chord:
                    p = kit.tone(m, bar_len, "pad", amp)
                    _add(pad, at(beats[gbar * 4]), np.stack([p, np.roll(p, 37)]))
            if label in ("drop", "breakdown") and b % 2 == 0 and b + 1 < n_sec_bars:
                for off, length, midi in _LEAD:
                    t0 = beat_t(gbar * 4 + off)
                    t1 = beat_t(gbar * 4 + off + length * 0.9)
                    tone = kit.tone(midi, t1 - t0, "lead", 0.18)
                    _add(lead, at(t0), np.stack([tone * 0.9, tone]))
                    notes.append(NoteEvent(t0, t1, midi, 100))
        bar += n_sec_bars

    mix = drums + bass + pad + lead
    peak = float(np.abs(mix).max()) or 1.0
    gain = np.float32(10 ** (-1 / 20) / peak)
    for k in stems:
        stems[k] *= gain
    mix = mix * gain
    truth = SynthTruth(
        tempo=float(bpm),
        beats=beats[:-1],
        downbeats=beats[:-1][::4],
        segments=segments,
        key="A minor",
        notes=notes,
        sample_rate=float(sr),
        duration=n / sr,
        tempo_end=float(bpm_end if bpm_end is not None else bpm),
        kick_times=np.asarray(kicks),
    )
    if return_stems:
        return mix.astype(np.float32), truth, stems
    return mix.astype(np.float32), truth
