"""Separation: HPSS speed vs librosa, demucs peak memory streamed vs whole-track.

1. HPSS: :class:`technob_fx.stages.hpss.HarmonicPercussive` (streaming engine, masks shared by the
   channels) against ``librosa.effects.hpss`` on the same 60 s of stereo audio, alternating, in
   one process; x real time (median of ``--repeats``) and their ratio.
2. demucs: files of 10 and 60 minutes (the synth track looped) are separated with the test model
   ``demucs_unittest`` (tiny and untrained: memory and speed only, its stems mean nothing) in
   child processes; reported: peak RSS (the child's ``VmHWM``) of ``stems.separate_file`` (demucs'
   segment loop run as the file streams in, stem files written as they come) at both lengths, of
   demucs' own whole-track processing (``demucs.apply.apply_model`` on the decoded track, 10
   minutes only), and of a child that only imports the modules and builds the model; plus x real
   time. The segment is 7.8 s (htdemucs' own), so the segment geometry is that of the default model.

Usage: ``python -m benchmarks.bench_separation [--minutes 10 60] [--repeats 5] [--skip-demucs | --skip-hpss]
[--skip-whole] [--log FILE]`` (whole-track runs at the first ``--minutes`` only; with a ``--skip-*``
option the results go to ``separation_demucs.json`` / ``separation_hpss.json``).
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
SEGMENT = 7.8


def hpss_speed(repeats: int) -> dict:
    import librosa

    from technob_fx.stages.hpss import HarmonicPercussive
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    audio, _ = synth_techno(SHORT_STRUCTURE, seed=6)
    audio = audio[:, : 60 * SR] if audio.shape[1] >= 60 * SR else np.tile(audio, (1, 2))[:, : 60 * SR]
    node = HarmonicPercussive()
    node.split(audio[:, : SR * 5], SR)
    librosa.effects.hpss(audio[:, : SR * 5])  # warm-up both
    t_ours, t_lib = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        node.split(audio, SR)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        librosa.effects.hpss(audio)
        t_lib.append(time.perf_counter() - t0)
    dur = audio.shape[1] / SR
    ours, lib = dur / statistics.median(t_ours), dur / statistics.median(t_lib)
    return {"audio_seconds": dur, "x_realtime": ours, "librosa_x_realtime": lib, "speedup_vs_librosa": ours / lib,
            "latency_samples": node.latency}


IMPORTS = ("import sys, time, torch\ntorch.set_num_threads(2)\nfrom technob_fx.stages.stems import load_model, separate_file, "
           "separate_stems\nfrom technob_fx.core.io import read_audio\nmodel = load_model('demucs_unittest')\n"
           "def hwm():\n    return [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
           "def report(f, m, _last=[-1]):\n    if int(f * 20) > _last[0]:\n        _last[0] = int(f * 20)\n"
           "        print(f'{f:.2f} VmHWM {hwm()} kB {time.strftime(\"%H:%M:%S\")}', file=sys.stderr, flush=True)\n")


def _timed_child(out: dict, src: Path, minutes: float, mode: str, label: str, setup: str, call: str,
                 log: Path | None) -> None:
    """Write ``minutes`` of track to ``src``, time ``call`` (after ``setup``) in a child, record a run."""
    seconds = make_long_file(src, minutes)
    code = IMPORTS + setup + f"t = time.perf_counter()\n{call}\nprint('SECONDS', time.perf_counter() - t)"
    peak, _, text = run_child(code, 7200, stderr_log=log)
    secs = float(text.split("SECONDS")[1])
    out["runs"].append({"minutes": minutes, "mode": mode, "peak_rss_mib": peak,
                        "seconds": secs, "x_realtime": seconds / secs})
    print(f"  demucs_unittest {label}, {minutes:g} min: peak RSS {peak:.0f} MiB, "
          f"{seconds / secs:.1f}x real time", flush=True)
    src.unlink()


def demucs_memory(minutes_list: list[float], log: Path | None = None, whole_track: bool = True) -> dict:
    out: dict = {"model": "demucs_unittest", "segment_s": SEGMENT, "runs": []}
    base, _, _ = run_child(IMPORTS)
    out["import_only_peak_rss_mib"] = base
    with tempfile.TemporaryDirectory(prefix="technob-bench-sep-") as tmp:
        for minutes in minutes_list:
            src = Path(tmp) / f"long{minutes:g}.wav"
            _timed_child(out, src, minutes, "streamed separate_file", "streamed", "",
                         f"separate_file({str(src)!r}, {str(Path(tmp) / 'stems')!r}, model=model, "
                         f"segment={SEGMENT}, shifts=0, progress=report)", log)
        if whole_track:
            # Last, so that the streamed runs at every length are measured first.
            minutes = minutes_list[0]
            src = Path(tmp) / f"long{minutes:g}.wav"
            _timed_child(out, src, minutes, "whole-track (demucs' own)", "whole-track",
                         f"audio, sr = read_audio({str(src)!r})\nfrom demucs.apply import apply_model\n",
                         f"stems = apply_model(model, torch.from_numpy(audio)[None], shifts=0, segment={SEGMENT})",
                         log)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-demucs", action="store_true")
    parser.add_argument("--skip-hpss", action="store_true")
    parser.add_argument("--skip-whole", action="store_true", help="no whole-track run")
    parser.add_argument("--log", type=Path, default=None, help="append the children's progress (VmHWM) here")
    args = parser.parse_args(argv)
    res: dict = {}
    if not args.skip_hpss:
        res["hpss"] = hpss_speed(args.repeats)
        h = res["hpss"]
        print(f"HPSS on {h['audio_seconds']:.0f} s stereo: {h['x_realtime']:.1f}x real time vs librosa.effects.hpss "
              f"{h['librosa_x_realtime']:.1f}x -> {h['speedup_vs_librosa']:.2f}x faster "
              f"(streams with {h['latency_samples']} samples latency)", flush=True)
    if not args.skip_demucs:
        res["demucs"] = demucs_memory(args.minutes, args.log, not args.skip_whole)
        d = res["demucs"]
        print(f"demucs peak RSS (imports + model alone {d['import_only_peak_rss_mib']:.0f} MiB):")
        for r in d["runs"]:
            print(f"  {r['mode']:28s} {r['minutes']:5.0f} min  {r['peak_rss_mib']:7.0f} MiB  "
                  f"{r['x_realtime']:6.1f}x real time")
    name = "separation" if not (args.skip_hpss or args.skip_demucs) else (
        "separation_demucs" if args.skip_hpss else "separation_hpss")
    save(name, res)
    return res


if __name__ == "__main__":
    main()
