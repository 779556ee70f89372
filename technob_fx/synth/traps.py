"""Trap fixtures: music that looks like the analysis' failure cases, with exact truth.

Every trap is one rendered piece with known beats, downbeats, meter, tempo, sections and key
(issue 10). The techno traps each isolate one thing that pulls a beat tracker off the beat or a
tempo estimator off its octave; the non-techno pieces cover meters, pickups, rubato and styles a
techno-tuned tracker never sees:

===================  ======================================================================
``offbeat_hat``      open hat on every off-beat almost as loud as a dull kick, off-beat bass
``rolling_bass``     bass on the three 16ths after each kick
``dub_techno``       off-beat chord stabs into a long feedback delay, soft kick, 120 BPM
``soft_808``         a soft, long 808 kick under loud hats and claps
``hard_158``         hard techno at 158 BPM, saturated kick with rumble
``dubstep_140``      half-time dubstep (kick on 1, snare on 3), wobble bass, 140 BPM
``swung_house``      swung 16ths, 7th chords, 123 BPM
``broken_kick``      broken (non four-to-the-floor) kick patterns that change every bar
``stops``            2-bar full stops before drops
``breakdown_32``     a 32-bar beatless breakdown
``ambient_intro``    an intro of free drones with no tempo, then the beat
``loud_master``      mastered hard to about -7 LUFS with a limiter
``acid_dorian``      acid bass line, dorian mode, 138 BPM
``phrygian_145``     phrygian minor, metallic hats, 145 BPM
``deep_118``         deep/minimal techno at 118 BPM, major key
``dnb_174``          drum and bass breakbeat, reese bass, 174 BPM
``chorale``          four-part chorale, 4/4, rubato and ritardando at every cadence
``minuet``           3/4 minuet with a one-beat pickup, harpsichord
``waltz``            3/4 waltz with a pickup, oom-pah-pah, strong rubato
``siciliano_68``     6/8 with an eighth-note pickup (beats are dotted quarters, 2 per bar)
``csardas_24``       2/4 dance, a tempo per section: slow, accelerating to 1.5x, ritardando to 0.6x
``lofi_swing``       swung Lo-Fi hip-hop, 7th chords, vinyl noise, 84 BPM
``trumpet_90``       a solo monophonic trumpet-like melody at 90 BPM
``rock_8ths``        rock band: kick on 1 and 3, snare on 2 and 4, 8ths, fills, a two-beat pickup
``funk_16ths``       funk: kick mostly off the beat, ghost notes, off-16th guitar, snare on 2 and 4
===================  ======================================================================

Every piece is deterministic by ``seed`` (the seed also picks the key where the trap does not
fix it) and can be made short (``duration=30``) for tests: sections shrink in proportion, each
keeping at least two bars, and the trap that names a section length (the 32-bar breakdown) keeps
its character but not its length.

Truth conventions: beats are the quarter notes of 4/4 and 3/4 (the dotted quarters of 6/8), the
beats of a pickup are beats (before the first downbeat); the free intro of ``ambient_intro`` has
no beats; swing moves the off-beat 16ths, never the beats; rubato moves the beats (the truth is
where the beats are played). Techno traps are labelled ``intro/build/drop/breakdown/outro``
(``label_kind = "techno"``); the rest by repetition (``A, B, A``; ``label_kind = "repetition"``).
Keys are ``"<tonic> major|minor"`` (mir_eval format); dorian and phrygian pieces are minor keys
with ``mode`` naming the mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.node import Result
from ..core.results import Segment
from ..stages.key import PITCH_CLASSES
from .techno import _add, _Kit, _midi_hz

#: Scales as semitones above the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
#: The major/minor key a mode is written as (mir_eval knows only major and minor).
KEY_MODE = {"major": "major", "minor": "minor", "harmonic_minor": "minor", "dorian": "minor",
            "phrygian": "minor", "mixolydian": "major"}

SR = 44100


def _rng(name: str, seed: int) -> np.random.Generator:
    """The random generator of trap ``name`` with ``seed`` (different traps, different keys)."""
    import zlib

    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def key_name(tonic: int, mode: str) -> str:
    """``"F# minor"`` for tonic pitch class 6 in a minor mode (sharps, mir_eval format)."""
    return f"{PITCH_CLASSES[tonic % 12]} {KEY_MODE[mode]}"


@dataclass
class TrapTruth(Result):
    """Exact truth of a trap fixture.

    Attributes
    ----------
    name : str
        Trap name (a key of :data:`TRAPS`).
    beats, downbeats : np.ndarray
        Seconds; strictly increasing; downbeats a subset of beats.
    beats_per_bar : int
        4 (4/4), 3 (3/4) or 2 (6/8 counted in dotted quarters).
    meter : str
        ``"4/4"``, ``"3/4"`` or ``"6/8"``.
    tempo : float
        Median tempo of the beats, BPM.
    key : str
        ``"D minor"`` (mir_eval format).
    mode : str
        The scale: ``major``, ``minor``, ``harmonic_minor``, ``dorian``, ``phrygian``.
    segments : list of Segment
        Sections covering ``[0, duration]``.
    label_kind : str
        ``"techno"`` (intro/build/drop/breakdown/outro) or ``"repetition"`` (A, B, ...).
    sample_rate, duration : float
        Hz, seconds.
    lufs : float
        Integrated loudness of the rendered audio, LUFS.
    techno : bool
        A techno trap (four-to-the-floor family, electronic) or not.
    description : str
        What the trap is.
    """

    name: str
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int
    meter: str
    tempo: float
    key: str
    mode: str
    segments: list[Segment]
    label_kind: str
    sample_rate: float
    duration: float
    lufs: float = 0.0
    techno: bool = True
    description: str = ""


# --------------------------------------------------------------------------------------------
# Time: beat times from a tempo curve
# --------------------------------------------------------------------------------------------


def tempo_curve(n_beats: int, bpm: float, rng: np.random.Generator, *, rubato: float = 0.0,
                phrase_ends: Sequence[int] = (), ritard: float = 0.0, ritard_beats: int = 3) -> np.ndarray:
    """Local tempo of each beat, BPM, shape ``(n_beats,)``.

    ``rubato`` is the depth of a smooth random tempo wobble (0.06 = +-6 %); before every beat
    index in ``phrase_ends`` the tempo slows linearly to ``1 - ritard`` over ``ritard_beats``
    beats and returns at once after it (a tempo).
    """
    x = np.arange(n_beats, dtype=np.float64)
    tempi = np.full(n_beats, float(bpm))
    if rubato > 0:
        wob = sum(np.sin(2 * np.pi * x / p + rng.uniform(0, 2 * np.pi)) for p in (7.0, 13.0, 29.0)) / 3.0
        tempi *= 1.0 + rubato * wob
    for e in phrase_ends:
        for k in range(ritard_beats):
            i = e - ritard_beats + k
            if 0 <= i < n_beats:
                tempi[i] *= 1.0 - ritard * (k + 1) / ritard_beats
    return tempi


class _Timeline:
    """Beat index (fractional) -> seconds, for beats ``0..n`` at given times (extrapolated)."""

    def __init__(self, times: np.ndarray) -> None:
        self.times = np.asarray(times, dtype=np.float64)

    @classmethod
    def from_tempi(cls, tempi: np.ndarray, start: float) -> _Timeline:
        return cls(start + np.concatenate([[0.0], np.cumsum(60.0 / tempi)]))

    def t(self, b: float) -> float:
        ts = self.times
        if b <= 0:
            return float(ts[0] + b * (ts[1] - ts[0]))
        if b >= ts.size - 1:
            return float(ts[-1] + (b - ts.size + 1) * (ts[-1] - ts[-2]))
        i = int(b)
        return float(ts[i] + (b - i) * (ts[i + 1] - ts[i]))

    def period(self, b: float) -> float:
        i = int(np.clip(np.floor(b), 0, self.times.size - 2))
        return float(self.times[i + 1] - self.times[i])


# --------------------------------------------------------------------------------------------
# Voices: the techno synth's kit, extended with more sound designs
# --------------------------------------------------------------------------------------------


def _sine_sweep(t: np.ndarray, f_end: float, f_add: float, rate: float, sr: int) -> np.ndarray:
    f = f_end + f_add * np.exp(-t * rate)
    return np.sin(2 * np.pi * np.cumsum(f) / sr)


def _onepole_lp(x: np.ndarray, fc: float, sr: int) -> np.ndarray:
    """First-order low-pass (6 dB/octave above ``fc``), applied in the frequency domain."""
    n = x.shape[-1]
    f = np.fft.rfftfreq(2 * n, 1.0 / sr)
    return np.fft.irfft(np.fft.rfft(x, 2 * n) / (1.0 + 1j * f / fc), 2 * n)[..., :n]


class Voices(_Kit):
    """Drum and instrument voices made in code (no samples), several designs of each.

    Extends :class:`technob_fx.synth.techno._Kit` (its ``kick``, ``hat_*``, ``clap``, ``snare`` and
    ``tone`` stay available as the ``"synth"`` designs).
    """

    KICKS = ("synth", "909", "808", "saturated", "rumble", "dull", "punchy")
    HATS = ("synth", "metal", "bright", "dark")
    CLAPS = ("synth", "burst", "snare", "rim")

    def __init__(self, sr: int, rng: np.random.Generator) -> None:
        super().__init__(sr, rng)
        self.rng = rng
        self._cache: dict[tuple, np.ndarray] = {}

    # -- drums -----------------------------------------------------------------------------
    def kick_design(self, design: str) -> np.ndarray:
        sr = self.sr
        if design == "synth":
            return self.kick
        t = np.arange(int((0.9 if design in ("808", "rumble") else 0.4) * sr)) / sr
        if design == "909":
            k = _sine_sweep(t, 52.0, 180.0, 45.0, sr) * np.exp(-t * 8.0)
            click = self.rng.standard_normal(int(0.004 * sr)) * np.hanning(int(0.004 * sr)) * 0.6
            k[: click.size] += click
        elif design == "punchy":
            k = _sine_sweep(t, 58.0, 260.0, 70.0, sr) * np.exp(-t * 12.0)
            k[: int(0.001 * sr)] += 0.8
        elif design == "808":
            k = _sine_sweep(t, 47.0, 25.0, 20.0, sr) * np.exp(-t * 3.2) * np.minimum(1.0, t / 0.004)
        elif design == "dull":  # a soft attack, little above 150 Hz
            k = _sine_sweep(t, 50.0, 70.0, 25.0, sr) * np.exp(-t * 7.0) * np.minimum(1.0, t / 0.012)
        elif design == "saturated":
            k = _sine_sweep(t, 55.0, 200.0, 30.0, sr) * np.exp(-t * 4.5)
            k = np.tanh(6.0 * k) / np.tanh(6.0)
            k[: int(0.003 * sr)] += self.rng.standard_normal(int(0.003 * sr)) * 0.4
        elif design == "rumble":  # kick plus a low, reverberant, off-beat-swelling tail
            k = _sine_sweep(t, 50.0, 150.0, 40.0, sr) * np.exp(-t * 9.0)
            tail = _onepole_lp(self.rng.standard_normal(t.size), 120.0, sr) * 6.0
            k = k + tail * np.sin(np.pi * np.clip(t / 0.9, 0, 1)) ** 2 * 0.5
        else:
            raise ValueError(f"unknown kick design {design!r}")
        return (0.95 * k / (np.abs(k).max() + 1e-9)).astype(np.float32)

    def hat_design(self, design: str, open_: bool) -> np.ndarray:
        sr = self.sr
        if design == "synth":
            return self.hat_open if open_ else self.hat_closed
        n = int((0.45 if open_ else 0.08) * sr)
        t = np.arange(n) / sr
        dec = 9.0 if open_ else 60.0
        if design == "metal":  # 808-style: six detuned squares, band-passed
            freqs = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0]) * 1.7
            x = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in freqs)
        else:
            x = self.rng.standard_normal(n)
        x = np.diff(np.diff(x, prepend=0.0), prepend=0.0)  # crude high-pass
        if design == "dark":
            x = _onepole_lp(x, 6000.0, sr)
        elif design == "bright":
            x = np.diff(x, prepend=0.0)
        x = x * np.exp(-t * dec) * np.minimum(1.0, t / 0.001)
        return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)

    def clap_design(self, design: str) -> np.ndarray:
        sr = self.sr
        if design == "synth":
            return self.clap
        if design == "snare":
            return self.snare
        n = int(0.3 * sr)
        t = np.arange(n) / sr
        noise = np.diff(self.rng.standard_normal(n), prepend=0.0)
        if design == "burst":  # three short bursts, then the tail
            env = np.zeros(n)
            for d in (0.0, 0.011, 0.022):
                i = int(d * sr)
                env[i:] += np.exp(-(t[: n - i]) * (300.0 if d < 0.02 else 18.0))
            x = noise * env
        elif design == "rim":
            x = np.sin(2 * np.pi * 1700 * t) * np.exp(-t * 90.0) + 0.3 * noise * np.exp(-t * 120.0)
        else:
            raise ValueError(f"unknown clap design {design!r}")
        return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)

    # -- pitched ---------------------------------------------------------------------------
    def note(self, midi: float, dur: float, kind: str, amp: float = 1.0, accent: float = 0.0) -> np.ndarray:
        """One note, ``(samples,)`` float32; cached by pitch, length (1 ms) and kind."""
        key = (round(float(midi), 2), round(float(dur), 3), kind, round(accent, 2))
        sig = self._cache.get(key)
        if sig is None:
            sig = self._render(float(midi), float(dur), kind, accent)
            self._cache[key] = sig
        return sig * np.float32(amp)

    def _render(self, midi: float, dur: float, kind: str, accent: float) -> np.ndarray:
        sr = self.sr
        if kind in ("bass", "lead", "pad"):
            return self.tone(midi, dur, kind, 1.0)
        n = max(int(dur * sr), 16)
        t = np.arange(n) / sr
        f0 = _midi_hz(midi)
        nyq = sr / 2

        def additive(weights: Callable[[int], np.ndarray | float], kmax: int, detune: float = 1.0) -> np.ndarray:
            out = np.zeros(n)
            for k in range(1, kmax + 1):
                if k * f0 * detune >= nyq * 0.9:
                    break
                out += weights(k) * np.sin(2 * np.pi * f0 * detune * k * t)
            return out

        if kind == "sub":
            sig = np.sin(2 * np.pi * f0 * t) + 0.15 * np.sin(4 * np.pi * f0 * t)
            env = np.minimum(1.0, t / 0.004) * np.exp(-t * 2.0)
        elif kind == "acid":  # saw through a resonant low-pass whose cutoff falls
            fc = f0 * (2.0 + (14.0 + 20.0 * accent) * np.exp(-t * (18.0 - 6 * accent)))
            res = 1.0 + 3.0 * accent

            def w(k: int) -> np.ndarray:
                fk = k * f0
                lp = 1.0 / np.sqrt(1.0 + (fk / fc) ** 4)
                peak = 1.0 + res * np.exp(-(((fk - fc) / (0.25 * fc)) ** 2))
                return lp * peak / k

            sig = additive(w, 40)
            env = np.minimum(1.0, t / 0.002) * np.exp(-t * 5.0)
        elif kind == "reese":
            sig = additive(lambda k: 1.0 / k, 12, 0.994) + additive(lambda k: 1.0 / k, 12, 1.006)
            env = np.minimum(1.0, t / 0.02)
        elif kind == "fm_bass":
            idx = 3.0 * np.exp(-t * 12.0) + 0.5
            sig = np.sin(2 * np.pi * f0 * t + idx * np.sin(2 * np.pi * f0 * t))
            env = np.minimum(1.0, t / 0.002) * np.exp(-t * 4.0)
        elif kind == "stab":  # bright detuned saw chord member, short
            sig = additive(lambda k: 1.0 / k * np.exp(-k * 0.12), 20, 0.997) + additive(lambda k: 1.0 / k * np.exp(-k * 0.12), 20, 1.003)
            env = np.minimum(1.0, t / 0.002) * np.exp(-t * 14.0)
        elif kind == "rhodes":  # FM electric piano
            idx = 1.8 * np.exp(-t * 6.0)
            sig = np.sin(2 * np.pi * f0 * t + idx * np.sin(2 * np.pi * f0 * t)) + 0.2 * np.sin(2 * np.pi * 14 * f0 * t) * np.exp(-t * 30.0)
            env = np.minimum(1.0, t / 0.003) * np.exp(-t * 1.3)
        elif kind == "organ":
            sig = additive(lambda k: {1: 1.0, 2: 0.6, 3: 0.35, 4: 0.3, 6: 0.15, 8: 0.12}.get(k, 0.0), 8)
            env = np.minimum(1.0, t / 0.03)
        elif kind == "strings":
            sig = sum(additive(lambda k: 1.0 / k * np.exp(-k * 0.25), 14, d) for d in (0.996, 1.0, 1.004)) / 3
            env = np.minimum(1.0, t / 0.12)
            sig = sig * (1 + 0.004 * np.sin(2 * np.pi * 5.5 * t))
        elif kind == "pluck":  # harpsichord / piano-like: bright, decaying, slightly inharmonic
            out = np.zeros(n)
            for k in range(1, 25):
                fk = k * f0 * np.sqrt(1 + 0.0004 * k * k)
                if fk >= nyq * 0.9:
                    break
                out += np.sin(2 * np.pi * fk * t) * np.exp(-t * (1.5 + 0.9 * k)) / k**0.8
            sig = out
            env = np.minimum(1.0, t / 0.002)
        elif kind == "piano":
            out = np.zeros(n)
            for k in range(1, 16):
                fk = k * f0 * np.sqrt(1 + 0.0002 * k * k)
                if fk >= nyq * 0.9:
                    break
                out += np.sin(2 * np.pi * fk * t) * np.exp(-t * (0.8 + 0.6 * k)) / k**1.3
            sig = out
            env = np.minimum(1.0, t / 0.003)
        elif kind == "brass":  # trumpet-like: brightness grows with the attack, vibrato later on
            bright = np.minimum(1.0, t / 0.06)
            vib = 1 + 0.006 * np.sin(2 * np.pi * 5.2 * t) * np.clip((t - 0.25) / 0.3, 0, 1)
            ph = 2 * np.pi * np.cumsum(f0 * vib) / sr
            out = np.zeros(n)
            for k in range(1, 16):
                if k * f0 >= nyq * 0.9:
                    break
                out += np.sin(k * ph) * (bright ** (0.5 * k)) / k**0.7
            sig = out
            env = np.minimum(1.0, t / 0.035) * (0.85 + 0.15 * np.exp(-t * 8.0))
        elif kind == "drone":
            sig = sum(additive(lambda k: 1.0 / k**1.5, 8, d) for d in (0.995, 1.0, 1.005))
            env = np.sin(np.pi * np.clip(t / dur, 0, 1)) ** 2
        else:
            raise ValueError(f"unknown instrument {kind!r}")
        rel = min(int(0.015 * sr), n)
        env = np.asarray(env, dtype=np.float64) * np.ones(n)
        env[-rel:] *= np.linspace(1.0, 0.0, rel)
        sig = sig * env
        return (sig / (np.abs(sig).max() + 1e-9)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Harmony: diatonic chords, voice leading, melodies
# --------------------------------------------------------------------------------------------


def scale_pitch(tonic: int, mode: str, degree: int, octave: int = 4) -> int:
    """MIDI pitch of scale ``degree`` (0-based, any integer) with the tonic in ``octave``."""
    sc = SCALES[mode]
    o, d = divmod(degree, 7)
    return 12 * (octave + 1 + o) + tonic + sc[d]


def chord_pcs(tonic: int, mode: str, degree: int, seventh: bool = False) -> list[int]:
    """Pitch classes of the diatonic triad (or 7th chord) on ``degree``, root first."""
    n = 4 if seventh else 3
    return [scale_pitch(tonic, mode, degree + 2 * i) % 12 for i in range(n)]


def voice_lead(prev: list[int] | None, pcs: Sequence[int], *, lo: int = 55, hi: int = 76, voices: int = 4) -> list[int]:
    """A voicing of pitch classes ``pcs`` in ``[lo, hi]`` closest to ``prev`` (sorted MIDI).

    Triads in four voices double the root. Brute force over the octave placements of each
    voice; minimises the total movement (the first chord: closest to the middle of the range).
    """
    import itertools

    members = list(pcs) + [pcs[0]] * max(0, voices - len(pcs))
    members = members[:voices]
    options = [[p for p in range(lo, hi + 1) if p % 12 == pc] for pc in members]
    target = sorted(prev) if prev else [lo + (hi - lo) * (i + 1) / (voices + 1) for i in range(voices)]
    best, best_cost = None, np.inf
    for combo in itertools.product(*options):
        v = sorted(combo)
        if len(set(v)) < len(v):
            continue
        cost = sum(abs(a - b) for a, b in zip(v, target)) + 0.5 * max(0, v[-1] - v[0] - 19)
        if cost < best_cost:
            best, best_cost = v, cost
    return list(best) if best else sorted(p for opts in options for p in opts[:1])


def melody_line(rng: np.random.Generator, tonic: int, mode: str, chords: Sequence[int], rhythm: Sequence[Sequence[tuple[float, float]]],
                *, octave: int = 5, cadence_degree: int = 0) -> list[tuple[int, float, float, int]]:
    """A stepwise melody over one chord per bar: ``(bar, beat offset, length in beats, midi)``.

    Strong notes (the first of each bar) take a chord tone near the previous note; the rest move
    by step toward the next bar's chord tone. The last note lands on ``cadence_degree``.
    """
    out: list[tuple[int, float, float, int]] = []
    deg = 7 * 0 + 2  # start on the third
    for bar, (ch, pattern) in enumerate(zip(chords, rhythm)):
        tones = [ch + 2 * i for i in range(3)]
        for j, (off, length) in enumerate(pattern):
            if j == 0:
                cands = [t + 7 * o for t in tones for o in (-1, 0, 1)]
                deg = min(cands, key=lambda c: (abs(c - deg), rng.random()))
            else:
                deg += int(rng.choice([-1, 1, 1, -1, 2, -2, 0], p=[0.3, 0.3, 0.1, 0.1, 0.08, 0.07, 0.05]))
            deg = int(np.clip(deg, -3, 9))
            out.append((bar, off, length, scale_pitch(tonic, mode, deg, octave)))
    if out:
        bar, off, length, _ = out[-1]
        last_deg = min((cadence_degree + 7 * o for o in (-1, 0, 1)), key=lambda c: abs(c - deg))
        out[-1] = (bar, off, length, scale_pitch(tonic, mode, last_deg, octave))
    return out


# --------------------------------------------------------------------------------------------
# Mixing and mastering
# --------------------------------------------------------------------------------------------


def _pan(sig: np.ndarray, pan: float) -> np.ndarray:
    """Mono ``(n,)`` to stereo ``(2, n)``, ``pan`` in ``[-1, 1]`` (constant power)."""
    a = (pan + 1) * np.pi / 4
    return np.stack([sig * np.float32(np.cos(a)), sig * np.float32(np.sin(a))])


def loudness(audio: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770, pyloudnorm), LUFS."""
    import pyloudnorm

    return float(pyloudnorm.Meter(sr).integrated_loudness(np.asarray(audio, np.float64).T))


def master(audio: np.ndarray, sr: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """Bus compression and a brick-wall limiter (pedalboard), gain set to reach ``target_lufs``.

    Returns the mastered audio (peaks <= -0.5 dBFS) and its measured loudness.
    """
    import pedalboard as pb

    x = audio / (np.abs(audio).max() + 1e-9) * np.float32(0.5)
    gain = 0.0
    out, lufs = x, loudness(x, sr)
    for _ in range(3):
        gain += target_lufs - lufs
        chain = pb.Pedalboard([
            pb.HighpassFilter(cutoff_frequency_hz=25.0),
            pb.Compressor(threshold_db=-16.0, ratio=2.0, attack_ms=15.0, release_ms=150.0),
            pb.Gain(gain_db=gain),
            pb.Limiter(threshold_db=-1.5, release_ms=80.0),
        ])
        out = chain(x, sr)
        lufs = loudness(out, sr)
        if abs(lufs - target_lufs) < 0.5:
            break
    peak = float(np.abs(out).max())
    if peak > 10 ** (-0.5 / 20):
        out = out * np.float32(10 ** (-0.5 / 20) / peak)
        lufs = loudness(out, sr)
    return out.astype(np.float32), lufs


# --------------------------------------------------------------------------------------------
# Techno traps
# --------------------------------------------------------------------------------------------

FOUR = "x...x...x...x..."
OFF8 = "..x...x...x...x."
SIXTEENTHS = "xoxoxoxoxoxoxoxo"
BACKBEAT = "....x.......x..."

#: Parts per section; ``@1`` / ``@2`` = first / second half of the section only.
TECHNO_PARTS: dict[str, tuple[str, ...]] = {
    "intro": ("kick", "hatc@2", "hato@2", "bass@2", "perc"),
    "build": ("kick@1", "hatc", "roll", "sweep", "pad", "stab"),
    "drop": ("kick", "hatc", "hato", "clap", "bass", "pad", "stab", "lead", "perc"),
    "breakdown": ("pad", "lead", "stab"),
    "outro": ("kick", "hatc", "hato", "bass@1", "perc"),
}


@dataclass
class TechnoSpec:
    """Arrangement and sound of one techno trap (patterns are 16 steps per bar: ``X`` 1.0,
    ``x`` 0.75, ``o`` 0.45, ``.`` rest; a tuple of patterns cycles bar by bar)."""

    bpm: float
    structure: tuple[tuple[str, int], ...]
    mode: str = "minor"
    tonic: int | None = None  # None: chosen by the seed
    progression: tuple[int, ...] = (0, 5, 2, 6)  # scale degrees, one chord per `chord_bars`
    chord_bars: int = 1
    sevenths: bool = False
    kick: str = "909"
    kick_gain: float = 1.0
    kick_pattern: str | tuple[str, ...] = FOUR
    hat: str = "synth"
    hatc_pattern: str | tuple[str, ...] = SIXTEENTHS
    hatc_gain: float = 0.35
    hato_pattern: str | tuple[str, ...] = OFF8
    hato_gain: float = 0.45
    clap: str = "burst"
    clap_pattern: str | tuple[str, ...] = BACKBEAT
    clap_gain: float = 0.5
    bass: str = "bass"
    bass_pattern: str | tuple[str, ...] = OFF8
    bass_gain: float = 0.55
    bass_octave: int = 2
    bass_len: float = 0.22  # beats
    acid_steps: tuple[int, ...] = ()  # scale-degree offsets per 16th for acid lines
    stab: str = "stab"
    stab_pattern: str | tuple[str, ...] = "......x.......x."
    stab_gain: float = 0.0
    pad: str = "pad"
    pad_gain: float = 0.22
    lead: str = "lead"
    lead_gain: float = 0.25
    perc_pattern: str | tuple[str, ...] = "..............o."
    swing: float = 0.5  # position of the off 16th inside its 8th: 0.5 straight, 0.62 swung
    delay_feedback: float = 0.0  # dub delay on the stabs (3/16 of a bar... 3 16ths)
    reverb: float = 0.15
    stops: tuple[int, ...] = ()  # global bar index where a 2-bar full stop starts
    ambient_intro: float = 0.0  # seconds of tempo-less drones before the first beat
    wobble: bool = False
    target_lufs: float = -9.0
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _pattern(p: str | tuple[str, ...], bar: int) -> str:
    return p[bar % len(p)] if isinstance(p, tuple) else p


_VEL = {"X": 1.0, "x": 0.75, "o": 0.45, ".": 0.0}


def _steps(p: str) -> list[tuple[int, float]]:
    return [(i, _VEL[c]) for i, c in enumerate(p) if _VEL.get(c, 0.0) > 0]


def _scale_bars(structure: Sequence[tuple[str, int]], factor: float, keep: int = 2) -> list[tuple[str, int]]:
    if factor >= 1.0:
        return list(structure)
    return [(lab, max(keep, int(round(bars * factor / 2.0)) * 2)) for lab, bars in structure]


def _render_techno(name: str, spec: TechnoSpec, *, seed: int, duration: float | None, sr: int, description: str) -> tuple[np.ndarray, TrapTruth]:
    rng = _rng(name, seed)
    tonic = int(rng.integers(12)) if spec.tonic is None else spec.tonic
    v = Voices(sr, rng)
    bar_s = 240.0 / spec.bpm
    full = sum(b for _, b in spec.structure) * bar_s + spec.ambient_intro
    structure = spec.structure
    stops = spec.stops
    amb = spec.ambient_intro
    if duration is not None and duration < full:
        f = duration / full
        amb = max(min(spec.ambient_intro, 8.0), spec.ambient_intro * f)  # a free intro stays a trap
        structure = tuple(_scale_bars(spec.structure, f))
        # keep the 2-bar stops: one before the last drop of the short arrangement
        if spec.stops:
            starts = np.cumsum([0] + [b for _, b in structure])
            drops = [i for i, (lab, _) in enumerate(structure) if lab == "drop" and i > 0]
            stops = (int(starts[drops[-1]]) - 2,) if drops else ()
    n_bars = sum(b for _, b in structure)
    tl = _Timeline(amb + np.arange(n_bars * 4 + 1) * 60.0 / spec.bpm)
    total = tl.times[-1] + 1.5
    n = int(total * sr)
    stems = {k: np.zeros((2, n), np.float32) for k in ("kick", "drums", "bass", "music", "send")}

    kick = v.kick_design(spec.kick) * np.float32(spec.kick_gain)
    hatc = v.hat_design(spec.hat, False)
    hato = v.hat_design(spec.hat, True)
    clap = v.clap_design(spec.clap)

    def at(t: float) -> int:
        return int(round(t * sr))

    def step_t(bar: int, step: float) -> float:
        s = int(step)
        frac = step - s
        pos = (s // 2) * 2 + (spec.swing * 2 if s % 2 else 0.0) + frac
        return tl.t(bar * 4 + pos / 4.0)

    motif = [(o, ln, d) for o, ln, d in ((0, 1.0, 0), (1.0, 0.5, 2), (1.5, 0.5, 1), (2.0, 1.5, 0), (3.5, 0.5, -1),
                                           (4.0, 1.0, -3), (5.0, 1.0, -2), (6.0, 1.5, -1), (7.5, 0.5, 0))]
    shift = int(rng.integers(0, 3))
    motif = [(o, ln, d + shift) for o, ln, d in motif]

    segments: list[Segment] = []
    if amb > 0:
        segments.append(Segment(0.0, float(tl.times[0]), "intro"))
        # free drones: tonic and fifth swelling at unrelated times, no pulse
        t0 = 0.0
        while t0 < amb:
            length = float(rng.uniform(4.0, 7.0))
            for m in (scale_pitch(tonic, spec.mode, 0, 2), scale_pitch(tonic, spec.mode, 4, 3), scale_pitch(tonic, spec.mode, 2, 4)):
                _add(stems["music"], at(t0), _pan(v.note(m, min(length, amb - t0 + 3.0), "drone", 0.12), float(rng.uniform(-0.5, 0.5))))
            t0 += float(rng.uniform(2.0, 3.5))
    prev_voicing: list[int] | None = None
    bar = 0
    for label, n_sec in structure:
        parts = spec.parts.get(label, TECHNO_PARTS[label])
        segments.append(Segment(float(tl.t(bar * 4)), float(tl.t((bar + n_sec) * 4)), label))
        for b in range(n_sec):
            g = bar + b
            half = 1 if b < n_sec // 2 else 2
            active = {p.split("@")[0] for p in parts if "@" not in p or p.endswith(f"@{half}")}
            stopped = any(s <= g < s + 2 for s in stops)
            if stopped:
                active = set()  # a full stop: only the reverb and delay tails ring on
            degree = spec.progression[(g // spec.chord_bars) % len(spec.progression)]
            pcs = chord_pcs(tonic, spec.mode, degree, spec.sevenths)
            voicing = voice_lead(prev_voicing, pcs, lo=53, hi=74, voices=4 if spec.sevenths else 3)
            prev_voicing = voicing
            root = 12 * (spec.bass_octave + 1) + pcs[0]
            if root - 12 * (spec.bass_octave + 1) > 7:
                root -= 12
            beat = tl.period(g * 4)
            if "kick" in active:
                for s, vel in _steps(_pattern(spec.kick_pattern, g)):
                    _add(stems["kick"], at(step_t(g, s)), _pan(kick * np.float32(vel), 0.0))
            if "hatc" in active and spec.hatc_gain > 0:
                for s, vel in _steps(_pattern(spec.hatc_pattern, g)):
                    _add(stems["drums"], at(step_t(g, s)), _pan(hatc * np.float32(vel * spec.hatc_gain), 0.25))
            if "hato" in active and spec.hato_gain > 0:
                for s, vel in _steps(_pattern(spec.hato_pattern, g)):
                    _add(stems["drums"], at(step_t(g, s)), _pan(hato * np.float32(vel * spec.hato_gain), -0.2))
            if "clap" in active and spec.clap_gain > 0:
                for s, vel in _steps(_pattern(spec.clap_pattern, g)):
                    _add(stems["drums"], at(step_t(g, s)), _pan(clap * np.float32(vel * spec.clap_gain), 0.05))
                    _add(stems["send"], at(step_t(g, s)), _pan(clap * np.float32(vel * spec.clap_gain * 0.3), 0.0))
            if "perc" in active:
                for s, vel in _steps(_pattern(spec.perc_pattern, g)):
                    _add(stems["drums"], at(step_t(g, s)), _pan(v.clap_design("rim") * np.float32(vel * 0.25), 0.5))
            if "bass" in active and spec.bass_gain > 0:
                for s, vel in _steps(_pattern(spec.bass_pattern, g)):
                    m = root
                    if spec.acid_steps:
                        m = root + (scale_pitch(tonic, spec.mode, spec.acid_steps[s % len(spec.acid_steps)], 0) - 12 - tonic)
                    ln = spec.bass_len * beat
                    if spec.wobble:
                        ln = 2.0 * beat
                    sig = v.note(m, ln, spec.bass, accent=1.0 if vel >= 1.0 else 0.0)
                    if spec.wobble:  # half-beat or 8th-triplet LFO on the amplitude
                        rate = (2.0 if (g // 2) % 2 == 0 else 3.0) / beat
                        tt = np.arange(sig.size) / sr
                        sig = sig * (0.55 + 0.45 * np.cos(2 * np.pi * rate * tt)).astype(np.float32)
                    _add(stems["bass"], at(step_t(g, s)), _pan(sig * np.float32(vel * spec.bass_gain), 0.0))
            if "roll" in active:
                div = 1 if b < n_sec / 2 else (2 if b < 3 * n_sec / 4 else 4)
                for k in range(4 * div):
                    vel = 0.35 + 0.4 * (b + k / (4 * div)) / n_sec
                    _add(stems["drums"], at(tl.t(g * 4 + k / div)), _pan(v.snare * np.float32(vel), 0.1))
            if "sweep" in active:
                sw = np.diff(rng.standard_normal(int(beat * 4 * sr)), prepend=0.0).astype(np.float32)
                sw *= np.float32(0.015 * (b + 1) / n_sec) * np.linspace(0.3, 1.0, sw.size, dtype=np.float32)
                _add(stems["send"], at(tl.t(g * 4)), _pan(sw, 0.0))
            if "pad" in active and spec.pad_gain > 0:
                for m in voicing:
                    _add(stems["music"], at(tl.t(g * 4)), _pan(v.note(m, 4 * beat, spec.pad, spec.pad_gain / len(voicing)), float(rng.uniform(-0.6, 0.6))))
            if "stab" in active and spec.stab_gain > 0:
                for s, vel in _steps(_pattern(spec.stab_pattern, g)):
                    for m in voicing:
                        sig = _pan(v.note(m + 12 * (spec.stab == "rhodes"), 0.4 * beat, spec.stab, vel * spec.stab_gain / len(voicing)), 0.0)
                        _add(stems["music"], at(step_t(g, s)), sig)
                        _add(stems["send"], at(step_t(g, s)), sig * np.float32(1.5 if spec.delay_feedback else 0.3))
            if "lead" in active and spec.lead_gain > 0 and b % 2 == 0 and b + 1 < n_sec:
                for off, ln, d in motif:
                    m = scale_pitch(tonic, spec.mode, d, 5)
                    _add(stems["music"], at(tl.t(g * 4 + off)), _pan(v.note(m, ln * 0.9 * beat, spec.lead, spec.lead_gain), 0.15))
        bar += n_sec

    import pedalboard as pb

    send_fx = [pb.Reverb(room_size=0.75, wet_level=1.0, dry_level=0.0, damping=0.5)]
    if spec.delay_feedback > 0:
        send_fx.insert(0, pb.Delay(delay_seconds=0.75 * 60.0 / spec.bpm, feedback=spec.delay_feedback, mix=1.0))
        send_fx.insert(1, pb.LowpassFilter(cutoff_frequency_hz=2500.0))
    wet = pb.Pedalboard(send_fx)(stems["send"], sr)
    mix = stems["kick"] + stems["drums"] + stems["bass"] + stems["music"] + wet * np.float32(spec.reverb / 0.15 * 0.35)
    audio, lufs = master(mix, sr, spec.target_lufs)
    beats = tl.times[:-1]
    truth = TrapTruth(
        name=name, beats=beats, downbeats=beats[::4], beats_per_bar=4, meter="4/4", tempo=float(spec.bpm),
        key=key_name(tonic, spec.mode), mode=spec.mode, segments=_close(segments, n / sr), label_kind="techno",
        sample_rate=float(sr), duration=n / sr, lufs=lufs, techno=True, description=description,
    )
    return audio, truth


def _close(segments: list[Segment], duration: float) -> list[Segment]:
    """Make sections cover ``[0, duration]``: the first starts at 0, the last ends at the end."""
    segs = [Segment(s.start, s.end, s.label) for s in segments]
    segs[0].start = 0.0
    segs[-1].end = float(duration)
    return segs


# --------------------------------------------------------------------------------------------
# Non-techno pieces
# --------------------------------------------------------------------------------------------


@dataclass
class _Piece:
    """A rendered score: beat timeline plus buffers."""

    tl: _Timeline
    sr: int
    n: int
    buf: np.ndarray

    def put(self, beat: float, sig: np.ndarray, pan: float = 0.0, jitter: float = 0.0) -> None:
        t = self.tl.t(beat) + jitter
        _add(self.buf, int(round(t * self.sr)), _pan(sig, pan))


def _new_piece(times: np.ndarray, sr: int, tail: float = 2.5) -> _Piece:
    n = int((times[-1] + tail) * sr)
    return _Piece(_Timeline(times), sr, n, np.zeros((2, n), np.float32))


def _finish(name: str, p: _Piece, *, first_db: int, bpb: int, meter: str, tonic: int, mode: str,
            sections: list[tuple[str, float, float]], description: str, target_lufs: float,
            post: Callable[[np.ndarray, int], np.ndarray] | None = None) -> tuple[np.ndarray, TrapTruth]:
    """Truth from the timeline: beats ``0..n-1`` of the timeline, downbeats from ``first_db``."""
    import pedalboard as pb

    x = pb.Pedalboard([pb.Reverb(room_size=0.6, wet_level=0.18, dry_level=0.9, damping=0.6)])(p.buf, p.sr)
    if post is not None:
        x = post(x, p.sr)
    audio, lufs = master(x, p.sr, target_lufs)
    beats = p.tl.times[:-1]
    beats = beats[beats >= 0]
    downbeats = p.tl.times[first_db:-1:bpb]
    segs = [Segment(float(p.tl.t(a)), float(p.tl.t(b)), lab) for lab, a, b in sections]
    truth = TrapTruth(
        name=name, beats=beats, downbeats=downbeats, beats_per_bar=bpb, meter=meter,
        tempo=float(np.median(60.0 / np.diff(beats))), key=key_name(tonic, mode), mode=mode,
        segments=_close(segs, p.n / p.sr), label_kind="repetition", sample_rate=float(p.sr), duration=p.n / p.sr,
        lufs=lufs, techno=False, description=description,
    )
    return audio, truth


def _chorale(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
    """Four-part chorale (organ), 4/4 at ~66 BPM, rubato, ritardando into every cadence."""
    rng = _rng(name, seed)
    mode = ["major", "harmonic_minor"][seed % 2]
    tonic = int(rng.integers(12))
    phrase_bars = 2
    # phrases: chord per beat (scale degrees), each ends on a cadence
    phrase_bank = {
        "A": [0, 3, 4, 0, 5, 1, 4, 0],  # I IV V I vi ii V I
        "B": [5, 2, 3, 0, 3, 1, 4, 4],  # vi iii IV I IV ii V V (half cadence)
        "C": [0, 5, 3, 4, 0, 3, 4, 0],
    }
    form = "AABCA"
    bpm = float(rng.uniform(60, 72))
    if duration is not None:
        form = form[: max(2, int(duration / (phrase_bars * 4 * 60 / bpm)))]
    n_beats = len(form) * phrase_bars * 4
    ends = [(i + 1) * phrase_bars * 4 for i in range(len(form))]
    tempi = tempo_curve(n_beats, bpm, rng, rubato=0.05, phrase_ends=ends, ritard=0.35, ritard_beats=3)
    p = _new_piece(_Timeline.from_tempi(tempi, 0.4).times, sr)
    v = Voices(sr, rng)
    prev = None
    sections = []
    for i, lab in enumerate(form):
        b0 = i * phrase_bars * 4
        sections.append((lab, b0, b0 + phrase_bars * 4))
        for j, deg in enumerate(phrase_bank[lab]):
            b = b0 + j
            pcs = chord_pcs(tonic, mode, deg)
            up = voice_lead(prev, pcs, lo=57, hi=79, voices=3)
            prev = up
            bass = 12 * 3 + pcs[0] if pcs[0] >= 4 else 12 * 4 + pcs[0]  # E2..D#3 range
            dur = p.tl.t(b + 1) - p.tl.t(b)
            if j == len(phrase_bank[lab]) - 1:
                dur *= 1.6  # the fermata: the cadence chord rings into the breath
            for m in up + [bass]:
                p.put(b, v.note(m, dur * 0.97, "organ", 0.18), pan=float(np.clip((m - 60) / 30, -0.6, 0.6)))
    return _finish(name, p, first_db=0, bpb=4, meter="4/4", tonic=tonic, mode=mode, sections=sections,
                   description="four-part chorale, rubato, ritardando at cadences", target_lufs=-18.0)


def _dance_in_three(name: str, *, seed: int, duration: float | None, sr: int, waltz: bool) -> tuple[np.ndarray, TrapTruth]:
    """3/4 with a one-beat pickup: a minuet (harpsichord, steady) or a waltz (piano, rubato)."""
    rng = _rng(name, seed)
    mode = ["major", "minor"][(seed + waltz) % 2]
    tonic = int(rng.integers(12))
    bpm = float(rng.uniform(150, 170)) if waltz else float(rng.uniform(112, 126))
    prog = {"A": [0, 0, 4, 4, 0, 3, 4, 0], "B": [4, 4, 0, 0, 1, 4, 4, 4]}
    form = "AABA"
    bars_per = 8
    if duration is not None:
        bars_per = 4
        form = form[: max(2, int(duration / (bars_per * 3 * 60 / bpm)))]
    n_bars = len(form) * bars_per
    n_beats = 1 + n_bars * 3
    ends = [1 + (i + 1) * bars_per * 3 for i in range(len(form))]
    tempi = tempo_curve(n_beats, bpm, rng, rubato=0.09 if waltz else 0.015, phrase_ends=ends,
                        ritard=0.3 if waltz else 0.12, ritard_beats=3)
    p = _new_piece(_Timeline.from_tempi(tempi, 0.3).times, sr)
    v = Voices(sr, rng)
    inst = "piano" if waltz else "pluck"
    rhythms = [[(0, 1), (1, 1), (2, 1)], [(0, 2), (2, 1)], [(0, 1), (1, 0.5), (1.5, 0.5), (2, 1)], [(0, 1.5), (1.5, 0.5), (2, 1)]]
    # pickup: one melody note on beat 3 of the bar before bar 1
    p.put(0, v.note(scale_pitch(tonic, mode, 4, 4), 0.9 * 60 / bpm, inst, 0.3), pan=0.1)
    sections = []
    melodies: dict[str, list] = {}
    for i, lab in enumerate(form):
        b0 = 1 + i * bars_per * 3
        sections.append((lab, b0 if i else 0, b0 + bars_per * 3))
        chords = [prog[lab][k * len(prog[lab]) // bars_per] for k in range(bars_per)]
        if lab not in melodies:
            rh = [rhythms[int(rng.integers(len(rhythms)))] for _ in range(bars_per - 1)] + [[(0, 3)]]
            melodies[lab] = melody_line(rng, tonic, mode, chords, rh, octave=4, cadence_degree=0 if lab != "B" else 4)
        for bar, off, ln, m in melodies[lab]:
            b = b0 + bar * 3 + off
            dur = p.tl.t(b + ln) - p.tl.t(b)
            p.put(b, v.note(m, dur * 0.95, inst, 0.32), pan=0.1)
        for k, deg in enumerate(chords):
            pcs = chord_pcs(tonic, mode, deg)
            bb = b0 + k * 3
            root = 12 * 3 + pcs[0]
            beat = p.tl.t(bb + 1) - p.tl.t(bb)
            if waltz:  # oom-pah-pah
                p.put(bb, v.note(root, beat * 0.95, inst, 0.3), pan=-0.2)
                for q in (1, 2):
                    for m in voice_lead(None, pcs, lo=55, hi=67, voices=3):
                        p.put(bb + q, v.note(m, beat * 0.6, inst, 0.08), pan=-0.1)
            else:  # minuet: bass in quarters, a broken bass line
                for q, iv in enumerate((0, 2, 1)):
                    p.put(bb + q, v.note(12 * 3 + pcs[iv] if pcs[iv] >= 5 else 12 * 4 + pcs[iv] - 12, beat * 0.9, inst, 0.2), pan=-0.25)
    meter_desc = "waltz, oom-pah-pah, strong rubato" if waltz else "minuet, harpsichord-like, steady"
    return _finish(name, p, first_db=1, bpb=3, meter="3/4", tonic=tonic, mode=mode, sections=sections,
                   description=f"3/4 {meter_desc}, one-beat pickup", target_lufs=-17.0)


def _siciliano(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
    """6/8 (two dotted-quarter beats per bar) with an eighth-note pickup, strings and piano."""
    rng = _rng(name, seed)
    mode = ["minor", "major"][seed % 2]
    tonic = int(rng.integers(12))
    bpm = float(rng.uniform(56, 68))  # dotted quarters
    prog = {"A": [0, 3, 4, 0, 5, 3, 4, 0], "B": [2, 5, 1, 4, 0, 3, 4, 4]}
    form = "AAB"
    bars_per = 8
    if duration is not None:
        bars_per = 4
        form = form[: max(2, int(duration / (bars_per * 2 * 60 / bpm)))]
    n_bars = len(form) * bars_per
    ends = [(i + 1) * bars_per * 2 for i in range(len(form))]
    tempi = tempo_curve(n_bars * 2, bpm, rng, rubato=0.04, phrase_ends=ends, ritard=0.2, ritard_beats=2)
    p = _new_piece(_Timeline.from_tempi(tempi, 0.6).times, sr)
    v = Voices(sr, rng)
    e = 1.0 / 3.0  # an eighth in beats
    p.put(-e, v.note(scale_pitch(tonic, mode, 4, 4), 0.3, "piano", 0.3), pan=0.1)  # the pickup
    sections = []
    melodies: dict[str, list] = {}
    siciliano = [(0, 1.5 * e), (1.5 * e, 0.5 * e), (2 * e, e), (1, 2 * e), (1 + 2 * e, e)]
    for i, lab in enumerate(form):
        b0 = i * bars_per * 2
        sections.append((lab, b0, b0 + bars_per * 2))
        chords = [prog[lab][k * len(prog[lab]) // bars_per] for k in range(bars_per)]
        if lab not in melodies:
            rh = [siciliano] * (bars_per - 1) + [[(0, 2.0)]]
            melodies[lab] = melody_line(rng, tonic, mode, chords, rh, octave=4, cadence_degree=0 if lab != "B" else 4)
        for bar, off, ln, m in melodies[lab]:
            b = b0 + bar * 2 + off
            p.put(b, v.note(m, (p.tl.t(b + ln) - p.tl.t(b)) * 0.95, "strings", 0.3), pan=0.15)
        for k, deg in enumerate(chords):
            pcs = chord_pcs(tonic, mode, deg)
            bb = b0 + k * 2
            for q in range(2):  # bass on each beat, broken chord in eighths
                p.put(bb + q, v.note(12 * 3 + pcs[0], 0.5, "piano", 0.25), pan=-0.2)
                for j, iv in enumerate((0, 2, 1)):
                    p.put(bb + q + j * e, v.note(12 * 4 + pcs[iv] + (12 if iv == 1 else 0), 0.35, "piano", 0.1), pan=-0.1)
    return _finish(name, p, first_db=0, bpb=2, meter="6/8", tonic=tonic, mode=mode, sections=sections,
                   description="6/8 siciliano, eighth pickup, gentle rubato", target_lufs=-18.0)


def _csardas(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
    """2/4 in the manner of a Hungarian dance played by a salon orchestra: each section at its own
    tempo. A (slow, rubato) -> B (fast, accelerating) -> C (poco meno: slower, ritardando to its
    end) -> A' (a tempo, then faster); strings carry the melody, the piano plays oom-pah (bass on
    beat 1, an off-beat chord on beat 2 and its "and")."""
    rng = _rng(name, seed)
    mode = ["minor", "harmonic_minor"][seed % 2]
    tonic = int(rng.integers(12))
    bpm = float(rng.uniform(96, 116))
    # section: (label, bars, tempo factor at its start, at its end)
    plan = [("A", 16, 1.0, 1.0), ("B", 16, 1.25, 1.5), ("C", 12, 0.8, 0.6), ("A", 16, 1.05, 1.35)]
    if duration is not None:
        bars = max(2, int(duration / (len(plan) * 2 * 60 / bpm)))
        plan = [(lab, min(b, bars), f0, f1) for lab, b, f0, f1 in plan]
    prog = {"A": [0, 0, 4, 4, 0, 3, 4, 0], "B": [3, 3, 0, 0, 3, 3, 4, 4], "C": [5, 5, 2, 2, 3, 1, 4, 4]}
    n_beats = sum(b for _, b, _, _ in plan) * 2
    factors = np.concatenate([np.linspace(f0, f1, b * 2) for _, b, f0, f1 in plan])
    tempi = tempo_curve(n_beats, bpm, rng, rubato=0.06) * factors
    p = _new_piece(_Timeline.from_tempi(tempi, 0.4).times, sr)
    v = Voices(sr, rng)
    rhythms = [[(0, 0.5), (0.5, 0.5), (1, 1)], [(0, 0.75), (0.75, 0.25), (1, 0.5), (1.5, 0.5)],
               [(0, 1), (1, 0.5), (1.5, 0.5)], [(0, 0.5), (0.5, 0.25), (0.75, 0.25), (1, 1)]]
    sections = []
    melodies: dict[str, list] = {}
    b0 = 0
    for lab, bars, _, _ in plan:
        sections.append((lab, b0, b0 + bars * 2))
        chords = [prog[lab][k * len(prog[lab]) // bars] for k in range(bars)]
        if lab not in melodies or melodies[lab][-1][0] != bars - 1:
            rh = [rhythms[int(rng.integers(len(rhythms)))] for _ in range(bars - 1)] + [[(0, 2)]]
            melodies[lab] = melody_line(rng, tonic, mode, chords, rh, octave=5, cadence_degree=0 if lab != "C" else 4)
        for bar, off, ln, m in melodies[lab]:
            b = b0 + bar * 2 + off
            p.put(b, v.note(m, (p.tl.t(b + ln) - p.tl.t(b)) * 0.9, "strings", 0.3), pan=0.15)
        for k, deg in enumerate(chords):
            pcs = chord_pcs(tonic, mode, deg)
            bb = b0 + k * 2
            beat = p.tl.t(bb + 1) - p.tl.t(bb)
            p.put(bb, v.note(12 * 3 + pcs[0], beat * 0.8, "piano", 0.3), pan=-0.2)
            for q in (1.0, 1.5):  # the "pah": beat 2 and its "and", short
                for m in voice_lead(None, pcs, lo=55, hi=67, voices=3):
                    p.put(bb + q, v.note(m, beat * 0.3, "piano", 0.07), pan=-0.1)
        b0 += bars * 2
    return _finish(name, p, first_db=0, bpb=2, meter="2/4", tonic=tonic, mode=mode, sections=sections,
                   description="2/4 dance, a tempo per section: slow, accelerating, ritardando, a tempo",
                   target_lufs=-18.0)

def _lofi(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
    """Swung Lo-Fi hip-hop: boom-bap drums, Rhodes 7th chords (ii-V-I-vi), vinyl noise, low-pass."""
    rng = _rng(name, seed)
    mode = ["major", "dorian"][seed % 2]
    tonic = int(rng.integers(12))
    bpm = float(rng.uniform(78, 90))
    swing = 0.64
    prog = [1, 4, 0, 5] if mode == "major" else [0, 3, 0, 3]
    form = [("A", 4, False), ("B", 8, True), ("B", 8, True), ("C", 4, False), ("B", 8, True)]
    if duration is not None:
        form = [("A", 2, False), ("B", 4, True), ("C", 2, False), ("B", 4, True)]
        while len(form) > 2 and sum(b for _, b, _ in form) * 4 * 60 / bpm > duration * 1.2:
            form = form[:-1]
    n_bars = sum(b for _, b, _ in form)
    tl = _Timeline(0.25 + np.arange(n_bars * 4 + 1) * 60.0 / bpm)
    p = _new_piece(tl.times, sr)
    v = Voices(sr, rng)
    kick = v.kick_design("dull") * np.float32(0.9)
    snare = v.clap_design("snare")
    hat = v.hat_design("dark", False)
    sections = []
    bar = 0
    prev: list[int] | None = None
    kicks = ("x......x..x.....", "x.........x..x..")
    for lab, nb, drums in form:
        sections.append((lab, bar * 4, (bar + nb) * 4))
        for b in range(nb):
            g = bar + b
            pcs = chord_pcs(tonic, mode, prog[g % 4], seventh=True)
            beat = tl.period(g * 4)

            def st(s: int, g: int = g) -> float:
                return g * 4 + ((s // 2) * 2 + (swing * 2 if s % 2 else 0.0)) / 4.0

            prev = voice_lead(prev, pcs, lo=55, hi=72, voices=4)
            for m in prev:
                p.put(g * 4, v.note(m, 3.8 * beat, "rhodes", 0.09), pan=0.0, jitter=float(rng.uniform(0, 0.02)))
            p.put(g * 4, v.note(12 * 2 + pcs[0] + (12 if pcs[0] < 4 else 0), 1.5 * beat, "sub", 0.35))
            p.put(g * 4 + 2.5, v.note(12 * 2 + pcs[2] + (12 if pcs[2] < 4 else 0), 1.0 * beat, "sub", 0.25))
            if drums:
                for s, vel in _steps(kicks[g % 2]):
                    p.put(st(s), kick * np.float32(vel))
                for s in (4, 12):
                    p.put(st(s), snare * np.float32(0.5), pan=0.05, jitter=0.012)
                for s in range(0, 16, 2):
                    p.put(st(s), hat * np.float32(0.22 if s % 4 else 0.3), pan=0.3)
                    p.put(st(s + 1), hat * np.float32(0.12), pan=0.3)
        bar += nb

    def post(x: np.ndarray, sr_: int) -> np.ndarray:
        import pedalboard as pb

        r = np.random.default_rng(seed)
        crackle = (r.random(x.shape[1]) > 0.9993) * r.standard_normal(x.shape[1]) * 0.15
        hiss = _onepole_lp(r.standard_normal(x.shape[1]), 3000.0, sr_) * 0.004
        y = x + (crackle + hiss).astype(np.float32)
        return pb.Pedalboard([pb.LowpassFilter(cutoff_frequency_hz=4500.0)])(y.astype(np.float32), sr_)

    return _finish(name, p, first_db=0, bpb=4, meter="4/4", tonic=tonic, mode=mode, sections=sections,
                   description="swung Lo-Fi hip-hop, boom-bap, Rhodes 7ths, vinyl", target_lufs=-12.0, post=post)


def _trumpet(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
    """A solo monophonic trumpet-like melody at 90 BPM, 4/4, phrases separated by breaths."""
    rng = _rng(name, seed)
    mode = ["major", "dorian"][seed % 2]
    tonic = 5 if seed == 0 else int(rng.integers(12))  # F, as the real loop in ../shared
    bpm = 90.0
    form = "AABA"
    bars_per = 4
    if duration is not None:
        form = form[: max(2, int(duration / (bars_per * 4 * 60 / bpm)))]
    n_bars = len(form) * bars_per
    tl = _Timeline(0.35 + np.arange(n_bars * 4 + 1) * 60.0 / bpm)
    p = _new_piece(tl.times, sr)
    v = Voices(sr, rng)
    prog = {"A": [0, 3, 4, 0], "B": [3, 0, 1, 4]}
    rhythms = [
        [(0, 1), (1, 0.5), (1.5, 0.5), (2, 1.5), (3.5, 0.5)],
        [(0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)],
        [(0, 1.5), (1.5, 0.5), (2, 1), (3, 1)],
        [(0, 1), (1, 1), (2, 1), (3, 0.5), (3.5, 0.5)],
    ]
    melodies: dict[str, list] = {}
    sections = []
    for i, lab in enumerate(form):
        b0 = i * bars_per * 4
        sections.append((lab, b0, b0 + bars_per * 4))
        if lab not in melodies:
            rh = [rhythms[int(rng.integers(len(rhythms)))] for _ in range(bars_per - 1)] + [[(0, 2.5)]]
            melodies[lab] = melody_line(rng, tonic, mode, prog[lab], rh, octave=4, cadence_degree=0 if lab != "B" else 4)
        for bar, off, ln, m in melodies[lab]:
            b = b0 + bar * 4 + off
            legato = 0.92 if ln >= 1 else 0.8
            # human timing: notes within +-12 ms of the grid, accents on the beat
            amp = 0.35 if off == int(off) else 0.27
            p.put(b, v.note(m, ln * legato * 60 / bpm, "brass", amp), jitter=float(rng.uniform(-0.012, 0.012)))
    return _finish(name, p, first_db=0, bpb=4, meter="4/4", tonic=tonic, mode=mode, sections=sections,
                   description="solo monophonic trumpet-like melody at 90 BPM", target_lufs=-16.0)


def _band(name: str, *, seed: int, duration: float | None, sr: int, funk: bool) -> tuple[np.ndarray, TrapTruth]:
    """A band with a backbeat: rock (8ths) or funk (16ths, syncopated kick, ghost notes).

    Both start with a two-beat drum pickup (bar 1 is the third beat), drift like a drummer
    without a click (+-1 %), end every fourth bar with a fill and crash on the bar after it.
    Rock: kick on 1 and 3, a loud snare on 2 and 4, 8th hats, 8th bass and distorted power
    chords (muted in the verse). Funk: a kick that avoids beats 2-4, ghost notes, 16th hats,
    a muted guitar on every off-16th, a slap-like bass and horn stabs anticipating the bar.
    """
    rng = _rng(name, seed)
    mode = (["dorian", "minor"] if funk else ["major", "minor"])[seed % 2]
    tonic = int(rng.integers(12))
    bpm = float(rng.uniform(94, 108)) if funk else float(rng.uniform(100, 140))
    form = [("A", 8), ("B", 8), ("A", 8), ("B", 8), ("C", 4), ("B", 8)]
    if duration is not None:
        form = [("A", 4), ("B", 4), ("A", 4), ("B", 4)]
        while len(form) > 2 and (2 + sum(b for _, b in form) * 4) * 60 / bpm > duration * 1.15:
            form = form[:-1]
    n_bars = sum(b for _, b in form)
    n_beats = 2 + n_bars * 4
    tempi = tempo_curve(n_beats, bpm, rng, rubato=0.01)
    p = _new_piece(_Timeline.from_tempi(tempi, 0.2).times, sr)
    v = Voices(sr, rng)
    kick = v.kick_design("punchy" if not funk else "909") * np.float32(0.9)
    snare = v.clap_design("snare")
    snare = snare * np.float32(0.85 / np.abs(snare).max())  # a band's snare hits as hard as its kick
    hat = v.hat_design("bright" if not funk else "metal", False)
    ride = v.hat_design("bright", True)
    n_cr = int(1.6 * sr)
    crash = _onepole_lp(np.diff(rng.standard_normal(n_cr), prepend=0.0), 9000.0, sr) * np.exp(-np.arange(n_cr) / sr * 2.5)
    crash = (0.45 * crash / np.abs(crash).max()).astype(np.float32)
    prog = {"A": [0, 5, 3, 4], "B": [3, 4, 0, 0], "C": [5, 3, 5, 4]} if not funk else {"A": [0, 0, 3, 3], "B": [0, 3, 0, 4], "C": [0, 0, 0, 0]}
    hum = 0.006

    def hit(beat: float, sig: np.ndarray, gain: float, pan: float = 0.0) -> None:
        p.put(beat, sig * np.float32(gain * rng.uniform(0.85, 1.0)), pan=pan, jitter=float(rng.uniform(-hum, hum)))

    def tom(pitch: float) -> np.ndarray:
        t = np.arange(int(0.35 * sr)) / sr
        x = _sine_sweep(t, pitch, pitch * 0.8, 20.0, sr) * np.exp(-t * 9.0)
        return (0.8 * x / np.abs(x).max()).astype(np.float32)

    # pickup: two beats of fill before bar 1
    for k in range(8):
        hit(k / 4, snare if k % 2 == 0 or k > 4 else tom(180.0), 0.35 + 0.05 * k, pan=0.1)
    sections = []
    prev: list[int] | None = None
    bar = 0
    for lab, nb in form:
        sections.append((lab, 2 + bar * 4 if bar else 0, 2 + (bar + nb) * 4))
        for b in range(nb):
            g = bar + b
            b0 = 2 + g * 4
            st = (lambda s, b0=b0: b0 + s / 4.0) if not funk else (lambda s, b0=b0: b0 + (s // 2) / 2.0 + (0.27 if s % 2 else 0.0))
            deg = prog[lab][b % 4]
            pcs = chord_pcs(tonic, mode, deg, seventh=funk)
            root = 12 * 2 + pcs[0] + (12 if pcs[0] < 4 else 0)
            fill = b % 4 == 3
            drums = lab != "C" or b >= 2
            if b % 4 == 0 and (g > 0):
                hit(b0, crash, 0.8, pan=-0.3)
            if drums:
                if not funk:
                    kp = "x.......x.x....." if lab == "B" else "x.......x......."
                else:
                    kp = ("x.....x...x..x..", "x..x......x...x.")[g % 2]
                for s_, vel in _steps(kp if not fill else kp[:12] + "...."):
                    hit(st(s_), kick, vel)
                for s_ in (4, 12) if not fill else (4,):
                    hit(st(s_), snare, 0.95, pan=0.05)
                if funk:
                    for s_ in (2, 7, 9, 15):
                        if not (fill and s_ >= 12):
                            hit(st(s_), snare, 0.13, pan=0.05)
                cym = ride if (lab == "B" and not funk) else hat
                step = 2 if not funk else 1
                for s_ in range(0, 12 if fill else 16, step):
                    hit(st(s_), cym, (0.28 if s_ % 4 == 0 else 0.18) * (0.6 if cym is ride else 1.0), pan=0.3)
                if fill:  # beat 4: four 16ths down the toms, or snare
                    for k in range(4):
                        hit(st(12 + k), tom(160.0 - 25 * k) if (g // 4) % 2 else snare, 0.55 + 0.1 * k, pan=-0.2 + 0.15 * k)
            # bass and chords
            beat = p.tl.period(b0)
            if not funk:
                for s_ in range(0, 16, 2):
                    p.put(st(s_), v.note(root, 0.45 * beat, "pluck", 0.32))
                chord = [12 * 3 + pcs[0] + (12 if pcs[0] < 4 else 0)]
                chord = chord + [chord[0] + 7, chord[0] + 12]
                if lab == "A":  # palm-muted 8ths
                    for s_ in range(0, 16, 2):
                        for m in chord[:2]:
                            p.put(st(s_), v.note(m, 0.3 * beat, "stab", 0.1), pan=-0.4)
                else:
                    for s_ in (0, 6, 8, 14):  # pushed chords, held
                        for m in chord:
                            p.put(st(s_), v.note(m, (1.4 if s_ % 8 == 0 else 0.45) * beat, "brass", 0.09), pan=-0.4)
            else:
                for s_, m, ln in ((0, root, 0.5), (3, root + 12, 0.2), (6, root, 0.3), (8, root + 7, 0.25), (10, root, 0.4),
                                  (13, root + 12, 0.2), (14, root + 10, 0.25)):
                    p.put(st(s_), v.note(m, ln * beat, "fm_bass", 0.4))
                prev = voice_lead(prev, pcs, lo=60, hi=74, voices=3)
                for s_ in range(1, 16, 2):
                    for m in prev:
                        p.put(st(s_), v.note(m, 0.12 * beat, "pluck", 0.045 if s_ % 4 == 3 else 0.03), pan=-0.35)
                if lab == "B" and g % 2 == 1:
                    for m in prev:
                        p.put(st(14), v.note(m, 0.9 * beat, "brass", 0.07), pan=0.25)
        bar += nb
    post = None
    if not funk:
        def post(x: np.ndarray, sr_: int) -> np.ndarray:
            import pedalboard as pb

            return pb.Pedalboard([pb.Compressor(threshold_db=-18.0, ratio=4.0, attack_ms=5.0, release_ms=80.0)])(x, sr_)
    kind = "funk, syncopated kick, ghost notes, off-16th guitar" if funk else "rock, 8ths, backbeat, fills and crashes"
    return _finish(name, p, first_db=2, bpb=4, meter="4/4", tonic=tonic, mode=mode, sections=sections,
                   description=f"{kind}; two-beat drum pickup, drummer's drift", target_lufs=-10.0 if funk else -9.0, post=post)


# --------------------------------------------------------------------------------------------
# The trap list
# --------------------------------------------------------------------------------------------

_STD = (("intro", 16), ("build", 8), ("drop", 16), ("breakdown", 8), ("build", 4), ("drop", 16), ("outro", 8))


def _techno(spec: TechnoSpec, description: str) -> Callable[..., tuple[np.ndarray, TrapTruth]]:
    def make(name: str, *, seed: int, duration: float | None, sr: int) -> tuple[np.ndarray, TrapTruth]:
        return _render_techno(name, spec, seed=seed, duration=duration, sr=sr, description=description)

    return make


@dataclass(frozen=True)
class Trap:
    """One entry of :data:`TRAPS`: the maker, whether it is techno, and what it tests."""

    make: Callable[..., tuple[np.ndarray, TrapTruth]]
    techno: bool
    description: str


def _t(spec: TechnoSpec, description: str) -> Trap:
    return Trap(_techno(spec, description), True, description)


#: Every trap by name.
TRAPS: dict[str, Trap] = {
    "offbeat_hat": _t(TechnoSpec(
        bpm=128.0, structure=_STD, kick="dull", kick_gain=0.7, hat="bright", hato_gain=0.95, hatc_gain=0.15,
        bass_pattern=OFF8, bass="fm_bass", parts={"intro": ("kick", "hato", "bass@2")}),
        "open hat on every off-beat almost as loud as a dull kick, off-beat bass"),
    "rolling_bass": _t(TechnoSpec(
        bpm=132.0, structure=_STD, kick="punchy", kick_gain=0.8, bass="acid", bass_pattern=".xxx.xxx.xxx.xxx",
        bass_gain=0.8, bass_len=0.24, hatc_gain=0.2, hato_gain=0.3),
        "bass on the three 16ths after each kick"),
    "dub_techno": _t(TechnoSpec(
        bpm=120.0, structure=(("intro", 16), ("drop", 24), ("breakdown", 8), ("drop", 24), ("outro", 8)),
        kick="dull", kick_gain=0.55, hat="dark", hatc_gain=0.12, hato_gain=0.25, clap_gain=0.0, bass="sub",
        bass_pattern="x.......x.......", bass_gain=0.4, stab="stab", stab_pattern="..x...x...x...x.", stab_gain=0.6,
        delay_feedback=0.72, reverb=0.3, pad_gain=0.1, lead_gain=0.0, progression=(0, 0, 3, 3), sevenths=True,
        parts={"intro": ("kick", "stab", "hatc@2"), "breakdown": ("stab", "pad")}),
        "off-beat chord stabs into a long feedback delay, soft kick (dub techno)"),
    "soft_808": _t(TechnoSpec(
        bpm=126.0, structure=_STD, kick="808", kick_gain=0.45, hat="metal", hatc_gain=0.45, hato_gain=0.6,
        clap="burst", clap_gain=0.75, bass="reese", bass_pattern="..x...x...x...xo", bass_gain=0.4),
        "a soft, long 808 kick under loud hats and claps"),
    "hard_158": _t(TechnoSpec(
        bpm=158.0, structure=(("intro", 16), ("build", 8), ("drop", 32), ("breakdown", 8), ("drop", 32), ("outro", 8)),
        kick="saturated", kick_gain=1.0, hat="bright", hatc_gain=0.3, hato_gain=0.5, bass="bass",
        bass_pattern="..x...x...x...x.", clap_gain=0.35, mode="phrygian", progression=(0, 1, 0, 6), target_lufs=-7.5),
        "hard techno at 158 BPM, saturated kick"),
    "dubstep_140": _t(TechnoSpec(
        bpm=140.0, structure=(("intro", 8), ("build", 8), ("drop", 16), ("breakdown", 8), ("build", 4), ("drop", 16), ("outro", 8)),
        kick="punchy", kick_pattern=("x.........x.....", "x.....x...x....."), clap="snare", clap_pattern="........x.......",
        clap_gain=0.8, hat="synth", hatc_pattern="x.x.x.x.x.x.x.x.", hatc_gain=0.25, hato_gain=0.0, bass="reese",
        bass_pattern="x.......x.......", bass_gain=0.6, wobble=True, lead_gain=0.0,
        parts={"intro": ("pad", "hatc@2"), "outro": ("pad", "kick@1", "clap@1")}),
        "half-time dubstep at 140 BPM: kick on 1, snare on 3, wobble bass"),
    "swung_house": _t(TechnoSpec(
        bpm=123.0, structure=_STD, swing=0.62, kick="909", hat="synth", hatc_gain=0.4, hato_gain=0.45,
        clap="burst", bass="fm_bass", bass_pattern="..x..x.x..x...x.", sevenths=True, progression=(1, 4, 0, 5),
        mode="major", stab="rhodes", stab_pattern="...x..x....x..x.", stab_gain=0.5),
        "swung 16ths at 123 BPM, 7th chords, syncopated bass (house)"),
    "broken_kick": _t(TechnoSpec(
        bpm=134.0, structure=_STD, kick="909",
        kick_pattern=("x.....x...x.....", "x..x......x..x..", "x.....x.x.......", "x......x..x...x."),
        clap_pattern=("....x.......x...", "....x.......x..x"), hato_gain=0.35, bass="sub", bass_pattern="x..x..x...x..x..",
        bass_gain=0.45),
        "broken kick patterns that change bar by bar (UK/breaks)"),
    "stops": _t(TechnoSpec(
        bpm=130.0, structure=(("intro", 8), ("build", 8), ("drop", 16), ("breakdown", 8), ("build", 8), ("drop", 16), ("outro", 8)),
        stops=(14, 46), kick="909", hato_gain=0.5),
        "2-bar full stops before the drops"),
    "breakdown_32": _t(TechnoSpec(
        bpm=124.0, structure=(("intro", 16), ("drop", 16), ("breakdown", 32), ("drop", 16), ("outro", 8)), kick="rumble",
        hato_gain=0.5, pad_gain=0.3, mode="minor", progression=(0, 3, 5, 4), chord_bars=2),
        "a 32-bar beatless breakdown (pads and lead only)"),
    "ambient_intro": _t(TechnoSpec(
        bpm=122.0, structure=(("build", 8), ("drop", 16), ("breakdown", 8), ("drop", 16), ("outro", 8)), ambient_intro=40.0,
        kick="909", mode="dorian", progression=(0, 3)),
        "40 s of free drones with no tempo, then the beat"),
    "loud_master": _t(TechnoSpec(
        bpm=136.0, structure=_STD, kick="saturated", kick_gain=0.9, hato_gain=0.6, bass="reese", bass_pattern="..x...x...x...x.",
        target_lufs=-7.0),
        "mastered hard to about -7 LUFS with a limiter"),
    "acid_dorian": _t(TechnoSpec(
        bpm=138.0, structure=_STD, kick="909", bass="acid", bass_pattern="xxoxXoxoxxoXxoxo", bass_len=0.22,
        acid_steps=(0, 0, 7, 0, 2, 0, 4, 3, 0, 7, 0, 5, 0, 2, 3, 0), bass_gain=0.7, mode="dorian", progression=(0, 3),
        chord_bars=2, hato_gain=0.4),
        "acid 16th bass line in a dorian key at 138 BPM"),
    "phrygian_145": _t(TechnoSpec(
        bpm=145.0, structure=_STD, kick="punchy", hat="metal", hatc_gain=0.35, hato_gain=0.55, mode="phrygian",
        progression=(0, 1), chord_bars=2, bass="fm_bass", bass_pattern=".x.x.x.x.x.x.x.x", stab_gain=0.35),
        "phrygian minor at 145 BPM, metallic 808-style hats, 8th-note bass"),
    "deep_118": _t(TechnoSpec(
        bpm=118.0, structure=_STD, kick="dull", kick_gain=0.8, hat="dark", hatc_gain=0.25, hato_gain=0.35,
        mode="major", progression=(0, 5, 3, 4), sevenths=True, bass="sub", bass_pattern="x..x..x...x..x..",
        stab="rhodes", stab_gain=0.4, stab_pattern="...x.......x....", target_lufs=-10.0),
        "deep/minimal techno at 118 BPM in a major key"),
    "dnb_174": _t(TechnoSpec(
        bpm=174.0, structure=(("intro", 16), ("build", 8), ("drop", 32), ("breakdown", 16), ("drop", 32), ("outro", 16)),
        kick="punchy", kick_pattern=("x.........x.....", "x.x.......x....."), clap="snare",
        clap_pattern=("....x.......x...", "....x..o....x..o"), clap_gain=0.85, hatc_pattern="x.x.x.x.x.x.x.x.",
        hato_gain=0.0, bass="reese", bass_pattern="x.......x.....x.", bass_len=1.5, bass_gain=0.5, lead_gain=0.0),
        "drum and bass breakbeat at 174 BPM, reese bass"),
    "chorale": Trap(_chorale, False, "four-part chorale, rubato and ritardando at every cadence"),
    "minuet": Trap(lambda name, **kw: _dance_in_three(name, waltz=False, **kw), False, "3/4 minuet with a one-beat pickup"),
    "waltz": Trap(lambda name, **kw: _dance_in_three(name, waltz=True, **kw), False, "3/4 waltz with a pickup and strong rubato"),
    "siciliano_68": Trap(_siciliano, False, "6/8 with an eighth-note pickup"),
    "csardas_24": Trap(_csardas, False, "2/4 dance, its own tempo per section (accelerando, ritardando)"),
    "lofi_swing": Trap(_lofi, False, "swung Lo-Fi hip-hop"),
    "trumpet_90": Trap(_trumpet, False, "solo monophonic trumpet-like melody at 90 BPM"),
    "rock_8ths": Trap(lambda name, **kw: _band(name, funk=False, **kw), False, "rock: backbeat, 8ths, fills, a two-beat pickup"),
    "funk_16ths": Trap(lambda name, **kw: _band(name, funk=True, **kw), False, "funk: syncopated kick, ghost notes, off-16th guitar"),
}


def trap_names(techno: bool | None = None) -> list[str]:
    """Names of the traps (only techno or only non-techno ones when ``techno`` is given)."""
    return [k for k, t in TRAPS.items() if techno is None or t.techno == techno]


def make_trap(name: str, *, seed: int = 0, duration: float | None = None, sample_rate: int = SR) -> tuple[np.ndarray, TrapTruth]:
    """Render one trap fixture.

    Parameters
    ----------
    name : str
        A key of :data:`TRAPS`.
    seed : int
        Random seed: same seed, same samples (the seed also picks the key of most traps).
    duration : float, optional
        Target length in seconds for a short version (sections shrink in proportion, at least
        two bars each); the full arrangement (1.5-4 minutes) when omitted.
    sample_rate : int
        Hz.

    Returns
    -------
    audio : np.ndarray, float32, shape ``(2, samples)``
        Mastered (peaks at most -0.5 dBFS).
    truth : TrapTruth
    """
    if name not in TRAPS:
        raise KeyError(f"unknown trap {name!r}; have: {', '.join(TRAPS)}")
    return TRAPS[name].make(name, seed=seed, duration=duration, sr=int(sample_rate))


def render_spec(spec: TechnoSpec, *, name: str = "techno", seed: int = 0, duration: float | None = None,
                sample_rate: int = SR, description: str = "") -> tuple[np.ndarray, TrapTruth]:
    """Render any :class:`TechnoSpec` (not only the :data:`TRAPS`), with its exact truth.

    Same conventions and returns as :func:`make_trap`; ``name`` and ``seed`` seed the random
    generator (sound details and, when ``spec.tonic`` is None, the key).
    """
    return _render_techno(name, spec, seed=seed, duration=duration, sr=int(sample_rate), description=description)
