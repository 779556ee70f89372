"""``report.html``: one self-contained page, working offline from a ``file://`` URL.

The page's script and style (``assets/report.js``, ``report.css``, written for this project) are
inlined; the analysis document, decimated waveform peaks (int8 min/max in base64, never raw
samples) and the stems' peaks are embedded as JSON. The audio is referenced by a path relative to
the page, not inlined.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..core.io import atomic_write_text
from .data import ReportData, relative_url
from .peaks import Peaks
from .style import STEM_COLOURS, WAVE_COLOUR, section_colour


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can end it)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return [round(float(v), digits) if np.isfinite(v) else None for v in values]


def _key(data: ReportData) -> dict[str, Any] | None:
    k = data.analysis.key
    if k is None:
        return None
    return {"label": k.label, "tonic": k.tonic, "mode": k.mode, "confidence": round(float(k.confidence), 4)}


def page_data(data: ReportData, peaks: Peaks, stem_peaks: list[Peaks], out_dir: Path) -> dict[str, Any]:
    """The JSON the page's script reads: what to draw (``grid``, from the one reader) and the
    document as stored (``analysis``, for the table of every figure)."""
    from .. import __version__

    bt, bpm = data.bar_tempi()
    audio_src = relative_url(data.audio_path, out_dir) if data.audio_path is not None else None
    return {
        "title": data.title,
        "duration": data.duration,
        "audio": {"src": audio_src, "ref": data.audio_ref, "found": data.audio_path is not None},
        "peaks": peaks.to_json(),
        "wave_colour": WAVE_COLOUR,
        "stems": [
            {"group": s.group, "name": s.name, "src": relative_url(s.path, out_dir), "peaks": p.to_json(),
             "colour": STEM_COLOURS[i % len(STEM_COLOURS)]}
            for i, (s, p) in enumerate(zip(data.stems, stem_peaks, strict=True))
        ],
        "grid": {
            "tempo": data.tempo,
            "beats_per_bar": data.beats_per_bar,
            "beats": _finite(data.beats, 6),
            "downbeats": _finite(data.downbeats, 6),
            "segments": data.segments,
            "tempo_map": data.tempo_map,
            "key": _key(data),
            "integrated_lufs": data.integrated_lufs,
        },
        "segment_colours": [section_colour(str(s.get("label", ""))) for s in data.segments],
        "bar_tempo": {"times": _finite(bt), "bpm": _finite(bpm)},
        "notes": list(data.notes),
        "generator": f"technob-fx {__version__}",
        "analysis": data.doc,
    }


def render_html(data: ReportData, peaks: Peaks, stem_peaks: list[Peaks], path: str | Path) -> Path:
    """Write ``report.html`` atomically.

    Parameters
    ----------
    data : ReportData
    peaks : Peaks
        The mix's waveform (or the RMS envelope when the audio is missing).
    stem_peaks : list of Peaks
        One per ``data.stems``.
    path : str or Path
        Output file; relative audio paths are written from its folder.

    Returns
    -------
    Path
    """
    out = Path(path)
    payload = page_data(data, peaks, stem_peaks, out.parent)
    src = payload["audio"]["src"]
    audio = (f'<audio id="audio" preload="auto" src="{html.escape(src, quote=True)}"></audio>' if src
             else '<audio id="audio" preload="none"></audio>')
    footer = (f"Made by {payload['generator']} from {html.escape(str(data.analysis_dir.name))}/analysis.json; "
              f"audio: {html.escape(src) if src else 'not found'}. Works offline; the page's script is "
              f"written for technob-fx (MIT).")
    text = _asset("report.html")
    parts = {
        "{{TITLE}}": html.escape(data.title),
        "{{CSS}}": _asset("report.css"),
        "{{FOOTER}}": footer,
        "{{AUDIO}}": audio,
        "{{DATA}}": _script_json(payload),
        "{{JS}}": _asset("report.js"),
    }
    text = re.sub(r"\{\{[A-Z]+\}\}", lambda m: parts[m.group(0)], text)  # one pass: no value is re-read
    return atomic_write_text(out, text)
