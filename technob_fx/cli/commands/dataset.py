"""``technob dataset build|learn|train``: the Lo-Fi x Classical chunk dataset (issue 6)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dataset", help="build a chunked log-mel genre dataset; learn from it; train the genre classifier",
        description="Lo-Fi x Classical dataset tools. `build` streams genre folders into fixed-length "
        "WAV chunks + log-mel .npy + manifest.csv (parallel, resumable, corrupt files reported and "
        "skipped); `learn` measures groove, hits, tone and phrases into model.json/model.npz; "
        "`train` fits the CNN genre classifier and reports its validation accuracy.",
    )
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION")
    b = dsub.add_parser("build", help="cut genre folders into chunks + log-mels + manifest")
    b.add_argument("--genre", nargs=2, action="append", metavar=("NAME", "DIR"), required=True,
                   help="a genre name and a folder (or file) of wav/flac/mp3/ogg; repeat for more")
    b.add_argument("-o", "--output", type=Path, required=True, help="dataset folder (created; resumed if present)")
    b.add_argument("--chunk", type=float, default=30.0, help="chunk length in seconds (default 30)")
    b.add_argument("--sr", type=float, default=22050.0, help="sample rate of chunks, Hz (default 22050)")
    b.add_argument("--n-mels", type=int, default=128, help="mel bands (default 128)")
    b.add_argument("--val-fraction", type=float, default=0.2, help="share of recordings for validation")
    b.add_argument("--jobs", type=int, default=None, help="files in parallel (default: CPU count)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=run_build)
    learn = dsub.add_parser("learn", help="learn Lo-Fi groove/hits/tone and classical phrases")
    learn.add_argument("dataset", type=Path, help="dataset folder written by `technob dataset build`")
    learn.add_argument("--max-chunks", type=int, default=60, help="chunks analysed per genre (default 60)")
    learn.add_argument("--sequence", choices=("ngram", "gru"), default="ngram",
                       help="sequence model of chords and melody: n-gram (default) or a small torch GRU")
    learn.add_argument("--quiet", action="store_true", help="no progress bar")
    learn.set_defaults(func=run_learn)
    t = dsub.add_parser("train", help="train the CNN genre classifier; print validation accuracy")
    t.add_argument("dataset", type=Path, help="dataset folder written by `technob dataset build`")
    t.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    t.add_argument("--seed", type=int, default=0, help="random seed: same seed, same model (default 0)")
    t.add_argument("--max-seconds", type=float, default=300.0, help="stop after this wall time (s)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=run_train)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_build(args: argparse.Namespace) -> int:
    import os

    from ...blend.dataset import DatasetConfig, build_dataset
    from ...core.errors import ParameterError
    from ...core.progress import bar

    if args.chunk <= 0 or args.n_mels < 1 or not 0 <= args.val_fraction < 1:
        raise ParameterError("--chunk and --n-mels must be positive and --val-fraction in [0, 1)")
    from ...core.audio import check_sample_rate
    from ...core.errors import PathError

    check_sample_rate(args.sr)
    if args.output.exists() and not args.output.is_dir():
        raise PathError(f"output folder is a file: {args.output}")
    genres: dict[str, list[Path]] = {}
    for name, folder in args.genre:
        genres.setdefault(name, []).append(Path(folder))
    config = DatasetConfig(chunk_seconds=args.chunk, sample_rate=args.sr, n_mels=args.n_mels,
                           val_fraction=args.val_fraction)
    jobs = args.jobs or os.cpu_count() or 1
    with bar(f"dataset {args.output.name}", enabled=None if not args.quiet else False) as cb:
        rep = build_dataset(genres, args.output, config=config, jobs=jobs, progress=cb)
    for path, msg in rep.errors.items():
        print(f"skipped: {msg}" if msg.startswith(path) else f"skipped {path}: {msg}")
    if not args.quiet:
        print(f"{rep.sources} files ({rep.skipped_sources} already done), {rep.chunks_written} chunks written, "
              f"{rep.chunks_total} in {args.output / 'manifest.csv'}; {rep.audio_seconds:.0f} s of audio "
              f"in {rep.seconds:.1f} s ({rep.x_realtime:.0f}x real time)")
    return 0


def run_learn(args: argparse.Namespace) -> int:
    from ...blend.learn import learn
    from ...core.progress import bar

    with bar("learn", enabled=None if not args.quiet else False) as cb:
        m = learn(args.dataset, max_chunks=args.max_chunks, sequence=args.sequence, progress=cb)
    if not args.quiet:
        print(f"Lo-Fi tempo {m.tempo['p10']:.0f}-{m.tempo['p90']:.0f} BPM (median {m.tempo['p50']:.0f}), "
              f"swing {m.swing:.2f}, {len(m.patterns)} drum patterns from {m.info.get('bars', 0)} bars, "
              f"hits {', '.join(f'{b}: {len(h)}' for b, h in m.hits.items())}; "
              f"{len(m.phrases)} classical phrases; score model: {m.score.get('counts', {})}, note samples "
              f"{', '.join(f'{g}: {len(v)}' for g, v in m.samples.items())} -> {args.dataset / 'model.json'}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from ...blend.classifier import train_classifier
    from ...core.progress import bar

    with bar("train", enabled=None if not args.quiet else False) as cb:
        _, rep = train_classifier(args.dataset, epochs=args.epochs, seed=args.seed,
                                  max_seconds=args.max_seconds, progress=cb)
    acc = "n/a (no validation recordings)" if rep.val_accuracy is None else f"{rep.val_accuracy:.1%}"
    print(f"trained on {rep.train_chunks} chunks in {rep.seconds:.0f} s ({rep.epochs} epochs); "
          f"validation accuracy {acc} on {rep.val_chunks} chunks of unseen recordings")
    return 0
