"""Warp alignment and speed of quantization, both engines, against a naive per-beat baseline.

A synthesised techno track whose tempo drifts from 122 to 134 BPM (52 s, 28 bars) is warped onto
a 128 BPM grid with the true beat grid, and again with the grid detected by the analysis stage
(``technob_fx.stages.quantize.detect_grid``). In every output the kicks are re-detected (onset of the
low band: the envelope below 120 Hz crossing 30 % of its local peak; the detector's own bias,
measured on the input, is removed) and their distance to the 128 BPM target grid reported as
median and 95th percentile, in ms (goal: median < 5 ms, p95 < 15 ms). Speed is x real time
(median of ``--repeats`` runs; goal >= 20x for the default pedalboard engine).

Baseline (same process): a naive warp that time-stretches every beat segment separately with
``librosa.effects.time_stretch`` (phase vocoder) and concatenates them. It hits the anchors by
construction, but leaves a seam at every beat: "pad seams" is the energy above 6 kHz within
+-3 ms of the anchors, relative to half-way between them, in the warped pad stem (sustained
chords; 0 dB = no clicks).

Usage: ``python -m benchmarks.bench_quantize [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

import numpy as np

from benchmarks._util import save
from technob_fx.stages.quantize import _kick_onsets

SR = 44100


def naive_warp(audio: np.ndarray, tm) -> np.ndarray:  # noqa: ANN001 - TimeMap
    """Per-segment phase-vocoder stretch, concatenated (the baseline)."""
    import librosa

    src, dst = tm.extended(audio.shape[1] / SR)
    parts = []
    done = 0
    for i in range(src.size - 1):
        a, b = int(round(src[i] * SR)), int(round(src[i + 1] * SR))
        n_out = int(round(dst[i + 1] * SR)) - done
        seg = audio[:, a:b]
        if seg.shape[1] < 2048 or n_out <= 0:
            y = np.zeros((audio.shape[0], max(n_out, 0)), np.float32)
        else:
            y = librosa.effects.time_stretch(seg, rate=seg.shape[1] / n_out)
            y = y[:, :n_out] if y.shape[1] >= n_out else np.pad(y, ((0, 0), (0, n_out - y.shape[1])))
        parts.append(y.astype(np.float32))
        done += max(n_out, 0)
    return np.concatenate(parts, axis=1)


def seam_db(y: np.ndarray, tm, n_in: int) -> float:  # noqa: ANN001 - TimeMap
    """Clicks at the anchors: energy above 6 kHz within +-3 ms of each anchor's target vs the
    median of the same measure half-way between anchors, dB (0 = no seams)."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, 6000, "hp", fs=SR, output="sos")
    hf = sosfilt(sos, y.mean(axis=0).astype(np.float64)) ** 2
    w = int(0.003 * SR)
    _, dst = tm.extended(n_in / SR)
    at = (dst[1:-1] * SR).astype(int)
    mid = ((dst[1:-2] + dst[2:-1]) / 2 * SR).astype(int)

    def level(points: np.ndarray) -> float:
        vals = [hf[max(p - w, 0) : p + w].mean() for p in points if p + w < hf.size]
        return float(np.median(vals)) + 1e-20

    return 10 * np.log10(level(at) / level(mid))


def measure(name: str, warp_fn, audio, truth, tm, repeats: int, pad=None) -> dict:  # noqa: ANN001
    """Time ``warp_fn(audio)`` and score its kicks; with ``pad``, also the seams of ``warp_fn(pad)``."""
    warp_fn(audio)  # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = warp_fn(audio)
        times.append(time.perf_counter() - t0)
    bias = np.median(_kick_onsets(audio, SR, truth.kick_times) - truth.kick_times)
    target = tm.map_times(truth.kick_times, audio.shape[1] / SR)
    # The 128 BPM grid itself, for the record: every target is on it.
    err = np.abs(_kick_onsets(out, SR, target) - target - bias) * 1000
    dur = audio.shape[1] / SR
    seams = seam_db(warp_fn(pad), tm, audio.shape[1]) if pad is not None else None
    return {
        "engine": name,
        "pad_seam_db": seams,
        "median_ms": float(np.median(err)),
        "p95_ms": float(np.percentile(err, 95)),
        "max_ms": float(np.max(err)),
        "kicks": int(err.size),
        "seconds": statistics.median(times),
        "x_realtime": dur / statistics.median(times),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from technob_fx.stages.quantize import detect_grid, time_map, warp
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    audio, truth, stems = synth_techno(SHORT_STRUCTURE, bpm=122.0, bpm_end=134.0, seed=5, return_stems=True)
    pad = stems["pad"]  # sustained chords: seams at the anchors show up as clicks in them
    tm = time_map(truth.grid, 128.0)
    on_grid = np.allclose(np.diff(tm.target), 60 / 128)
    rows = [
        measure("pedalboard", lambda x: warp(x, SR, tm), audio, truth, tm, args.repeats, pad),
        measure("pedalboard high_quality", lambda x: warp(x, SR, tm, high_quality=True), audio, truth, tm,
                args.repeats, pad),
    ]
    if shutil.which("rubberband"):
        rows.append(measure("rubberband", lambda x: warp(x, SR, tm, engine="rubberband"), audio, truth, tm,
                            args.repeats, pad))
    rows.append(measure("naive librosa per beat", lambda x: naive_warp(x, tm), audio, truth, tm, 1, pad))
    t0 = time.perf_counter()
    grid = detect_grid(audio, SR)
    detect_s = time.perf_counter() - t0
    tm_det = time_map(grid, 128.0)
    detected = [measure("pedalboard (detected grid)", lambda x: warp(x, SR, tm_det), audio, truth, tm_det, 1)]
    if shutil.which("rubberband"):
        detected.append(measure("rubberband (detected grid)", lambda x: warp(x, SR, tm_det, engine="rubberband"),
                                audio, truth, tm_det, 1))
    base = rows[-1]["x_realtime"]
    for r in rows + detected:
        r["speed_vs_naive"] = r["x_realtime"] / base
    res = {
        "track": {"seconds": audio.shape[1] / SR, "bpm_start": 122.0, "bpm_end": 134.0, "target_bpm": 128.0,
                  "targets_on_grid": bool(on_grid)},
        "true_grid": rows,
        "detected_grid": detected,
        "detect_grid_seconds": detect_s,
        "goals": {"median_ms": 5.0, "p95_ms": 15.0, "x_realtime_pedalboard": 20.0},
    }
    print(f"Warp {res['track']['seconds']:.0f} s drifting 122->134 BPM onto 128 BPM; kick onsets vs target grid")
    print(f"{'engine':32s} {'median ms':>9s} {'p95 ms':>7s} {'max ms':>7s} {'x RT':>7s} {'vs naive':>8s} "
          f"{'pad seams dB':>12s}")
    for r in rows + detected:
        seams = f"{r['pad_seam_db']:12.1f}" if r["pad_seam_db"] is not None else f"{'-':>12s}"
        print(f"{r['engine']:32s} {r['median_ms']:9.2f} {r['p95_ms']:7.2f} {r['max_ms']:7.2f} "
              f"{r['x_realtime']:7.1f} {r['speed_vs_naive']:7.1f}x {seams}")
    print("goals: median < 5 ms, p95 < 15 ms, pedalboard >= 20x real time")
    save("quantize", res)
    return res


if __name__ == "__main__":
    main()
