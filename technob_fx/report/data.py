"""What a report shows, gathered from an analysis folder: the analysis document, the audio it
came from, its short-term loudness and any stems separated beside it.

The analysis is read from ``analysis.json`` (and ``loudness.npz`` / ``frames.npz`` beside it);
the audio is found through the document's ``source`` (relative to the ``analysis.json`` folder).
Stems are audio files named like a separation's parts (``harmonic``/``percussive`` from HPSS,
``drums``/``bass``/``other``/``vocals``... from demucs) in a folder beside or inside the analysis
folder, kept only when they are as long as the analysed track.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import PathError, TechnobError
from ..core.io import READABLE_FORMATS, audio_info

#: File names (without extension) that mark a separated part.
STEM_NAMES = ("drums", "bass", "other", "vocals", "guitar", "piano", "harmonic", "percussive")


class ReportError(TechnobError, ValueError):
    """An analysis document a report cannot be drawn from."""


@dataclass
class Stem:
    """One separated part of the track.

    Attributes
    ----------
    group : str
        The separation it belongs to (its folder name, e.g. ``hpss``, ``stems_htdemucs``).
    name : str
        The part (``drums``, ``percussive``...).
    path : Path
        Its audio file.
    """

    group: str
    name: str
    path: Path


@dataclass
class ReportData:
    """Everything a report draws.

    Attributes
    ----------
    doc : dict
        The ``analysis.json`` document, as read (every figure of it goes into the page's table).
    analysis_dir : Path
        Folder of ``analysis.json`` (relative paths in the document resolve from it).
    audio_path : Path or None
        The analysed audio file when it exists.
    audio_ref : str or None
        The document's ``source`` as written (named in the page when the file is missing).
    short_term_lufs : np.ndarray or None, ``(n_blocks,)``
        Short-term loudness (3 s windows ending every ``1 / loudness_rate`` s), LUFS.
    loudness_rate : float
        Values per second of ``short_term_lufs``.
    stems : list of Stem
        Separated parts as long as the track.
    notes : list of str
        What was left out and why (shown in the page).
    """

    doc: dict[str, Any]
    analysis_dir: Path
    audio_path: Path | None = None
    audio_ref: str | None = None
    short_term_lufs: np.ndarray | None = None
    loudness_rate: float = 10.0
    stems: list[Stem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- the grid and sections, from the document's fields (no meter is assumed) --
    @property
    def duration(self) -> float:
        """Seconds."""
        return float(self.doc.get("duration") or 0.0)

    @property
    def beats(self) -> np.ndarray:
        """Beat times, s."""
        return _times(self.doc.get("beats"))

    @property
    def downbeats(self) -> np.ndarray:
        """Bar start times, s."""
        return _times(self.doc.get("downbeats"))

    @property
    def segments(self) -> list[dict[str, Any]]:
        """Sections as dicts with at least ``start``, ``end`` (s) and ``label``."""
        return list(self.doc.get("segments") or [])

    @property
    def tempo(self) -> float:
        """Global tempo, BPM."""
        return float(self.doc.get("tempo") or 0.0)

    @property
    def tempo_map(self) -> list[list[float]]:
        """``[[time_s, bpm], ...]`` as in the document."""
        return [list(map(float, e[:2])) for e in (self.doc.get("tempo_map") or []) if e and e[1] is not None]

    @property
    def key_label(self) -> str:
        """The key, e.g. ``"A minor"`` (``"?"`` when absent)."""
        key = self.doc.get("key") or {}
        return str(key.get("label") or "?") if isinstance(key, dict) else str(key)

    @property
    def meter(self) -> str:
        """Beats per bar as the page shows it, e.g. ``"4/4"`` or ``"3/4"``."""
        bpb = self.doc.get("beats_per_bar")
        return f"{int(bpb)}/4" if bpb else "?"

    @property
    def integrated_lufs(self) -> float | None:
        """Integrated loudness, LUFS, when measured."""
        v = (self.doc.get("features") or {}).get("integrated_lufs")
        return None if v is None else float(v)

    @property
    def title(self) -> str:
        """The track's file name (or the analysis folder's name)."""
        if self.audio_ref:
            return Path(self.audio_ref).name
        return self.analysis_dir.name

    def bar_tempi(self) -> tuple[np.ndarray, np.ndarray]:
        """Local tempo of each bar: its beat count over its length.

        Returns
        -------
        times : np.ndarray, ``(n,)``
            Bar start times, s (beat times when the grid has no downbeats).
        bpm : np.ndarray, ``(n,)``
            Tempo of the bar starting there, BPM.
        """
        beats, db = self.beats, self.downbeats
        if db.size >= 2:
            counts = np.diff(np.searchsorted(beats, db - 1e-6))
            ok = counts > 0
            bpm = counts * 60.0 / np.diff(db)
            return db[:-1][ok], bpm[ok]
        if beats.size >= 2:
            return beats[:-1], 60.0 / np.diff(beats)
        return np.zeros(0), np.zeros(0)


def _times(values: Any) -> np.ndarray:
    if not values:
        return np.zeros(0)
    a = np.asarray([v for v in values if v is not None], dtype=np.float64).reshape(-1)
    return a[np.isfinite(a)]


def analysis_json_path(source: str | Path) -> Path:
    """``analysis.json`` of an analysis folder, or the file itself.

    Raises
    ------
    PathError
        Neither exists.
    """
    p = Path(source)
    if p.is_dir():
        p = p / "analysis.json"
    if not p.is_file():
        raise PathError(f"no analysis found: {p} does not exist")
    return p


def read_document(path: str | Path) -> dict[str, Any]:
    """Read and check an ``analysis.json`` document.

    Raises
    ------
    ReportError
        Not JSON, not an object, or without a positive ``duration``.
    """
    p = analysis_json_path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{p}: not a JSON analysis document ({exc})") from None
    if not isinstance(doc, dict):
        raise ReportError(f"{p}: not an analysis document (a JSON object is expected)")
    try:
        duration = float(doc.get("duration") or 0.0)
    except (TypeError, ValueError):
        duration = 0.0
    if not np.isfinite(duration) or duration <= 0:
        raise ReportError(f"{p}: the analysis has no positive 'duration'")
    for name in ("beats", "downbeats", "segments", "tempo_map"):
        if doc.get(name) is not None and not isinstance(doc[name], list):
            raise ReportError(f"{p}: '{name}' must be a list")
    for seg in doc.get("segments") or []:
        if not (isinstance(seg, dict) and {"start", "end"} <= set(seg)):
            raise ReportError(f"{p}: each segment needs 'start' and 'end'")
    return doc


def load_report_data(source: str | Path, stem_dirs: list[str | Path] | None = None) -> ReportData:
    """Gather what a report shows from an analysis folder (or its ``analysis.json``).

    Parameters
    ----------
    source : str or Path
        Analysis folder or ``analysis.json`` file.
    stem_dirs : list of path, optional
        Folders of stems to show; default: separations found beside the analysis.

    Returns
    -------
    ReportData

    Raises
    ------
    PathError
        No analysis there.
    ReportError
        A malformed document.
    """
    path = analysis_json_path(source)
    doc = read_document(path)
    folder = path.parent
    data = ReportData(doc=doc, analysis_dir=folder)
    ref = doc.get("source")
    if isinstance(ref, str) and ref:
        data.audio_ref = ref
        audio = Path(ref) if Path(ref).is_absolute() else folder / ref
        if audio.is_file():
            data.audio_path = audio
        else:
            data.notes.append(f"audio file not found: {ref} (the analysis' source, from {folder})")
    else:
        data.notes.append("the analysis names no audio file (analysed from memory)")
    data.short_term_lufs, data.loudness_rate = _short_term_loudness(doc, folder, data.audio_path)
    data.stems, skipped = find_stems(folder, data.duration, stem_dirs)
    data.notes.extend(skipped)
    return data


def _short_term_loudness(doc: dict[str, Any], folder: Path, audio: Path | None) -> tuple[np.ndarray | None, float]:
    """Short-term LUFS from ``loudness.npz``, else measured from the audio with the project's one
    loudness implementation (:func:`technob_fx.stages.features.loudness`)."""
    name = (doc.get("arrays") or {}).get("loudness", "loudness.npz")
    npz = folder / str(name)
    if npz.is_file():
        try:
            with np.load(npz) as z:
                st = np.asarray(z["short_term_lufs"], dtype=np.float64)
                rate = float(z["rate"]) if "rate" in z.files else 10.0
            return st, rate
        except (OSError, KeyError, ValueError):
            pass
    if audio is None:
        return None, 10.0
    from ..stages.analysis import load_frontend
    from ..stages.features import loudness

    fe, _, _ = load_frontend(audio)
    power, rate = fe.loudness_blocks()
    _, short, _ = loudness(power, rate)
    return np.asarray(short, dtype=np.float64), float(rate)


def find_stems(
    analysis_dir: Path, duration: float, stem_dirs: list[str | Path] | None = None
) -> tuple[list[Stem], list[str]]:
    """Separated parts of the analysed track.

    Without ``stem_dirs``, every folder inside or beside ``analysis_dir`` is looked at, and audio
    files named like a separation's parts (:data:`STEM_NAMES`) are kept; with ``stem_dirs``, every
    audio file in those folders. A file whose length differs from ``duration`` by more than 1 %
    (at least 0.5 s) is left out, with a note (a separation of another cut of the track).

    Returns
    -------
    stems : list of Stem
    notes : list of str
        One line per folder left out.
    """
    notes: list[str] = []
    if stem_dirs:
        folders = []
        for d in stem_dirs:
            if not Path(d).is_dir():
                raise PathError(f"stems folder not found: {d}")
            folders.append((Path(d), True))
    else:
        seen: set[Path] = set()
        folders = []
        for parent in (analysis_dir, analysis_dir.parent):
            try:
                subs = sorted(p for p in parent.iterdir() if p.is_dir())
            except OSError:
                continue
            for d in subs:
                r = d.resolve()
                if r != analysis_dir.resolve() and r not in seen:
                    seen.add(r)
                    folders.append((d, False))
    stems: list[Stem] = []
    tol = max(0.5, 0.01 * duration)
    for folder, explicit in folders:
        try:
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in READABLE_FORMATS)
        except OSError:
            continue
        if not explicit:
            files = [p for p in files if p.stem.lower() in STEM_NAMES]
        found = []
        for f in files[:16]:
            try:
                d = audio_info(f).duration
            except TechnobError:
                notes.append(f"stem {folder.name}/{f.name}: cannot be read")
                continue
            if abs(d - duration) > tol:
                notes.append(f"stems in {folder.name}/ left out: {f.name} is {d:.1f} s long, the track {duration:.1f} s")
                break
            found.append(Stem(folder.name, f.stem, f))
        else:
            stems.extend(found)
    return stems, notes


def relative_url(target: Path, start: Path) -> str:
    """``target`` as a URL relative to the folder ``start`` (forward slashes, escaped)."""
    from urllib.parse import quote

    try:
        rel = os.path.relpath(Path(target).resolve(), Path(start).resolve())
    except ValueError:  # another drive (Windows)
        return Path(target).resolve().as_uri()
    return quote(rel.replace(os.sep, "/"))
