"""demucs at full size: technob's streamed runner against demucs' own CLI, same model, same track.

The real htdemucs architecture (``HTDemucs`` with the released model's ``bottom_channels=512``
and 7.8 s segment: 41.5M parameters) randomly initialised (seed 0) and saved as ``htrand.th`` in
a local folder used as ``--repo``: the same speed and memory as the released weights, with no
download. For each of ``--minutes`` a synthetic track (the synth track looped, 16-bit stereo
44.1 kHz) is separated in child processes (2 torch threads each), alternately:

* ``technob``: ``stages.stems.separate_file`` (the one file runner: the input streamed in
  blocks, demucs' segment loop run as it arrives, 16-bit stems written incrementally), ``shifts=0``;
* ``demucs``: demucs' own command line (``demucs.separate.main``: whole track decoded, one
  ``apply_model`` call, ``--shifts 0``, ``-j`` as given (default 0, demucs' default), 16-bit
  stems written at the end).

Reported per run: seconds and CPU seconds (``time.process_time``) inside the child, imports and
model loading excluded for technob (demucs' CLI loads its model inside ``main``, about a second
of its time), x real time, peak RSS (``VmHWM``); the ratio technob / demucs of the medians; and
the largest difference between the two programs' 16-bit stem files, in LSB, as written and
without the known offset (demucs adds the mix's whole mean to every stem, technob shares it out
so that stems sum to the mix; the rest is dither and rounding, and demucs' rescaling of a stem
that would clip).

``--check-seconds S`` (default 20; 0 = off) also separates the first S seconds in this process
with ``separate_stems`` and with whole-track ``demucs.apply.apply_model`` on the same normalised
audio, ``shifts=0`` and ``shifts=1`` (same ``random`` seed), and reports the largest difference
in 16-bit LSB.

Usage: ``python -m benchmarks.bench_separation_full [--minutes 1.5 ...] [--repeats 1]
[--demucs-first] [--jobs 0] [--check-seconds 20] [--systems technob demucs] [--repo DIR]``; results in
``benchmarks/results/separation_full_<M>min.json``.
"""

from __future__ import annotations

import argparse
import shutil
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


def technob_code(src: Path, out: Path, repo: Path) -> str:
    return (PRELUDE + "from technob_fx.stages.stems import load_model, separate_file\n"
            f"model = load_model({NAME!r}, {str(repo)!r})\n"
            "t0_, c0_ = time.perf_counter(), time.process_time()\n"
            f"separate_file({str(src)!r}, {str(out)!r}, model=model, shifts=0, bit_depth=16)\n"
            "print('SECONDS', time.perf_counter() - t0_, time.process_time() - c0_)\n")


def demucs_code(src: Path, out: Path, repo: Path, jobs: int) -> str:
    return (PRELUDE + "from demucs.separate import main\n"
            "t0_, c0_ = time.perf_counter(), time.process_time()\n"
            f"main(['--repo', {str(repo)!r}, '-n', {NAME!r}, '--shifts', '0', '-d', 'cpu', '-j', '{jobs}', "
            f"'-o', {str(out)!r}, {str(src)!r}])\n"
            "print('SECONDS', time.perf_counter() - t0_, time.process_time() - c0_)\n")


def _lsb_diff(a, b) -> float:
    """Largest |a - b| in 16-bit LSB (1 / 32768)."""
    import numpy as np

    n = min(a.shape[-1], b.shape[-1])
    return float(np.max(np.abs(a[..., :n].astype(np.float64) - b[..., :n])) * 32768.0)


def check_equal(src: Path, repo: Path, seconds: float) -> dict:
    """Streamed stems against whole-track ``apply_model`` on the first ``seconds`` of ``src``."""
    import random

    import numpy as np
    import torch
    from demucs.apply import apply_model

    from technob_fx.core.io import read_audio
    from technob_fx.stages.stems import load_model, separate_stems

    torch.set_num_threads(2)
    model = load_model(NAME, repo)
    audio, sr = read_audio(src)
    x = np.ascontiguousarray(audio[:, : int(seconds * sr)], dtype=np.float32)
    ref = x.mean(axis=0)
    mean, std = float(ref.mean()), float(ref.std(ddof=1))
    out: dict = {"seconds": seconds}
    for shifts in (0, 1):
        ours = separate_stems(x, sr, model=model, shifts=shifts, seed=7)
        random.seed(7)
        with torch.no_grad():
            whole = apply_model(model, torch.from_numpy((x - np.float32(mean)) / np.float32(std))[None],
                                shifts=shifts, split=True, overlap=0.25)[0].numpy()
        whole = whole * np.float32(std) + np.float32(mean / whole.shape[0])
        out[f"max_diff_lsb_shifts{shifts}"] = max(_lsb_diff(ours[k], whole[i]) for i, k in enumerate(model.sources))
        print(f"  equality, {seconds:g} s, shifts={shifts}: largest difference "
              f"{out[f'max_diff_lsb_shifts{shifts}']:.4f} LSB (16-bit)", flush=True)
    return out


def files_diff(src: Path, technob_dir: Path, demucs_dir: Path) -> tuple[float, float]:
    """Largest difference between the two programs' stem files, 16-bit LSB: as written, and
    after taking out the known offset (demucs adds the mix's whole mean to every stem, technob
    ``mean / sources``). Read block by block."""
    import soundfile as sf

    from technob_fx.stages.stems import _file_stats

    (mean, _), _ = _file_stats(src, 44100, 2, 1 << 18)
    mine = sorted(technob_dir.glob("*.wav"))
    offset = mean * (len(mine) - 1) / len(mine)
    raw = rest = 0.0
    for p in mine:
        q = next(demucs_dir.rglob(p.name))
        with sf.SoundFile(p) as a, sf.SoundFile(q) as b:
            while True:
                x, y = a.read(1 << 18, dtype="float32"), b.read(1 << 18, dtype="float32")
                n = min(len(x), len(y))
                if n == 0:
                    break
                d = x[:n].astype("float64") - y[:n]
                raw = max(raw, float(abs(d).max()) * 32768.0)
                rest = max(rest, float(abs(d + offset).max()) * 32768.0)
    return raw, rest


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.5])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=0, help="demucs' -j (default 0, its own default)")
    parser.add_argument("--check-seconds", type=float, default=20.0)
    parser.add_argument("--systems", nargs="+", choices=("technob", "demucs"), default=["technob", "demucs"],
                        help="who runs (technob alone: memory over a long file)")
    parser.add_argument("--demucs-first", action="store_true", help="run demucs' CLI first in each round")
    parser.add_argument("--repo", type=Path, default=None, help="folder for htrand.th (default: a temporary one)")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="technob-bench-full-") as tmp:
        repo = args.repo or Path(tmp) / "repo"
        params = make_repo(repo) if not (repo / f"{NAME}.th").exists() else None
        equality = None
        for minutes in args.minutes:
            res: dict = {"model": "htdemucs architecture, random weights (seed 0)", "minutes": minutes,
                         "shifts": 0, "torch_threads": 2, "demucs_jobs": args.jobs, "runs": []}
            if params:
                res["parameters"] = params
            src = Path(tmp) / f"track{minutes:g}.wav"
            seconds = make_long_file(src, minutes)
            res["audio_seconds"] = seconds
            if args.check_seconds and equality is None:
                equality = check_equal(src, repo, min(args.check_seconds, seconds))
            if equality:
                res["equality"] = equality
            for i in range(args.repeats):
                jobs = [("technob", technob_code(src, Path(tmp) / f"t{minutes:g}_{i}", repo)),
                        ("demucs", demucs_code(src, Path(tmp) / f"d{minutes:g}_{i}", repo, args.jobs))]
                jobs = [j for j in jobs if j[0] in args.systems]
                for who, code in jobs if (i % 2 == 0) != args.demucs_first else jobs[::-1]:
                    peak, wall, text = run_child(code, 4 * 3600)
                    secs, cpu = (float(v) for v in text.split("SECONDS")[1].split()[:2])
                    res["runs"].append({"who": who, "seconds": secs, "cpu_s": cpu, "child_wall_s": wall,
                                        "x_realtime": seconds / secs, "peak_rss_mib": peak})
                    print(f"  {minutes:g} min, {who}: {secs:.1f} s ({seconds / secs:.2f}x real time), "
                          f"CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB", flush=True)
                if set(who for who, _ in jobs) == {"technob", "demucs"}:
                    raw, rest = files_diff(src, Path(tmp) / f"t{minutes:g}_{i}", Path(tmp) / f"d{minutes:g}_{i}")
                    res.setdefault("files_max_diff_lsb", []).append(raw)
                    res.setdefault("files_max_diff_lsb_without_mean_offset", []).append(rest)
                for d in (Path(tmp) / f"t{minutes:g}_{i}", Path(tmp) / f"d{minutes:g}_{i}"):
                    shutil.rmtree(d, ignore_errors=True)
            src.unlink()
            for who in args.systems:
                runs = [r for r in res["runs"] if r["who"] == who]
                res[f"{who}_median_s"] = statistics.median(r["seconds"] for r in runs)
                res[f"{who}_peak_rss_mib"] = statistics.median(r["peak_rss_mib"] for r in runs)
                res[f"{who}_median_cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
            if len(args.systems) == 2:
                res["time_ratio_technob_over_demucs"] = res["technob_median_s"] / res["demucs_median_s"]
                res["cpu_ratio_technob_over_demucs"] = res["technob_median_cpu_s"] / res["demucs_median_cpu_s"]
                res["rss_ratio_technob_over_demucs"] = res["technob_peak_rss_mib"] / res["demucs_peak_rss_mib"]
                print(f"{minutes:g} min, technob / demucs: time {res['time_ratio_technob_over_demucs']:.3f}x, "
                      f"CPU {res['cpu_ratio_technob_over_demucs']:.2f}x, "
                      f"peak RSS {res['rss_ratio_technob_over_demucs']:.2f}x; stem files differ by at most "
                      f"{max(res['files_max_diff_lsb']):.1f} LSB, "
                      f"{max(res['files_max_diff_lsb_without_mean_offset']):.1f} LSB without the mean offset",
                      flush=True)
            save(f"separation_full_{minutes:g}min", res)
            results.append(res)
    return results


if __name__ == "__main__":
    main()
