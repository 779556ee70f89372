"""Chain overhead vs a bare ``pedalboard.Pedalboard``, and peak RSS streaming a 60-minute file.

1. The same native plugins run through :class:`technob_fx.Chain` and through a bare
   ``pedalboard.Pedalboard`` on the same 60 s of audio, alternating, in one process. Reported:
   the median time ratio (goal <= 1.05).
2. A 60-minute stereo 44.1 kHz file is rendered with ``Chain.process_file`` through the shipped
   ``lofi`` preset (pedalboard built-ins and technob nodes) in a child process; reported: its peak
   RSS (goal < 300 MiB), beside the peak RSS of a child that only imports the same modules, and
   the x real time.

Usage: ``python -m benchmarks.bench_chain [--minutes 60] [--repeats 15]``.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0],
                        help="lengths of the streamed file (peak RSS should not grow with it)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    audio, _ = synth_techno(SHORT_STRUCTURE, seed=3)
    audio = audio[:, : 60 * SR]
    res = {"overhead": overhead(audio, args.repeats), "streaming": [streaming_rss(m) for m in args.minutes]}
    o = res["overhead"]
    print(f"Chain vs bare Pedalboard (4 native plugins, {o['audio_seconds']:.0f} s audio): "
          f"{o['chain_median_s'] * 1000:.1f} ms vs {o['pedalboard_median_s'] * 1000:.1f} ms -> "
          f"ratio {o['overhead_ratio']:.3f} (goal <= 1.05)")
    for s in res["streaming"]:
        print(f"Streaming {s['minutes']:.0f} min through preset 'lofi': peak RSS {s['peak_rss_mib']:.0f} MiB "
              f"(imports alone {s['import_only_peak_rss_mib']:.0f} MiB; goal < 300), "
              f"{s['x_realtime']:.1f}x real time")
    save("chain", res)
    return res


if __name__ == "__main__":
    main()
