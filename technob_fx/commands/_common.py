"""Helpers shared by CLI subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ParameterError


def parse_value(text: str) -> Any:
    """``"1.5"`` -> 1.5, ``"3"`` -> 3, ``"true"`` -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


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
