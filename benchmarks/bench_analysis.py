"""Analysis accuracy and speed: ours vs librosa, in one run.

1. **Synthesised techno** (several tempi, drifting tempi, seeds, a silent lead-in) with exact
   truth: beat and downbeat F-measure (mir_eval, 70 ms window), tempo error, section boundary
   error and label accuracy; ``librosa.beat.beat_track`` on the same audio beside ours.
2. **Real annotated clips** in ``../shared/data/annotated`` (``*.beats``: time and beat number;
   ``*.tempo``): beat F-measure, ours and librosa's; and the real drum loops of
   ``../shared/data/samples`` tiled, where a right tempo gives a whole number of beats per loop.
3. **Pitch**: raw pitch accuracy / voicing (mir_eval.melody) on the synth's lead stem and on the
   full mix, ours vs ``librosa.pyin``, and the time each takes.
4. **Speed and memory**: full :func:`technob_fx.stages.analysis.analyze_file` (load, beats, downbeats,
   sections, key, pitch, features) of a 6-minute 44.1 kHz stereo WAV, median of 3 runs, as x real
   time; the naive librosa pipeline (load, beat_track, hpss, pyin, mfcc, chroma, agglomerative
   segmentation) on the same file in the same process (pyin on a 30 s excerpt, extrapolated
   linearly; librosa's numba functions are warmed up first); peak RSS of a child process doing
   the analysis; import time of ``technob_fx``.

Usage: ``python -m benchmarks.bench_analysis [--quick]``. Writes ``benchmarks/results/analysis.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks._util import make_long_file, run_child, save

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "annotated"
SR = 44100

#: (bpm, bpm_end, seed, structure, offset seconds)
CASES = [
    (128.0, None, 0, "default", 0.0),
    (124.0, 132.0, 6, "default", 0.0),
    (120.0, None, 2, "short", 0.0),
    (140.0, None, 3, "short", 0.0),
    (100.0, None, 4, "short", 0.0),
    (170.0, None, 5, "short", 0.0),
    (135.0, 125.0, 7, "short", 0.0),
    (128.0, None, 8, "short", 1.37),
]


def _tempo_of(beats: np.ndarray) -> float:
    return float(np.median(60.0 / np.diff(beats))) if beats.size > 1 else 0.0


def _label_accuracy(est, ref, duration: float) -> float:
    t = np.arange(0.0, duration, 0.05)

    def lab(segs):
        out = np.array([""] * t.size, dtype=object)
        for s in segs:
            out[(t >= s.start) & (t < s.end)] = s.label
        return out

    return float(np.mean(lab(est) == lab(ref)))


def synth_accuracy(quick: bool) -> dict:
    import librosa
    import mir_eval

    from technob_fx.core.frontend import Frontend
    from technob_fx.stages.beats import track_beats
    from technob_fx.stages.segmentation import segment
    from technob_fx.synth import DEFAULT_STRUCTURE, SHORT_STRUCTURE, synth_techno

    rows = []
    cases = CASES[2:5] if quick else CASES
    for bpm, bpm_end, seed, struct, offset in cases:
        audio, truth = synth_techno(DEFAULT_STRUCTURE if struct == "default" else SHORT_STRUCTURE,
                                    bpm=bpm, bpm_end=bpm_end, seed=seed, offset=offset)
        fe = Frontend(audio, SR)
        t0 = time.perf_counter()
        grid = track_beats(audio, SR, frontend=fe)
        segs = segment(audio, SR, grid=grid, frontend=fe)
        t_ours = time.perf_counter() - t0
        y = librosa.resample(audio.mean(axis=0), orig_sr=SR, target_sr=22050)
        t0 = time.perf_counter()
        lt, lb = librosa.beat.beat_track(y=y, sr=22050, units="time")
        t_lib = time.perf_counter() - t0
        true_tempo = _tempo_of(truth.beats)
        tb = np.array([s.start for s in truth.segments[1:]])
        eb = np.array([s.start for s in segs.segments[1:]])
        errs = np.array([np.abs(eb - b).min() if eb.size else np.inf for b in tb])
        beat = 60.0 / true_tempo
        rows.append({
            "case": f"{bpm:g}" + (f"->{bpm_end:g}" if bpm_end else "") + f" BPM, {struct}, seed {seed}"
                    + (f", offset {offset}s" if offset else ""),
            "duration_s": round(truth.duration, 1),
            "beat_f": mir_eval.beat.f_measure(truth.beats, grid.beats),
            "downbeat_f": mir_eval.beat.f_measure(truth.downbeats, grid.downbeats),
            "tempo_error_pct": 100 * abs(grid.tempo / true_tempo - 1),
            "median_beat_error_ms": 1000 * float(np.median(np.abs(grid.beats[:, None] - truth.beats[None]).min(axis=1))),
            "boundary_max_error_s": float(errs.max()),
            "boundaries_within_one_beat": int(np.sum(errs < beat)),
            "boundaries_true": int(tb.size),
            "boundaries_estimated": int(eb.size),
            "label_accuracy": _label_accuracy(segs.segments, truth.segments, truth.duration),
            "librosa_beat_f": mir_eval.beat.f_measure(truth.beats, np.asarray(lb)),
            "librosa_tempo_error_pct": 100 * abs(float(np.atleast_1d(lt)[0]) / true_tempo - 1),
            "ours_s": t_ours, "librosa_s": t_lib,
        })
    keys = ["beat_f", "downbeat_f", "tempo_error_pct", "label_accuracy", "librosa_beat_f", "librosa_tempo_error_pct"]
    summary = {f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in keys}
    summary["min_beat_f"] = float(min(r["beat_f"] for r in rows))
    summary["min_downbeat_f"] = float(min(r["downbeat_f"] for r in rows))
    summary["max_tempo_error_pct"] = float(max(r["tempo_error_pct"] for r in rows))
    summary["max_boundary_error_s"] = float(max(r["boundary_max_error_s"] for r in rows))
    summary["all_boundaries_within_one_beat"] = all(
        r["boundaries_within_one_beat"] == r["boundaries_true"] == r["boundaries_estimated"] for r in rows)
    return {"cases": rows, "summary": summary}


def real_clips() -> dict:
    import librosa
    import mir_eval

    from technob_fx.core.io import read_audio
    from technob_fx.stages.beats import track_beats

    out = {}
    if not SHARED.is_dir():
        return {"skipped": f"{SHARED} not present"}
    for ann in sorted(SHARED.glob("*.beats")):
        wav = ann.with_suffix(".wav")
        if not wav.exists():
            continue
        ref = np.loadtxt(ann, comments="#", ndmin=2)[:, 0]
        audio, sr = read_audio(wav)
        grid = track_beats(audio, sr)
        y = librosa.resample(audio.mean(axis=0), orig_sr=sr, target_sr=22050)
        lt, lb = librosa.beat.beat_track(y=y, sr=22050, units="time")
        row = {
            "duration_s": audio.shape[1] / sr, "reference_beats": int(ref.size),
            "beat_f": mir_eval.beat.f_measure(ref, grid.beats), "tempo": grid.tempo,
            "librosa_beat_f": mir_eval.beat.f_measure(ref, np.asarray(lb)),
            "librosa_tempo": float(np.atleast_1d(lt)[0]),
        }
        tempo_file = ann.with_suffix(".tempo")
        if tempo_file.exists():
            vals = [float(v) for line in tempo_file.read_text().splitlines()
                    if line.strip() and not line.startswith("#") for v in line.split()]
            row["reference_tempi"] = vals[:2]
            row["reference_tempo_from_beats"] = _tempo_of(ref)
        out[wav.name] = row
    return out


def _whole(bpm: float, loop: float) -> bool:
    n = bpm * loop / 60
    return any(abs(n / k - 1) < 0.01 for k in (2, 4, 8, 16, 32))


def drum_loops() -> dict:
    """Real drum loops (``../shared/data/samples/loop_*``) tiled to >= 24 s.

    A loop lasts a whole number of beats, so a right tempo gives ``tempo * loop / 60`` close to 2,
    4, 8, 16 or 32 beats. Reported per loop, and the share of loops where that holds within 1 %.
    """
    import librosa

    from technob_fx.core.io import read_audio
    from technob_fx.stages.beats import track_beats

    folder = SHARED.parent / "samples"
    rows = {}
    for path in sorted(folder.glob("loop_*.flac")):
        audio, sr = read_audio(path)
        loop = audio.shape[1] / sr
        tiled = np.tile(audio, (1, int(np.ceil(24 / loop))))
        grid = track_beats(tiled, sr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lt, _ = librosa.beat.beat_track(y=tiled.mean(axis=0), sr=sr)
        lt = float(np.atleast_1d(lt)[0])

        rows[path.stem] = {"loop_s": loop, "tempo": grid.tempo, "beats_per_loop": grid.tempo * loop / 60,
                           "whole": _whole(grid.tempo, loop), "librosa_tempo": lt,
                           "librosa_beats_per_loop": lt * loop / 60, "librosa_whole": _whole(lt, loop)}
    n = max(len(rows), 1)
    return {"loops": rows, "share_whole": sum(r["whole"] for r in rows.values()) / n,
            "librosa_share_whole": sum(r["librosa_whole"] for r in rows.values()) / n}


def pitch_accuracy() -> dict:
    import librosa
    import mir_eval

    from technob_fx.stages.pitch import track_pitch
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    audio, truth, stems = synth_techno(SHORT_STRUCTURE, bpm=128.0, seed=1, return_stems=True)

    def ref(times: np.ndarray) -> np.ndarray:
        f = np.zeros(times.size)
        for n in truth.notes:
            f[(times >= n.onset) & (times < n.offset)] = 440 * 2 ** ((n.pitch - 69) / 12)
        return f

    def score(times, f0) -> dict:
        s = mir_eval.melody.evaluate(times, ref(times), times, np.nan_to_num(f0, nan=0.0))
        return {k: float(s[k]) for k in ("Raw Pitch Accuracy", "Raw Chroma Accuracy", "Voicing Recall",
                                           "Voicing False Alarm", "Overall Accuracy")}

    out = {}
    for name, x in (("lead_stem", stems["lead"]), ("full_mix", audio)):
        track_pitch(x[:, : SR * 2], SR)  # warm-up
        t0 = time.perf_counter()
        tr = track_pitch(x, SR)
        t_ours = time.perf_counter() - t0
        y = librosa.resample(x.mean(axis=0), orig_sr=SR, target_sr=22050)
        t0 = time.perf_counter()
        f0, _, _ = librosa.pyin(y, fmin=65.0, fmax=1500.0, sr=22050)
        t_pyin = time.perf_counter() - t0
        out[name] = {
            "ours": score(tr.times, tr.f0), "pyin": score(librosa.times_like(f0, sr=22050), f0),
            "ours_s": t_ours, "pyin_s": t_pyin, "speedup": t_pyin / t_ours,
            "ours_x_realtime": truth.duration / t_ours, "pyin_x_realtime": truth.duration / t_pyin,
            "notes_found": len(tr.notes), "notes_true": len(truth.notes),
        }
    return out


def naive_librosa(path: Path, duration: float) -> dict:
    import librosa

    t = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # warm up numba-compiled functions so compilation is not counted
        yw = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
        librosa.beat.beat_track(y=yw, sr=22050)
        librosa.pyin(yw[:22050], fmin=65, fmax=1500, sr=22050)
        t0 = time.perf_counter()
        y, sr = librosa.load(path, sr=22050, mono=True)
        t["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        librosa.beat.beat_track(y=y, sr=sr)
        t["beat_track"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        librosa.effects.hpss(y)
        t["hpss"] = time.perf_counter() - t0
        excerpt = 30.0
        t0 = time.perf_counter()
        librosa.pyin(y[: int(excerpt * sr)], fmin=65.0, fmax=1500.0, sr=sr)
        t["pyin_extrapolated"] = (time.perf_counter() - t0) * duration / excerpt
        t0 = time.perf_counter()
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
        t["mfcc"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        chroma = librosa.feature.chroma_stft(y=y, sr=sr)
        t["chroma"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        feats = np.vstack([librosa.util.sync(mfcc, np.arange(0, mfcc.shape[1], 43)),
                           librosa.util.sync(chroma, np.arange(0, chroma.shape[1], 43))])
        librosa.segment.agglomerative(feats, 8)
        t["segment"] = time.perf_counter() - t0
    t["total"] = sum(t.values())
    return t


def speed(minutes: float, repeats: int) -> dict:
    from technob_fx.stages.analysis import analyze_file

    with tempfile.TemporaryDirectory(prefix="technob-bench-") as tmp:
        path = Path(tmp) / "long.wav"
        dur = make_long_file(path, minutes, structure="default", seed=0)
        short = Path(tmp) / "short.wav"
        from technob_fx.core.io import read_audio, write_audio

        a, _ = read_audio(path, duration=10.0)
        write_audio(short, a, SR)
        analyze_file(short)  # warm-up (imports)
        runs, stages = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = analyze_file(path)
            runs.append(time.perf_counter() - t0)
            stages.append(res.timings)
        ours = statistics.median(runs)
        base = naive_librosa(path, dur)
        code = (f"from technob_fx.stages.analysis import analyze_file\nr = analyze_file({str(path)!r})\n"
                "print('TEMPO', r.tempo)")
        peak, wall, _ = run_child(code)
        imp_peak, _, _ = run_child("import numpy, scipy.fft, soxr, pedalboard\nimport technob_fx.stages.analysis")
    best = min(range(len(runs)), key=lambda i: runs[i])
    return {
        "load_average_1min_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
        "fastest_run_x_realtime": dur / min(runs),
        "audio_seconds": dur, "runs_s": runs, "median_s": ours, "x_realtime": dur / ours,
        "stage_seconds_fastest_run": {k: round(v, 3) for k, v in stages[best].items()},
        "librosa_naive_s": base, "librosa_x_realtime": dur / base["total"],
        "speedup_vs_librosa": base["total"] / ours,
        "peak_rss_mib": peak, "imports_only_peak_rss_mib": imp_peak, "child_wall_s": wall,
        "goal_x_realtime": 100, "goal_peak_rss_mib": 400,
    }


def import_time() -> dict:
    def wall(code: str) -> float:
        best = np.inf
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - t0)
        return best

    base = wall("pass")
    full = wall("import technob_fx")
    return {"import_technob_fx_s": full, "python_startup_s": base, "import_only_s": full - base, "goal_s": 1.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases, 1-minute speed file, 1 repeat")
    args = ap.parse_args()
    data = {
        "synth": synth_accuracy(args.quick),
        "real": real_clips(),
        "loops": drum_loops() if (SHARED.parent / "samples").is_dir() else {"skipped": "no samples"},
        "pitch": pitch_accuracy(),
        "speed": speed(1.0 if args.quick else 6.0, 1 if args.quick else 3),
        "import": import_time(),
    }
    s = data["synth"]["summary"]
    print("Synthesised techno (mir_eval, ours | librosa.beat.beat_track)")
    print(f"{'case':42s} {'beatF':>6s} {'dbF':>6s} {'tempo%':>7s} {'bnd err s':>9s} {'labels':>6s} | {'beatF':>6s} {'tempo%':>7s}")
    for r in data["synth"]["cases"]:
        print(f"{r['case']:42s} {r['beat_f']:6.3f} {r['downbeat_f']:6.3f} {r['tempo_error_pct']:7.3f} "
              f"{r['boundary_max_error_s']:9.3f} {r['label_accuracy']:6.3f} | {r['librosa_beat_f']:6.3f} "
              f"{r['librosa_tempo_error_pct']:7.3f}")
    print(f"min beat F {s['min_beat_f']:.3f} (goal 0.98), min downbeat F {s['min_downbeat_f']:.3f} (goal 0.95), "
          f"max tempo error {s['max_tempo_error_pct']:.3f}% (goal 1%), max boundary error "
          f"{s['max_boundary_error_s']:.3f} s, all within one beat: {s['all_boundaries_within_one_beat']}")
    print("\nReal annotated clips")
    for name, r in data["real"].items():
        if isinstance(r, dict):
            print(f"  {name}: beat F ours {r['beat_f']:.3f} (tempo {r['tempo']:.1f}) | librosa "
                  f"{r['librosa_beat_f']:.3f} (tempo {r['librosa_tempo']:.1f}); {r['reference_beats']} reference beats")
        else:
            print(f"  {name}: {r}")
    lp = data["loops"]
    if "share_whole" in lp:
        print(f"\nReal drum loops tiled: tempo gives a whole 2/4/8/16/32 beats per loop in "
              f"{100 * lp['share_whole']:.0f}% of {len(lp['loops'])} loops (librosa {100 * lp['librosa_share_whole']:.0f}%)")
    print("\nPitch (mir_eval.melody): ours | pyin")
    for name, r in data["pitch"].items():
        print(f"  {name}: RPA {r['ours']['Raw Pitch Accuracy']:.3f} | {r['pyin']['Raw Pitch Accuracy']:.3f}, "
              f"voicing recall {r['ours']['Voicing Recall']:.3f} | {r['pyin']['Voicing Recall']:.3f}, "
              f"false alarm {r['ours']['Voicing False Alarm']:.3f} | {r['pyin']['Voicing False Alarm']:.3f}; "
              f"{r['ours_x_realtime']:.0f}x | {r['pyin_x_realtime']:.1f}x real time ({r['speedup']:.0f}x faster)")
    sp = data["speed"]
    print(f"\nFull analyze of {sp['audio_seconds'] / 60:.0f} min 44.1 kHz stereo: {sp['median_s']:.2f} s = "
          f"{sp['x_realtime']:.0f}x real time (goal 100x; fastest run {sp['fastest_run_x_realtime']:.0f}x; "
          f"load average {sp['load_average_1min_at_end']:.1f} on {sp['cpus']} CPUs); "
          f"stages {sp['stage_seconds_fastest_run']}")
    print(f"naive librosa: {sp['librosa_naive_s']['total']:.1f} s = {sp['librosa_x_realtime']:.1f}x real time; "
          f"ours is {sp['speedup_vs_librosa']:.0f}x faster")
    print(f"peak RSS {sp['peak_rss_mib']:.0f} MiB (goal < 400; imports alone {sp['imports_only_peak_rss_mib']:.0f} MiB)")
    im = data["import"]
    print(f"import technob_fx: {im['import_technob_fx_s']:.3f} s (python startup {im['python_startup_s']:.3f} s)")
    print(f"wrote {save('analysis', data)}")


if __name__ == "__main__":
    main()
