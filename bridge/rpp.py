"""REAPER project files (``.RPP``): write one from a :class:`~bridge.export.TrackData`, parse any.

An RPP file is text: ``<TAG params`` opens a block, ``>`` closes it, other lines are
``KEY params`` with double-quoted strings. What we write:

* ``TEMPO bpm num den`` and a ``<TEMPOENVEX`` tempo envelope with one ``PT time bpm 1`` point
  (square shape) wherever the beat grid's tempo drifts -- the same map as the MIDI file
  (:func:`bridge.midi.build_tempo_map`), so REAPER's beats and bar lines fall on the detected
  beats and downbeats; the first point carries the meter as ``(den << 16) | num``;
* ``MARKER idx time "label" 0`` at every section start, and a region per section:
  ``MARKER idx start "label" 1`` then ``MARKER idx end "" 1``;
* one ``<TRACK`` per audio file (the mix, then each stem) holding an ``<ITEM`` at position 0 with
  a ``<SOURCE WAVE`` (or ``FLAC``/``MP3``/``VORBIS``) naming the file, relative to the project
  folder when it lies below it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from technob_fx.core.errors import TechnobError
from technob_fx.core.io import atomic_write_text

if TYPE_CHECKING:
    from .track import TrackData

_SOURCE_TYPES = {".wav": "WAVE", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS",
                 ".aif": "WAVE", ".aiff": "WAVE"}


def _q(text: str) -> str:
    """Quote a string the way REAPER does (it has no escapes: pick a quote char not inside)."""
    text = str(text).replace("\n", " ").replace("\r", " ")
    for quote in ('"', "'", "`"):
        if quote not in text:
            return f"{quote}{text}{quote}"
    return '"' + text.replace('"', "'") + '"'


def _guid(seed: str) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "technob-fx:" + seed)).upper() + "}"


def _media_length(path: Path, fallback: float) -> float:
    try:
        from technob_fx.core.io import audio_info

        return audio_info(path).duration
    except Exception:  # noqa: BLE001 - missing or unreadable file: use the track length
        return fallback


def rpp_text(data: TrackData, project_dir: str | Path | None = None) -> str:
    """The RPP text of a project with tempo map, markers, regions and one track per audio file.

    Parameters
    ----------
    data : TrackData
    project_dir : path, optional
        Folder the project will be saved in; media below it are written as relative paths.
    """
    from .midi import bar_layout

    tm, _, meters = bar_layout(data.grid)
    # (seconds, bpm, meter numerator or None) per tempo-envelope point
    points: dict[int, list] = {t: [tm.tick_to_seconds(t), 60e6 / us, None]
                               for t, us in zip(tm.ticks, tm.us_per_beat, strict=True)}
    for quarter, num in meters:
        tick = quarter * tm.ppq
        if tick not in points:
            i = max(i for i, t in enumerate(tm.ticks) if t <= tick)
            points[tick] = [tm.tick_to_seconds(tick), 60e6 / tm.us_per_beat[i], None]
        points[tick][2] = num
    ordered = [points[k] for k in sorted(points)]
    first_bpm = ordered[0][1]
    lines = [
        '<REAPER_PROJECT 0.1 "7.0/technob-fx" 0',
        "  RIPPLE 0",
        f"  TEMPO {first_bpm:.10g} {ordered[0][2]} 4",  # the meter at 0 (bar_layout always gives one)
        f"  SAMPLERATE {int(data.sample_rate) if data.sample_rate else 44100} 0 0",
        "  <TEMPOENVEX",
        "    ACT 1 -1",
        "    VIS 1 0 1",
        "    LANEHEIGHT 0 0",
        "    ARM 0",
        "    DEFSHAPE 1 -1 -1",
    ]
    for t, bpm, num in ordered:
        meter = f" {(4 << 16) | num} 0 1" if num else ""
        lines.append(f"    PT {t:.12f} {bpm:.10f} 1{meter}")
    lines.append("  >")
    idx = 0
    for seg in data.segments:
        idx += 1
        lines.append(f"  MARKER {idx} {seg.start:.12f} {_q(seg.label)} 0")
    for seg in data.segments:
        idx += 1
        lines.append(f"  MARKER {idx} {seg.start:.12f} {_q(seg.label)} 1")
        lines.append(f'  MARKER {idx} {seg.end:.12f} "" 1')
    last_chord = None
    for start, _end, label in getattr(data, "chords", []):  # a marker where the chord changes
        if label != last_chord:
            idx += 1
            lines.append(f"  MARKER {idx} {start:.12f} {_q(label)} 0")
            last_chord = label
    media: list[tuple[str, Path]] = []
    if data.audio is not None:
        media.append(("mix", Path(data.audio)))
    media += [(name, Path(p)) for name, p in data.stems.items()]
    base = Path(project_dir).resolve() if project_dir is not None else None
    for name, path in media:
        ref = str(path)
        if base is not None:
            try:
                rel = os.path.relpath(path.resolve(), base)
                if not rel.startswith(".."):
                    ref = rel
            except ValueError:  # another drive (Windows)
                pass
        src = _SOURCE_TYPES.get(path.suffix.lower(), "WAVE")
        length = _media_length(path, data.duration)
        lines += [
            f"  <TRACK {_guid(data.name + '/track/' + name)}",
            f"    NAME {_q(name)}",
            "    <ITEM",
            "      POSITION 0",
            f"      LENGTH {length:.12f}",
            f"      NAME {_q(path.name)}",
            f"      <SOURCE {src}",
            f"        FILE {_q(ref)}",
            "      >",
            "    >",
            "  >",
        ]
    lines.append(">")
    return "\n".join(lines) + "\n"


def write_rpp(data: TrackData, path: str | Path) -> Path:
    """Write :func:`rpp_text` to ``path`` atomically; media paths relative to its folder."""
    out = Path(path)
    return atomic_write_text(out, rpp_text(data, out.parent if str(out.parent) else "."))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass
class RppNode:
    """One ``<TAG ...>`` block: its parameters, its ``KEY params`` lines and child blocks."""

    tag: str
    params: list[str] = field(default_factory=list)
    lines: list[list[str]] = field(default_factory=list)
    children: list[RppNode] = field(default_factory=list)

    def find_all(self, tag: str) -> list[RppNode]:
        """Child blocks named ``tag``."""
        return [c for c in self.children if c.tag == tag]

    def find(self, tag: str) -> RppNode | None:
        """First child block named ``tag``."""
        found = self.find_all(tag)
        return found[0] if found else None

    def values(self, key: str) -> list[list[str]]:
        """Parameters of each ``key ...`` line."""
        return [ln[1:] for ln in self.lines if ln and ln[0] == key]


def tokenize(line: str) -> list[str]:
    """Split an RPP line into tokens; quoted strings (``"``, ``'`` or backtick) are one token."""
    tokens, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
        elif c in "\"'`":
            j = line.find(c, i + 1)
            if j < 0:
                raise TechnobError(f"RPP: unterminated string in line {line!r}")
            tokens.append(line[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            tokens.append(line[i:j])
            i = j
    return tokens


def parse_rpp(text: str) -> RppNode:
    """Parse RPP text into its root block (``REAPER_PROJECT``).

    Raises
    ------
    TechnobError
        Unbalanced blocks or no project block.
    """
    stack: list[RppNode] = []
    root: RppNode | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<"):
            toks = tokenize(line[1:])
            node = RppNode(toks[0] if toks else "", toks[1:])
            if stack:
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise TechnobError("RPP: more than one top-level block")
            stack.append(node)
        elif line == ">":
            if not stack:
                raise TechnobError("RPP: '>' without an open block")
            stack.pop()
        else:
            if not stack:
                raise TechnobError(f"RPP: line outside any block: {line!r}")
            stack[-1].lines.append(tokenize(line))
    if stack:
        raise TechnobError(f"RPP: block <{stack[-1].tag} is not closed")
    if root is None or root.tag != "REAPER_PROJECT":
        raise TechnobError("RPP: no REAPER_PROJECT block")
    return root
