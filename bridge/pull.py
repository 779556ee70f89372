"""The other direction: corrections a producer made in the DAW, back into the track's analysis.

:func:`pull_into_analysis` reads an ``analysis.json`` (through the one reader,
:func:`technob_fx.stages.analysis.read_analysis`), asks the DAW for its grid and markers
(:meth:`bridge.reaper.ReaperClient.pull`, :func:`bridge.reaper.pull_rpp` for a saved ``.RPP``,
:meth:`bridge.ableton.AbletonClient.pull`) and writes the corrected analysis with the one writer
(:meth:`~technob_fx.stages.analysis.Analysis.write`). Every later ``technob export``, ``technob
quantize --grid-file analysis.json`` and OSC session reading it uses the corrected grid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .track import TrackData


def apply_corrections(analysis: Any, corrected: TrackData) -> Any:
    """``analysis`` (an :class:`~technob_fx.stages.analysis.Analysis`) with the corrected grid,
    tempo and sections of ``corrected`` (changed in place and returned)."""
    analysis.grid = corrected.grid
    analysis.tempo = float(corrected.grid.tempo)
    analysis.segments = corrected.segmentation
    return analysis


def pull_into_analysis(path: str | Path, pull: Callable[[TrackData], TrackData], *,
                       out_dir: str | Path | None = None) -> tuple[Path, TrackData, TrackData]:
    """Read an analysis, pull the DAW's corrections, write the corrected analysis.

    Parameters
    ----------
    path : path
        ``analysis.json`` or the folder holding it.
    pull : callable
        ``TrackData -> TrackData``: what the DAW has (e.g. ``ReaperClient(...).pull``).
    out_dir : path, optional
        Where to write (default: the analysis's own folder, replacing it atomically).

    Returns
    -------
    (written analysis.json, before, after)
    """
    from technob_fx.stages.analysis import read_analysis

    p = Path(path)
    analysis = read_analysis(p)
    folder = p if p.is_dir() else p.parent
    before = TrackData.from_analysis(analysis)
    after = pull(before)
    written = apply_corrections(analysis, after).write(out_dir if out_dir is not None else folder)
    return written, before, after


def describe(before: TrackData, after: TrackData) -> str:
    """One line: what changed (tempo, bar 1, sections)."""
    parts = [f"tempo {before.tempo:.3f} -> {after.tempo:.3f} BPM"]
    b0 = before.grid.downbeats[0] if before.grid.downbeats.size else float("nan")
    a0 = after.grid.downbeats[0] if after.grid.downbeats.size else float("nan")
    parts.append(f"first downbeat {b0:.3f} -> {a0:.3f} s")
    moved = sum(1 for x, y in zip(before.segments, after.segments, strict=False)
                if abs(x.start - y.start) > 1e-3 or x.label != y.label)
    parts.append(f"{len(after.segments)} sections ({moved} moved or renamed, "
                 f"{len(after.segments) - len(before.segments):+d})")
    return ", ".join(parts)
