"""``technob catalog query|stats|export CATALOG ...``: search a library catalogue, hand it to DJ software."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bpm", default=None, metavar="LO-HI", help="tempo range, e.g. 124-128 (or one value)")
    p.add_argument("--half-double", action="store_true", help="also match half and double the tempo range")
    p.add_argument("--key", default=None, help="a key: Camelot (8A) or a name (A minor, Am, F#m)")
    p.add_argument("--compatible", action="store_true",
                   help="with --key: also its Camelot neighbours (same number other letter, +-1)")
    p.add_argument("--label", default=None, help="only tracks with a section of this label (e.g. drop)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="query a library catalogue, show its stats, export it to DJ software",
                       description="Read a catalogue made by 'technob batch analyze'.")
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    q = csub.add_parser("query", help="tracks by tempo, key (harmonic mixing) and section label",
                        description="List analysed tracks matching every filter, ordered by tempo.")
    q.add_argument("catalog", type=Path, metavar="CATALOG", help="catalogue folder (technob batch analyze -o)")
    _filters(q)
    q.add_argument("--json", action="store_true", help="JSON instead of a table")
    q.set_defaults(func=run_query)
    s = csub.add_parser("stats", help="counts, tempo and key distributions, failures")
    s.add_argument("catalog", type=Path, metavar="CATALOG", help="catalogue folder (technob batch analyze -o)")
    s.add_argument("--json", action="store_true", help="JSON instead of text")
    s.set_defaults(func=run_stats)
    e = csub.add_parser("export", help="rekordbox XML or Traktor NML with beat grids and cues",
                        description="Write the catalogue's tracks (or those matching the filters) as a "
                        "rekordbox XML collection (TEMPO beat grid, memory cues at every section, hot cues "
                        "at drops, Tonality) or a Traktor collection.nml (grid anchor, cues, key).")
    e.add_argument("catalog", type=Path, metavar="CATALOG", help="catalogue folder (technob batch analyze -o)")
    e.add_argument("--to", required=True, choices=("rekordbox", "traktor"), help="DJ software")
    e.add_argument("out", type=Path, metavar="OUT", help="file to write (.xml for rekordbox, .nml for Traktor)")
    e.add_argument("--volume", default=None, help="Traktor VOLUME for paths outside /Volumes (default: "
                   "'Macintosh HD' on macOS, empty elsewhere)")
    _filters(e)
    e.add_argument("--quiet", action="store_true", help="print nothing on success")
    e.set_defaults(func=run_export)


def _parse_bpm(text: str | None) -> tuple[float, float] | None:
    from ...core.errors import ParameterError

    if text is None:
        return None
    lo, sep, hi = text.partition("-")
    try:
        a, b = float(lo), float(hi) if sep else float(lo)
    except ValueError:
        raise ParameterError(f"--bpm {text!r}: expected LO-HI (e.g. 124-128) or one tempo") from None
    if not (0 < a <= b <= 1000):
        raise ParameterError(f"--bpm {text!r}: need 0 < LO <= HI <= 1000")
    if not sep:
        a, b = a - 0.5, b + 0.5
    return a, b


def _select(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str] | None]:
    from bridge.keys import compatible, parse_key

    from ...catalog.db import Catalog
    from ...core.errors import ParameterError

    keys = None
    if args.key:
        code = parse_key(args.key)
        keys = compatible(code) if args.compatible else [code]
    elif args.compatible:
        raise ParameterError("--compatible needs --key")
    with Catalog(args.catalog) as cat:
        rows = cat.query(bpm=_parse_bpm(args.bpm), half_double=args.half_double, camelot=keys, label=args.label)
    return rows, keys


def run_query(args: argparse.Namespace) -> int:
    rows, _ = _select(args)
    if args.json:
        keep = ("path", "duration", "tempo", "tempo_min", "tempo_max", "meter", "key_name", "camelot", "lufs",
                "lra", "sections", "labeller", "analysis_dir", "hash")
        print(json.dumps([{k: r.get(k) for k in keep} for r in rows], indent=1))
        return 0
    if not rows:
        print("no matching tracks")
        return 0
    print(f"{'BPM':>7}  {'key':>4}  {'name':<9} {'LUFS':>6}  {'length':>6}  sections / path")
    for r in rows:
        secs = " ".join(s["label"] for s in r["sections"] or [])
        dur = r["duration"] or 0.0
        lufs = f"{r['lufs']:6.1f}" if r["lufs"] is not None else "     -"
        print(f"{r['tempo'] or 0:7.2f}  {r['camelot'] or '-':>4}  {r['key_name'] or '-':<9} {lufs}  "
              f"{int(dur // 60):3d}:{int(dur % 60):02d}  {secs}\n{'':>40}{r['path']}")
    print(f"{len(rows)} track{'s' if len(rows) != 1 else ''}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ...catalog.db import Catalog

    with Catalog(args.catalog) as cat:
        st = cat.stats()
        fails = cat.failures()
    if args.json:
        print(json.dumps({**st, "failures": fails}, indent=1))
        return 0
    hours = st["duration_s"] / 3600
    print(f"{args.catalog}: {st['tracks']} tracks ({hours:.1f} h), {st['failed']} failed, "
          f"{st['separations']} separations, schema v{st['schema_version']}")
    if st["tracks"]:
        print(f"tempo {st['tempo_min']:.1f}-{st['tempo_max']:.1f} BPM, mean loudness {st['mean_lufs']:.1f} LUFS")
        print("tempo:  " + "  ".join(f"{k}-{k + 5}: {v}" for k, v in st["tempo_histogram"].items()))
        print("keys:   " + "  ".join(f"{k}: {v}" for k, v in st["keys"].items()))
        print("labels: " + "  ".join(f"{k}: {v}" for k, v in st["labels"].items()))
    for f in fails[:20]:
        err = f["error"] or ""
        print(f"failed: {err}" if err.startswith(f["path"]) else f"failed: {f['path']}: {err}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ...catalog.export import export_catalog

    filtered = any((args.bpm, args.key, args.label))
    rows = _select(args)[0] if filtered else None
    path, n = export_catalog(args.catalog, args.to, args.out, rows=rows, volume=args.volume)
    if not args.quiet:
        print(f"wrote {path} ({n} tracks, {args.to})")
    return 0
