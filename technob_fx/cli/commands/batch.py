"""``technob batch analyze|separate IN... -o CATALOG [--jobs N] [--cluster ADDRESS] [--recursive]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_SHARED = ("Inputs and CATALOG must be on storage every worker sees at the same path (one machine, "
           "or an NFS/SMB mount on a cluster); only this process writes CATALOG/catalog.sqlite.")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IN",
                   help="audio files, folders, or text files (.txt/.m3u) listing one path per line")
    p.add_argument("-o", "--catalog", type=Path, required=True, metavar="CATALOG",
                   help="catalogue folder (created): catalog.sqlite, analyses/, stems/")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: CPU count)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://HOST:8786 (default: a local cluster)")
    p.add_argument("--connect-timeout", type=float, default=15.0, metavar="S",
                   help="seconds to wait for the --cluster scheduler (default 15)")
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    p.add_argument("--retry-failed", action="store_true", help="try files recorded as failed again")
    p.add_argument("--window", type=int, default=None, metavar="N",
                   help="most tasks in flight at once (default: 4 x worker threads, at least 16)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="analyse or separate a whole library on one machine or a Dask cluster",
        description="Run the analysis or separation of every audio file of IN on Dask distributed: "
        "a local cluster of --jobs processes, or the scheduler at --cluster. Resumable: a file "
        "already in the catalogue with the same size, modification time and settings is skipped; "
        "a failed file is recorded with its error and the batch goes on; Ctrl-C keeps everything "
        "finished. " + _SHARED,
    )
    bsub = p.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    a = bsub.add_parser("analyze", help="beats, key, sections, loudness of every file into CATALOG",
                        description="Analyse every file (technob analyze) into CATALOG/analyses/ and one "
                        "catalogue row per track. " + _SHARED)
    _common(a)
    a.add_argument("--min-bpm", type=float, default=None, help="lowest tempo considered (default 55)")
    a.add_argument("--max-bpm", type=float, default=None, help="highest tempo considered (default 180)")
    a.set_defaults(func=run_analyze)
    s = bsub.add_parser("separate", help="demucs stems or hpss parts of every file",
                        description="Separate every file into CATALOG/stems/<name>-<hash>-<engine>/ (or "
                        "--stems-dir). With --device cuda each task asks for one GPU worker resource "
                        "(start workers with 'dask worker ADDRESS --resources GPU=1'); each worker loads "
                        "the model once. " + _SHARED)
    _common(s)
    s.add_argument("--engine", choices=("hpss", "demucs"), default="demucs", help="demucs (default) or hpss")
    s.add_argument("--model", default="htdemucs", help="demucs model (default htdemucs)")
    s.add_argument("--repo", default=None, help="local folder with demucs weights, seen by every worker")
    s.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    s.add_argument("--shifts", type=int, default=1, help="demucs random shifts averaged (default 1; 0 = fastest)")
    s.add_argument("--segment", type=float, default=None, help="demucs segment length, s (default: the model's)")
    s.add_argument("--stems-dir", type=Path, default=None, help="where the stem folders go (default CATALOG/stems)")
    s.add_argument("--format", dest="fmt", default="wav", choices=("wav", "flac", "aiff", "ogg", "mp3"),
                   help="output format (default wav)")
    s.set_defaults(func=run_separate)


class _Reporter:
    """A progress bar on a TTY, a line every few seconds otherwise."""

    def __init__(self, cb: Any, quiet: bool, every: float = 5.0) -> None:
        import time

        self.cb, self.quiet, self.every, self.last = cb, quiet, every, time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, state: Any) -> None:
        import time

        frac = state.processed / state.total if state.total else 1.0
        self.cb(frac, state.message())
        if not self.quiet and not self.tty and time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            print(f"technob batch: {state.message()}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, job: Any, what: str) -> int:
    import signal

    from ...catalog.batch import run_batch
    from ...core.progress import bar

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        with bar(f"batch {what}", enabled=None if not args.quiet else False) as cb:
            rep = run_batch(job, args.inputs, args.catalog, jobs=args.jobs, cluster=args.cluster,
                            recursive=args.recursive, retry_failed=args.retry_failed, window=args.window,
                            connect_timeout=args.connect_timeout,
                            progress=_Reporter(cb, args.quiet))
    finally:
        signal.signal(signal.SIGTERM, old)
    if not args.quiet:
        for path, err in rep.failures[:20]:
            print(f"failed: {err}" if err.startswith(path) else f"failed: {path}: {err}", file=sys.stderr)
        if len(rep.failures) > 20:
            print(f"... and {len(rep.failures) - 20} more failures (technob catalog stats)", file=sys.stderr)
        print(f"{what}: {rep.done} done, {rep.failed} failed, {rep.skipped} up to date of {rep.total} files "
              f"in {rep.elapsed_s:.1f} s ({rep.per_minute:.1f} tracks/min, {rep.workers} workers); "
              f"catalogue {args.catalog}")
    if rep.interrupted:
        print("technob: interrupted; finished tracks are in the catalogue, run again to resume", file=sys.stderr)
        return 130
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from ...catalog.batch import AnalyzeJob

    return _run(args, AnalyzeJob(min_bpm=args.min_bpm, max_bpm=args.max_bpm), "analyze")


def run_separate(args: argparse.Namespace) -> int:
    from ...catalog.batch import SeparateJob

    job = SeparateJob(engine=args.engine, model=args.model, repo=args.repo, device=args.device,
                      stems_dir=str(args.stems_dir.resolve()) if args.stems_dir else None, fmt=args.fmt,
                      options=({"shifts": args.shifts, "segment": args.segment} if args.engine == "demucs" else {}))
    return _run(args, job, "separate")
