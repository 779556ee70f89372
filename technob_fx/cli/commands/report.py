"""``technob report IN [-o DIR] [--stems DIR] [--no-png] [--no-html]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="report.png and report.html of a track or an analysis: see it before the DAW",
        description="Draw an analysis: DIR/report.png (waveform with bars and beats, sections, tempo, "
        "short-term loudness, key) and DIR/report.html (one offline page: player over a zoomable "
        "waveform, beat and bar lines, sections, a click track on the grid, stems with solo/mute, "
        "tempo map and every figure of analysis.json). IN is an audio file (analysed first, the "
        "analysis written into DIR) or an analysis folder / analysis.json.",
    )
    p.add_argument("input", type=Path, help="audio file, or an analysis folder or its analysis.json")
    p.add_argument("-o", "--out-dir", type=Path, default=None,
                   help="folder for the report (default: the analysis folder, or IN's name + '.analysis')")
    p.add_argument("--stems", type=Path, action="append", default=None, metavar="DIR",
                   help="folder of stems to show as lanes (repeatable; default: separations found "
                   "beside the analysis, e.g. hpss/ or stems_htdemucs/)")
    p.add_argument("--no-png", action="store_true", help="do not write report.png")
    p.add_argument("--no-html", action="store_true", help="do not write report.html")
    p.add_argument("--min-bpm", type=float, default=None, help="audio input: lowest tempo considered (default 55)")
    p.add_argument("--max-bpm", type=float, default=None, help="audio input: highest tempo considered (default 180)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...core.progress import bar
    from ...report import write_report

    with bar(f"report {args.input.name}", enabled=None if not args.quiet else False) as cb:
        res = write_report(args.input, args.out_dir, stem_dirs=args.stems, png=not args.no_png,
                           html=not args.no_html, min_bpm=args.min_bpm, max_bpm=args.max_bpm, progress=cb)
    if not args.quiet:
        print_report(res)
    return 0


def print_report(res) -> None:  # noqa: ANN001 - technob_fx.report.ReportFiles
    """The lines ``technob report`` and ``technob analyze --report`` print."""
    for note in res.data.notes:
        print(f"note: {note}")
    if res.data.stems:
        print(f"stems: {', '.join(f'{s.group}/{s.name}' for s in res.data.stems)}")
    if res.png is not None:
        print(f"wrote {res.png}")
    if res.html is not None:
        kib = res.html.stat().st_size / 1024
        print(f"wrote {res.html} ({kib:.0f} KiB); open {res.html.resolve().as_uri()}")
