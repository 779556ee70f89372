"""Chain overhead vs a bare ``pedalboard.Pedalboard``, and peak RSS streaming a 60-minute file.

1. The same native plugins run through :class:`technob_fx.Chain` and through a bare
   ``pedalboard.Pedalboard`` on the same 60 s of audio, alternating, in one process. Reported:
   the median time ratio (goal <= 1.05).
2. A 60-minute stereo 44.1 kHz file is rendered with ``Chain.process_file`` through the shipped
   ``lofi`` preset (pedalboard built-ins and technob nodes) in a child process; reported: its peak
   RSS (goal < 300 MiB), beside the peak RSS of a child that only imports the same modules, and
   the x real time.

3. Dispatch: a mixed chain (3 pedalboard built-ins, 2 technob nodes) streamed in 512-sample
   blocks, where the chain's own Python work per element counts most; reported: microseconds per
   block.

``--before DIR`` (a checkout of an earlier version) measures 1 and 3 for that tree and this one
in alternating child processes, in the same run, and reports the ratios this / before (goal
<= 1.0: no slowdown).

Usage: ``python -m benchmarks.bench_chain [--minutes 60] [--repeats 15] [--before DIR]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._util import make_long_file, run_child, save

SR = 44100


def overhead(audio: np.ndarray, repeats: int) -> dict:
    import pedalboard

    from technob_fx.core.chain import Chain

    def plugins():
        return [pedalboard.HighpassFilter(30), pedalboard.Compressor(-14, 2.0), pedalboard.Reverb(0.3),
                pedalboard.Limiter(-1.0)]

    board = pedalboard.Pedalboard(plugins())
    chain = Chain(plugins())
    board(audio, SR)
    chain(audio, SR)  # warm-up both
    t_board, t_chain = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        board(audio, SR)
        t_board.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        chain(audio, SR)
        t_chain.append(time.perf_counter() - t0)
    ratio = statistics.median(t_chain) / statistics.median(t_board)
    dur = audio.shape[1] / SR
    return {
        "audio_seconds": dur,
        "pedalboard_median_s": statistics.median(t_board),
        "chain_median_s": statistics.median(t_chain),
        "overhead_ratio": ratio,
        "chain_x_realtime": dur / statistics.median(t_chain),
        "goal_ratio": 1.05,
    }


def dispatch(audio: np.ndarray, repeats: int, block: int = 512) -> dict:
    """Seconds to stream ``audio`` in ``block``-sample blocks through a mixed chain (median)."""
    import pedalboard

    from technob_fx.core.chain import Chain
    from technob_fx.stages.effects import SoftClip, StereoWidth

    chain = Chain([pedalboard.Gain(-1.0), StereoWidth(width=1.1), pedalboard.Gain(1.0), SoftClip(),
                   pedalboard.HighpassFilter(30)])
    blocks = [np.ascontiguousarray(audio[:, i : i + block]) for i in range(0, audio.shape[1], block)]
    times = []
    for _ in range(repeats + 1):  # the first pass warms up
        chain.reset()
        t0 = time.perf_counter()
        for b in blocks:
            chain.process(b, SR, reset=False)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times[1:])
    return {"block": block, "blocks": len(blocks), "elements": len(chain),
            "median_s": med, "us_per_block": med / len(blocks) * 1e6}


#: Child process of ``--before``: measures one tree (its path first on sys.path), prints JSON.
_CHILD = """
import json, sys
sys.path[:0] = [{here!r}, {root!r}]  # this benchmarks package, then the measured tree
import benchmarks.bench_chain as b
from technob_fx.synth import SHORT_STRUCTURE, synth_techno
import technob_fx
assert technob_fx.__file__.startswith({root!r}), technob_fx.__file__
audio, _ = synth_techno(SHORT_STRUCTURE, seed=3)
o = b.overhead(audio[:, : {seconds} * b.SR], {repeats})
d = b.dispatch(audio[:, : 10 * b.SR], {repeats})
print('JSON', json.dumps({{"overhead_ratio": o["overhead_ratio"], "chain_median_s": o["chain_median_s"],
                          "pedalboard_median_s": o["pedalboard_median_s"], "dispatch_us_per_block": d["us_per_block"]}}))
"""


def before_after(before: Path, rounds: int, repeats: int, seconds: int = 60) -> dict:
    """Overhead and dispatch of the tree at ``before`` and of this one, alternating children.

    The benchmark functions come from this file in both children; only ``technob_fx`` differs.
    """
    import subprocess
    import sys

    here = str(Path(__file__).resolve().parent.parent)
    trees = {"before": str(Path(before).resolve()), "after": here}
    got: dict[str, list[dict]] = {k: [] for k in trees}
    bench_dir = tempfile.mkdtemp(prefix="technob-bench-")  # a benchmarks package the children share
    import shutil

    shutil.copytree(Path(here) / "benchmarks", Path(bench_dir) / "benchmarks")
    for _ in range(rounds):
        for side, root in trees.items():
            code = _CHILD.format(root=root, here=bench_dir, seconds=seconds, repeats=repeats)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=bench_dir).stdout
            got[side].append(json.loads(out.split("JSON", 1)[1]))
    shutil.rmtree(bench_dir, ignore_errors=True)
    med = {side: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for side, rows in got.items()}
    return {
        "rounds": rounds, "repeats": repeats, "before_tree": trees["before"], "runs": got, "median": med,
        "chain_time_ratio_after_over_before": med["after"]["chain_median_s"] / med["before"]["chain_median_s"],
        "overhead_ratio_after_over_before": med["after"]["overhead_ratio"] / med["before"]["overhead_ratio"],
        "dispatch_ratio_after_over_before": (med["after"]["dispatch_us_per_block"]
                                             / med["before"]["dispatch_us_per_block"]),
        "goal_ratio": 1.0,
    }


def streaming_rss(minutes: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="technob-bench-") as tmp:
        src = Path(tmp) / "long.wav"
        seconds = make_long_file(src, minutes)
        dst = Path(tmp) / "out.wav"
        imports = "from technob_fx.core.chain import Chain\nimport technob_fx.stages.effects, pedalboard, numpy, scipy.signal\n"
        base_mib, _, _ = run_child(imports + "Chain.from_preset('lofi')")
        code = imports + (
            "import time\nchain = Chain.from_preset('lofi')\nt=time.perf_counter()\n"
            f"out = chain.process_file({str(src)!r}, {str(dst)!r}, block_size=65536)\n"
            "print('SECONDS', time.perf_counter()-t)"
        )
        peak_mib, _, out = run_child(code)
        secs = float(out.split("SECONDS")[1])
        out_size = dst.stat().st_size
    return {
        "minutes": minutes,
        "audio_seconds": seconds,
        "peak_rss_mib": peak_mib,
        "import_only_peak_rss_mib": base_mib,
        "streaming_overhead_mib": peak_mib - base_mib,
        "render_seconds": secs,
        "x_realtime": seconds / secs,
        "output_bytes": out_size,
        "goal_peak_rss_mib": 300,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="*", default=[10.0, 60.0],
                        help="lengths of the streamed file (peak RSS should not grow with it)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier checkout: compare its Chain overhead with this one's, same run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating child pairs for --before")
    args = parser.parse_args(argv)
    if args.before is not None:
        ba = before_after(args.before, args.rounds, args.repeats)
        m = ba["median"]
        print(f"Chain vs Pedalboard ratio: before {m['before']['overhead_ratio']:.3f}, after "
              f"{m['after']['overhead_ratio']:.3f}; chain time after/before "
              f"{ba['chain_time_ratio_after_over_before']:.3f}")
        print(f"Dispatch (512-sample blocks, 5 elements): before {m['before']['dispatch_us_per_block']:.1f} us/block, "
              f"after {m['after']['dispatch_us_per_block']:.1f} us/block -> ratio "
              f"{ba['dispatch_ratio_after_over_before']:.3f} (goal <= 1.0)")
        save("chain_before_after", ba)
        return ba
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    audio, _ = synth_techno(SHORT_STRUCTURE, seed=3)
    audio = audio[:, : 60 * SR]
    res = {"overhead": overhead(audio, args.repeats), "dispatch": dispatch(audio[:, : 10 * SR], args.repeats),
           "streaming": [streaming_rss(m) for m in args.minutes]}
    o = res["overhead"]
    print(f"Chain vs bare Pedalboard (4 native plugins, {o['audio_seconds']:.0f} s audio): "
          f"{o['chain_median_s'] * 1000:.1f} ms vs {o['pedalboard_median_s'] * 1000:.1f} ms -> "
          f"ratio {o['overhead_ratio']:.3f} (goal <= 1.05)")
    d = res["dispatch"]
    print(f"Dispatch: {d['us_per_block']:.1f} us per {d['block']}-sample block through {d['elements']} elements")
    for s in res["streaming"]:
        print(f"Streaming {s['minutes']:.0f} min through preset 'lofi': peak RSS {s['peak_rss_mib']:.0f} MiB "
              f"(imports alone {s['import_only_peak_rss_mib']:.0f} MiB; goal < 300), "
              f"{s['x_realtime']:.1f}x real time")
    save("chain", res)
    return res


if __name__ == "__main__":
    main()
