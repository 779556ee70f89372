"""The ``technob`` command line.

Each subcommand lives in :mod:`technob_fx.cli.commands` as a module with ``register(subparsers)``;
the module sets ``func`` on its parser. Heavy imports happen inside the command functions so
``technob --help`` is fast. Errors a user can cause print one line and exit with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys

#: Subcommand modules under technob_fx.cli.commands, in help order.
COMMANDS = (
    "render", "presets", "demo", "analyze", "separate", "quantize",
    "export", "bridge", "dataset", "generate",
    "report",
    "transcribe",
    "batch", "catalog",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="technob",
        description="technob-fx: analyse, separate, quantize and render techno and Lo-Fi tracks "
        "with chains of technob nodes and pedalboard/VST3 plugins.",
    )
    parser.add_argument("--version", action="version", version=f"technob-fx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"technob_fx.cli.commands.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``technob`` console script; returns the exit status."""
    from ..core.errors import TechnobError
    from ..core.runner import Terminated, new_folders, signals_as_exceptions

    parser = build_parser()
    args = parser.parse_args(argv)
    _print_warnings_as_lines()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # SIGTERM raises Terminated (a KeyboardInterrupt), so temporary files are deleted on the
        # way out; output folders this command created are removed again if it fails (and hold
        # no file).
        with signals_as_exceptions(), new_folders(*_output_folders(args)):
            result = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not as a warning at exit
    except TechnobError as exc:
        for line in str(exc).splitlines() or [""]:  # one line per problem (AnalysisFileError)
            print(f"technob: error: {line}", file=sys.stderr)
        return 1
    except Terminated:
        print("technob: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("technob: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `technob presets show x | head`: the reader left; stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # read-only or full disk, permissions, missing folders...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"technob: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("TECHNOB_DEBUG"):
            raise
        print(f"technob: internal error: {type(exc).__name__}: {exc} (this is a bug in technob-fx; "
              "run again with TECHNOB_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 2
    return int(result or 0)


def _output_folders(args: argparse.Namespace) -> list:
    """The output folders a command was given (``-o/--out-dir``, ``-o/--output``) that do not
    exist yet: :func:`~technob_fx.core.runner.new_folders` removes them again on failure."""
    from pathlib import Path

    return [v for k in ("out_dir", "output") if isinstance(v := getattr(args, k, None), Path) and not v.exists()]


def _print_warnings_as_lines() -> None:
    """Show each :class:`~technob_fx.core.errors.TechnobWarning` as one ``technob: warning:`` line
    (no file name, line number or source line)."""
    import warnings

    from ..core.errors import TechnobWarning

    previous = warnings.showwarning
    if getattr(previous, "_technob", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, TechnobWarning):
            print(f"technob: warning: {message}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    show._technob = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.simplefilter("always", TechnobWarning)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
