"""The one file runner against the loops it replaced: same-run before/after ratios.

Each job streams one file through a command's code path:

* ``render``: ``Chain.process_file`` through the shipped ``lofi`` preset (``technob render``);
* ``hpss``: ``stages.hpss.hpss_file``, harmonic and percussive files (``technob separate --engine hpss``);
* ``demucs``: ``stages.stems.separate_file`` with the test model ``demucs_unittest`` (tiny and
  untrained: speed and memory only), htdemucs' segment of 7.8 s, ``shifts=0``.

Every job runs in a fresh child process, alternately with this checkout and with ``--baseline``
(a checkout of the code before the runner), ``--repeats`` times each; the time is measured inside
the child around the call (start-up and imports excluded). Reported per job: median seconds of
each tree and their ratio (this / baseline; goal <= 1.0 within noise), the same for the child's CPU
seconds (``time.process_time``: steadier than wall time on a shared machine), x real time, and the
children's peak RSS (``VmHWM``, MiB; median over repeats).

Usage: ``python -m benchmarks.bench_runner --baseline DIR [--minutes 10] [--demucs-minutes 2]
[--repeats 3] [--jobs render hpss demucs]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks._util import make_long_file, run_child, save

HERE = Path(__file__).resolve().parents[1]

CALLS = {
    "render": ("from technob_fx.core.chain import Chain\nchain = Chain.from_preset('lofi')\n",
               "chain.process_file(SRC, OUT + '/render.wav')"),
    "hpss": ("from technob_fx.stages.hpss import hpss_file\n",
             "hpss_file(SRC, OUT + '/hpss')"),
    "demucs": ("import torch\ntorch.set_num_threads(2)\nfrom technob_fx.stages.stems import load_model, separate_file\n"
               "model = load_model('demucs_unittest')\n",
               "separate_file(SRC, OUT + '/stems', model=model, segment=7.8, shifts=0)"),
}


def _child(tree: Path, job: str, src: Path, out: Path) -> tuple[float, float, float]:
    setup, call = CALLS[job]
    code = (f"import sys, time\nsys.path.insert(0, {str(tree)!r})\nSRC, OUT = {str(src)!r}, {str(out)!r}\n"
            f"{setup}import technob_fx\nassert technob_fx.__file__.startswith({str(tree)!r}), technob_fx.__file__\n"
            f"t0_, c0_ = time.perf_counter(), time.process_time()\n{call}\n"
            f"print('SECONDS', time.perf_counter() - t0_, time.process_time() - c0_)")
    peak, _, text = run_child(code, 3600)
    wall, cpu = (float(v) for v in text.split("SECONDS")[1].split())
    return wall, cpu, peak


def compare(job: str, src: Path, seconds: float, baseline: Path, repeats: int, tmp: Path) -> dict:
    runs: dict[str, list[tuple[float, float, float]]] = {"runner": [], "baseline": []}
    for i in range(repeats):
        order = [("runner", HERE), ("baseline", baseline)]
        for label, tree in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
            out = tmp / f"{job}-{label}-{i}"
            out.mkdir()
            runs[label].append(_child(tree, job, src, out))
    med = {k: statistics.median(t for t, _, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c, _ in v) for k, v in runs.items()}
    rss = {k: statistics.median(p for _, _, p in v) for k, v in runs.items()}
    res = {
        "audio_seconds": seconds,
        "runner_median_s": med["runner"], "baseline_median_s": med["baseline"],
        "ratio_runner_over_baseline": med["runner"] / med["baseline"],
        "runner_median_cpu_s": cpu["runner"], "baseline_median_cpu_s": cpu["baseline"],
        "cpu_ratio_runner_over_baseline": cpu["runner"] / cpu["baseline"],
        "runner_x_realtime": seconds / med["runner"], "baseline_x_realtime": seconds / med["baseline"],
        "runner_peak_rss_mib": rss["runner"], "baseline_peak_rss_mib": rss["baseline"],
        "runner_all": [{"wall_s": t, "cpu_s": c} for t, c, _ in runs["runner"]],
        "baseline_all": [{"wall_s": t, "cpu_s": c} for t, c, _ in runs["baseline"]],
    }
    print(f"  {job}: {seconds / 60:g} min, wall runner {med['runner']:.2f} s vs baseline {med['baseline']:.2f} s "
          f"(ratio {res['ratio_runner_over_baseline']:.3f}), CPU {cpu['runner']:.2f} vs {cpu['baseline']:.2f} s "
          f"(ratio {res['cpu_ratio_runner_over_baseline']:.3f}); peak RSS {rss['runner']:.0f} vs "
          f"{rss['baseline']:.0f} MiB", flush=True)
    return res


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="checkout of the code before the runner")
    parser.add_argument("--minutes", type=float, default=10.0, help="length for render and hpss")
    parser.add_argument("--demucs-minutes", type=float, default=2.0, help="length for demucs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", nargs="+", choices=tuple(CALLS), default=list(CALLS))
    args = parser.parse_args(argv)
    results: dict = {"baseline": str(args.baseline), "repeats": args.repeats, "jobs": {}}
    with tempfile.TemporaryDirectory(prefix="technob-bench-runner-") as tmp:
        for job in args.jobs:
            minutes = args.demucs_minutes if job == "demucs" else args.minutes
            src = Path(tmp) / f"track{minutes:g}.wav"
            if not src.exists():
                make_long_file(src, minutes)
            results["jobs"][job] = compare(job, src, minutes * 60, args.baseline, args.repeats, Path(tmp))
    save("runner", results)
    return results


if __name__ == "__main__":
    main()
