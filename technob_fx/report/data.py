"""What a report shows, gathered from an analysis folder: the analysis, the audio it came from,
its short-term loudness and any stems separated beside it.

The analysis is read with the project's one reader,
:func:`technob_fx.stages.analysis.read_analysis` (``analysis.json`` plus the ``.npz`` arrays
beside it); everything the report draws comes from that :class:`~technob_fx.stages.analysis.Analysis`.
The document's JSON object is also kept as stored, only to be shown field by field in the page's
table ("every figure of analysis.json"). Stems are the analysis' own ``stems`` when it names
them, else audio files named like a separation's parts (``harmonic``/``percussive`` from HPSS,
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
from ..stages.analysis import FILE_NAME, Analysis, read_analysis, tempo_map

#: File names (without extension) that mark a separated part.
STEM_NAMES = ("drums", "bass", "other", "vocals", "guitar", "piano", "harmonic", "percussive")


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
    analysis : Analysis
        The analysis, as :func:`~technob_fx.stages.analysis.read_analysis` gives it.
    doc : dict
        The ``analysis.json`` document as stored (shown field by field in the page's table).
    analysis_dir : Path
        Folder of ``analysis.json``.
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

    analysis: Analysis
    doc: dict[str, Any]
    analysis_dir: Path
    audio_path: Path | None = None
    audio_ref: str | None = None
    short_term_lufs: np.ndarray | None = None
    loudness_rate: float = 10.0
    stems: list[Stem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- the grid and sections, from the analysis (no meter is assumed) --
    @property
    def duration(self) -> float:
        """Seconds."""
        return float(self.analysis.duration)

    @property
    def beats(self) -> np.ndarray:
        """Beat times, s."""
        return self.analysis.grid.beats

    @property
    def downbeats(self) -> np.ndarray:
        """Bar start times, s."""
        return self.analysis.grid.downbeats

    @property
    def beats_per_bar(self) -> int:
        """Meter numerator of the grid."""
        return int(self.analysis.grid.beats_per_bar)

    @property
    def segments(self) -> list[dict[str, Any]]:
        """Sections as ``{"start", "end", "label"}`` (plus any other fields the document gives a
        section, e.g. who labelled it)."""
        stored = self.doc.get("segments") if isinstance(self.doc.get("segments"), list) else []
        out = []
        for i, s in enumerate(self.analysis.segments):
            extra = stored[i] if i < len(stored) and isinstance(stored[i], dict) else {}
            out.append({**{k: v for k, v in extra.items() if k not in ("start", "end", "label")},
                        "start": s.start, "end": s.end, "label": s.label})
        return out

    @property
    def tempo(self) -> float:
        """Global tempo, BPM."""
        return float(self.analysis.tempo)

    @property
    def tempo_map(self) -> list[list[float]]:
        """``[[time_s, bpm], ...]`` of the grid (the project's tempo map)."""
        if self.analysis.grid.beats.size == 0:
            return []
        return [[float(t), float(b)] for t, b in tempo_map(self.analysis.grid)]

    @property
    def key_label(self) -> str:
        """The key, e.g. ``"A minor"`` (``"?"`` when absent)."""
        return self.analysis.key.label if self.analysis.key is not None else "?"

    @property
    def meter(self) -> str:
        """Beats per bar as the picture shows it, e.g. ``"4/4"`` or ``"3/4"``."""
        return f"{self.beats_per_bar}/4"

    @property
    def integrated_lufs(self) -> float | None:
        """Integrated loudness, LUFS, when measured."""
        f = self.analysis.features
        if f is None:
            return None
        v = f.summary().get("integrated_lufs")
        return None if v is None or not np.isfinite(v) else float(v)

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


def analysis_json_path(source: str | Path) -> Path:
    """``analysis.json`` of an analysis folder, or the file itself.

    Raises
    ------
    PathError
        Neither exists.
    """
    p = Path(source)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise PathError(f"no analysis found: {p} does not exist")
    return p


def load_report_data(source: str | Path, stem_dirs: list[str | Path] | None = None) -> ReportData:
    """Gather what a report shows from an analysis folder (or its ``analysis.json``).

    Parameters
    ----------
    source : str or Path
        Analysis folder or ``analysis.json`` file.
    stem_dirs : list of path, optional
        Folders of stems to show; default: the analysis' ``stems``, else separations found
        beside the analysis.

    Returns
    -------
    ReportData

    Raises
    ------
    PathError
        No analysis there.
    AnalysisFileError
        A document that breaks the schema (one line per problem).
    """
    path = analysis_json_path(source)
    analysis = read_analysis(path)  # the one reader validates everything the report uses
    doc = json.loads(path.read_text(encoding="utf-8"))  # the same document, kept to be shown as is
    folder = path.parent
    data = ReportData(analysis=analysis, doc=doc, analysis_dir=folder)
    if analysis.source:
        data.audio_ref = doc.get("source") if isinstance(doc.get("source"), str) else analysis.source
        audio = Path(analysis.source)
        if audio.is_file():
            data.audio_path = audio
        else:
            data.notes.append(f"audio file not found: {data.audio_ref} (the analysis' source, from {folder})")
    else:
        data.notes.append("the analysis names no audio file (analysed from memory)")
    data.short_term_lufs, data.loudness_rate = _short_term_loudness(analysis, data.audio_path)
    if stem_dirs is None and analysis.stems:
        data.stems, skipped = _named_stems(analysis.stems, data.duration)
    else:
        data.stems, skipped = find_stems(folder, data.duration, stem_dirs)
    data.notes.extend(skipped)
    return data


def _short_term_loudness(analysis: Analysis, audio: Path | None) -> tuple[np.ndarray | None, float]:
    """Short-term LUFS from the analysis (``loudness.npz``), else measured from the audio with the
    project's one loudness implementation (:func:`technob_fx.stages.features.loudness`)."""
    f = analysis.features
    if f is not None and f.short_term_lufs.size:
        return np.asarray(f.short_term_lufs, dtype=np.float64), float(f.loudness_rate)
    if audio is None:
        return None, 10.0
    from ..stages.analysis import load_frontend
    from ..stages.features import loudness

    fe, _, _ = load_frontend(audio)
    power, rate = fe.loudness_blocks()
    _, short, _ = loudness(power, rate)
    return np.asarray(short, dtype=np.float64), float(rate)


def _duration_ok(path: Path, duration: float) -> tuple[bool, str]:
    try:
        d = audio_info(path).duration
    except TechnobError as exc:
        return False, f"stem {path.name}: cannot be read ({exc})"
    if abs(d - duration) > max(0.5, 0.01 * duration):
        return False, f"{path.name} is {d:.1f} s long, the track {duration:.1f} s"
    return True, ""


def _named_stems(stems: dict[str, str], duration: float) -> tuple[list[Stem], list[str]]:
    """The stems the analysis names (``stems`` of analysis.json)."""
    out, notes = [], []
    for name, p in stems.items():
        path = Path(p)
        if not path.is_file():
            notes.append(f"stem {name} not found: {p}")
            continue
        ok, why = _duration_ok(path, duration)
        if ok:
            out.append(Stem(path.parent.name or "stems", name, path))
        else:
            notes.append(f"stem {name} left out: {why}")
    return out, notes


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
    for folder, explicit in folders:
        try:
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in READABLE_FORMATS)
        except OSError:
            continue
        if not explicit:
            files = [p for p in files if p.stem.lower() in STEM_NAMES]
        found = []
        for f in files[:16]:
            ok, why = _duration_ok(f, duration)
            if not ok:
                notes.append(f"stems in {folder.name}/ left out: {why}")
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
