"""Render a Lo-Fi x Classical blend from a learned model.

:func:`generate` picks a Lo-Fi tempo from the learned range, chops the learned classical phrases,
shifts each to one key (the most common key of the phrases), warps each onto the tempo grid
(beat by beat with :func:`technob_fx.stages.quantize.warp`; one uniform ``pedalboard.time_stretch`` for
a phrase whose beats quantize refuses to stretch that far), arranges sections (intro, A, B, outro) with the learned per-bar
drum patterns played on the one-shot hits sliced from the Lo-Fi recordings (with the learned
swing), applies the learned tone (EQ curve) and the shipped ``lofi`` preset.

``blend`` in ``[0, 1]`` moves the result from classical-like to Lo-Fi-like:

- drums gain ``blend ** 0.7`` (silent at 0);
- the tone EQ curve scaled by ``blend`` (dB);
- the ``lofi`` preset with its settings scaled by ``blend`` (low-pass 0.45 sr -> 5.2 kHz,
  bit depth 16 -> 10, wow/flutter depth, hiss and crackle levels); not applied at 0;
- the target loudness interpolated between the classical and Lo-Fi medians.

The stems (``drums.wav``, ``music.wav``) are the pre-master parts (after the tone EQ and the
drum level, before the ``lofi`` chain), scaled together so that neither clips; ``mix.wav`` is the
mastered sum. The MIDI file carries the arranged drum pattern at every blend (also at 0, where
the drums are muted in the audio).

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
from .learn import BANDS, Model, step_phases

#: General MIDI drum notes per band.
DRUM_NOTES = {"low": 36, "mid": 38, "high": 42}


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


def _fit(x: np.ndarray, n: int, sr: float) -> np.ndarray:
    """Trim or zero-pad ``(channels, m)`` to ``n`` samples with short fades."""
    out = np.zeros((x.shape[0], n), np.float32)
    m = min(n, x.shape[1])
    out[:, :m] = x[:, :m]
    k_in, k_out = min(m, int(0.005 * sr)), min(m, int(0.03 * sr))
    if k_in:
        out[:, :k_in] *= np.linspace(0.0, 1.0, k_in, dtype=np.float32)
    if k_out:
        out[:, m - k_out:m] *= np.linspace(1.0, 0.0, k_out, dtype=np.float32)
    return out


def _warp_phrase(x: np.ndarray, sr: float, beats: np.ndarray, bpm: float, semitones: int) -> tuple[np.ndarray, str]:
    """Put a phrase's beats on a ``bpm`` grid and shift it by ``semitones``."""
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


def _eq(x: np.ndarray, sr: float, freqs: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    """Linear-phase FIR EQ (1025 taps) following ``gain_db`` at ``freqs``; same length out."""
    from scipy.signal import firwin2, oaconvolve

    if not np.any(np.abs(gain_db) > 0.05):
        return x.copy()
    f = np.clip(freqs / (sr / 2.0), 0.0, 1.0)
    f[0], f[-1] = 0.0, 1.0
    taps = firwin2(1025, f, 10.0 ** (gain_db / 20.0))
    y = oaconvolve(x, taps[None, :], axes=1)[:, 512: 512 + x.shape[1]]
    return y.astype(np.float32)


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


def _loudness_gain(audio: np.ndarray, sr: float, target_lufs: float) -> float:
    from . import _analysis

    now = _analysis.loudness(audio, sr)
    if now <= -69.0:
        return 1.0
    return float(10.0 ** ((target_lufs - now) / 20.0))


def write_midi(path: str | Path, *, tempo: float, bars: int, sections: list[tuple[int, int, str]],
               hits: list[tuple[float, str, float]], chords: list[tuple[float, str]], key: str) -> Path:
    """Write a type-1 Standard MIDI File atomically with the bridge's one SMF builder.

    Track 0: the tempo map of the constant grid (one tempo), 4/4, the key as a text event and one
    marker per section; track ``drums``: drums on channel 10 (GM kick 36, snare 38, closed hat
    42); track ``harmony``: the arranged harmony (one triad per chord).

    Parameters
    ----------
    hits : list of ``(beat position, band, velocity 0..1)``
    chords : list of ``(beat position, chord name such as "F#m")``
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
    b.track("drums")
    for beat, band, vel in hits:
        b.note("drums", DRUM_NOTES[band], beat, beat + 0.125, channel=9,
               velocity=int(np.clip(round(1 + 126 * vel), 1, 127)), unit="beats")
    b.track("harmony")
    for i, (beat, name) in enumerate(chords):
        if not name:
            continue
        stop = chords[i + 1][0] if i + 1 < len(chords) else end
        root = PITCH_CLASSES.index(name.rstrip("m"))
        for iv in (0, 3 if name.endswith("m") else 4, 7):
            b.note("harmony", 48 + root + iv, beat, stop - 1.0 / b.ppq, velocity=70, unit="beats")
    return b.save(path, end_beat=end)


def _transpose(chord: str, semitones: int) -> str:
    if not chord:
        return ""
    minor = chord.endswith("m")
    root = PITCH_CLASSES.index(chord.rstrip("m"))
    return PITCH_CLASSES[(root + semitones) % 12] + ("m" if minor else "")


def render(model: Model, dataset: str | Path, *, blend: float, bars: int, seed: int,
           progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Render the arrangement in memory.

    Returns
    -------
    dict
        ``mix``, ``drums``, ``music`` (float32 ``(2, samples)``), ``sample_rate``, ``tempo``,
        ``key``, ``sections``, ``hits`` and ``chords`` (for the MIDI file) and ``info``.
    """
    from ..core.io import read_audio

    if not 0.0 <= blend <= 1.0:
        raise ParameterError(f"--blend must be in [0, 1], got {blend}")
    if bars < 1:
        raise ParameterError(f"--bars must be >= 1, got {bars}")
    if not model.phrases:
        raise PathError(f"{dataset}: the model has no classical phrases (is the classical folder silent?)")
    dataset = Path(dataset)
    sr = model.sample_rate
    rng = np.random.default_rng(seed)
    lo, hi = model.tempo["p10"], model.tempo["p90"]
    tempo = round(float(rng.uniform(min(lo, hi), max(lo, hi))) * 2) / 2 or 80.0
    beat_s = 60.0 / tempo
    total = int(round(bars * 4 * beat_s * sr))
    # key: the most common (tonic, mode) of the phrases
    keys: dict[tuple[int, str], int] = {}
    for p in model.phrases:
        keys[(int(p["tonic"]), p["mode"])] = keys.get((int(p["tonic"]), p["mode"]), 0) + 1
    tonic, mode = max(sorted(keys), key=lambda k: keys[k])
    key = f"{PITCH_CLASSES[tonic]} {mode}"
    sections = sections_for(bars)

    # -- music: chopped, shifted, warped classical phrases ----------------------------------
    music = np.zeros((2, total), np.float32)
    chords: list[tuple[float, str]] = []
    used: list[dict] = []
    engines: set[str] = set()
    pos_beat, last = 0, -1
    phrases = model.phrases
    while pos_beat < bars * 4:
        if last >= 0 and last + 1 < len(phrases) and phrases[last + 1]["wav"] == phrases[last]["wav"] \
                and rng.random() < 0.6:
            idx = last + 1  # keep going through the same recording: continuity
        else:
            idx = int(rng.integers(0, len(phrases)))
        p = phrases[idx]
        last = idx
        beats = np.asarray(p.get("beats") or np.linspace(0, p["end"] - p["start"], 9), float)
        x, _ = read_audio(dataset / p["wav"], sr, offset=p["start"], duration=float(beats[-1]) + 0.05)
        if x.shape[0] == 1:
            x = np.repeat(x, 2, axis=0)
        x = x[:2]
        semis = _shift_for(p, tonic, mode)
        y, engine = _warp_phrase(x, sr, beats, tempo, semis)
        engines.add(engine)
        n_beats = beats.size - 1
        start = int(round(pos_beat * beat_s * sr))
        n = min(int(round(n_beats * beat_s * sr)) + int(0.02 * sr), total - start)
        if n > 0:
            music[:, start:start + n] += _fit(y, n, sr)
        for j, c in enumerate(p["chords"][:n_beats]):
            chords.append((float(pos_beat + j), _transpose(c, semis)))
        used.append({"source": p["source"], "at": round(p.get("source_time", p["start"]), 3),
                     "beat": pos_beat, "beats": n_beats, "shift": semis})
        pos_beat += n_beats
        if progress:
            progress(0.6 * min(pos_beat / (bars * 4), 1.0), f"phrase {len(used)}")
    peak = float(np.abs(music).max())
    if peak > 0:
        music *= 0.5 / peak

    # -- drums: learned patterns on sliced one-shots ----------------------------------------
    drums = np.zeros((2, total), np.float32)
    hits_out: list[tuple[float, str, float]] = []
    weights = np.asarray(model.pattern_counts, float)
    weights = weights / weights.sum()
    phases = step_phases(model.swing)
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
                    i = int(round(max(t, 0.0) * sr))
                    h = kit[band]
                    m = min(h.size, total - i)
                    if m > 0:
                        drums[:, i:i + m] += vel * h[:m]
                    hits_out.append((float(bar * 4 + b + phases[sub]), band, vel))
    peak = float(np.abs(drums).max())
    if peak > 0:
        drums *= 0.6 / peak
    if progress:
        progress(0.75, "drums")

    # -- blend: tone, drum level, Lo-Fi chain, loudness -------------------------------------
    music = _eq(music, sr, model.tone_freqs, blend * model.eq_curve())
    drums = _eq(drums * float(blend ** 0.7), sr, model.tone_freqs, blend * 0.5 * model.eq_curve())
    mix = music + drums
    if blend > 0:
        mix = lofi_chain(blend, sr, seed)(mix, sr)
    target = (1 - blend) * model.loudness.get("classical", -18.0) + blend * model.loudness.get("lofi", -18.0)
    g = _loudness_gain(mix, sr, target)
    mix = mix * g
    peak = float(np.abs(mix).max())
    if peak > 0.98:
        scale = 0.98 / peak
        mix, g = mix * scale, g * scale
    if progress:
        progress(0.95, "mastered")
    # stems: pre-master (before the Lo-Fi chain), at the mix's gain unless that would clip them
    stem_peak = max(float(np.abs(drums).max()), float(np.abs(music).max()), 1e-9)
    sg = min(g, 0.98 / stem_peak)
    info = {"blend": blend, "bars": bars, "seed": seed, "tempo": tempo, "key": key,
            "swing": model.swing, "sections": [list(s) for s in sections], "phrases": used,
            "warp": sorted(engines), "mix_gain": round(g, 6), "stem_gain": round(sg, 6), "sample_rate": sr}
    return {"mix": mix.astype(np.float32), "drums": (drums * sg).astype(np.float32),
            "music": (music * sg).astype(np.float32), "sample_rate": sr, "tempo": tempo, "key": key,
            "sections": sections, "hits": hits_out, "chords": chords, "info": info}


def generate(
    dataset: str | Path,
    out_dir: str | Path,
    *,
    blend: float = 0.5,
    bars: int = 16,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Generated:
    """Learn from (or load the model of) a dataset and write a blended track.

    Parameters
    ----------
    dataset : path
        Dataset folder with ``lofi`` and ``classical`` chunks.
    out_dir : path
        Output folder (created): ``mix.wav``, ``drums.wav``, ``music.wav`` (stereo, the
        dataset's sample rate, 24-bit), ``track.mid`` and ``generate.json``.
    blend : float
        0 classical-like .. 1 Lo-Fi-like.
    bars : int
        Length in 4/4 bars.
    seed : int
        Same seed, same output bytes.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Generated
    """
    from ..core.io import atomic_write_text, write_audio
    from ..core.progress import scaled
    from .learn import load_or_learn

    model = load_or_learn(dataset, progress=scaled(progress, 0.0, 0.3))
    r = render(model, dataset, blend=float(blend), bars=int(bars), seed=int(seed),
               progress=scaled(progress, 0.3, 0.95))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sr = r["sample_rate"]
    files = {name: write_audio(out / f"{name}.wav", r[name], sr, bit_depth=24)
             for name in ("mix", "drums", "music")}
    files["midi"] = write_midi(out / "track.mid", tempo=r["tempo"], bars=int(bars), sections=r["sections"],
                               hits=r["hits"], chords=r["chords"], key=r["key"])
    files["info"] = atomic_write_text(out / "generate.json", json.dumps(r["info"], indent=2) + "\n")
    if progress:
        progress(1.0, f"wrote {out}")
    return Generated(files, r["tempo"], r["key"], r["sections"], sr, r["info"])
