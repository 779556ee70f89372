"""A catalogue row from an :class:`~technob_fx.stages.analysis.Analysis`, and the track's key.

A track is keyed by the content hash of its file and the analysis settings
(:func:`content_hash`, :func:`settings_key`): the same bytes under another name reuse the
analysis, and changing a setting (or the analysis schema) analyses again.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bridge.keys import camelot

from ..core.results import SECTION_LABELS

if TYPE_CHECKING:
    from ..stages.analysis import Analysis

_CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """BLAKE2b-160 of the file's bytes, hex (read in 1 MiB blocks: bounded memory)."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def settings_key(settings: dict[str, Any]) -> str:
    """A short hash of the analysis settings, the analysis schema and the technob-fx version."""
    from .. import __version__
    from ..stages.analysis import SCHEMA

    doc = json.dumps({"settings": settings, "schema": SCHEMA, "version": __version__}, sort_keys=True)
    return hashlib.blake2b(doc.encode(), digest_size=6).hexdigest()


def analysis_dir_name(hash_: str, skey: str) -> str:
    """Folder of a track's analysis, relative to the catalogue: ``analyses/ab/abcdef...-<settings>``."""
    return f"analyses/{hash_[:2]}/{hash_[:24]}-{skey}"


def labeller_of(labels: list[str], recorded: str = "") -> str:
    """The labeller the segmentation recorded (``Segmentation.labeller``); for analyses without
    one, ``"techno"`` when every label is a techno section label, else ``"repetition"`` (A/B/...)."""
    if recorded:
        return recorded
    return "techno" if labels and all(lab in SECTION_LABELS for lab in labels) else "repetition"


def _energy_lufs(st: np.ndarray, rate: float, start: float, end: float) -> float | None:
    """Energy mean of the short-term loudness over ``[start, end)``, LUFS (None when silent)."""
    if st.size == 0 or rate <= 0:
        return None
    seg = st[int(start * rate): max(int(end * rate), int(start * rate) + 1)]
    seg = seg[np.isfinite(seg)]
    if seg.size == 0:
        return None
    return round(float(10.0 * np.log10(np.mean(10.0 ** (seg / 10.0)))), 2)


def _num(x: Any) -> float | None:
    v = float(x)
    return round(v, 6) if np.isfinite(v) else None


def tempo_summary(analysis: Analysis) -> tuple[list[list[float]], float | None, float | None]:
    """``(tempo_map, min_bpm, max_bpm)``: the one tempo map (:func:`technob_fx.core.tempo.fit_tempo_map`,
    steps, every beat within 1 ms) as ``[[audio_s, bpm], ...]`` and its slowest and fastest tempo."""
    from ..core.tempo import fit_tempo_map

    if analysis.grid.beats.size < 2:
        return [], _num(analysis.tempo), _num(analysis.tempo)
    points = fit_tempo_map(analysis.grid).to_json()
    bpms = [p["bpm"] for p in points]
    return [[p["time"], p["bpm"]] for p in points], _num(min(bpms)), _num(max(bpms))


def row_from_analysis(
    analysis: Analysis,
    *,
    path: str | Path,
    size: int,
    mtime_ns: int,
    hash_: str,
    skey: str,
    analysis_dir: str,
) -> dict[str, Any]:
    """The ``tracks`` row of one analysed file (see :mod:`technob_fx.catalog.db`)."""
    from .. import __version__

    f = analysis.features
    st = np.asarray(f.short_term_lufs, dtype=np.float64)
    rate = float(f.loudness_rate)
    labels = [s.label for s in analysis.segments]
    sections = [
        {"start": _num(s.start), "end": _num(s.end), "label": s.label,
         "energy_lufs": _energy_lufs(st, rate, s.start, s.end)}
        for s in analysis.segments
    ]
    tm, tmin, tmax = tempo_summary(analysis)
    key = analysis.key
    summary = f.summary()
    return {
        "path": str(path), "size": int(size), "mtime_ns": int(mtime_ns), "hash": hash_,
        "settings": skey, "status": "ok", "error": None, "analysis_dir": analysis_dir,
        "duration": _num(analysis.duration), "sample_rate": float(analysis.sample_rate),
        "channels": int(analysis.channels), "tempo": _num(analysis.tempo),
        "tempo_min": tmin, "tempo_max": tmax, "tempo_map": [[_num(t), _num(b)] for t, b in tm],
        "meter": f"{analysis.grid.beats_per_bar}/4",
        "first_downbeat": _num(analysis.grid.downbeats[0]) if analysis.grid.downbeats.size else None,
        "key_name": key.label, "camelot": camelot(key.tonic, key.mode),
        "key_confidence": _num(key.confidence),
        "lufs": _num(summary.get("integrated_lufs", np.nan)),
        "lra": _num(summary.get("loudness_range_lu", np.nan)),
        "sections": sections, "labeller": labeller_of(labels, getattr(analysis.segments, "labeller", "")),
        "analyzed_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": __version__,
    }


def failure_row(path: str | Path, *, size: int | None, mtime_ns: int | None, hash_: str | None,
                skey: str, error: str) -> dict[str, Any]:
    """The ``tracks`` row of a file that could not be analysed: its one-line ``error``."""
    line = " ".join(str(error).split()) or "unknown error"
    return {"path": str(path), "size": size, "mtime_ns": mtime_ns, "hash": hash_, "settings": skey,
            "status": "failed", "error": line[:500],
            "analyzed_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
