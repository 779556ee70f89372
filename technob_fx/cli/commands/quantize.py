"""``technob quantize IN OUT --bpm 128 [--grid beat|bar|16th] [--strength 1.0] [--engine ...] [--loop]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quantize", help="warp a track onto a constant-tempo grid (keeps pitch)",
        description="Detect the beats of IN (or read them from --grid-file), move every beat, bar or "
        "16th onto a grid at --bpm, and write the time-stretched audio to OUT atomically. "
        "--also warps further files (stems of IN, same length) with the same time map.",
    )
    p.add_argument("input", type=Path, help="audio file (never modified)")
    p.add_argument("output", type=Path, help="file to write; must not be the input")
    p.add_argument("--bpm", type=float, required=True, help="target tempo, BPM (20-400)")
    p.add_argument("--grid", choices=("beat", "bar", "16th"), default="beat",
                   help="anchor every beat (default), bar or 16th")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0 keeps the timing, 1 (default) puts every anchor on the grid")
    p.add_argument("--engine", choices=("pedalboard", "rubberband"), default="pedalboard",
                   help="pedalboard (built-in Rubber Band, default) or the rubberband program")
    p.add_argument("--high-quality", action="store_true",
                   help="slower, finer stretching (pedalboard: Rubber Band R3 engine)")
    p.add_argument("--grid-file", type=Path, default=None,
                   help="beat grid JSON: a BeatGrid ({'beats': [...], 'downbeats': [...], ...}), "
                   "{'beats': [...]} or a plain list of beat times in seconds")
    p.add_argument("--also", nargs=2, action="append", metavar=("STEM_IN", "STEM_OUT"), default=[],
                   help="warp another file of the same length with the same time map (repeatable)")
    p.add_argument("--time-map", type=Path, default=None, help="write the time map used as JSON")
    p.add_argument("--loop", action="store_true",
                   help="loop-exact output: start on the first downbeat and cut to a whole number of bars "
                   "(exact to the sample); WAV outputs carry the tempo in an 'acid' chunk (read by Live, "
                   "FL Studio, REAPER, Bitwig)")
    p.add_argument("--bars", type=int, default=None, help="with --loop: bars to keep (default: all whole bars)")
    p.add_argument("--downbeat", type=float, default=None, metavar="SECONDS",
                   help="correct the grid: time of a downbeat of the input")
    p.add_argument("--beats-per-bar", type=int, default=None, metavar="N", help="correct the grid: meter numerator")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def load_grid(path: Path):  # noqa: ANN201 - BeatGrid
    """Read a beat grid JSON file: an ``analysis.json`` (through the one reader), a BeatGrid dict,
    ``{"beats": [...]}`` or a list of times."""
    import numpy as np

    from ...core.errors import ParameterError
    from ...core.results import BeatGrid

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such grid file") from None
    except IsADirectoryError:
        raise ParameterError(f"{path}: is a folder; give a beat grid or analysis.json file") from None
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{path}: not a readable JSON beat grid ({exc})") from None
    if isinstance(data, dict) and (str(data.get("schema", "")).startswith("technob-analysis")
                                   or ("duration" in data and "tempo" in data)):
        from ...stages.analysis import read_analysis

        return read_analysis(path).grid  # the track's analysis (with any corrections pulled in)
    if isinstance(data, dict) and isinstance(data.get("grid"), dict):
        data = data["grid"]
    if isinstance(data, list):
        data = {"beats": data}
    if not isinstance(data, dict) or "beats" not in data:
        raise ParameterError(f"{path}: expected a list of beat times or an object with 'beats'")
    try:
        beats = np.asarray(data["beats"], dtype=np.float64).reshape(-1)
        downbeats = np.asarray(data.get("downbeats", beats[:: int(data.get("beats_per_bar", 4))]),
                               dtype=np.float64)
        tempo = float(data.get("tempo") or (60.0 / np.median(np.diff(beats)) if beats.size > 1 else 0.0))
        return BeatGrid(beats, downbeats, tempo, int(data.get("beats_per_bar", 4)))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{path}: bad beat grid ({exc})") from None


def run(args: argparse.Namespace) -> int:
    import time

    from ...core.errors import PathError
    from ...core.io import atomic_write_text, check_output_path, read_audio
    from ...core.progress import bar
    from ...core.runner import AudioOutputs
    from ...stages.quantize import check_bpm, detect_grid, time_map, warp

    check_bpm(args.bpm)
    if args.bars is not None and not args.loop:  # checked before any work
        from ...core.errors import ParameterError

        raise ParameterError("--bars needs --loop")
    if args.bars is not None and args.bars < 1:
        from ...core.errors import ParameterError

        raise ParameterError(f"--bars must be at least 1, got {args.bars}")
    inputs = [args.input] + [Path(a) for a, _ in args.also]
    outs = [args.output] + [Path(b) for _, b in args.also]
    for out in outs:
        check_output_path(out, inputs)
    if len({o.resolve() for o in outs}) != len(outs):
        raise PathError("two outputs have the same path")
    grid = load_grid(args.grid_file) if args.grid_file is not None else None
    audio, sr = read_audio(args.input)
    t0 = time.perf_counter()
    if grid is None:
        grid = detect_grid(audio, sr)
    if args.downbeat is not None or args.beats_per_bar is not None:
        from ...core.tempo import corrected_grid

        grid = corrected_grid(grid, downbeat=args.downbeat, beats_per_bar=args.beats_per_bar,
                              duration=audio.shape[-1] / sr)
    tm = time_map(grid, args.bpm, unit=args.grid, strength=args.strength)
    loop = None
    if args.loop:  # checked before the (long) warp: a loop that does not fit is refused at once
        from ...stages.quantize import loop_region

        n_out = int(round(tm.output_duration(audio.shape[1] / sr) * sr))
        loop = loop_region(grid, tm, sr, n_out, bars=args.bars)
    extra = []
    for stem_in, _ in args.also:
        stem, stem_sr = read_audio(stem_in)
        if stem_sr != sr or stem.shape[1] != audio.shape[1]:
            from ...core.errors import AudioError

            raise AudioError(f"{stem_in}: {stem.shape[1]} samples at {stem_sr:g} Hz, but {args.input} has "
                             f"{audio.shape[1]} at {sr:g} Hz; stems must match the track")
        extra.append(stem)
    results = []
    with bar(f"quantize {args.input.name}", enabled=None if not args.quiet else False) as cb:
        for i, x in enumerate([audio] + extra):
            results.append(warp(x, sr, tm, engine=args.engine, high_quality=args.high_quality))
            cb((i + 1) / (1 + len(extra)), f"warped {i + 1}/{1 + len(extra)}")
    elapsed = time.perf_counter() - t0
    chunks = None
    if loop is not None:
        from ...core.io import acid_chunk

        results = [y[:, loop.start: loop.start + loop.length] for y in results]
        chunks = {"acid": acid_chunk(loop.bpm, loop.beats, loop.beats_per_bar, 4)}
    # Write only once everything is computed, all outputs or none (the one file runner's writer):
    # an error above or while writing leaves no output at all.
    names = [str(i) for i in range(len(outs))]
    tags = {n: chunks for n, out in zip(names, outs, strict=True) if chunks and out.suffix.lower() == ".wav"}
    with AudioOutputs(dict(zip(names, outs, strict=True)), sr, inputs=inputs, chunks=tags) as files:
        for n, y in zip(names, results, strict=True):
            files.write(n, y)
    if args.time_map is not None:
        atomic_write_text(args.time_map, tm.to_json() + "\n")
    if not args.quiet:
        n = results[0].shape[1]
        speed = audio.shape[1] / sr * len(results) / max(elapsed, 1e-9)
        what = (f"{loop.bars} bars of {loop.beats_per_bar} at {args.bpm:g} BPM from the first downbeat "
                f"({loop.start / sr:.3f} s into the warped audio), " if loop else "")
        tagged = " (tempo in its acid chunk)" if chunks and args.output.suffix.lower() == ".wav" else ""
        print(f"wrote {args.output}{tagged}: {what}{n / sr:.3f} s = {n} samples at {sr:g} Hz, {args.bpm:g} BPM "
              f"({args.grid} grid, strength {args.strength:g}, {args.engine}; input {grid.tempo:.2f} BPM, "
              f"{audio.shape[1] / sr:.3f} s), {speed:.0f}x real time")
    return 0
