"""``technob demo [-o DIR] [--quick]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the whole job on a synthesised techno track (no input needed)",
        description="Synthesise a 3-minute techno track with known tempo, beats, sections and notes, "
        "render it through the shipped presets and run every stage on it, writing the results "
        "and a summary.json into a folder.",
    )
    p.add_argument("-o", "--output", type=Path, default=Path("technob-demo"),
                   help="folder to write into (default: ./technob-demo)")
    p.add_argument("--quick", action="store_true", help="a 52-second track and lighter settings")
    p.add_argument("--step", action="append", dest="steps", metavar="TITLE",
                   help="run only this demo step (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...core.progress import bar
    from ...demo import run_demo

    run_demo(args.output, quick=args.quick, progress_factory=bar, steps=args.steps)
    return 0
