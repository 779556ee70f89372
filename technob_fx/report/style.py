"""Colours shared by the picture and the page, so a section looks the same in both."""

from __future__ import annotations

import zlib

#: Colour of each techno section label.
SECTION_COLOURS = {
    "intro": "#4e79a7",
    "build": "#f28e2b",
    "drop": "#e15759",
    "breakdown": "#59a14f",
    "outro": "#b07aa1",
}
#: Colours for any other label (picked by a stable hash of the label).
OTHER_COLOURS = ("#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d")

WAVE_COLOUR = "#3a4a5c"
STEM_COLOURS = ("#2a9d8f", "#e76f51", "#8e7dbe", "#e9c46a", "#457b9d", "#6d6875")


def section_colour(label: str) -> str:
    """``#rrggbb`` colour of a section label (the same in report.png and report.html)."""
    key = str(label).strip().lower()
    if key in SECTION_COLOURS:
        return SECTION_COLOURS[key]
    return OTHER_COLOURS[zlib.crc32(key.encode()) % len(OTHER_COLOURS)]
