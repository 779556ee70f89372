"""Render a Lo-Fi x Classical blend from a learned model.

Two modes:

``generative`` (the default) writes new music. :mod:`technob_fx.blend.compose` samples chord
progressions (classical and Lo-Fi chord models mixed by the blend), Lo-Fi voicings, classical melodic
phrases with cadences and the learned per-bar drum patterns, all in ONE key (every chord and melody
note lies in its scale); :mod:`technob_fx.blend.instruments` plays them with note samples cut from
the user's recordings (re-pitched like a sampler), a synthesised electric piano, pad and bass, and the
drum one-shots sliced from the Lo-Fi recordings. No source audio longer than one note sample
(<= 1.6 s) is copied.

``slice`` re-arranges two-bar phrases of the classical recordings (the former generator), now cut on
downbeats, with each next phrase chosen among candidates by chroma and level compatibility with the
previous one (and its level matched within 6 dB), joined by equal-power crossfades of
:data:`JOIN_XFADE_S` and shifted to the one key.

``blend`` in ``[0, 1]`` moves the result from classical-like to Lo-Fi-like:

- content (generative): the chord model mix, the chord colour (triads < 0.3 <= sevenths < 0.7 <=
  ninths), the comping rhythm, melody density (``1 - 0.45 * blend``), swing
  (``0.5 + blend * (learned - 0.5)``), drums (none < 0.2; kick, then snare >= 0.3, hats >= 0.45,
  sixteenths >= 0.7), instrumentation (classical samples and pads -> Lo-Fi samples and electric
  piano);
- sound: the ``lofi`` preset with its settings scaled by ``blend`` (not applied at 0), then a
  low-pass chosen so that the share of energy above 5 kHz is at most
  ``classical^(1-blend) * min(classical, lofi)^blend`` (the medians of the inputs; times 0.8 from
  blend 0.5 on) -- the result is never brighter than the Lo-Fi inputs at blend 1;
- loudness interpolated between the classical and Lo-Fi medians (BS.1770, the project's one
  loudness), then :class:`technob_fx.stages.effects.TruePeakLimiter` at -1 dBTP.

The output sample rate is ``sample_rate`` (44 100 Hz by default), whatever the dataset's rate. The
stems (``drums.wav``, ``music.wav``) are the pre-master parts at the mix's gain (scaled down only if
they would clip); ``mix.wav`` is the mastered sum; ``track.mid`` carries drums, chords, bass and
lead.

Everything random comes from ``numpy.random.default_rng(seed)`` (and the preset's noise seed),
so the same dataset, arguments and seed give byte-identical files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ParameterError, PathError
from ..core.progress import ProgressCallback
from ..stages.key import PITCH_CLASSES
from .learn import Model

#: General MIDI drum notes per band.
DRUM_NOTES = {"low": 36, "mid": 38, "high": 42}
#: Modes of :func:`render`.
MODES = ("generative", "slice")
#: Equal-power crossfade at every slice-mode join, s.
JOIN_XFADE_S = 0.1
#: Ceiling of the true-peak limiter, dBTP.
CEILING_DBTP = -1.0
#: Output sample rates allowed.
SAMPLE_RATES = (44100, 48000)


@dataclass
class Generated:
    """What :func:`generate` wrote.

    Attributes
    ----------
    files : dict
        ``{"mix", "drums", "music", "midi", "info"}`` paths.
    tempo : float
        BPM.
    key : str
        e.g. ``"A minor"``.
    sections : list of tuple
        ``(start bar, end bar, label)``.
    sample_rate : float
        Hz.
    info : dict
        Everything in ``generate.json``.
    """

    files: dict[str, Path]
    tempo: float
    key: str
    sections: list[tuple[int, int, str]]
    sample_rate: float
    info: dict[str, Any] = field(default_factory=dict)


def sections_for(bars: int) -> list[tuple[int, int, str]]:
    """Intro / A / B / outro bar ranges for a track of ``bars`` bars.

    Returns
    -------
    list of ``(start, end, label)``, end exclusive, covering ``[0, bars)``.
    """
    if bars < 4:
        return [(0, bars, "A")]
    edge = max(1, bars // 8)
    mid = edge + (bars - 2 * edge) // 2
    return [(0, edge, "intro"), (edge, mid, "A"), (mid, bars - edge, "B"), (bars - edge, bars, "outro")]


def _shift_for(phrase: dict, tonic: int, mode: str) -> int:
    """Semitones (-6..5) taking a phrase to the target key (relative key on a mode change)."""
    target = tonic
    if phrase["mode"] != mode:
        target = (tonic + 9) % 12 if phrase["mode"] == "minor" else (tonic + 3) % 12
    return int((target - int(phrase["tonic"]) + 6) % 12 - 6)


def _warp_phrase(x: np.ndarray, sr: float, beats: np.ndarray, bpm: float, semitones: int) -> tuple[np.ndarray, str]:
    """Put a phrase's beats on a ``bpm`` grid (the first beat stays) and shift it by ``semitones``."""
    import pedalboard

    from ..stages import quantize

    try:
        y = quantize.warp(x, sr, quantize.time_map(beats, bpm))
    except ParameterError:  # a beat stretched beyond quantize's limit: one uniform stretch
        factor = float(beats[-1] - beats[0]) / ((beats.size - 1) * 60.0 / bpm)
        y = pedalboard.time_stretch(np.ascontiguousarray(x), sr, stretch_factor=factor,
                                    pitch_shift_in_semitones=float(semitones))
        return np.asarray(y, np.float32), "pedalboard.time_stretch"
    if semitones:
        y = pedalboard.time_stretch(np.ascontiguousarray(y, dtype=np.float32), sr, stretch_factor=1.0,
                                    pitch_shift_in_semitones=float(semitones))
    return np.asarray(y, np.float32), "technob_fx.stages.quantize.warp"


def lofi_chain(blend: float, sr: float, seed: int):  # noqa: ANN201 - technob_fx.core.chain.Chain
    """The shipped ``lofi`` preset with its settings scaled by ``blend``."""
    from ..core.chain import Chain

    top = min(0.45 * sr, 16000.0)
    return Chain.from_preset("lofi", overrides={
        "dull.cutoff_frequency_hz": float(top * (5200.0 / top) ** blend) if top > 5200 else top,
        "crush.bit_depth": 16.0 - 6.0 * blend,
        "tape.depth_ms": 1.6 * blend,
        "vinyl.hiss_db": -90.0 + 40.0 * blend,
        "vinyl.crackle_db": -90.0 + 64.0 * blend,
        "vinyl.seed": int(seed) % (2**31 - 1),
    })


def hf_target(model: Model, blend: float) -> float | None:
    """Highest share of energy above 5 kHz allowed at ``blend`` (``None``: no input measured)."""
    cl, lo = model.hf_ratio.get("classical"), model.hf_ratio.get("lofi")
    if cl is None or lo is None:
        return None
    t = float(cl) ** (1.0 - blend) * float(min(cl, lo)) ** blend
    return t * (0.8 if blend >= 0.5 else 1.0)


def darken(audio: np.ndarray, sr: float, target: float | None) -> tuple[np.ndarray, float | None]:
    """Low-pass ``audio`` (4th-order Butterworth) just enough that its share of energy above 5 kHz
    is at most ``target``.

    Returns
    -------
    audio : np.ndarray
        A new array (the input when nothing is needed).
    cutoff : float or None
        Hz of the filter used.
    """
    from scipy.signal import butter, sosfilt

    from .learn import hf_ratio

    if target is None or hf_ratio(audio.mean(axis=0), sr) <= target:
        return audio, None
    lo, hi = np.log(600.0), np.log(0.45 * sr)
    best = None
    for _ in range(9):  # bisection on log cutoff: the highest cutoff that meets the target
        mid = 0.5 * (lo + hi)
        sos = butter(4, float(np.exp(mid)), btype="low", fs=sr, output="sos")
        y = sosfilt(sos, audio, axis=1).astype(np.float32)
        if hf_ratio(y.mean(axis=0), sr) <= target:
            best, lo = (y, float(np.exp(mid))), mid
        else:
            hi = mid
    if best is None:
        sos = butter(4, 600.0, btype="low", fs=sr, output="sos")
        best = (sosfilt(sos, audio, axis=1).astype(np.float32), 600.0)
    return best[0], round(best[1], 1)


def _loudness_gain(audio: np.ndarray, sr: float, target_lufs: float) -> float:
    from . import _analysis

    now = _analysis.loudness(audio, sr)
    if now <= -69.0:
        return 1.0
    return float(10.0 ** ((target_lufs - now) / 20.0))


def master(music: np.ndarray, drums: np.ndarray, *, model: Model, blend: float, sr: float, seed: int
           ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Mix, Lo-Fi chain, darkening, loudness and the -1 dBTP true-peak limiter.

    Returns
    -------
    mix : np.ndarray, float32 ``(2, n)``
    gain : float
        Linear gain applied after the chain (for the stems).
    info : dict
        ``lowpass_hz``, ``hf_target``, ``target_lufs``.
    """
    from ..stages.effects import TruePeakLimiter

    mix = music + drums
    if blend > 0:
        mix = lofi_chain(blend, sr, seed)(mix, sr)
    target_hf = hf_target(model, blend)
    mix, cutoff = darken(mix, sr, target_hf)
    target = (1 - blend) * model.loudness.get("classical", -18.0) + blend * model.loudness.get("lofi", -18.0)
    g = _loudness_gain(mix, sr, target)
    mix = TruePeakLimiter(ceiling_db=CEILING_DBTP)(mix * g, sr)
    return mix.astype(np.float32), g, {"lowpass_hz": cutoff, "hf_target": None if target_hf is None else
                                       round(target_hf, 6), "target_lufs": round(target, 2)}


def write_midi(path: str | Path, *, tempo: float, bars: int, sections: list[tuple[int, int, str]],
               hits: list[tuple[float, str, float]], notes: list[tuple[str, float, float, int, float]],
               key: str, chords: list[str] | None = None) -> Path:
    """Write a type-1 Standard MIDI File atomically with the bridge's one SMF builder.

    Track 0: the tempo map of the constant grid (one tempo), 4/4, the key as a text event, one
    marker per section and the chord of every bar as a text event; track ``drums``: drums on
    channel 10 (GM kick 36, snare 38, closed hat 42); then one track per part of ``notes``
    (``chords``, ``bass``, ``lead``), each on its own channel.

    Parameters
    ----------
    hits : list of ``(beat position, band, velocity 0..1)``
    notes : list of ``(part, start beat, length beats, MIDI pitch, velocity 0..1)``
    chords : list of str, optional
        One chord label per bar.
    """
    from bridge.midi import SmfBuilder

    from ..core.results import BeatGrid
    from ..core.tempo import fit_tempo_map

    end = bars * 4.0
    grid = BeatGrid.from_tempo(tempo, end * 60.0 / tempo)
    b = SmfBuilder(fit_tempo_map(grid, pickup="trim"))
    b.marker(f"key: {key}", beat=0.0, kind="text")
    for s0, _, label in sections:
        b.marker(label, beat=s0 * 4.0)
    for i, c in enumerate(chords or []):
        b.marker(f"chord: {c}", beat=i * 4.0, kind="text")
    b.track("drums")
    for beat, band, vel in hits:
        if beat < end:
            b.note("drums", DRUM_NOTES[band], beat, min(beat + 0.125, end), channel=9,
                   velocity=int(np.clip(round(1 + 126 * vel), 1, 127)), unit="beats")
    for ch, part in enumerate(("chords", "bass", "lead")):
        mine = [n for n in notes if n[0] == part]
        if not mine:
            continue
        b.track(part)
        for _, start, length, pitch, vel in mine:
            if start >= end:
                continue
            stop = min(start + max(length, 1.0 / b.ppq) - 1.0 / b.ppq, end)
            b.note(part, int(pitch), start, max(stop, start + 1.0 / b.ppq), channel=ch,
                   velocity=int(np.clip(round(1 + 126 * vel), 1, 127)), unit="beats")
    return b.save(path, end_beat=end)


def _transpose(chord: str, semitones: int) -> str:
    if not chord:
        return ""
    minor = chord.endswith("m")
    root = PITCH_CLASSES.index(chord.rstrip("m"))
    return PITCH_CLASSES[(root + semitones) % 12] + ("m" if minor else "")


def _triad_notes(chords: list[tuple[float, str]], end: float) -> list[tuple[str, float, float, int, float]]:
    """Slice mode's per-beat triad names as MIDI notes of the ``chords`` part."""
    out = []
    for i, (beat, name) in enumerate(chords):
        if not name:
            continue
        stop = chords[i + 1][0] if i + 1 < len(chords) else end
        root = PITCH_CLASSES.index(name.rstrip("m"))
        for iv in (0, 3 if name.endswith("m") else 4, 7):
            out.append(("chords", beat, stop - beat, 48 + root + iv, 0.55))
    return out


def _resample(x: np.ndarray, src: float, dst: float) -> np.ndarray:
    from fractions import Fraction

    from scipy.signal import resample_poly

    if int(round(src)) == int(round(dst)):
        return np.asarray(x, np.float32)
    fr = Fraction(int(round(dst)), int(round(src))).limit_denominator(1000)
    return resample_poly(x, fr.numerator, fr.denominator, axis=-1).astype(np.float32)


def _level(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``db`` dBFS (silence stays silence)."""
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return x if rms < 1e-7 else (x * (10 ** (db / 20.0) / rms)).astype(np.float32)


def _key_of(model: Model) -> tuple[int, str]:
    """The piece's key: the most frequent key of the classical chunks (then Lo-Fi, then phrases)."""
    keys = model.score.get("keys", {}) if model.score else {}
    for g in ("classical", "lofi"):
        if keys.get(g):
            label = max(sorted(keys[g]), key=lambda k: keys[g][k])
            t, m = label.split()
            return PITCH_CLASSES.index(t), m
    counts: dict[tuple[int, str], int] = {}
    for p in model.phrases:
        counts[(int(p["tonic"]), p["mode"])] = counts.get((int(p["tonic"]), p["mode"]), 0) + 1
    if counts:
        return max(sorted(counts), key=lambda k: counts[k])
    return 9, "minor"


def _tempo(model: Model, rng: np.random.Generator) -> float:
    """A learned Lo-Fi tempo: the 10th, 50th or 90th percentile of the chunks, +-3 %, to 0.5 BPM."""
    t = [float(model.tempo[k]) for k in ("p10", "p50", "p50", "p90")][int(rng.integers(4))]
    return round(t * float(rng.uniform(0.97, 1.03)) * 2) / 2 or 80.0


def _check(blend: float, bars: int, sample_rate: int, mode: str) -> None:
    if not 0.0 <= blend <= 1.0:
        raise ParameterError(f"--blend must be in [0, 1], got {blend}")
    if bars < 1:
        raise ParameterError(f"--bars must be >= 1, got {bars}")
    if int(sample_rate) not in SAMPLE_RATES:
        raise ParameterError(f"--sample-rate must be one of {', '.join(map(str, SAMPLE_RATES))}, got {sample_rate}")
    if mode not in MODES:
        raise ParameterError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")


def render(model: Model, dataset: str | Path, *, blend: float, bars: int, seed: int, mode: str = "generative",
           sample_rate: int = 44100, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Render a track in memory.

    Parameters
    ----------
    model : Model
    dataset : path
        The dataset folder (slice mode reads its chunks).
    blend, bars, seed : float, int, int
        See :func:`generate`.
    mode : {"generative", "slice"}
    sample_rate : {44100, 48000}
        Output rate, Hz.

    Returns
    -------
    dict
        ``mix``, ``drums``, ``music`` (float32 ``(2, samples)``), ``sample_rate``, ``tempo``,
        ``key``, ``sections``, ``hits``, ``notes`` and ``chords`` (for the MIDI file) and ``info``.
    """
    _check(blend, bars, sample_rate, mode)
    if mode == "slice":
        return render_slices(model, dataset, blend=blend, bars=bars, seed=seed, sample_rate=sample_rate,
                             progress=progress)
    return render_generative(model, blend=blend, bars=bars, seed=seed, sample_rate=sample_rate,
                             progress=progress)


def render_generative(model: Model, *, blend: float, bars: int, seed: int, sample_rate: int = 44100,
                      progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Generative mode of :func:`render` (new music from the learned sequence models)."""
    from .compose import ScoreModel, compose
    from .instruments import Sampler, render_score

    if not model.score:
        raise PathError("the dataset's model has no score model (learned without transcription); "
                        "run `technob dataset learn` again")
    sr = float(sample_rate)
    rng = np.random.default_rng(seed)
    tempo = _tempo(model, rng)
    tonic, mode = _key_of(model)
    sm = ScoreModel.from_dict(model.score)
    score = compose(sm, model.patterns, model.pattern_counts, tonic=tonic, mode=mode, bars=bars,
                    blend=blend, swing=model.swing, rng=rng)
    if progress:
        progress(0.2, "composed")
    samplers = {g: Sampler(model.samples.get(g, []), model.sample_rate, sr) for g in ("classical", "lofi")}
    parts, played = render_score(score, tempo=tempo, sr=sr, blend=blend, samplers=samplers, hits=model.hits,
                                 hits_sr=model.sample_rate, rng=rng)
    if progress:
        progress(0.7, "played")
    hi_b = blend >= 0.5
    music = (_level(parts["lead"], -21.0) + _level(parts["chords"], -23.0 if hi_b else -22.0)
             + _level(parts["bass"], -22.0 if hi_b else -25.0))
    drums = _level(parts["drums"], -24.0 + 5.0 * min(1.0, blend)) if score.hits else parts["drums"]
    mix, g, minfo = master(music, drums, model=model, blend=blend, sr=sr, seed=seed)
    if progress:
        progress(0.95, "mastered")
    stem_peak = max(float(np.abs(drums).max()), float(np.abs(music).max()), 1e-9)
    sg = min(g, 0.89 / stem_peak)
    sections = sections_for(bars)
    key = score.key
    longest = max((float(x.size) / model.sample_rate for ss in model.samples.values() for _, x in ss), default=0.0)
    info = {"mode": "generative", "blend": blend, "bars": bars, "seed": seed, "tempo": tempo, "key": key,
            "swing": score.swing, "learned_swing": model.swing, "sections": [list(s) for s in sections],
            "chords": score.chords, **score.info, "instruments": played,
            "longest_sample_s": round(longest, 3), "mix_gain": round(g, 6), "stem_gain": round(sg, 6),
            **minfo, "sample_rate": int(sr)}
    return {"mix": mix, "drums": (drums * sg).astype(np.float32), "music": (music * sg).astype(np.float32),
            "sample_rate": sr, "tempo": tempo, "key": key, "sections": sections, "hits": score.hits,
            "notes": score.notes, "chords": score.chords, "info": info}


def _cos_dist(a: Any, b: Any) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 1.0 - float(a @ b) / (na * nb) if na > 0 and nb > 0 else 1.0


def render_slices(model: Model, dataset: str | Path, *, blend: float, bars: int, seed: int,
                  sample_rate: int = 44100, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Slice mode of :func:`render`: two-bar classical phrases cut on downbeats, joined seamlessly.

    The next phrase is drawn among the 3 best of all phrases by ``chroma cosine distance + level
    difference / 12 dB + 0.3 per earlier use`` between the end of the previous phrase and the start
    of the candidate (both shifted to the key; never the same phrase twice in a row, at most three
    in order from one recording); its level is then moved towards the previous end level (at most
    6 dB); phrases overlap by :data:`JOIN_XFADE_S` with equal-power (sine/cosine) fades centred on
    the bar line. Each phrase is shifted from its chunk's key to the piece's key.
    """
    from ..core.io import read_audio

    if not model.phrases:
        raise PathError(f"{dataset}: the model has no classical phrases (is the classical folder silent?)")
    dataset = Path(dataset)
    src_sr = model.sample_rate
    sr = float(sample_rate)
    rng = np.random.default_rng(seed)
    tempo = _tempo(model, rng)
    beat_s = 60.0 / tempo
    total = int(round(bars * 4 * beat_s * src_sr))
    tonic, mode = _key_of(model)
    key = f"{PITCH_CLASSES[tonic]} {mode}"
    sections = sections_for(bars)
    xf = int(JOIN_XFADE_S * src_sr)
    pre = JOIN_XFADE_S  # audio read before the first beat (the fade-in's first half)

    music = np.zeros((2, total + xf), np.float32)
    chords: list[tuple[float, str]] = []
    used: list[dict] = []
    engines: set[str] = set()
    pos_beat, last, run = 0, -1, 0
    times_used: dict[int, int] = {}
    prev_chroma, prev_db = None, None
    phrases = model.phrases
    while pos_beat < bars * 4:
        costs = []
        for c, p in enumerate(phrases):
            if c == last or (c == last + 1 and run >= 2):
                continue  # no phrase twice in a row; at most 3 in order from one recording
            if prev_chroma is None or "chroma_in" not in p:
                cost = float(rng.random())
            else:
                ch = np.roll(p["chroma_in"], _shift_for(p, tonic, mode))
                cost = _cos_dist(prev_chroma, ch) + abs(p["db_in"] - prev_db) / 12.0 + 0.3 * times_used.get(c, 0)
            costs.append((cost, c))
        costs.sort()
        best_cost, idx = costs[int(rng.integers(min(3, len(costs))))] if costs else (np.inf, 0)
        times_used[idx] = times_used.get(idx, 0) + 1
        run = run + 1 if idx == last + 1 else 0
        last = idx
        p = phrases[idx]
        beats = np.asarray(p.get("beats") or np.linspace(0, p["end"] - p["start"], 9), float)
        a = max(0.0, p["start"] - pre)
        lead_in = p["start"] - a
        x, _ = read_audio(dataset / p["wav"], src_sr, offset=a, duration=float(beats[-1]) + lead_in + 0.2)
        x = np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x[:2]
        semis = _shift_for(p, tonic, mode)
        y, engine = _warp_phrase(x, src_sr, beats + lead_in, tempo, semis)
        engines.add(engine)
        gain_db = 0.0
        if prev_db is not None and "db_in" in p:
            gain_db = float(np.clip(prev_db - p["db_in"], -6.0, 6.0))
        y = y * np.float32(10 ** (gain_db / 20))
        n_beats = beats.size - 1
        start = int(round(pos_beat * beat_s * src_sr))
        n_body = int(round(n_beats * beat_s * src_sr))
        li = int(round(lead_in * src_sr))
        # window: fade in over [start - xf/2, start + xf/2], fade out over [end - xf/2, end + xf/2]
        seg_start = start - min(li, xf // 2, start)
        off = li - (start - seg_start)  # index into y of seg_start
        seg_len = min(n_body + (start - seg_start) + xf // 2, y.shape[1] - off, music.shape[1] - seg_start)
        if seg_len > 0:
            seg = y[:, off:off + seg_len].copy()
            fin = (start - seg_start) + xf // 2
            k = min(fin, seg_len)
            if pos_beat > 0 and k > 0:
                seg[:, :k] *= np.sin(0.5 * np.pi * np.linspace(0.0, 1.0, k, dtype=np.float32))
            fo_start = n_body + (start - seg_start) - xf // 2
            if fo_start < seg_len:
                m = seg_len - fo_start
                seg[:, fo_start:] *= np.cos(0.5 * np.pi * np.linspace(0.0, 1.0, xf, dtype=np.float32))[:m]
            music[:, seg_start:seg_start + seg_len] += seg
        for j, c in enumerate(p["chords"][:n_beats]):
            chords.append((float(pos_beat + j), _transpose(c, semis)))
        used.append({"source": p["source"], "at": round(p.get("source_time", p["start"]), 3),
                     "beat": pos_beat, "beats": n_beats, "source_seconds": round(float(p["end"] - p["start"]), 3),
                     "shift": semis, "gain_db": round(gain_db, 2),
                     "join_cost": None if not np.isfinite(best_cost) else round(float(best_cost), 3)})
        if "chroma_out" in p:
            prev_chroma = np.roll(p["chroma_out"], semis)
            prev_db = float(p["db_out"]) + gain_db
        pos_beat += n_beats
        if progress:
            progress(0.6 * min(pos_beat / (bars * 4), 1.0), f"phrase {len(used)}")
    music = music[:, :total]
    peak = float(np.abs(music).max())
    if peak > 0:
        music *= 0.5 / peak

    # drums: learned patterns on sliced one-shots
    drums = np.zeros((2, total), np.float32)
    hits_out: list[tuple[float, str, float]] = []
    weights = np.asarray(model.pattern_counts, float)
    weights = weights / weights.sum()
    from .learn import BANDS, step_phases

    phases = step_phases(0.5 + blend * (model.swing - 0.5))
    for s0, s1, label in sections:
        kit = {b: model.hits[b][int(rng.integers(0, len(model.hits[b])))] for b in BANDS}
        base = int(rng.choice(len(model.patterns), p=weights))
        alt = int(rng.choice(len(model.patterns), p=weights))
        bands_on = {"intro": ("high",), "outro": ("low", "high")}.get(label, tuple(BANDS))
        for bar in range(s0, s1):
            pat = model.patterns[alt if (label == "B" and bar % 2) or bar % 4 == 3 else base]
            for bi, band in enumerate(BANDS):
                if band not in bands_on:
                    continue
                for step in np.nonzero(pat[bi] > 0)[0]:
                    b, sub = divmod(int(step), 4)
                    beat_pos = bar * 4 + b + phases[sub]
                    vel = float(pat[bi, step]) * float(rng.uniform(0.8, 1.0))
                    t = beat_pos * beat_s + float(rng.normal(0.0, 0.004))
                    i = int(round(max(t, 0.0) * src_sr))
                    h = kit[band]
                    m = min(h.size, total - i)
                    if m > 0:
                        drums[:, i:i + m] += vel * h[:m]
                    hits_out.append((float(beat_pos), band, vel))
    peak = float(np.abs(drums).max())
    if peak > 0:
        drums *= 0.6 / peak
    drums = drums * float(blend ** 0.7)
    music, drums = _resample(music, src_sr, sr), _resample(drums, src_sr, sr)
    n = int(round(bars * 4 * beat_s * sr))
    music, drums = music[:, :n], drums[:, :n]
    if progress:
        progress(0.75, "drums")
    mix, g, minfo = master(music, drums, model=model, blend=blend, sr=sr, seed=seed)
    if progress:
        progress(0.95, "mastered")
    stem_peak = max(float(np.abs(drums).max()), float(np.abs(music).max()), 1e-9)
    sg = min(g, 0.89 / stem_peak)
    end = bars * 4.0
    info = {"mode": "slice", "blend": blend, "bars": bars, "seed": seed, "tempo": tempo, "key": key,
            "swing": model.swing, "sections": [list(s) for s in sections], "phrases": used,
            "join_xfade_s": JOIN_XFADE_S, "warp": sorted(engines), "mix_gain": round(g, 6),
            "stem_gain": round(sg, 6), **minfo, "sample_rate": int(sr)}
    bar_chords = [next((c for b0, c in chords if b0 == 4.0 * i and c), "") for i in range(bars)]
    return {"mix": mix, "drums": (drums * sg).astype(np.float32), "music": (music * sg).astype(np.float32),
            "sample_rate": sr, "tempo": tempo, "key": key, "sections": sections, "hits": hits_out,
            "notes": _triad_notes(chords, end), "chords": bar_chords, "info": info}


def generate(
    dataset: str | Path,
    out_dir: str | Path,
    *,
    blend: float = 0.5,
    bars: int = 16,
    seed: int = 0,
    mode: str = "generative",
    sample_rate: int = 44100,
    progress: ProgressCallback | None = None,
) -> Generated:
    """Learn from (or load the model of) a dataset and write a blended track.

    Parameters
    ----------
    dataset : path
        Dataset folder with ``lofi`` and ``classical`` chunks.
    out_dir : path
        Output folder (created): ``mix.wav``, ``drums.wav``, ``music.wav`` (stereo,
        ``sample_rate``, 24-bit), ``track.mid`` and ``generate.json``.
    blend : float
        0 classical-like .. 1 Lo-Fi-like.
    bars : int
        Length in 4/4 bars.
    seed : int
        Same seed, same output bytes.
    mode : {"generative", "slice"}
        New music from the learned models, or re-arranged classical phrases.
    sample_rate : {44100, 48000}
        Output sample rate, Hz.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Generated

    Raises
    ------
    ParameterError
        ``blend``, ``bars``, ``mode`` or ``sample_rate`` out of range.
    PathError
        Not a dataset, or one without the genres.
    """
    from ..core.io import atomic_write_text
    from ..core.progress import scaled
    from ..core.runner import AudioOutputs
    from .learn import load_or_learn

    _check(float(blend), int(bars), int(sample_rate), mode)
    model = load_or_learn(dataset, progress=scaled(progress, 0.0, 0.3))
    r = render(model, dataset, blend=float(blend), bars=int(bars), seed=int(seed), mode=mode,
               sample_rate=int(sample_rate), progress=scaled(progress, 0.3, 0.95))
    out = Path(out_dir)
    sr = r["sample_rate"]
    files: dict[str, Path] = {name: out / f"{name}.wav" for name in ("mix", "drums", "music")}
    with AudioOutputs(files, sr, bit_depth=24, make_folders=True) as wavs:  # all three or none
        for name in files:
            wavs.write(name, r[name])
    files["midi"] = write_midi(out / "track.mid", tempo=r["tempo"], bars=int(bars), sections=r["sections"],
                               hits=r["hits"], notes=r["notes"], key=r["key"], chords=r["chords"])
    files["info"] = atomic_write_text(out / "generate.json", json.dumps(r["info"], indent=2) + "\n")
    if progress:
        progress(1.0, f"wrote {out}")
    return Generated(files, r["tempo"], r["key"], r["sections"], sr, r["info"])
