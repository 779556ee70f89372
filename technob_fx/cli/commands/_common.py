"""Helpers shared by CLI subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from ...core.errors import ParameterError
from ...core.node import parse_value


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["tape.depth_ms=2", ...]`` -> ``{"tape.depth_ms": 2}``.

    Raises
    ------
    ParameterError
        An item that is not ``element.param=value``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or "." not in key or not value.strip():
            raise ParameterError(f"--set {item!r}: expected element.param=value (e.g. tape.depth_ms=2)")
        out[key.strip()] = parse_value(value.strip())
    return out


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--set element.param=value`` option."""
    parser.add_argument(
        "--set", dest="sets", action="append", metavar="ELEMENT.PARAM=VALUE",
        help="override a parameter of a chain element (repeatable), e.g. --set tape.depth_ms=2.5",
    )
