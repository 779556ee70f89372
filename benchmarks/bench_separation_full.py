"""demucs at full size: technob's windowed runner against demucs' own CLI, same model, same track.

The real htdemucs architecture (``HTDemucs`` with the released model's ``bottom_channels=512``
and 7.8 s segment: 41.5M parameters) randomly initialised (seed 0) and saved as ``htrand.th`` in
a local folder used as ``--repo``: the same speed and memory as the released weights, with no
download. A synthetic track of ``--minutes`` (the synth track looped, 16-bit stereo 44.1 kHz) is
separated in child processes (2 torch threads each), alternately:

* ``technob``: ``stages.stems.separate_file`` (the one file runner: streamed, windows of
  ``--window`` s, stems written incrementally), ``shifts=0``;
* ``demucs``: demucs' own command line (``demucs.separate.main``: whole track decoded, one
  ``apply_model`` call, ``--shifts 0``, stems written at the end).

Reported per run: seconds and CPU seconds (``time.process_time``) (inside the child, imports and model loading excluded for technob;
demucs' CLI loads its model inside ``main``, so its time includes that load, about a second),
x real time, peak RSS (``VmHWM``); and the ratio technob / demucs of the medians.

Usage: ``python -m benchmarks.bench_separation_full [--minutes 1.5] [--repeats 1] [--window 60]
[--demucs-first] [--repo DIR]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks._util import make_long_file, run_child, save

NAME = "htrand"


def make_repo(folder: Path) -> int:
    """Save a randomly initialised htdemucs (released architecture) as ``folder/htrand.th``;
    returns its parameter count."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], bottom_channels=512, segment=7.8)
    folder.mkdir(parents=True, exist_ok=True)
    args, kwargs = model._init_args_kwargs  # what demucs.states.serialize_model stores (without
    # its omegaconf dependency, which only converts the training arguments)
    package = {"klass": type(model), "args": args, "kwargs": kwargs, "state": get_state(model, None, False),
               "training_args": {}}
    torch.save(package, folder / f"{NAME}.th")
    return sum(p.numel() for p in model.parameters())


PRELUDE = "import sys, time, torch\ntorch.set_num_threads(2)\n"


def technob_code(src: Path, out: Path, repo: Path, window: float) -> str:
    return (PRELUDE + "from technob_fx.stages.stems import load_model, separate_file\n"
            f"model = load_model({NAME!r}, {str(repo)!r})\n"
            "t0_, c0_ = time.perf_counter(), time.process_time()\n"
            f"separate_file({str(src)!r}, {str(out)!r}, model=model, shifts=0, window={window})\n"
            "print('SECONDS', time.perf_counter() - t0_, time.process_time() - c0_)\n")


def demucs_code(src: Path, out: Path, repo: Path) -> str:
    return (PRELUDE + "from demucs.separate import main\n"
            "t0_, c0_ = time.perf_counter(), time.process_time()\n"
            f"main(['--repo', {str(repo)!r}, '-n', {NAME!r}, '--shifts', '0', '-d', 'cpu', '-j', '1', "
            f"'-o', {str(out)!r}, {str(src)!r}])\n"
            "print('SECONDS', time.perf_counter() - t0_, time.process_time() - c0_)\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--window", type=float, default=60.0, help="technob's window, s (default 60)")
    parser.add_argument("--demucs-first", action="store_true", help="run demucs' CLI first in each round")
    parser.add_argument("--repo", type=Path, default=None, help="folder for htrand.th (default: a temporary one)")
    args = parser.parse_args(argv)
    res: dict = {"model": "htdemucs architecture, random weights (seed 0)", "minutes": args.minutes,
                 "window_s": args.window, "shifts": 0, "torch_threads": 2, "runs": []}
    with tempfile.TemporaryDirectory(prefix="technob-bench-full-") as tmp:
        repo = args.repo or Path(tmp) / "repo"
        if not (repo / f"{NAME}.th").exists():
            res["parameters"] = make_repo(repo)
        src = Path(tmp) / "track.wav"
        seconds = make_long_file(src, args.minutes)
        res["audio_seconds"] = seconds
        for i in range(args.repeats):
            jobs = [("technob", technob_code(src, Path(tmp) / f"t{i}", repo, args.window)),
                    ("demucs", demucs_code(src, Path(tmp) / f"d{i}", repo))]
            for who, code in jobs if (i % 2 == 0) != args.demucs_first else jobs[::-1]:
                peak, wall, text = run_child(code, 3600)
                secs, cpu = (float(v) for v in text.split("SECONDS")[1].split()[:2])
                res["runs"].append({"who": who, "seconds": secs, "cpu_s": cpu, "child_wall_s": wall,
                                    "x_realtime": seconds / secs, "peak_rss_mib": peak})
                print(f"  {who}: {secs:.1f} s ({seconds / secs:.2f}x real time), CPU {cpu:.1f} s, "
                      f"peak RSS {peak:.0f} MiB", flush=True)
    for who in ("technob", "demucs"):
        runs = [r for r in res["runs"] if r["who"] == who]
        res[f"{who}_median_s"] = statistics.median(r["seconds"] for r in runs)
        res[f"{who}_peak_rss_mib"] = statistics.median(r["peak_rss_mib"] for r in runs)
        res[f"{who}_median_cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
    res["time_ratio_technob_over_demucs"] = res["technob_median_s"] / res["demucs_median_s"]
    res["cpu_ratio_technob_over_demucs"] = res["technob_median_cpu_s"] / res["demucs_median_cpu_s"]
    res["rss_ratio_technob_over_demucs"] = res["technob_peak_rss_mib"] / res["demucs_peak_rss_mib"]
    print(f"technob / demucs: time {res['time_ratio_technob_over_demucs']:.2f}x, "
          f"CPU {res['cpu_ratio_technob_over_demucs']:.2f}x, "
          f"peak RSS {res['rss_ratio_technob_over_demucs']:.2f}x")
    save("separation_full", res)
    return res


if __name__ == "__main__":
    main()
