"""``technob analyze IN [-o DIR] [--min-bpm BPM] [--max-bpm BPM] [--beats-per-bar N] [--downbeat SECONDS]
[--not-a-loop] [--report]``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="beats, downbeats, sections, key, pitch and features of a track",
        description="Analyse IN (tempo, beat grid, downbeats, intro/build/drop/breakdown/outro "
        "sections, key, f0 and notes, loudness and timbre features) and write DIR/analysis.json "
        "plus frames.npz, pitch.npz and loudness.npz beside it.",
    )
    p.add_argument("input", type=Path, help="audio file (wav, flac, mp3, ogg, aiff; never modified)")
    p.add_argument("-o", "--out-dir", type=Path, default=None,
                   help="folder for analysis.json and the arrays (default: IN's name + '.analysis')")
    p.add_argument("--min-bpm", type=float, default=None, help="lowest tempo considered (default 55)")
    p.add_argument("--max-bpm", type=float, default=None, help="highest tempo considered (default 180)")
    p.add_argument("--beats-per-bar", type=int, default=None, metavar="N",
                   help="force the meter, 1-16 beats per bar (default: 3 or 4, estimated from the audio)")
    p.add_argument("--downbeat", type=float, default=None, metavar="SECONDS",
                   help="force the bar phase: the beat nearest to this time is a downbeat; a time between "
                        "two beats moves the grid half a beat onto it (default: found from the audio)")
    p.add_argument("--not-a-loop", dest="loop", action="store_false",
                   help="a clip of up to 16 s is cut from a longer piece: do not read it as a loop of whole "
                        "beats (by default a one-bar loop gets its tempo from its length)")
    p.add_argument("--report", action="store_true",
                   help="also write DIR/report.png and DIR/report.html (see `technob report`)")
    p.add_argument("--notes", action="store_true",
                   help="also transcribe the polyphonic notes (bass, chords, lead) and name the chord of "
                        "every bar (about 20x real time; the rest of the analysis runs over 100x)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...core.errors import ParameterError, PathError
    from ...core.progress import bar
    from ...stages.analysis import analyze_file

    if args.input.is_dir():
        raise PathError(f"{args.input}: is a folder, not an audio file")
    if not args.input.is_file():
        raise PathError(f"input file not found: {args.input}")
    if args.beats_per_bar is not None and not 1 <= args.beats_per_bar <= 16:
        raise ParameterError(f"--beats-per-bar must be 1 to 16, got {args.beats_per_bar}")
    if args.downbeat is not None and not (math.isfinite(args.downbeat) and args.downbeat >= 0):
        raise ParameterError(f"--downbeat must be a time >= 0 seconds, got {args.downbeat:g}")
    for name in ("min_bpm", "max_bpm"):
        v = getattr(args, name)
        if v is not None and not (math.isfinite(v) and 0 < v <= 400):
            raise ParameterError(f"--{name.replace('_', '-')} must be in (0, 400] BPM, got {v:g}")
    out_dir = args.out_dir if args.out_dir is not None else args.input.with_name(args.input.name + ".analysis")
    if out_dir.exists() and not out_dir.is_dir():
        raise PathError(f"output folder is a file: {out_dir}")
    with bar(f"analyze {args.input.name}", enabled=None if not args.quiet else False) as cb:
        res = analyze_file(args.input, out_dir, progress=cb, min_bpm=args.min_bpm, max_bpm=args.max_bpm,
                           notes=args.notes, beats_per_bar=args.beats_per_bar, downbeat=args.downbeat,
                           loop=args.loop)
    if not args.quiet:
        total = sum(res.timings.values())
        print(f"{args.input.name}: {res.duration:.1f} s, {res.tempo:.2f} BPM, key {res.key.label}, "
              f"{res.features.integrated_lufs:.1f} LUFS, {len(res.grid.beats)} beats, "
              f"{len(res.grid.downbeats)} bars of {res.grid.beats_per_bar}, {len(res.pitch.notes)} notes"
              + (f", {len(res.transcription.notes)} transcribed notes" if res.transcription else ""))
        for s in res.segments:
            print(f"  {s.start:8.2f} - {s.end:8.2f} s  {s.label}")
        print(f"wrote {out_dir / 'analysis.json'} ({res.duration / max(total, 1e-9):.0f}x real time)")
    if args.report:
        from ...report import write_report
        from .report import print_report

        with bar(f"report {args.input.name}", enabled=None if not args.quiet else False) as cb:
            rep = write_report(out_dir, out_dir, progress=cb)
        if not args.quiet:
            print_report(rep)
    return 0
