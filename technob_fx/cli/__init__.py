"""The ``technob`` command line.

Each subcommand lives in :mod:`technob_fx.cli.commands` as a module with ``register(subparsers)``;
the module sets ``func`` on its parser. Heavy imports happen inside the command functions so
``technob --help`` is fast. Errors a user can cause print one line and exit with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

#: Subcommand modules under technob_fx.cli.commands, in help order.
COMMANDS = (
    "render", "presets", "demo", "analyze", "separate", "quantize",
    "export", "bridge", "dataset", "generate",
    "report",
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

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except TechnobError as exc:
        print(f"technob: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("technob: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"technob: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
