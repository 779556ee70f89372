"""REAPER project files (``.RPP``): write one from a :class:`~bridge.track.TrackData`, parse any.

An RPP file is text: ``<TAG params`` opens a block, ``>`` closes it, other lines are
``KEY params`` with double-quoted strings. What we write:

* ``TEMPO bpm num den`` and a ``<TEMPOENVEX`` tempo envelope with one ``PT time bpm shape`` point
  per point of the track's tempo map (:func:`technob_fx.core.tempo.fit_tempo_map` with
  ``ramps="time"``: REAPER's tempo envelope lives on the time axis, and shape ``0`` ramps
  linearly in time to the next point, ``1`` holds); a point that starts a time signature carries
  it as ``(denominator << 16) | numerator``. Bar 1 starts on the first downbeat (or a real pickup
  bar, see :mod:`technob_fx.core.tempo`), so REAPER's beats and bar lines fall on the analysed
  beats and downbeats;
* sections as markers and regions, and a marker wherever the chord changes, numbered the way
  REAPER numbers them: markers and regions are two separate sequences, each ``1..n`` in timeline
  order (``MARKER n time "label" 0``; a region is ``MARKER n start "label" 1`` followed by
  ``MARKER n end "" 1``);
* one ``<TRACK`` per audio file (the mix, then each stem) holding an ``<ITEM`` placed by the tempo
  map (``POSITION``, and ``SOFFS`` when the start of the audio is trimmed) with a ``<SOURCE WAVE``
  (or ``FLAC``/``MP3``/``VORBIS``) whose ``FILE`` is relative to the project's folder when the
  file lies below it, else absolute (REAPER resolves relative paths against the project file).
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
    from technob_fx.core.tempo import TempoMap

    from .track import TrackData

_SOURCE_TYPES = {".wav": "WAVE", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS",
                 ".aif": "WAVE", ".aiff": "WAVE"}
#: REAPER tempo-envelope point shapes.
SHAPE_LINEAR, SHAPE_SQUARE = 0, 1


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


def media_ref(path: str | Path, project_dir: str | Path | None) -> str:
    """How a project file names a media file: relative to ``project_dir`` when the file lies
    below it, else absolute (a relative ``path`` is taken relative to the working folder)."""
    real = Path(os.path.abspath(path))
    if project_dir is None:
        return str(real)
    base = Path(os.path.abspath(project_dir))
    try:
        rel = real.relative_to(base)
    except ValueError:
        return str(real)
    return rel.as_posix()


def envelope_points(tm: TempoMap) -> list[tuple[float, float, int, int | None]]:
    """``[(seconds, bpm, shape, meter), ...]``: the map's points plus a point at every time
    signature change (``meter`` is ``(den << 16) | num`` there, else ``None``)."""
    pts: dict[float, list] = {}
    for i, p in enumerate(tm.points):
        ramp = p.ramp and i + 1 < len(tm.points)
        pts[round(p.beat, 9)] = [p.time, p.bpm, SHAPE_LINEAR if ramp else SHAPE_SQUARE, None]
    for m in tm.meters:
        key = round(m.beat, 9)
        if key not in pts:
            i = max(j for j, p in enumerate(tm.points) if p.beat <= m.beat + 1e-9)
            shape = SHAPE_LINEAR if tm.points[i].ramp and i + 1 < len(tm.points) else SHAPE_SQUARE
            pts[key] = [float(tm.beat_to_time(m.beat)), tm.bpm_at(m.beat), shape, None]
        pts[key][3] = (m.denominator << 16) | m.numerator
    return [tuple(pts[k]) for k in sorted(pts)]  # type: ignore[misc]


def marker_lines(data: TrackData, tm: TempoMap) -> list[str]:
    """``MARKER`` lines at project times: a region per section, and a marker at each section start
    and wherever the chord changes (``TrackData.chords``); regions and markers are two sequences,
    each numbered 1..n in timeline order (REAPER's own numbering)."""
    entries = []
    for n, seg in enumerate(sorted(data.segments, key=lambda s: s.start), start=1):
        start = max(seg.start + tm.audio_offset, 0.0)
        end = max(seg.end + tm.audio_offset, start)
        entries.append((start, 0, f"  MARKER {n} {start:.12f} {_q(seg.label)} 1"))
        entries.append((start, 1, f'  MARKER {n} {end:.12f} "" 1'))
    marks = [(max(seg.start + tm.audio_offset, 0.0), 0, seg.label) for seg in data.segments]
    last = None
    for start, _end, label in data.chords:
        if label != last:
            marks.append((max(start + tm.audio_offset, 0.0), 1, label))
            last = label
    for n, (t, order, label) in enumerate(sorted(marks), start=1):
        entries.append((t, 2 + order, f"  MARKER {n} {t:.12f} {_q(label)} 0"))
    return [line for _, _, line in sorted(entries, key=lambda e: (e[0], e[1]))]


def rpp_text(data: TrackData, project_dir: str | Path | None = None) -> str:
    """The RPP text of a project with tempo map, markers, regions and one track per audio file.

    Parameters
    ----------
    data : TrackData
    project_dir : path, optional
        Folder the project will be saved in: media below it are written relative to it, others
        absolute. ``None``: every media path absolute.
    """
    tm = data.tempo_map(ramps="time")
    env = envelope_points(tm)
    first = tm.meters[0]
    lines = [
        '<REAPER_PROJECT 0.1 "7.0/technob-fx" 0',
        "  RIPPLE 0",
        f"  TEMPO {tm.points[0].bpm:.10g} {first.numerator} {first.denominator}",
        f"  SAMPLERATE {int(data.sample_rate) if data.sample_rate else 44100} 0 0",
        "  <TEMPOENVEX",
        "    ACT 1 -1",
        "    VIS 1 0 1",
        "    LANEHEIGHT 0 0",
        "    ARM 0",
        f"    DEFSHAPE {SHAPE_SQUARE} -1 -1",
    ]
    for t, bpm, shape, meter in env:
        extra = f" {meter} 0 1" if meter is not None else ""
        lines.append(f"    PT {t:.12f} {bpm:.10f} {shape}{extra}")
    lines.append("  >")
    lines += marker_lines(data, tm)
    media: list[tuple[str, Path]] = []
    if data.audio is not None:
        media.append(("mix", Path(data.audio)))
    media += [(name, Path(p)) for name, p in data.stems.items()]
    for name, path in media:
        src = _SOURCE_TYPES.get(path.suffix.lower(), "WAVE")
        length = max(_media_length(path, data.duration) - tm.item_start_offset, 0.0)
        lines += [
            f"  <TRACK {_guid(data.name + '/track/' + name)}",
            f"    NAME {_q(name)}",
            "    <ITEM",
            f"      POSITION {tm.item_position:.12f}",
            f"      SOFFS {tm.item_start_offset:.12f}",
            f"      LENGTH {length:.12f}",
            f"      NAME {_q(path.name)}",
            f"      <SOURCE {src}",
            f"        FILE {_q(media_ref(path, project_dir))}",
            "      >",
            "    >",
            "  >",
        ]
    lines.append(">")
    return "\n".join(lines) + "\n"


def write_rpp(data: TrackData, path: str | Path) -> Path:
    """Write :func:`rpp_text` to ``path`` atomically; media below its folder are named relative
    to it, others absolute."""
    out = Path(path)
    return atomic_write_text(out, rpp_text(data, out.resolve().parent))


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
