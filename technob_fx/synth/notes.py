"""Multi-instrument material with exact notes and chords, for note transcription tests and training.

:func:`synth_song` renders a short song from a seeded plan: a chord progression (one chord per
bar, major, minor, seventh and sus qualities), a bass line, a chord part (pad, stabs, plucked
arpeggios or piano voicings), a lead melody and an optional drum bed, each with a timbre drawn from
the project's own voices (additive saw and sub basses, an acid bass, Karplus-Strong plucks,
detuned pads, FM electric piano, an organ, a square lead, a hammered-string piano) and with
optional reverb. Every note is known exactly (onset, offset, MIDI pitch, velocity, part), and so
is the chord of every bar.

:func:`render_gm` renders the same plan with FluidSynth and a General MIDI soundfont (when the
``fluidsynth`` program and a soundfont exist), for timbres we did not design.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Chord qualities the generator uses, as intervals above the root (Harte shorthand names).
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
}
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Own timbres per part.
OWN_TIMBRES = {
    "bass": ("saw_bass", "sub_bass", "acid", "pluck"),
    "chords": ("pad", "ep", "organ", "pluck", "piano"),
    "lead": ("square", "pluck", "ep", "saw_lead", "piano"),
}
#: General MIDI programs per part for :func:`render_gm`.
GM_PROGRAMS = {
    "bass": (33, 34, 38, 39, 32),
    "chords": (0, 4, 5, 48, 89, 19, 24, 11, 46),
    "lead": (0, 80, 81, 73, 65, 56, 25, 40, 11),
}
#: Default search path of General MIDI soundfonts (Debian's fluid-soundfont-gm first).
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/sounds/sf2/TimGM6mb.sf2")


@dataclass
class Note:
    """One note: seconds, MIDI pitch, velocity 1-127 and the part that plays it."""

    onset: float
    offset: float
    pitch: int
    velocity: int
    part: str


@dataclass
class SongPlan:
    """What a song plays (times in seconds).

    Attributes
    ----------
    bpm : float
    bars : int
    notes : list of Note
    chords : list of ``(start, end, label)``
        One per bar, Harte labels (``"A:min"``, ``"F:maj7"``, ``"G:sus4"``).
    downbeats : np.ndarray
    """

    bpm: float
    bars: int
    notes: list[Note]
    chords: list[tuple[float, float, str]]
    downbeats: np.ndarray
    drums: bool = True
    timbres: dict[str, str] = field(default_factory=dict)
    programs: dict[str, int] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.chords[-1][1] + 1.0 if self.chords else 1.0

    def notes_of(self, parts: tuple[str, ...] | None = None) -> list[Note]:
        return [n for n in self.notes if parts is None or n.part in parts]


def plan_song(seed: int, *, bars: int = 8, bpm: float | None = None, parts: tuple[str, ...] = ("bass", "chords", "lead"),
              drums: bool = True, style: str | None = None) -> SongPlan:
    """Draw a song plan from ``seed``.

    Parameters
    ----------
    seed : int
    bars : int
        Length in 4/4 bars (one chord per bar).
    bpm : float, optional
        Drawn from 90-140 when not given.
    parts : tuple of str
        Which of ``bass``, ``chords``, ``lead`` play.
    drums : bool
        Whether a drum bed is rendered under the parts (its hits are not notes).
    style : str, optional
        Chord part style: ``pad`` (sustained), ``stabs`` (off-beat eighths), ``arp`` (sixteenth
        arpeggio), ``block`` (piano voicings on beats 1 and 3); drawn when not given.
    """
    rng = np.random.default_rng(seed)
    bpm = float(bpm if bpm is not None else rng.integers(90, 141))
    beat = 60.0 / bpm
    t0 = 0.25
    downbeats = t0 + 4 * beat * np.arange(bars + 1)
    key = int(rng.integers(0, 12))
    minor = bool(rng.random() < 0.6)
    scale = np.array((0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11))
    # diatonic triad qualities per degree
    deg_q = ("min", "dim", "maj", "min", "min", "maj", "maj") if minor else ("maj", "min", "min", "maj", "maj", "min", "dim")
    progression = []
    degrees = [0] + [int(rng.choice([3, 5, 4, 2, 6, 1] if minor else [3, 4, 5, 1, 2])) for _ in range(3)]
    for b in range(bars):
        d = degrees[b % 4]
        q = deg_q[d]
        if q == "dim":
            q = "min"
        r = rng.random()
        if r < 0.15:
            q = {"maj": "maj7", "min": "min7"}[q]
        elif r < 0.25 and q == "maj":
            q = "7"
        elif r < 0.33:
            q = "sus4" if rng.random() < 0.5 else "sus2"
        root = (key + int(scale[d])) % 12
        progression.append((root, q))
    style = style or str(rng.choice(["pad", "stabs", "arp", "block"]))
    notes: list[Note] = []

    def at(bar: int, beat_pos: float) -> float:
        return float(downbeats[bar] + beat_pos * beat)

    bass_pat = rng.choice(["eighths_off", "sixteenths", "quarters", "syncopated"])
    for b, (root, q) in enumerate(progression):
        ivs = QUALITIES[q]
        if "bass" in parts:
            low = 28 + (root - 28) % 12  # E1..D#2
            if bass_pat == "eighths_off":
                steps = [(p + 0.5, 0.45, 0) for p in range(4)]
            elif bass_pat == "sixteenths":
                steps = [(p * 0.25, 0.22, 12 if p % 4 == 2 else 0) for p in range(16) if p % 4 != 0 or p == 0]
            elif bass_pat == "quarters":
                steps = [(p, 0.9, 0 if p % 2 == 0 else 7) for p in range(4)]
            else:
                steps = [(0, 0.7, 0), (0.75, 0.2, 12), (1.5, 0.45, 7), (2.5, 0.45, 0), (3.25, 0.2, 12), (3.5, 0.4, 10 if 10 in ivs else 7)]
            for pos, ln, iv in steps:
                notes.append(Note(at(b, pos), at(b, pos + ln), low + iv, int(rng.integers(80, 120)), "bass"))
        if "chords" in parts:
            base = 52 + (root - 52) % 12  # E3..D#4
            voicing = [base + iv for iv in ivs]
            if style == "pad":
                ev = [(0.0, 3.95)]
            elif style == "stabs":
                ev = [(p + 0.5, 0.3) for p in range(4)]
            elif style == "block":
                ev = [(0.0, 1.8), (2.0, 1.8)]
            else:
                ev = []
            for pos, ln in ev:
                vel = int(rng.integers(70, 110))
                for m in voicing:
                    notes.append(Note(at(b, pos), at(b, pos + ln), m, vel, "chords"))
            if style == "arp":
                seq = voicing + [voicing[0] + 12]
                for s in range(16):
                    m = seq[s % len(seq)] if (s // len(seq)) % 2 == 0 else seq[-1 - s % len(seq)]
                    notes.append(Note(at(b, s * 0.25), at(b, s * 0.25 + 0.22), m, int(rng.integers(70, 110)), "chords"))
        if "lead" in parts:
            pos = 0.0
            chord_pcs = {(root + iv) % 12 for iv in ivs}
            while pos < 4.0:
                ln = float(rng.choice([0.5, 0.5, 1.0, 0.25, 1.5, 0.75]))
                ln = min(ln, 4.0 - pos)
                if rng.random() < 0.8:
                    cand = [m for m in range(67, 86) if (m - key) % 12 in set(scale.tolist())]
                    strong = [m for m in cand if m % 12 in chord_pcs]
                    m = int(rng.choice(strong if (pos % 1 == 0 and strong) else cand))
                    notes.append(Note(at(b, pos), at(b, pos + ln * 0.9), m, int(rng.integers(80, 120)), "lead"))
                pos += ln
    chords = [(float(downbeats[b]), float(downbeats[b + 1]), f"{PITCH_NAMES[r]}:{q}") for b, (r, q) in enumerate(progression)]
    timbres = {p: str(rng.choice(OWN_TIMBRES[p])) for p in ("bass", "chords", "lead")}
    programs = {p: int(rng.choice(GM_PROGRAMS[p])) for p in ("bass", "chords", "lead")}
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return SongPlan(bpm, bars, notes, chords, downbeats, drums, timbres, programs)


# --------------------------------------------------------------------------------------------
# own voices
# --------------------------------------------------------------------------------------------


def _hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _adsr(n: int, sr: int, a: float, d: float, s: float, r: float, gate: int) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.where(t < a, t / max(a, 1e-4), s + (1 - s) * np.exp(-(t - a) / max(d, 1e-4)))
    rel_t = np.maximum(t - gate / sr, 0.0)
    env = env * np.where(t < gate / sr, 1.0, np.exp(-rel_t / max(r, 1e-4)))
    return env


def _additive(f0: float, t: np.ndarray, weights, sr: int, detune: float = 0.0, phase_rng=None) -> np.ndarray:
    out = np.zeros_like(t)
    for k, w in enumerate(weights, start=1):
        if f0 * k * (1 + detune) >= sr / 2 - 500 or w == 0:
            continue
        ph = 0.0 if phase_rng is None else phase_rng.uniform(0, 2 * np.pi)
        out += w * np.sin(2 * np.pi * f0 * k * t * (1 + detune) + ph)
    return out


def voice(timbre: str, midi: int, dur: float, vel: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of an own timbre, mono float32 (includes its release tail)."""
    from scipy.signal import lfilter

    f0 = _hz(midi)
    amp = (vel / 127.0) ** 1.5
    gate = max(int(dur * sr), 1)
    tail = {"pad": 0.4, "pluck": 0.15, "piano": 0.25, "ep": 0.2, "organ": 0.03}.get(timbre, 0.05)
    n = gate + int(tail * sr)
    t = np.arange(n) / sr
    if timbre == "saw_bass":
        sig = _additive(f0, t, [1 / k for k in range(1, 16)], sr)
        sig *= _adsr(n, sr, 0.004, 0.15, 0.5, 0.02, gate)
    elif timbre == "sub_bass":
        sig = _additive(f0, t, [1.0, 0.35, 0.1], sr) * _adsr(n, sr, 0.006, 0.3, 0.8, 0.02, gate)
    elif timbre == "acid":
        cut = 3 + 12 * np.exp(-t * 12)  # harmonic number of the "cutoff"
        sig = np.zeros_like(t)
        for k in range(1, 24):
            if f0 * k >= sr / 2 - 500:
                break
            w = (1 / k) / (1 + np.maximum(k - cut, 0) ** 2) * (1 + 2.5 * np.exp(-((k - cut) ** 2) / 2))
            sig += w * np.sin(2 * np.pi * f0 * k * t)
        sig *= _adsr(n, sr, 0.003, 0.2, 0.6, 0.02, gate)
    elif timbre == "pluck":
        period = max(int(round(sr / f0)), 2)
        exc = np.zeros(n)
        burst = rng.uniform(-1, 1, period)
        exc[:period] = lfilter([0.5, 0.5], [1.0], burst)
        g = 0.996 if f0 < 200 else 0.99
        a = np.zeros(period + 2)
        a[0] = 1.0
        a[period] -= g * 0.5
        a[period + 1] -= g * 0.5
        sig = lfilter([1.0], a, exc)
        sig *= _adsr(n, sr, 0.001, 10.0, 1.0, 0.03, gate)
    elif timbre == "pad":
        sig = sum(_additive(f0, t, [1 / k for k in range(1, 9)], sr, d, rng) for d in (-0.004, 0.0, 0.005)) / 3
        sig *= _adsr(n, sr, 0.08, 0.5, 0.8, 0.15, gate)
    elif timbre == "ep":
        idx = 2.5 * np.exp(-t * 4)
        sig = np.sin(2 * np.pi * f0 * t + idx * np.sin(2 * np.pi * f0 * t)) * np.exp(-t * 1.2)
        sig *= _adsr(n, sr, 0.002, 10.0, 1.0, 0.05, gate)
    elif timbre == "organ":
        sig = _additive(f0, t, [1.0, 0.6, 0.3, 0.5, 0, 0.2, 0, 0.15], sr) * _adsr(n, sr, 0.01, 0.1, 1.0, 0.01, gate)
    elif timbre == "square":
        vib = 1 + 0.003 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.3, 1)
        ph = 2 * np.pi * np.cumsum(f0 * vib) / sr
        sig = sum(np.sin(k * ph) / k for k in range(1, 14, 2) if f0 * k < sr / 2 - 500)
        sig *= _adsr(n, sr, 0.01, 0.2, 0.7, 0.03, gate)
    elif timbre == "saw_lead":
        sig = sum(_additive(f0, t, [1 / k for k in range(1, 12)], sr, d) for d in (-0.003, 0.003)) / 2
        sig *= _adsr(n, sr, 0.005, 0.3, 0.7, 0.04, gate)
    elif timbre == "piano":
        b = 0.0004  # inharmonicity
        sig = np.zeros_like(t)
        for k in range(1, 13):
            fk = f0 * k * np.sqrt(1 + b * k * k)
            if fk >= sr / 2 - 500:
                break
            sig += (1 / k**1.2) * np.sin(2 * np.pi * fk * t) * np.exp(-t * (0.8 + 0.5 * k))
        sig *= _adsr(n, sr, 0.002, 10.0, 1.0, 0.08, gate)
    else:
        raise ValueError(f"unknown timbre {timbre!r}")
    return (0.3 * amp * sig).astype(np.float32)


def _drum_bed(plan: SongPlan, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, np.float32)
    beat = 60.0 / plan.bpm
    tk = np.arange(int(0.3 * sr)) / sr
    kick = (np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-tk * 35)) / sr) * np.exp(-tk * 10)).astype(np.float32)
    noise = rng.standard_normal(int(0.2 * sr))
    th = np.arange(noise.size) / sr
    hat = (np.diff(noise, prepend=0.0) * 0.25 * np.exp(-th * 60)).astype(np.float32)
    clap = (noise * 0.4 * np.exp(-th * 20) + 0.4 * np.sin(2 * np.pi * 200 * th) * np.exp(-th * 30)).astype(np.float32)

    def put(sig: np.ndarray, t: float, g: float) -> None:
        i = int(round(t * sr))
        if 0 <= i < n:
            m = min(sig.size, n - i)
            out[i : i + m] += g * sig[:m]

    for bar in range(plan.bars):
        t0 = plan.downbeats[bar]
        for q in range(4):
            put(kick, t0 + q * beat, 0.9)
            put(hat, t0 + (q + 0.5) * beat, 0.6)
            if q in (1, 3):
                put(clap, t0 + q * beat, 0.5)
            for s in (0.25, 0.75):
                put(hat, t0 + (q + s) * beat, 0.25)
    return out


def _reverb(x: np.ndarray, sr: int, wet: float, seed: int) -> np.ndarray:
    from pedalboard import Pedalboard, Reverb

    board = Pedalboard([Reverb(room_size=0.5 + 0.4 * (seed % 5) / 5, wet_level=wet, dry_level=1.0 - wet / 2)])
    return board(x[np.newaxis, :].astype(np.float32), sr)[0]


@dataclass
class Rendered:
    """Audio of a plan: ``mix`` mono float32 at ``sample_rate``, and ``parts`` (each part's audio)."""

    mix: np.ndarray
    sample_rate: int
    parts: dict[str, np.ndarray]
    plan: SongPlan


def _finish(parts: dict[str, np.ndarray], plan: SongPlan, sr: int, seed: int, reverb: float, rng) -> Rendered:
    n = max(p.size for p in parts.values())
    if plan.drums:
        parts["drums"] = _drum_bed(plan, n, sr, rng)
    if reverb > 0:
        for k in list(parts):
            if k != "drums":
                parts[k] = _reverb(parts[k], sr, reverb, seed)
    mix = np.zeros(n, np.float32)
    for p in parts.values():
        mix[: p.size] += p
    peak = float(np.abs(mix).max()) or 1.0
    g = np.float32(0.89 / peak)
    return Rendered(mix * g, sr, {k: v * g for k, v in parts.items()}, plan)


def render_own(plan: SongPlan, sr: int = 22050, *, seed: int = 0, reverb: float = 0.0,
               timbres: dict[str, str] | None = None) -> Rendered:
    """Render ``plan`` with the own voices (``plan.timbres`` unless ``timbres`` overrides)."""
    rng = np.random.default_rng(seed + 7919)
    n = int((plan.duration + 1.0) * sr)
    tim = dict(plan.timbres, **(timbres or {}))
    gains = {"bass": 1.0, "chords": 0.55, "lead": 0.8}
    parts: dict[str, np.ndarray] = {}
    for nt in plan.notes:
        buf = parts.setdefault(nt.part, np.zeros(n, np.float32))
        v = voice(tim[nt.part], nt.pitch, nt.offset - nt.onset, nt.velocity, sr, rng)
        i = int(round(nt.onset * sr))
        m = min(v.size, n - i)
        buf[i : i + m] += gains.get(nt.part, 1.0) * v[:m]
    if not parts:
        parts["silence"] = np.zeros(n, np.float32)
    return _finish(parts, plan, sr, seed, reverb, rng)


def find_soundfont() -> str | None:
    """The first General MIDI soundfont of :data:`SOUNDFONTS` that exists, or None."""
    for p in SOUNDFONTS:
        if Path(p).exists():
            return p
    return None


def gm_available() -> bool:
    """True when the ``fluidsynth`` program and a General MIDI soundfont exist."""
    return shutil.which("fluidsynth") is not None and find_soundfont() is not None


def render_gm(plan: SongPlan, sr: int = 22050, *, seed: int = 0, reverb: float = 0.0,
              programs: dict[str, int] | None = None) -> Rendered:
    """Render ``plan`` with FluidSynth and a General MIDI soundfont, one part at a time.

    Raises
    ------
    RuntimeError
        No ``fluidsynth`` program or soundfont.
    """
    import mido
    import soundfile as sf

    sf2 = find_soundfont()
    if shutil.which("fluidsynth") is None or sf2 is None:
        raise RuntimeError("render_gm needs the fluidsynth program and a General MIDI soundfont")
    rng = np.random.default_rng(seed + 104729)
    progs = dict(plan.programs, **(programs or {}))
    n = int((plan.duration + 1.0) * sr)
    parts: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ch, part in enumerate(sorted({nt.part for nt in plan.notes})):
            mid = mido.MidiFile(ticks_per_beat=960)
            tr = mido.MidiTrack()
            mid.tracks.append(tr)
            tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 120 BPM: 1920 ticks/s
            tr.append(mido.Message("program_change", channel=ch, program=progs[part], time=0))
            ev = []
            for nt in plan.notes_of((part,)):
                ev.append((round(nt.onset * 1920), 1, nt.pitch, nt.velocity))
                ev.append((round(nt.offset * 1920), 0, nt.pitch, 0))
            ev.sort()
            now = 0
            for tick, on, p, v in ev:
                tr.append(mido.Message("note_on" if on else "note_off", channel=ch, note=p, velocity=v, time=tick - now))
                now = tick
            mp = Path(tmp) / f"{part}.mid"
            wp = Path(tmp) / f"{part}.wav"
            mid.save(str(mp))
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sr), "-F", str(wp), sf2, str(mp)],
                           check=True, capture_output=True, timeout=300)
            y, _ = sf.read(str(wp), dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            buf = np.zeros(n, np.float32)
            buf[: min(n, y.size)] = y[:n]
            parts[part] = buf
    return _finish(parts, plan, sr, seed, reverb, rng)
