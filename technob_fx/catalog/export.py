"""Export a catalogue to DJ software: rekordbox XML or Traktor NML (writers in :mod:`bridge.dj`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.errors import ParameterError, TechnobError
from .db import Catalog

#: ``technob catalog export --to`` targets.
DJ_TARGETS = ("rekordbox", "traktor")


def dj_track(row: dict[str, Any], catalog_dir: Path) -> Any:
    """The :class:`bridge.dj.DJTrack` of a catalogue row, with the beats of its analysis folder."""
    from bridge.dj import DJTrack
    from bridge.track import TrackData

    from ..stages.analysis import read_analysis

    path = Path(row["path"])
    data = TrackData.from_analysis(read_analysis(catalog_dir / row["analysis_dir"]), audio=path, name=path.stem)
    parts = [row.get("camelot") or "", f"{row['lufs']:.1f} LUFS" if row.get("lufs") is not None else ""]
    return DJTrack(data=data, size=row.get("size"), labeller=row.get("labeller"), comment=" ".join(x for x in parts if x))


def export_catalog(
    catalog_dir: str | Path,
    to: str,
    out: str | Path,
    *,
    rows: list[dict[str, Any]] | None = None,
    volume: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[Path, int]:
    """Write the analysed tracks of a catalogue as a rekordbox XML or Traktor NML collection.

    Parameters
    ----------
    catalog_dir : str or Path
        The catalogue folder.
    to : {"rekordbox", "traktor"}
    out : str or Path
        The file to write (atomically).
    rows : list of dict, optional
        Only these rows (e.g. a query's result); default every analysed track.
    volume : str, optional
        Traktor ``VOLUME`` for paths outside ``/Volumes`` (see :func:`bridge.dj.traktor_location`).

    Returns
    -------
    (Path, int)
        The written file and the number of tracks in it.
    """
    from bridge.dj import write_rekordbox, write_traktor

    if to not in DJ_TARGETS:
        raise ParameterError(f"unknown DJ software {to!r}; choose from {', '.join(DJ_TARGETS)}")
    folder = Path(catalog_dir)
    with Catalog(folder) as cat:
        selected = rows if rows is not None else list(cat.tracks())
    if not selected:
        raise TechnobError(f"{folder}: no analysed tracks to export")

    def tracks() -> Iterator[Any]:
        for i, row in enumerate(selected):
            if progress is not None:
                progress(i / len(selected), Path(row["path"]).name)
            yield dj_track(row, folder)

    if to == "rekordbox":
        path = write_rekordbox(tracks(), out)
    else:
        path = write_traktor(tracks(), out, volume=volume)
    return path, len(selected)
