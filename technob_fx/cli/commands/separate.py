"""``technob separate IN -o DIR [--engine demucs|hpss] [--model NAME] [--repo DIR] ...``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "separate", help="split a track into stems (demucs) or harmonic/percussive parts (hpss)",
        description="Separate IN into one file per stem in DIR, streaming with bounded "
        "memory (demucs: its own segment loop run as the file is read, stems equal to a whole-track run). demucs weights come from --repo DIR, the torch hub cache or the hub; offline "
        "without them the error says which files to fetch and where to put them.",
    )
    p.add_argument("input", type=Path, help="audio file (never modified)")
    p.add_argument("-o", "--out-dir", type=Path, default=None,
                   help="folder for the stem files (created; default: <name>_stems/ beside IN). A stems.json "
                   "there lets 'technob export IN' put every stem on its own track")
    p.add_argument("--engine", choices=("demucs", "hpss"), default="demucs", help="demucs (default) or hpss")
    p.add_argument("--model", default="htdemucs",
                   help="demucs model: htdemucs (default), htdemucs_ft, htdemucs_6s, mdx_extra, ... "
                   "or demucs_unittest (tiny, untrained: for testing only)")
    p.add_argument("--repo", type=Path, default=None, help="local folder with demucs weights (<sig>.th, <name>.yaml)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    p.add_argument("--segment", type=float, default=None, help="demucs segment length, s (default: the model's)")
    p.add_argument("--overlap", type=float, default=0.25, help="demucs segment overlap (default 0.25)")
    p.add_argument("--shifts", type=int, default=1, help="demucs random shifts averaged (default 1; 0 = fastest)")
    p.add_argument("--parts", default="harmonic,percussive",
                   help="hpss: comma-separated parts among harmonic,percussive,residual")
    p.add_argument("--margin", type=float, default=1.0, help="hpss: mask margin for both parts (>= 1)")
    p.add_argument("--format", dest="fmt", default="wav", choices=("wav", "flac", "aiff", "ogg", "mp3"),
                   help="output format (default wav)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=None, help="wav/flac/aiff bit depth")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from ...core.errors import PathError
    from ...core.io import audio_info
    from ...core.progress import bar
    from ...stages.separation import default_out_dir, separate

    info = audio_info(args.input)
    if args.out_dir is None:
        args.out_dir = default_out_dir(args.input)
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise PathError(f"output folder is a file: {args.out_dir} (-o takes a folder for the stem files)")
    if args.engine == "demucs":
        opts = dict(model=args.model, repo=args.repo, device=args.device, segment=args.segment,
                    overlap=args.overlap, shifts=args.shifts)
    else:
        opts = dict(parts=tuple(p.strip() for p in args.parts.split(",") if p.strip()),
                    margin_harmonic=args.margin, margin_percussive=args.margin)
    t0 = time.perf_counter()
    with bar(f"separate {args.input.name}", enabled=None if not args.quiet else False) as cb:
        paths = separate(args.input, args.out_dir, engine=args.engine, progress=cb, fmt=args.fmt,
                         bit_depth=args.bit_depth, **opts)
    if not args.quiet:
        el = time.perf_counter() - t0
        what = f"demucs {args.model}" if args.engine == "demucs" else "hpss"
        print(f"wrote {', '.join(str(p) for p in paths.values())} ({what}, {info.duration:.1f} s, "
              f"{info.duration / max(el, 1e-9):.1f}x real time)")
        if args.engine == "demucs" and args.model == "demucs_unittest":
            print("note: demucs_unittest is an untrained test model; its stems are not meaningful")
    return 0
