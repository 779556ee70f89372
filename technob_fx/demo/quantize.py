"""``technob demo`` step: a drifting track warped onto a steady tempo grid, with its stems."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np

from ..stages.quantize import _kick_onsets, detect_grid, time_map, warp, warp_stems
from . import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """Demo: a track drifting 122 -> 134 BPM, beats detected, warped onto 128 BPM (both engines
    when available), its stems warped with the same map; kick alignment reported."""
    import time

    from ..core.io import write_audio
    from ..synth import SHORT_STRUCTURE, synth_techno

    sr = ctx.sample_rate
    structure = SHORT_STRUCTURE if ctx.quick else (("intro", 8), ("drop", 16), ("breakdown", 4), ("drop", 8))
    audio, truth, stems = synth_techno(structure, bpm=122.0, bpm_end=134.0, seed=7, return_stems=True,
                                       sample_rate=int(sr))
    write_audio(ctx.out_dir / "drifting.wav", audio, sr)
    grid = detect_grid(audio, sr)
    tm = time_map(grid, 128.0, unit="beat", strength=1.0)
    tm.to_json(ctx.out_dir / "drifting_time_map.json")
    bias = np.nanmedian(_kick_onsets(audio, sr, truth.kick_times) - truth.kick_times)
    target = tm.map_times(truth.kick_times, audio.shape[1] / sr)
    engines = ["pedalboard"] + (["rubberband"] if shutil.which("rubberband") else [])
    summary: dict[str, Any] = {"bpm_from": 122.0, "bpm_to": 134.0, "target_bpm": 128.0,
                               "detected_beats": int(grid.beats.size)}
    warped_mix: dict[str, np.ndarray] = {}
    for engine in engines:
        t0 = time.perf_counter()
        out = warped_mix[engine] = warp(audio, sr, tm, engine=engine)
        secs = time.perf_counter() - t0
        path = write_audio(ctx.out_dir / f"drifting_quantized_{engine}.wav", out, sr)
        err = np.abs(_kick_onsets(out, sr, target) - target - bias) * 1000
        summary[engine] = {"file": path.name, "median_ms": round(float(np.nanmedian(err)), 2),
                           "p95_ms": round(float(np.nanpercentile(err, 95)), 2),
                           "x_realtime": round(audio.shape[1] / sr / secs, 1)}
        ctx.log(f"  {engine}: warped {audio.shape[1] / sr:.0f} s onto 128 BPM -> {path.name}; kicks "
                f"{summary[engine]['median_ms']:.1f} ms median / {summary[engine]['p95_ms']:.1f} ms p95 off "
                f"the grid, {summary[engine]['x_realtime']:.0f}x real time")
    if len(engines) == 1:
        ctx.log("  rubberband engine skipped: the 'rubberband' program is not installed "
                "(apt-get install rubberband-cli)")
    warped = warp_stems({"drums": stems["drums"], "music": stems["bass"] + stems["pad"] + stems["lead"]}, sr, tm)
    for k, v in warped.items():
        write_audio(ctx.out_dir / f"drifting_quantized_{k}.wav", v, sr)
    lag = _kick_onsets(warped["drums"], sr, target) - _kick_onsets(warped_mix["pedalboard"], sr, target)
    summary["stems_kick_lag_ms"] = round(float(np.nanmedian(np.abs(lag)) * 1000), 2)
    ctx.log(f"  stems warped with the same time map stay aligned: kicks {summary['stems_kick_lag_ms']:.2f} ms "
            "from the warped mix's")
    ctx.summary["quantize"] = summary
