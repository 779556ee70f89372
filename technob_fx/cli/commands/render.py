"""``technob render IN OUT --preset NAME|PATH [--set element.param=value ...]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import add_set_option, parse_sets


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render", help="render an audio file through a preset chain",
        description="Stream IN through the chain of a preset, block by block with bounded memory, "
        "and write OUT atomically (the format follows OUT's extension: wav, flac, mp3, ogg, aiff).",
    )
    p.add_argument("input", type=Path, help="audio file to render (never modified)")
    p.add_argument("output", type=Path, help="file to write; must not be the input")
    p.add_argument("--preset", required=True, help="shipped preset name (technob presets list) or a .toml file")
    add_set_option(p)
    p.add_argument("--sample-rate", type=float, default=None, help="resample the input to this rate (Hz) first")
    p.add_argument("--block-size", type=int, default=65536, help="samples read per block (default 65536)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=None, help="wav/flac/aiff bit depth")
    p.add_argument("--results", type=Path, default=None, help="write analyzer results of the chain to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar or timing summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...core.chain import Chain
    from ...core.errors import AudioError
    from ...core.io import atomic_write_text, audio_info
    from ...core.progress import bar

    if args.block_size < 1:
        raise AudioError(f"--block-size must be >= 1, got {args.block_size}")
    if args.sample_rate is not None:
        from ...core.audio import check_sample_rate

        check_sample_rate(args.sample_rate)
    if args.results is not None:  # refused before rendering, not after the audio is written
        import os

        from ...core.errors import PathError
        from ...core.io import check_output_path

        res = check_output_path(args.results, [args.input, args.output])
        if not os.access(res.parent if str(res.parent) else ".", os.W_OK):
            raise PathError(f"{args.results}: cannot write (folder {res.parent} is not writable)")
    chain = Chain.from_preset(args.preset, overrides=parse_sets(args.sets))
    info = audio_info(args.input)
    with bar(f"render {args.input.name}", enabled=None if not args.quiet else False) as cb:
        out = chain.process_file(
            args.input, args.output, block_size=args.block_size, sample_rate=args.sample_rate,
            progress=cb, bit_depth=args.bit_depth,
        )
    if args.results is not None:
        data = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in out.results.items()}
        atomic_write_text(args.results, json.dumps(data, indent=2) + "\n")
    if not args.quiet:
        print(f"wrote {args.output} ({info.duration:.1f} s, {out.realtime_factor:.0f}x real time)")
        print(chain.timing_report(out.duration))
    return 0
