"""``technob transcribe IN -o OUT.mid [--stems demucs|hpss] [--threshold X] [--min-note-ms MS]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe", help="polyphonic notes and chords of a track as a MIDI file on its tempo map",
        description="Transcribe the notes of IN into OUT.mid: one track per source (bass, chords and "
        "lead of the mix, or one per demucs / harmonic stem with --stems), the chord of every bar as "
        "text events, all on the track's own tempo map (beats on quarter notes, downbeats on bar "
        "lines) so the notes sit on the DAW's grid.",
    )
    p.add_argument("input", type=Path, help="audio file (wav, flac, mp3, ogg, aiff; never modified)")
    p.add_argument("-o", "--output", type=Path, required=True, help="MIDI file to write (.mid)")
    p.add_argument("--stems", nargs="?", const="demucs", choices=("demucs", "hpss"), default=None,
                   help="separate first and write one track per stem: demucs (default; drums skipped) "
                   "or hpss (the harmonic part)")
    p.add_argument("--model", default="htdemucs", help="demucs model (default htdemucs; see `technob separate`)")
    p.add_argument("--repo", type=Path, default=None, help="local folder with demucs weights")
    p.add_argument("--threshold", type=float, default=0.7,
                   help="onset confidence a note needs, 0-1 (default 0.7; lower: more notes)")
    p.add_argument("--min-note-ms", type=float, default=46.0, help="shortest note kept, ms (default 46)")
    p.add_argument("--json", type=Path, default=None, help="also write the notes and chords as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    import time

    from bridge.midi import write_smf
    from bridge.track import TrackData

    from ...core.errors import PathError
    from ...core.io import atomic_write_text
    from ...core.progress import bar, scaled
    from ...stages.analysis import load_frontend
    from ...stages.beats import track_beats
    from ...stages.chords import estimate_chords
    from ...stages.notes import check_params, split_roles, transcribe

    if args.input.is_dir():
        raise PathError(f"{args.input}: is a folder, not an audio file")
    if not args.input.is_file():
        raise PathError(f"input file not found: {args.input}")
    if args.output.suffix.lower() not in (".mid", ".midi"):
        raise PathError(f"output must be a .mid file: {args.output}")
    check_params(args.threshold, args.min_note_ms)
    t0 = time.perf_counter()
    enabled = None if not args.quiet else False
    with bar(f"transcribe {args.input.name}", enabled=enabled) as cb:
        fe, sr, _ = load_frontend(args.input)
        cb(0.05, "beats")
        grid = track_beats(fe.audio, fe.sample_rate, frontend=fe)
        tracks: dict[str, list] = {}
        if args.stems is None:
            tr = transcribe(fe.audio, fe.sample_rate, threshold=args.threshold, min_note_ms=args.min_note_ms,
                            frontend=fe, progress=scaled(cb, 0.1, 0.95))
            tracks = split_roles(tr.notes)
        else:
            from ...stages.separation import separate

            with tempfile.TemporaryDirectory(prefix="technob-transcribe-") as tmp:
                opts = (dict(model=args.model, repo=args.repo) if args.stems == "demucs"
                        else dict(parts=("harmonic",)))
                paths = separate(args.input, tmp, engine=args.stems, progress=scaled(cb, 0.1, 0.6),
                                 **opts)
                names = [k for k in paths if k not in ("drums", "percussive")]
                for i, name in enumerate(names):
                    sfe, _, _ = load_frontend(paths[name])
                    part = transcribe(sfe.audio, sfe.sample_rate, threshold=args.threshold,
                                      min_note_ms=args.min_note_ms, frontend=sfe)
                    tracks[name] = part.notes
                    cb(0.6 + 0.35 * (i + 1) / max(len(names), 1), name)
        every = sorted((n for ns in tracks.values() for n in ns), key=lambda n: n.onset)
        chords = estimate_chords(every, grid, frontend=fe)
        cb(1.0, "done")
    data = TrackData(duration=fe.duration, sample_rate=sr, grid=grid, name=args.input.stem,
                     note_tracks=tracks, chords=[(c.start, c.end, c.label) for c in chords])
    write_smf(data, args.output, inputs=[args.input])
    if args.json is not None:
        import json

        doc = {"source": str(args.input), "tempo": grid.tempo,
               "tracks": {k: [n.to_dict() for n in v] for k, v in tracks.items()},
               "chords": [c.to_dict() for c in chords]}
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    if not args.quiet:
        el = time.perf_counter() - t0
        counts = ", ".join(f"{k} {len(v)}" for k, v in tracks.items())
        changes = sum(1 for i, c in enumerate(chords) if i == 0 or c.label != chords[i - 1].label)
        print(f"wrote {args.output}: {counts} notes, {len(chords)} bars ({changes} chord changes), "
              f"{grid.tempo:.2f} BPM ({fe.duration / max(el, 1e-9):.1f}x real time)")
    return 0
