"""Note transcription and chords: ours vs basic-pitch (Spotify, ONNX model), in one run.

Groups, reported separately:

1. **Generated** material with exact MIDI (:mod:`technob_fx.synth.notes`): bass lines, pads,
   plucked arpeggios, piano, and full mixes (bass + chords + lead) under a drum bed with reverb;
   each rendered with the project's own voices and, when ``fluidsynth`` and a General MIDI
   soundfont are installed (``make system-deps``), with FluidSynth's GM instruments. Evaluation
   seeds are disjoint from the seeds any parameter of ours was tuned on (:data:`TUNE_SEEDS`).
2. **Real annotated** audio from public repositories, cached outside the repository in
   ``$TECHNOB_NOTES_CACHE`` (default ``/work/cache/notes``; see :func:`real_items` for the files
   and how to fetch them). Items from datasets basic-pitch was trained on (MAESTRO, Slakh) are
   marked ``seen by bp``; the others (vocadito, Filosax, madmom's piano sample) are not in its
   training data. Never tuned on.
3. **Chords** (mir_eval.chord, majmin and sevenths) on generated progressions (bass, chords and
   lead under a drum bed, seeds 3000+; the chord namer was tuned on seeds 2000-2015): ours from the
   transcription and the shared front-end's chroma, on the beat tracker's bars and on the true bars.
4. **Speed and memory**: x real time and peak RSS of a child process transcribing a 6-minute
   track, ours and basic-pitch's ``predict``.

Metrics: ``mir_eval.transcription.precision_recall_f1_overlap`` with onset tolerance 50 ms and
pitch tolerance 50 cents, without offsets ("F on") and with offsets (offset within 20 % of the
note's length or 50 ms, "F on+off"); the mean of per-item F over a group.

Speed is also given as seconds of audio per CPU second (all threads): wall-clock x real time
depends on what else runs on the machine (the load average is recorded beside it).

Usage: ``python -m benchmarks.bench_notes [--quick] [--no-peer]``. basic-pitch comes from the
``bench`` extra (``pip install --no-deps basic-pitch`` and ``onnxruntime``: no TensorFlow).
Writes ``benchmarks/results/notes.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks._util import run_child, save

CACHE = Path(os.environ.get("TECHNOB_NOTES_CACHE", "/work/cache/notes"))
#: Seeds of generated material that parameters were tuned on (never evaluated here).
TUNE_SEEDS = range(1000, 1040)
EVAL_SEED0 = 0


@dataclass
class Item:
    """One evaluation item: audio (mono float32) and reference notes ``(onset, offset, midi)``."""

    name: str
    group: str
    audio: np.ndarray
    sr: int
    notes: np.ndarray  # (n, 3)
    chords: list[tuple[float, float, str]] | None = None
    note: str = ""


Engine = Callable[[np.ndarray, int], np.ndarray]  # -> (n, 3) onset, offset, midi


# --------------------------------------------------------------------------------------------
# material
# --------------------------------------------------------------------------------------------

#: Generated groups: (group, parts, style, drums, reverb, own timbres, GM programs)
GEN_GROUPS = [
    ("bass", ("bass",), None, False, 0.0, ("saw_bass", "sub_bass", "acid", "pluck"), (33, 34, 38, 39)),
    ("pads", ("chords",), "pad", False, 0.3, ("pad", "organ"), (89, 48, 19, 52)),
    ("plucks", ("chords",), "arp", False, 0.2, ("pluck", "ep"), (46, 24, 45, 11)),
    ("piano", ("chords", "lead"), "block", False, 0.15, ("piano",), (0, 1, 4)),
    ("mix+drums", ("bass", "chords", "lead"), None, True, 0.2, None, None),
]


def generated_items(n_per_group: int = 4, bars: int = 8, seed0: int = EVAL_SEED0) -> list[Item]:
    """Render the generated groups: half with own voices, half with FluidSynth GM (when installed)."""
    from technob_fx.synth.notes import gm_available, plan_song, render_gm, render_own

    gm = gm_available()
    items = []
    for gi, (group, parts, style, drums, reverb, own, progs) in enumerate(GEN_GROUPS):
        for k in range(n_per_group):
            seed = seed0 + 100 * gi + k
            plan = plan_song(seed, bars=bars, parts=parts, drums=drums, style=style)
            use_gm = gm and k % 2 == 1
            if use_gm:
                pr = {p: progs[k // 2 % len(progs)] for p in parts} if progs else None
                r = render_gm(plan, seed=seed, reverb=reverb, programs=pr)
                tag = "gm" + "-".join(str((pr or plan.programs)[p]) for p in parts)
            else:
                tim = {p: own[k // 2 % len(own)] for p in parts} if own else None
                r = render_own(plan, seed=seed, reverb=reverb, timbres=tim)
                tag = "-".join((tim or plan.timbres)[p] for p in parts)
            ref = np.array([(n.onset, n.offset, n.pitch) for n in plan.notes], float).reshape(-1, 3)
            items.append(Item(f"{group}/{seed}/{tag}", f"gen:{group}", r.mix, r.sample_rate, ref, plan.chords))
    return items


def _load(path: Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    y, s = sf.read(str(path), dtype="float32", always_2d=True)
    return y.mean(axis=1), s


def real_items() -> list[Item]:
    """Annotated public audio cached under :data:`CACHE` (missing files are skipped).

    Fetched with the ``fetch`` tool from GitHub (bare mirrors; files copied with ``git show``):

    * ``mirdata/``: ``tests/resources/mir_datasets/`` of mir-dataset-loaders/mirdata
      (b95bf38): ``maestro/2018/*`` (2 s of piano with its performance MIDI),
      ``slakh/babyslakh_16k/Track00001`` (2 s multi-instrument render, drums excluded from the
      reference), ``filosax/Participant {1,2}/0{1,2}`` (5 s of solo saxophone each),
      ``vocadito/`` (33 s of solo singing, note annotation A1).
    * ``madmom/``: ``tests/data/audio/stereo_sample.wav`` and
      ``tests/data/annotations/stereo_sample.notes`` of CPJKU/madmom (27f032e): 4 s of piano.

    (GuitarSet's clip there is digital silence and PHENICX's annotations lie outside its 1 s
    clips, so neither is used.)
    """
    items: list[Item] = []
    md = CACHE / "mirdata"

    def add(name: str, group: str, wav: Path, ref: np.ndarray, note: str = "") -> None:
        if not wav.exists():
            return
        y, sr = _load(wav)
        dur = y.size / sr
        ref = ref[ref[:, 0] < dur - 0.05] if ref.size else ref
        ref[:, 1] = np.minimum(ref[:, 1], dur)
        items.append(Item(name, group, y, sr, ref, None, note))

    mp = md / "maestro/2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.midi"
    if mp.exists():
        import pretty_midi

        m = pretty_midi.PrettyMIDI(str(mp))
        ref = np.array([(n.start, n.end, n.pitch) for i in m.instruments for n in i.notes], float)
        add("maestro", "real:piano", mp.with_suffix(".wav"), ref, "seen by bp")
    p = CACHE / "madmom/stereo_sample.notes"
    if p.exists():
        a = np.loadtxt(p, comments="#")
        ref = np.stack([a[:, 0], a[:, 0] + a[:, 2], a[:, 1]], axis=1)
        add("madmom-piano", "real:piano", p.with_suffix(".wav"), ref)
    sp = md / "slakh/babyslakh_16k/Track00001"
    if (sp / "all_src.mid").exists():
        import pretty_midi

        m = pretty_midi.PrettyMIDI(str(sp / "all_src.mid"))
        ref = np.array([(n.start, n.end, n.pitch) for i in m.instruments if not i.is_drum for n in i.notes], float)
        add("slakh-mix", "real:multi", sp / "mix.wav", ref, "seen by bp")
    for who in ("Participant 1", "Participant 2"):
        for take in ("01", "02"):
            fp = md / "filosax" / who / take
            if (fp / "annotations.json").exists():
                notes = json.loads((fp / "annotations.json").read_text())["notes"]
                ref = np.array([(n["a_start_time"], n["a_end_time"], n["midi_pitch"]) for n in notes], float)
                add(f"filosax-{who[-1]}-{take}", "real:sax", fp / "Sax.wav", ref)
    vp = md / "vocadito/Annotations/Notes/vocadito_1_notesA1.csv"
    if vp.exists():
        a = np.loadtxt(vp, delimiter=",").reshape(-1, 3)
        ref = np.stack([a[:, 0], a[:, 0] + a[:, 2], 69 + 12 * np.log2(a[:, 1] / 440.0)], axis=1)
        add("vocadito-1", "real:voice", md / "vocadito/Audio/vocadito_1.wav", ref)
    return items


# --------------------------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------------------------


def basic_pitch_engine(min_note_ms: float | None = None) -> Engine | None:
    """basic-pitch's ``predict`` (ONNX model through onnxruntime) with its defaults, or with a
    shorter minimum note length; None when basic-pitch is not installed."""
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
            from basic_pitch.inference import Model, predict
    except ImportError:
        return None
    model = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))

    def run(audio: np.ndarray, sr: int) -> np.ndarray:
        import soundfile as sf

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.wav"
            sf.write(str(path), audio, sr, subtype="FLOAT")
            kw = {} if min_note_ms is None else {"minimum_note_length": min_note_ms}
            with contextlib.redirect_stdout(io.StringIO()):
                _, _, events = predict(str(path), model, **kw)
        return np.array([(e[0], e[1], e[2]) for e in events], float).reshape(-1, 3)

    return run


def ours_engine() -> Engine | None:
    """technob's note transcriber with its defaults, or None before it exists."""
    try:
        from technob_fx.stages.notes import transcribe
    except ImportError:
        return None

    def run(audio: np.ndarray, sr: int) -> np.ndarray:
        res = transcribe(audio[np.newaxis, :], sr)
        return np.array([(n.onset, n.offset, n.pitch) for n in res.notes], float).reshape(-1, 3)

    return run


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


def score_notes(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    """Note F (onset only, and onset+offset), precision and recall with mir_eval."""
    import mir_eval

    def hz(m: np.ndarray) -> np.ndarray:
        return 440.0 * 2 ** ((m - 69.0) / 12.0)

    out = {}
    if ref.size == 0:
        return {"f_on": float("nan"), "p_on": float("nan"), "r_on": float("nan"), "f_onoff": float("nan")}
    ri, rp = ref[:, :2], hz(ref[:, 2])
    est = est[est[:, 1] > est[:, 0]] if est.size else est
    if est.size == 0:
        return {"f_on": 0.0, "p_on": 0.0, "r_on": 0.0, "f_onoff": 0.0}
    ei, ep = est[:, :2], hz(est[:, 2])
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, onset_tolerance=0.05,
                                                                     pitch_tolerance=50.0, offset_ratio=None)
    out.update(f_on=f, p_on=p, r_on=r)
    _, _, f2, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, onset_tolerance=0.05,
                                                                      pitch_tolerance=50.0, offset_ratio=0.2)
    out["f_onoff"] = f2
    return out


def score_chords(ref: list[tuple[float, float, str]], est: list[tuple[float, float, str]]) -> dict[str, float]:
    """mir_eval.chord majmin and sevenths, weighted by duration over the reference's span."""
    import mir_eval

    ri = np.array([(a, b) for a, b, _ in ref])
    rl = [c for _, _, c in ref]
    if not est:
        est = [(ri[0, 0], ri[-1, 1], "N")]
    ei = np.array([(a, b) for a, b, _ in est])
    el = [c for _, _, c in est]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    iv, r, e = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
    dur = mir_eval.util.intervals_to_durations(iv)
    return {"majmin": float(mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r, e), dur)),
            "sevenths": float(mir_eval.chord.weighted_accuracy(mir_eval.chord.sevenths(r, e), dur))}


def evaluate(items: list[Item], engines: dict[str, Engine]) -> dict:
    """Per item and per group scores and seconds of each engine."""
    rows: dict[str, dict] = {}
    for it in items:
        row = {"group": it.group, "seconds": it.audio.size / it.sr, "n_ref": int(len(it.notes)), "note": it.note}
        for name, eng in engines.items():
            t0 = time.perf_counter()
            est = eng(it.audio, it.sr)
            dt = time.perf_counter() - t0
            row[name] = dict(score_notes(it.notes, est), n_est=int(len(est)), time=dt)
        rows[it.name] = row
        print(f"  {it.name:40s} " + "  ".join(f"{n}: F={row[n]['f_on']:.3f}/{row[n]['f_onoff']:.3f}" for n in engines),
              flush=True)
    groups: dict[str, dict] = {}
    for g in sorted({r["group"] for r in rows.values()}):
        sel = [r for r in rows.values() if r["group"] == g]
        groups[g] = {"items": len(sel), "seconds": sum(r["seconds"] for r in sel)}
        for name in engines:
            groups[g][name] = {k: float(np.nanmean([r[name][k] for r in sel])) for k in ("f_on", "p_on", "r_on", "f_onoff")}
    return {"items": rows, "groups": groups}


def print_table(groups: dict, engines: list[str]) -> None:
    head = f"{'group':16s} {'items':>5s} " + " ".join(f"{e + ' F on':>15s} {e + ' F on+off':>17s}" for e in engines)
    print(head)
    for g, r in groups.items():
        print(f"{g:16s} {r['items']:5d} " + " ".join(f"{r[e]['f_on']:15.3f} {r[e]['f_onoff']:17.3f}" for e in engines))


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------

_SPEED_OURS = """
import time, numpy as np
from technob_fx.stages.analysis import load_frontend
from technob_fx.stages.notes import transcribe
t, c = time.perf_counter(), time.process_time()
fe, _, _ = load_frontend({path!r})
res = transcribe(fe.audio, fe.sample_rate, frontend=fe)
print('WALL', time.perf_counter() - t, len(res.notes))
print('CPU', time.process_time() - c)
"""
_SPEED_BP = """
import time, contextlib, io, logging
logging.getLogger().setLevel(logging.ERROR)
with contextlib.redirect_stderr(io.StringIO()):
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model, predict
m = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))
t, c = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    _, _, ev = predict({path!r}, m)
print('WALL', time.perf_counter() - t, len(ev))
print('CPU', time.process_time() - c)
"""


def speed(minutes: float, engines: list[str]) -> dict:
    """x real time and peak RSS of each engine transcribing a ``minutes`` long 44.1 kHz stereo file."""
    from benchmarks._util import make_long_file

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        secs = make_long_file(path, minutes)
        for name in engines:
            if name not in ("ours", "basic_pitch"):
                continue
            code = (_SPEED_OURS if name == "ours" else _SPEED_BP).format(path=str(path))
            peak, wall, stdout = run_child(code)
            inner = float(next(ln for ln in stdout.splitlines() if ln.startswith("WALL")).split()[1])
            cpu = float(next(ln for ln in stdout.splitlines() if ln.startswith("CPU")).split()[1])
            load = os.getloadavg()[0]
            out[name] = {"seconds": secs, "x_real_time": secs / inner, "x_real_time_with_startup": secs / wall,
                         "cpu_seconds": cpu, "audio_seconds_per_cpu_second": secs / cpu, "peak_rss_mib": peak,
                         "load_average": load}
            print(f"  {name:12s} {secs / inner:6.1f} x real time ({secs / cpu:5.1f} s of audio per CPU second; "
                  f"load average {load:.1f} on {os.cpu_count()} cores), peak RSS {peak:6.0f} MiB", flush=True)
    return out


def chord_items(n: int = 12, seed0: int = 3000) -> list[Item]:
    """Generated progressions under a drum bed, own voices and GM alternately."""
    from technob_fx.synth.notes import gm_available, plan_song, render_gm, render_own

    items = []
    for k in range(n):
        seed = seed0 + k
        plan = plan_song(seed, bars=8, parts=("bass", "chords", "lead"), drums=True)
        r = (render_gm if k % 2 and gm_available() else render_own)(plan, seed=seed, reverb=0.2)
        ref = np.array([(x.onset, x.offset, x.pitch) for x in plan.notes], float)
        items.append(Item(f"chords/{seed}", "gen:chords", r.mix, r.sample_rate, ref, plan.chords,
                          note=f"{plan.bpm:.0f} BPM"))
    return items


def evaluate_chords(items: list[Item]) -> dict:
    """majmin / sevenths of ours per item, on tracked bars and on the true bars."""
    from technob_fx.core.frontend import Frontend
    from technob_fx.core.results import BeatGrid
    from technob_fx.stages.beats import track_beats
    from technob_fx.stages.chords import estimate_chords
    from technob_fx.stages.notes import transcribe

    rows = {}
    for it in items:
        fe = Frontend(it.audio[np.newaxis, :], it.sr)
        tr = transcribe(fe.audio, it.sr, frontend=fe)
        grid = track_beats(fe.audio, it.sr, frontend=fe)
        db = np.array([c[0] for c in it.chords])
        true_grid = BeatGrid(np.arange(db[0], it.chords[-1][1] - 1e-6, (db[1] - db[0]) / 4), db, 120.0, 4)
        row = {}
        for name, g in (("tracked_bars", grid), ("true_bars", true_grid)):
            est = [(c.start, c.end, c.label) for c in estimate_chords(tr.notes, g, frontend=fe)]
            row[name] = score_chords(it.chords, est)
        rows[it.name] = row
        print(f"  {it.name:14s} {it.note:8s} majmin tracked {row['tracked_bars']['majmin']:.3f}  "
              f"true bars {row['true_bars']['majmin']:.3f}", flush=True)
    summary = {k: {m: float(np.mean([r[k][m] for r in rows.values()])) for m in ("majmin", "sevenths")}
               for k in ("tracked_bars", "true_bars")}
    return {"items": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer generated items, 1-minute speed run")
    ap.add_argument("--no-peer", action="store_true", help="skip basic-pitch")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    engines: dict[str, Engine] = {}
    ours = ours_engine()
    if ours is not None:
        engines["ours"] = ours
    if not args.no_peer:
        bp = basic_pitch_engine()
        if bp is None:
            print("basic-pitch is not installed (bench extra): peer skipped", file=sys.stderr)
        else:
            engines["basic_pitch"] = bp
            engines["bp_46ms"] = basic_pitch_engine(46.0)
    if not engines:
        print("nothing to run", file=sys.stderr)
        return 1
    result: dict = {"engines": list(engines)}
    print("generated material:")
    gen = generated_items(2 if args.quick else 4)
    result["generated"] = evaluate(gen, engines)
    print("real annotated audio:")
    real = real_items()
    result["real"] = evaluate(real, engines) if real else {"groups": {}, "items": {}}
    print()
    print_table({**result["generated"]["groups"], **result["real"]["groups"]}, list(engines))
    if "ours" in engines:
        print("chords (generated progressions under a drum bed):")
        result["chords"] = evaluate_chords(chord_items(6 if args.quick else 12))
        print("  mean: " + "  ".join(f"{k}: majmin {v['majmin']:.3f} sevenths {v['sevenths']:.3f}"
                                     for k, v in result["chords"]["summary"].items()))
    if not args.no_speed:
        print("speed (6-minute track):" if not args.quick else "speed (1-minute track):")
        result["speed"] = speed(1.0 if args.quick else 6.0, list(engines))
    save("notes", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
