"""Music the generator writes: harmony, melody and drums learned from transcriptions, in one key.

Learning (:func:`analyse_chunk`, :func:`learn_score`) runs on every chunk of a dataset:

- beats and bars from :func:`technob_fx.stages.beats.track_beats`, the key from
  :func:`technob_fx.stages.key.estimate_key`, notes and one chord per bar from
  :func:`technob_fx.stages.notes.transcribe` (basic-pitch posteriors with our decoder), all on one
  shared front-end;
- **chord progressions** of each genre as scale-relative root tokens (``"7"`` = the chord whose
  root lies 7 semitones above the tonic), one per bar (the colour comes from the blend);
- **voicings** of the Lo-Fi side: the semitone layout above the root of the notes that the
  transcription's role split (:func:`technob_fx.stages.notes.split_roles`) calls ``chords``, per bar;
- **melodic phrases** of the classical side: the ``lead`` notes as diatonic steps (scale degrees of
  the chunk's key) with their inter-onset interval in sixteenths; a phrase ends at a gap of at
  least 1.5 beats, and its last degree and chord are the **cadences**.

The sequence model (:class:`NGram`) is an order-``n`` Markov chain with back-off (n = 3 for
melody, 2 for chords), sampled with ``numpy.random.default_rng(seed)``; with
``learn_score(..., sequence="gru")`` the chords are drawn from a small GRU per genre and the melody
from one more (:class:`technob_fx.blend.gru.ChordGRU`, trained on the same sequences). Generation
(:func:`compose`) mixes the two genres' chord models by the blend (``(1 - blend)`` classical,
``blend`` Lo-Fi next-chord probabilities), keeps only diatonic roots (one key), opens every 4-bar
phrase on the tonic and closes it with a cadence to the tonic (its first chord the dominant half
the time, else a chord that leads to the tonic in the learned progressions, so the tonic is the
most frequent chord and the bass holds it at every phrase start and end), colours the chords by
the blend (triads -> sevenths -> ninths, all diatonic), voices them with the learned Lo-Fi layouts,
writes the melody from the classical model (its line turns back at the edges of its range, snapped
to chord tones on strong beats and to the root or third at phrase ends, thinned and swung as the
blend rises), a bass line on the roots and the learned drum patterns with a density and swing
that grow with the blend.

The result is a :class:`Score` (notes in beats), rendered to audio by
:mod:`technob_fx.blend.instruments`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ParameterError
from ..stages.key import PITCH_CLASSES

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
#: Inter-onset intervals (sixteenths) a melody may use.
IOIS = (1, 2, 3, 4, 6, 8, 12, 16)
#: Bars per phrase of the generated music (the last bar is a cadence).
PHRASE_BARS = 4
#: Lowest/highest MIDI pitch of the melody and the chord voicings.
LEAD_RANGE = (62, 84)
CHORD_RANGE = (48, 74)


def scale_of(mode: str) -> tuple[int, ...]:
    """Semitones of the major or natural minor scale."""
    return MINOR if mode == "minor" else MAJOR


def parse_chord(label: str) -> tuple[int, str] | None:
    """Harte ``"A:min7"`` -> ``(9, "min7")``; ``None`` for ``"N"`` or unknown."""
    if not label or label == "N" or ":" not in label:
        return None
    root, quality = label.split(":", 1)
    if root not in PITCH_CLASSES:
        return None
    return PITCH_CLASSES.index(root), quality


# --------------------------------------------------------------------------------------------
# sequence model
# --------------------------------------------------------------------------------------------


class NGram:
    """Order-``n`` Markov chain over string tokens with back-off to shorter contexts.

    Parameters
    ----------
    order : int
        Tokens of context + 1 (2 = bigram).
    """

    def __init__(self, order: int = 2) -> None:
        self.order = int(order)
        self.counts: dict[tuple[str, ...], Counter] = {}

    def fit(self, sequences: list[list[str]]) -> NGram:
        """Count every context of length ``0 .. order - 1`` in ``sequences`` (``"^"`` pads the start)."""
        for seq in sequences:
            s = ["^"] * (self.order - 1) + list(seq)
            for i in range(self.order - 1, len(s)):
                for k in range(self.order):
                    ctx = tuple(s[i - k:i]) if k else ()
                    self.counts.setdefault(ctx, Counter())[s[i]] += 1
        return self

    def distribution(self, context: list[str]) -> dict[str, float]:
        """Next-token probabilities after ``context`` (longest context seen, else shorter)."""
        ctx = (["^"] * self.order + list(context))[-(self.order - 1):] if self.order > 1 else []
        for k in range(len(ctx), -1, -1):
            c = self.counts.get(tuple(ctx[len(ctx) - k:]) if k else ())
            if c:
                total = float(sum(c.values()))
                return {t: v / total for t, v in sorted(c.items())}
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"order", "counts": [[context list, {token: count}], ...]}``."""
        return {"order": self.order,
                "counts": [[list(k), dict(sorted(v.items()))] for k, v in sorted(self.counts.items())]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NGram:
        """Inverse of :meth:`to_dict`."""
        m = cls(int(d["order"]))
        m.counts = {tuple(k): Counter(v) for k, v in d["counts"]}
        return m

    def __len__(self) -> int:
        return int(sum(self.counts.get((), Counter()).values()))


def sample(rng: np.random.Generator, dist: dict[str, float], allowed=None) -> str | None:  # noqa: ANN001
    """Draw a token from ``dist`` (optionally only those for which ``allowed(token)`` is true)."""
    items = [(t, p) for t, p in dist.items() if p > 0 and (allowed is None or allowed(t))]
    if not items:
        return None
    p = np.array([v for _, v in items], float)
    return items[int(rng.choice(len(items), p=p / p.sum()))][0]


def mix(a: dict[str, float], b: dict[str, float], w: float) -> dict[str, float]:
    """``(1 - w) * a + w * b`` over the union of tokens (an empty side gives the other)."""
    if not a:
        return dict(b)
    if not b:
        return dict(a)
    keys = sorted(set(a) | set(b))
    return {k: (1 - w) * a.get(k, 0.0) + w * b.get(k, 0.0) for k in keys}


# --------------------------------------------------------------------------------------------
# learning
# --------------------------------------------------------------------------------------------


def _beat_position(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Seconds -> beat index (fractional) on a beat grid, extrapolated at its period."""
    if beats.size < 2:
        return times * 2.0
    idx = np.arange(beats.size, dtype=float)
    period = float(np.median(np.diff(beats)))
    pos = np.interp(times, beats, idx)
    pos = np.where(times < beats[0], (times - beats[0]) / period, pos)
    return np.where(times > beats[-1], beats.size - 1 + (times - beats[-1]) / period, pos)


def _degree(pitch: int, tonic: int, scale: tuple[int, ...]) -> int:
    """Diatonic index of a MIDI pitch (7 per octave), nearest scale tone."""
    rel = pitch - tonic
    octave, pc = divmod(rel, 12)
    d = int(np.argmin([min(abs(pc - s), 12 - abs(pc - s)) for s in scale]))
    if pc - scale[d] > 6:  # nearest is the next octave's tonic
        octave += 1
    return 7 * octave + d


def analyse_chunk(audio: np.ndarray, sr: float, genre: str) -> dict[str, Any]:
    """Transcribe one chunk and keep what the score model learns from it.

    Parameters
    ----------
    audio : np.ndarray, float32, ``(channels, samples)``
    sr : float
        Hz.
    genre : str
        ``"lofi"`` or ``"classical"``.

    Returns
    -------
    dict
        ``key`` (``(tonic, mode)``), ``tempo``, ``chords`` (root tokens per bar, ``"N"`` none), ``voicings`` (Lo-Fi:
        ``{quality: [offsets, ...]}``), ``melody`` (classical: list of phrases, each a list of
        ``"step,ioi"`` tokens), ``cadences`` (``[(last degree mod 7, chord token), ...]``),
        ``notes`` (the transcription, for the sampled instruments) and ``grid``.
    """
    from ..core.frontend import Frontend
    from ..stages.key import estimate_key
    from ..stages.notes import split_roles, transcribe
    from ._analysis import chunk_grid

    fe = Frontend(audio, sr)
    grid = chunk_grid(audio, sr, fe)
    k = estimate_key(audio, sr, frontend=fe)
    tonic, mode = PITCH_CLASSES.index(k.tonic), k.mode
    scale = scale_of(mode)
    tr = transcribe(audio, sr, chords=True, grid=grid, frontend=fe)
    out: dict[str, Any] = {"key": (tonic, mode), "tempo": float(grid.tempo), "chords": [], "voicings": {},
                           "melody": [], "cadences": [], "notes": tr.notes, "grid": grid}
    bar_chords: list[tuple[float, float, int, str]] = []
    for c in tr.chords:
        pc = parse_chord(c.label)
        if pc is None:
            out["chords"].append("N")
            continue
        out["chords"].append(str((pc[0] - tonic) % 12))
        bar_chords.append((c.start, c.end, pc[0], pc[1]))
    roles = split_roles(tr.notes)
    if genre == "lofi":
        for s, e, root, quality in bar_chords:
            ps = sorted({n.pitch for n in roles["chords"] + roles["lead"] if s - 0.05 <= n.onset < e})
            if len(ps) < 3:
                continue
            base = ps[0] - ((ps[0] - root) % 12)
            offs = sorted({p - base for p in ps if p - base < 24})[:6]
            out["voicings"].setdefault(quality, []).append(offs)
    beats = np.asarray(grid.beats, float)
    lead = sorted(roles["lead"], key=lambda n: n.onset)
    if genre == "classical" and len(lead) >= 4 and beats.size >= 4:
        pos = _beat_position(np.array([n.onset for n in lead]), beats)
        q = np.round(pos * 4).astype(int)  # sixteenths
        phrase: list[str] = []
        prev_deg = None
        for i, n in enumerate(lead):
            if i and q[i] == q[i - 1]:
                continue  # two lead notes on one sixteenth: keep the first
            deg = _degree(n.pitch, tonic, scale)
            nxt = q[i + 1] if i + 1 < len(lead) else q[i] + 8
            gap = int(nxt - q[i])
            ioi = min(IOIS, key=lambda v: abs(v - max(gap, 1)))
            step = 0 if prev_deg is None else int(np.clip(deg - prev_deg, -7, 7))
            phrase.append(f"{step},{ioi}")
            prev_deg = deg
            if gap >= 6 or i + 1 == len(lead):  # phrase end: a gap of 1.5 beats or more
                if len(phrase) >= 3:
                    out["melody"].append(phrase)
                    t = n.onset
                    chord = next((str((r - tonic) % 12) for s, e, r, _ in bar_chords if s <= t < e), "N")
                    out["cadences"].append((deg % 7, chord))
                phrase, prev_deg = [], None
    return out


@dataclass
class ScoreModel:
    """What :func:`learn_score` learned (JSON-serialisable, stored in ``model.json``).

    Attributes
    ----------
    chords : dict
        ``{genre: NGram}`` over chord root tokens (semitones above the tonic, ``"7"``).
    melody : NGram
        Classical melody tokens ``"step,ioi"`` (diatonic step, inter-onset sixteenths).
    voicings : dict
        ``{quality: [offsets above the root, ...]}`` from the Lo-Fi side.
    cadences : list
        ``[[last degree 0..6, chord token], ...]`` of the classical phrases (a record of the learned
        phrase ends; :func:`compose` takes its cadence chords from the chord models instead, since
        these end chords are as often the dominant as the tonic).
    keys : dict
        ``{genre: {"C major": chunks, ...}}``.
    tempos : dict
        ``{genre: [BPM, ...]}`` of the chunks.
    counts : dict
        Phrases, bars, notes seen.
    sequence : {"ngram", "gru"}
        Which models :func:`compose` samples.
    gru : dict
        ``{genre: ChordGRU}`` chord models (empty unless trained, :meth:`fit_gru`).
    chord_sequences : dict
        ``{genre: [[token, ...], ...]}`` the learned progressions (what the models were fitted on).
    melody_sequences : list
        The learned melody phrases (tokens as in :attr:`melody`).
    gru_melody : ChordGRU or None
        Melody model of the ``"gru"`` option.
    """

    chords: dict[str, NGram] = field(default_factory=dict)
    melody: NGram = field(default_factory=lambda: NGram(3))
    voicings: dict[str, list[list[int]]] = field(default_factory=dict)
    cadences: list[list[Any]] = field(default_factory=list)
    keys: dict[str, dict[str, int]] = field(default_factory=dict)
    tempos: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sequence: str = "ngram"
    gru: dict[str, Any] = field(default_factory=dict)
    chord_sequences: dict[str, list[list[str]]] = field(default_factory=dict)
    melody_sequences: list[list[str]] = field(default_factory=list)
    gru_melody: Any = None

    def melody_model(self) -> Any:
        """The melody model :func:`compose` samples: the melody GRU when :attr:`sequence` is
        ``"gru"`` and one was trained, else the trigram :attr:`melody`."""
        return self.gru_melody if self.sequence == "gru" and self.gru_melody is not None else self.melody

    def chord_model(self, genre: str) -> Any:
        """The next-chord model :func:`compose` samples for ``genre``: the GRU
        (:class:`technob_fx.blend.gru.ChordGRU`) when :attr:`sequence` is ``"gru"`` and one was
        trained for the genre, else the n-gram (an empty one for an unknown genre)."""
        if self.sequence == "gru" and genre in self.gru:
            return self.gru[genre]
        return self.chords.get(genre, NGram(2))

    def fit_gru(self, seed: int = 0) -> ScoreModel:
        """Train a :class:`technob_fx.blend.gru.ChordGRU` per genre on :attr:`chord_sequences` and
        one on :attr:`melody_sequences` (``torch.manual_seed(seed)``) and select them (:attr:`sequence` = ``"gru"``); returns ``self``."""
        from .gru import ChordGRU

        roots = [str(i) for i in range(12)]  # every root keeps some probability
        self.gru = {g: ChordGRU().fit(s, seed=seed, vocab=roots) for g, s in sorted(self.chord_sequences.items())}
        self.gru_melody = ChordGRU(context=16).fit(self.melody_sequences, seed=seed) if self.melody_sequences else None
        self.sequence = "gru"
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        d = {"chords": {g: m.to_dict() for g, m in self.chords.items()}, "melody": self.melody.to_dict(),
             "voicings": self.voicings, "cadences": self.cadences, "keys": self.keys,
             "tempos": self.tempos, "counts": self.counts, "sequence": self.sequence,
             "chord_sequences": self.chord_sequences, "melody_sequences": self.melody_sequences}
        if self.gru:
            d["gru"] = {g: m.to_dict() for g, m in sorted(self.gru.items())}
        if self.gru_melody is not None:
            d["gru_melody"] = self.gru_melody.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoreModel:
        """Inverse of :meth:`to_dict` (a model saved before the GRU option reads as ``"ngram"``)."""
        from .gru import ChordGRU

        return cls(chords={g: NGram.from_dict(m) for g, m in d["chords"].items()},
                   melody=NGram.from_dict(d["melody"]), voicings=d["voicings"], cadences=d["cadences"],
                   keys=d["keys"], tempos=d["tempos"], counts=d["counts"],
                   sequence=d.get("sequence", "ngram"),
                   gru={g: ChordGRU.from_dict(m) for g, m in d.get("gru", {}).items()},
                   chord_sequences=d.get("chord_sequences", {}),
                   melody_sequences=d.get("melody_sequences", []),
                   gru_melody=ChordGRU.from_dict(d["gru_melody"]) if d.get("gru_melody") else None)


#: Chord sequence models :func:`learn_score` can train.
SEQUENCE_MODELS = ("ngram", "gru")


def learn_score(chunks: list[tuple[str, dict[str, Any]]], *, sequence: str = "ngram", seed: int = 0) -> ScoreModel:
    """Fit the sequence models on analysed chunks ``[(genre, analyse_chunk(...)), ...]``.

    Parameters
    ----------
    chunks : list
    sequence : {"ngram", "gru"}
        The chord model :func:`compose` samples: the bigram (always fitted) or a small GRU per
        genre and one for the melody (:class:`technob_fx.blend.gru.ChordGRU`, trained with ``seed``)
        on the same sequences.
    seed : int

    Raises
    ------
    ParameterError
        Unknown ``sequence``.
    """
    if sequence not in SEQUENCE_MODELS:
        raise ParameterError(f"sequence must be one of {', '.join(SEQUENCE_MODELS)}, got {sequence!r}")
    seqs: dict[str, list[list[str]]] = {}
    melodies: list[list[str]] = []
    voicings: dict[str, list[list[int]]] = {}
    cadences: list[list[Any]] = []
    keys: dict[str, Counter] = {}
    tempos: dict[str, list[float]] = {}
    for genre, a in chunks:
        chords = [c for c in a["chords"] if c != "N"]
        if len(chords) >= 2:
            seqs.setdefault(genre, []).append(chords)
        melodies.extend(a["melody"])
        for q, vs in a["voicings"].items():
            voicings.setdefault(q, []).extend(vs)
        cadences.extend([list(c) for c in a["cadences"]])
        keys.setdefault(genre, Counter())[f"{PITCH_CLASSES[a['key'][0]]} {a['key'][1]}"] += 1
        if a["tempo"] > 0:
            tempos.setdefault(genre, []).append(round(float(a["tempo"]), 2))
    sm = ScoreModel(
        chord_sequences={g: s for g, s in sorted(seqs.items())}, melody_sequences=[list(m) for m in melodies],
        chords={g: NGram(2).fit(s) for g, s in sorted(seqs.items())},
        melody=NGram(3).fit(melodies),
        voicings={q: v[:200] for q, v in sorted(voicings.items())},
        cadences=cadences[:500],
        keys={g: dict(sorted(c.items())) for g, c in sorted(keys.items())},
        tempos=tempos,
        counts={"chord_bars": sum(len(s) for v in seqs.values() for s in v),
                "melody_notes": sum(len(p) for p in melodies), "phrases": len(melodies),
                "voicings": sum(len(v) for v in voicings.values())},
    )
    return sm.fit_gru(seed) if sequence == "gru" else sm


# --------------------------------------------------------------------------------------------
# composing
# --------------------------------------------------------------------------------------------


@dataclass
class Score:
    """Generated music in beats (4/4, one key).

    Attributes
    ----------
    tonic, mode : int, str
        The key (0 = C).
    bars : int
    notes : list of tuple
        ``(part, start beat, length beats, MIDI pitch, velocity 0..1)``; parts ``lead``,
        ``chords``, ``bass``.
    hits : list of tuple
        ``(beat, band, velocity 0..1)``; bands ``low``, ``mid``, ``high``.
    chords : list of str
        Harte label of every bar.
    swing : float
        Off-beat eighth position (0.5 straight).
    info : dict
        What was chosen (progression tokens, colour, density).
    """

    tonic: int
    mode: str
    bars: int
    notes: list[tuple[str, float, float, int, float]]
    hits: list[tuple[float, str, float]]
    chords: list[str]
    swing: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """E.g. ``"A minor"``."""
        return f"{PITCH_CLASSES[self.tonic]} {self.mode}"


def _diatonic_chord(degree_index: int, size: int, scale: tuple[int, ...]) -> list[int]:
    """Semitones above the tonic of a chord stacked in diatonic thirds on a scale degree."""
    return [scale[(degree_index + 2 * k) % 7] + 12 * ((degree_index + 2 * k) // 7) for k in range(size)]


def _quality(intervals: list[int]) -> str:
    """Harte quality of root-relative semitones (triad / seventh; ninths named by their seventh)."""
    s = tuple(sorted({i % 12 for i in intervals[:4]}))
    names = {(0, 4, 7): "maj", (0, 3, 7): "min", (0, 3, 6): "dim", (0, 4, 8): "aug",
             (0, 4, 7, 10): "7", (0, 4, 7, 11): "maj7", (0, 3, 7, 10): "min7", (0, 3, 6, 10): "hdim7",
             (0, 3, 6, 9): "dim7", (0, 3, 7, 11): "minmaj7"}
    return names.get(s, "maj")


def _snap(pitch: int, pcs: set[int]) -> int:
    """Nearest MIDI pitch whose pitch class is in ``pcs`` (the lower one on a tie)."""
    for d in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6):
        if (pitch + d) % 12 in pcs:
            return pitch + d
    return pitch


def _approach(model: NGram) -> dict[str, float]:
    """How often each chord leads to the tonic (``"0"``) in a learned bigram chord model, normalised:
    the learned cadence's first chord."""
    c = {ctx[0]: float(n.get("0", 0)) for ctx, n in model.counts.items()
         if len(ctx) == 1 and ctx[0] not in ("^", "0") and n.get("0", 0)}
    total = sum(c.values())
    return {t: v / total for t, v in sorted(c.items())} if total else {}


def compose(model: ScoreModel, patterns: np.ndarray, pattern_counts: list[int], *, tonic: int, mode: str,
            bars: int, blend: float, swing: float, rng: np.random.Generator) -> Score:
    """Write ``bars`` bars of new music from the learned models.

    Parameters
    ----------
    model : ScoreModel
    patterns : np.ndarray, ``(k, 3, 16)``
        Learned drum patterns (velocities per band and sixteenth); ``pattern_counts`` their bars.
    tonic, mode : int, str
        Key of the piece (every chord and melody note lies in its scale).
    bars : int
    blend : float
        0 classical .. 1 Lo-Fi (chord model mix, colour, density, swing, drums).
    swing : float
        The learned Lo-Fi swing; the piece swings ``0.5 + blend * (swing - 0.5)``.
    rng : np.random.Generator

    Returns
    -------
    Score
    """
    scale = scale_of(mode)
    scale_pcs = {(tonic + s) % 12 for s in scale}
    sw = 0.5 + blend * (float(swing) - 0.5)
    size = 3 if blend < 0.3 else (4 if blend < 0.7 else 5)  # triads, sevenths, ninths
    colour = {3: "triads", 4: "sevenths", 5: "ninths"}[size]

    def diatonic(tok: str) -> bool:
        return int(tok) in scale

    # -- harmony --------------------------------------------------------------------------
    cl = model.chords.get("classical", NGram(2))
    lo = model.chords.get("lofi", NGram(2))
    cl_next, lo_next = model.chord_model("classical"), model.chord_model("lofi")  # n-gram or GRU
    # Every phrase opens on the tonic and closes on it (an authentic cadence, V - I, or the cadence
    # the learned music uses: the chord that leads to the tonic in the learned progressions), so the
    # tonic is the most frequent chord and the key is never heard as its dominant's.
    approach = mix(_approach(cl), _approach(lo), blend)
    tokens: list[str] = []
    for bar in range(bars):
        pos = bar % PHRASE_BARS
        phrase_end = pos == PHRASE_BARS - 1 or bar == bars - 1
        pre_cadence = not phrase_end and (pos == PHRASE_BARS - 2 or bar == bars - 2)
        prev = tokens[-1] if tokens else None  # a new chord every bar inside a phrase
        if pos == 0 or phrase_end:
            tok = "0"
        elif pre_cadence:  # the cadence's first chord: the dominant half the time, else learned
            tok = str(scale[4])
            if rng.random() >= 0.5 or tok == prev:
                tok = (sample(rng, approach, lambda t, prev=prev: diatonic(t) and t not in ("0", prev))
                       or (tok if tok != prev else str(scale[3])))
        else:
            dist = mix(cl_next.distribution(tokens), lo_next.distribution(tokens), blend)
            tok = (sample(rng, dist, lambda t, prev=prev: diatonic(t) and t != prev)
                   or str(scale[[3, 4, 5][int(rng.integers(3))]]))
        tokens.append(tok)
    chord_tones: list[list[int]] = []  # semitones above the tonic (root first)
    labels: list[str] = []
    for tok in tokens:
        d = scale.index(int(tok))
        iv = _diatonic_chord(d, size, scale)
        chord_tones.append(iv)
        root = (tonic + iv[0]) % 12
        labels.append(f"{PITCH_CLASSES[root]}:{_quality([i - iv[0] for i in iv])}")

    notes: list[tuple[str, float, float, int, float]] = []
    # voicings: a learned Lo-Fi layout (offsets above the root) snapped onto the chord's tones
    layouts = [v for vs in model.voicings.values() for v in vs if 3 <= len(v) <= 6]
    for bar, iv in enumerate(chord_tones):
        pcs = {(tonic + i) % 12 for i in iv}
        root_pitch = 48 + (tonic + iv[0]) % 12
        if layouts and blend >= 0.3:
            lay = layouts[int(rng.integers(len(layouts)))]
            voiced = sorted({_snap(root_pitch + o, pcs) for o in lay})
        else:  # close position (a classical chorale-like spread)
            voiced = sorted({root_pitch + (i - iv[0]) + (12 if k else 0) for k, i in enumerate(iv[:4])})
        voiced = [p if p <= CHORD_RANGE[1] else p - 12 for p in voiced]
        voiced = sorted(set(voiced))
        start = bar * 4.0
        if blend < 0.5:  # sustained (strings, organ-like pads)
            for p in voiced:
                notes.append(("chords", start, 4.0, p, 0.55))
        else:  # Lo-Fi comping: on one and on the swung "and" of two (the learned syncopation)
            for p in voiced:
                notes.append(("chords", start, 2.0 + sw, p, 0.6))
                if rng.random() < blend * 0.7:
                    notes.append(("chords", start + 2.0 + sw, 4.0 - 2.0 - sw, p, 0.45))
        # bass: the root, on one (and a learned-syncopation push at higher blends)
        bass = 36 + (tonic + iv[0]) % 12
        if blend < 0.5:
            notes.append(("bass", start, 4.0, bass, 0.6))
        else:
            notes.append(("bass", start, 2.0 + sw - 0.05, bass, 0.7))
            notes.append(("bass", start + 2.0 + sw, 4.0 - 2.0 - sw,
                          bass + (7 if rng.random() < 0.4 and (bass + 7) % 12 in scale_pcs else 0), 0.6))

    # -- melody -----------------------------------------------------------------------------
    density = 1.0 - 0.45 * blend  # Lo-Fi melodies are sparser
    beat = 0.0
    total = bars * 4.0

    def pitch_of(d: int) -> int:
        return tonic + 60 + 12 * (d // 7) + scale[d % 7]

    in_range = [d for d in range(28) if LEAD_RANGE[0] <= pitch_of(d) <= LEAD_RANGE[1]]
    lo_deg, hi_deg = in_range[0], in_range[-1]
    deg = 7 + 2 * int(rng.integers(0, 3))  # start on an upper tonic-chord tone
    while deg > hi_deg:
        deg -= 7
    while deg < lo_deg:
        deg += 7
    ctx: list[str] = []  # the n-gram reads its last two tokens, the GRU up to 16
    melody_next = model.melody_model()
    turn = 1  # -1 while the learned line is played upside down
    while beat < total - 1e-9:
        bar = int(beat // 4)
        phrase_end = bar % PHRASE_BARS == PHRASE_BARS - 1 or bar == bars - 1
        dist = melody_next.distribution(ctx)
        tok = sample(rng, dist) if dist else None
        if tok is None:
            step, ioi = int(rng.integers(-2, 3)), 2
        else:
            s, i = tok.split(",")
            step, ioi = int(s), int(i)
            ctx = (ctx + [tok])[-16:]
        step *= turn
        if not lo_deg <= deg + step <= hi_deg:  # the line is mirrored at the edges of its range (a
            turn, step = -turn, -step  # clip piled a falling line up on its lowest degree)
        deg = int(np.clip(deg + step, lo_deg, hi_deg))
        pitch = pitch_of(deg)
        length = ioi / 4.0
        if beat + length > (bar + 1) * 4.0 and phrase_end:
            length = (bar + 1) * 4.0 - beat
        strong = abs(beat - round(beat)) < 1e-6 and int(round(beat)) % 2 == 0
        chord_pcs = {(tonic + i) % 12 for i in chord_tones[min(bar, bars - 1)]}
        if strong or phrase_end:
            pitch = _snap(pitch, chord_pcs)
        if phrase_end and beat >= bar * 4.0 + 2.0:  # cadence: hold a chord tone to the bar line
            length = (bar + 1) * 4.0 - beat
            pitch = _snap(pitch, {(tonic + chord_tones[bar][0]) % 12, (tonic + chord_tones[bar][1]) % 12})
        pitch += 12 * (pitch < LEAD_RANGE[0]) - 12 * (pitch > LEAD_RANGE[1])  # a snap past the range
        frac = beat - np.floor(beat)
        t = np.floor(beat) + (sw if abs(frac - 0.5) < 1e-6 else frac)  # swing the off-beat eighths
        if strong or rng.random() < density:
            notes.append(("lead", float(t), float(max(0.25, length * 0.95)), int(pitch),
                          float(0.75 if strong else 0.6)))
        beat += length
        if phrase_end and beat >= (bar + 1) * 4.0 - 1e-9 and bar + 1 < bars:
            ctx = []  # a new phrase

    # -- drums --------------------------------------------------------------------------------
    hits: list[tuple[float, str, float]] = []
    bands = ("low", "mid", "high")
    phases = np.array([0.0, sw / 2.0, sw, (1.0 + sw) / 2.0])
    if blend >= 0.2 and len(patterns):
        w = np.asarray(pattern_counts, float)
        w = w / w.sum()
        base = int(rng.choice(len(patterns), p=w))
        alt = int(rng.choice(len(patterns), p=w))
        on = {"low": True, "mid": blend >= 0.3, "high": blend >= 0.45}
        gain = min(1.0, 0.35 + blend)
        for bar in range(bars):
            if bar == 0 and bars > 4:
                continue  # the intro bar: harmony alone
            pat = patterns[alt if bar % PHRASE_BARS == PHRASE_BARS - 1 else base]
            for bi, band in enumerate(bands):
                if not on[band]:
                    continue
                for step in np.nonzero(pat[bi] > 0)[0]:
                    b, sub = divmod(int(step), 4)
                    if sub % 2 and blend < 0.7:
                        continue  # sixteenths only at high blend (density)
                    v = float(pat[bi, step]) * gain * float(rng.uniform(0.85, 1.0))
                    hits.append((float(bar * 4 + b + phases[sub]), band, v))
    info = {"progression": tokens, "sequence_model": model.sequence if model.gru else "ngram", "colour": colour, "swing": round(sw, 4), "melody_density": round(density, 3),
            "drum_bands": sorted({h[1] for h in hits})}
    return Score(tonic, mode, bars, notes, hits, labels, sw, info)
