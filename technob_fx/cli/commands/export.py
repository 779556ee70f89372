"""``technob export IN --to reaper|midi|jams|labels|dawproject -o DIR``: files a DAW or MIR tool opens."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export beats, tempo map, sections, key and notes for a DAW",
        description="Write a REAPER project (.RPP: tempo map, section markers and regions, one track "
        "per stem), a Standard MIDI File (tempo map, time signature, section markers, a drum note "
        "per beat, pitch notes), JAMS annotations, Audacity label tracks and a DAWproject (Bitwig, "
        "Studio One, Cubase: tempo and time-signature automation, markers, the mix and stems). IN is an audio file "
        "(analysed with technob_fx.stages.analysis) or an analysis .json file.",
    )
    p.add_argument("input", type=Path, help="audio file or analysis .json (never modified)")
    p.add_argument("--to", action="append", default=None, metavar="FORMAT",
                   help="reaper, midi, jams, labels, dawproject, rekordbox (NAME.xml), traktor (NAME.nml) or all "
                   "(all but the last two); comma-separated or repeated (default: all)")
    p.add_argument("-o", "--out-dir", type=Path, required=True, help="folder to write into (created)")
    p.add_argument("--stem", action="append", default=[], metavar="NAME=PATH",
                   help="a stem audio file for the REAPER project (repeatable); adds to the JSON's stems")
    p.add_argument("--audio", type=Path, default=None, help="the mix audio file for the REAPER project")
    p.add_argument("--stems-dir", action="append", type=Path, default=[], metavar="DIR",
                   help="where 'technob separate' wrote stems (searched with its sub-folders; default: "
                   "<name>_stems/ and the folders beside the audio). Every stem found goes on a track")
    p.add_argument("--no-stems", action="store_true", help="don't look for stems of the track")
    p.add_argument("--name", default=None, help="base name of the written files (default: from IN)")
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo override: a constant grid at BPM through the first downbeat (or --downbeat)")
    p.add_argument("--downbeat", type=float, default=None, metavar="SECONDS",
                   help="time of a downbeat: bars are counted from the beat nearest to it")
    p.add_argument("--beats-per-bar", type=int, default=None, metavar="N", help="meter numerator (e.g. 3)")
    p.add_argument("--pickup", choices=("auto", "trim", "bar"), default="auto",
                   help="before the first downbeat: trim (bar 1 on the first downbeat, the audio's start "
                   "hidden), bar (a pickup bar at the track's tempo) or auto (trim a lead-in shorter than "
                   "half a beat; default)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bridge.export import export, load_track_data, parse_targets
    from technob_fx.core.errors import PathError
    from technob_fx.core.progress import bar

    targets = parse_targets(args.to)
    _check_files(args)
    with bar(f"analyse {args.input.name}", enabled=None if not args.quiet else False) as cb:
        data = load_track_data(args.input, progress=cb)
    if args.audio is not None:
        data.audio = args.audio
    for item in args.stem:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise PathError(f"--stem {item!r}: expected NAME=PATH (e.g. drums=stems/drums.wav)")
        data.stems[name.strip()] = Path(path.strip())
    if not args.stem and not data.stems and not args.no_stems and data.audio is not None:
        from ...stages.separation import find_stems

        data.stems = find_stems(data.audio, search=[*args.stems_dir, args.out_dir])
    if args.name:
        data.name = args.name
    if args.bpm is not None or args.downbeat is not None or args.beats_per_bar is not None:
        from technob_fx.core.tempo import corrected_grid

        data.grid = corrected_grid(data.grid, bpm=args.bpm, downbeat=args.downbeat,
                                   beats_per_bar=args.beats_per_bar, duration=data.duration)
    data.pickup = args.pickup
    written = export(data, targets, args.out_dir)
    if not args.quiet:
        for target, files in written.items():
            for f in files:
                print(f"{target:7s} {f}")
    return 0


def _check_files(args: argparse.Namespace) -> None:
    """Refuse, before any work, audio, stems and stem folders given on the command line that are
    not there (a project pointing at missing files opens with offline media)."""
    from technob_fx.core.errors import PathError

    def audio_file(path: Path, what: str) -> None:
        if path.is_dir():
            raise PathError(f"{what}: {path} is a folder, not an audio file")
        if not path.is_file():
            raise PathError(f"{what}: no such file {path}")

    if args.audio is not None:
        audio_file(args.audio, "--audio")
    for item in args.stem:
        name, sep, path = item.partition("=")
        if sep and name.strip() and path.strip():
            audio_file(Path(path.strip()), f"--stem {name.strip()}")
    for folder in args.stems_dir:
        if not Path(folder).is_dir():
            raise PathError(f"--stems-dir: no such folder {folder}")
