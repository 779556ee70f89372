"""``technob generate --dataset DIR --blend B --bars N --seed S -o OUT``: a Lo-Fi x Classical track."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="render a Lo-Fi x Classical blend learned from a dataset",
        description="Learn from (or reuse the model of) a dataset built by `technob dataset build` and "
        "write mix.wav, drums.wav, music.wav, track.mid (tempo, drums, chords, bass, lead, key, section "
        "markers) and generate.json into OUT. The default mode writes new music from the learned chord, "
        "melody and drum models, played by note samples cut from the recordings; --mode slice re-arranges "
        "two-bar phrases of the classical recordings. Same seed, same bytes.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder with lofi and classical chunks")
    p.add_argument("--blend", type=float, default=0.5, help="0 classical-like .. 1 Lo-Fi-like (default 0.5)")
    p.add_argument("--bars", type=int, default=16, help="length in 4/4 bars (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--mode", choices=("generative", "slice"), default="generative",
                   help="generative: new music from the learned models (default); slice: re-arranged phrases")
    p.add_argument("--sample-rate", type=int, default=44100, choices=(44100, 48000),
                   help="output sample rate, Hz (default 44100)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    p.add_argument("--score", action="store_true",
                   help="print the genre classifier's probabilities for the mix (trains it if missing)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...blend.generate import generate
    from ...core.errors import PathError
    from ...core.progress import bar

    if args.output.exists() and not args.output.is_dir():
        raise PathError(f"output folder is a file: {args.output}")

    with bar("generate", enabled=None if not args.quiet else False) as cb:
        g = generate(args.dataset, args.output, blend=args.blend, bars=args.bars, seed=args.seed,
                     mode=args.mode, sample_rate=args.sample_rate, progress=cb)
    if not args.quiet:
        print(f"{args.bars} bars at {g.tempo:g} BPM in {g.key}, blend {args.blend:g} -> "
              f"{', '.join(str(p) for p in g.files.values())}")
    if args.score:
        from ...blend.classifier import CHECKPOINT, GenreClassifier, train_classifier
        from ...core.io import read_audio

        if (args.dataset / CHECKPOINT).exists():
            clf = GenreClassifier.load(args.dataset)
        else:
            clf, _ = train_classifier(args.dataset)
        audio, sr = read_audio(g.files["mix"])
        probs = clf.predict_proba(audio, sr)
        print("classifier: " + ", ".join(f"{k} {v:.3f}" for k, v in probs.items()))
    return 0
