"""Batch analysis on Dask: throughput with 1 and 2 workers, per-task overhead, client memory.

1. ``--tracks`` short synthesised tracks (default 200, about 15 s each at 22.05 kHz; every file
   has its own content) are analysed by ``run_batch`` on a LocalCluster of 1, then 2 worker
   processes, each into a fresh catalogue, in this one run. Reported: tracks per minute of the
   whole batch (cluster start included) and in the steady state (first to last result), and
   the 2-worker / 1-worker ratio (goal >= 1.7 on 2 free cores).
2. A dry run (workers only hash the file) over ``--tiny`` tiny files (default 10,000) and a
   tenth of them, each in a child process running the client with 2 workers. Reported: wall
   time per task, i.e. the batch machinery's per-task overhead (scheduling, result transfer,
   catalogue commit; goal < 50 ms), the CPU time per task of the client, scheduler and workers
   together (cluster start-up included; this one does not depend on other load on the machine),
   and the client's peak RSS (``VmHWM``; the workers are other
   processes) for both sizes: their ratio shows it is flat in the number of tracks.

Usage: ``python -m benchmarks.bench_batch [--tracks 200] [--tiny 10000] [--quick]``.
The machine must be otherwise idle for the throughput ratio to mean anything.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._util import run_child, save


def make_tracks(folder: Path, n: int, distinct: int = 8) -> float:
    """``n`` short tracks (``distinct`` syntheses, then gain variants so each file differs); seconds of audio."""
    from technob_fx.core.io import write_audio
    from technob_fx.synth import synth_techno

    folder.mkdir(parents=True, exist_ok=True)
    base = [synth_techno((("intro", 2), ("drop", 2), ("breakdown", 1), ("drop", 2)), bpm=120.0 + i,
                         seed=i, sample_rate=22050) for i in range(min(n, distinct))]
    total = 0.0
    for i in range(n):
        audio, truth = base[i % len(base)]
        write_audio(folder / f"track{i:04d}.wav", audio * (1.0 - 0.001 * (i // len(base))), truth.sample_rate)
        total += truth.duration
    return total


def throughput(folder: Path, jobs: int, work: Path) -> dict:
    from technob_fx.catalog import AnalyzeJob, run_batch

    times: list[float] = []

    def progress(state) -> None:
        if state.done + state.failed > len(times):
            times.append(time.monotonic())

    cat = work / f"catalog-{jobs}"
    t0 = time.monotonic()
    rep = run_batch(AnalyzeJob(), [folder], cat, jobs=jobs, progress=progress)
    wall = time.monotonic() - t0
    shutil.rmtree(cat, ignore_errors=True)
    steady = (len(times) - 1) / (times[-1] - times[0]) * 60 if len(times) > 2 else float("nan")
    return {"workers": jobs, "done": rep.done, "failed": rep.failed, "wall_s": round(wall, 2),
            "tracks_per_min": round(60 * rep.done / wall, 1), "steady_tracks_per_min": round(steady, 1)}


_DRY = """
import time, json, resource
from technob_fx.catalog import AnalyzeJob, run_batch
if __name__ == "__main__":
    t0 = time.monotonic()
    first = []
    def progress(state):
        if not first and state.done:
            first.append(time.monotonic())
    rep = run_batch(AnalyzeJob(dry_run=True), [{folder!r}], {catalog!r}, jobs=2, progress=progress)
    end = time.monotonic()
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(json.dumps({{"done": rep.done, "failed": rep.failed, "wall_s": end - t0,
                      "after_first_s": end - first[0], "cpu_s": cpu}}))
"""


def dry_run(n: int, work: Path) -> dict:
    folder = work / f"tiny{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"t{i:05d}.wav").write_bytes(i.to_bytes(4, "little") * 16)
    code = _DRY.format(folder=str(folder), catalog=str(work / f"cat-tiny{n}"))
    peak, _, out = run_child(code)
    import json

    res = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / f"cat-tiny{n}", ignore_errors=True)
    return {"tasks": n, "done": res["done"], "wall_s": round(res["wall_s"], 2),
            "ms_per_task": round(1000 * res["after_first_s"] / max(res["done"] - 1, 1), 2),
            "cpu_ms_per_task": round(1000 * res["cpu_s"] / max(res["done"], 1), 2),
            "client_peak_rss_mib": round(peak, 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=200)
    ap.add_argument("--tiny", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="20 tracks, 2,000 tiny files (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.tracks, args.tiny = 20, 2000
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        work = Path(tmp)
        audio_s = make_tracks(work / "tracks", args.tracks)
        one = throughput(work / "tracks", 1, work)
        two = throughput(work / "tracks", 2, work)
        small = dry_run(max(args.tiny // 10, 10), work)
        large = dry_run(args.tiny, work)
    ratio = two["steady_tracks_per_min"] / one["steady_tracks_per_min"]
    result = {
        "tracks": args.tracks, "audio_s_per_track": round(audio_s / args.tracks, 2),
        "throughput": [one, two], "ratio_2_vs_1_steady": round(ratio, 2),
        "ratio_2_vs_1_wall": round(two["tracks_per_min"] / one["tracks_per_min"], 2),
        "dry_run": [small, large],
        "client_rss_ratio_large_vs_small": round(large["client_peak_rss_mib"] / small["client_peak_rss_mib"], 3),
        "goals": {"ratio_2_vs_1": ">= 1.7", "ms_per_task": "< 50", "client_rss": "flat (ratio ~1)"},
    }
    print(f"{'workers':>8} {'tracks/min':>11} {'steady/min':>11} {'wall s':>8}")
    for r in (one, two):
        print(f"{r['workers']:>8} {r['tracks_per_min']:>11.1f} {r['steady_tracks_per_min']:>11.1f} {r['wall_s']:>8.1f}")
    print(f"2 vs 1 workers: x{result['ratio_2_vs_1_steady']:.2f} steady, x{result['ratio_2_vs_1_wall']:.2f} wall "
          f"(goal >= 1.7 on 2 idle cores)")
    print(f"{'dry run':>8} {'ms/task':>9} {'CPU ms/task':>12} {'client peak RSS MiB':>20} {'wall s':>8}")
    for r in (small, large):
        print(f"{r['tasks']:>8} {r['ms_per_task']:>9.2f} {r['cpu_ms_per_task']:>12.2f} {r['client_peak_rss_mib']:>20.1f} "
              f"{r['wall_s']:>8.1f}")
    print(f"client RSS {large['tasks']} vs {small['tasks']} tasks: x{result['client_rss_ratio_large_vs_small']:.3f}")
    if not args.quick:  # a smoke run is not a figure to keep
        save("batch", result)
    return result


if __name__ == "__main__":
    main()
