"""See an analysis before it goes into the DAW: ``report.png`` and ``report.html``.

:func:`write_report` takes an audio file (analysed first) or an analysis folder and writes

* ``report.png`` -- waveform with bars and beats, sections as coloured bands, tempo curve,
  short-term loudness and key in one picture (:func:`~technob_fx.report.png.render_png`);
* ``report.html`` -- one self-contained page: an audio player over a zoomable waveform with bar
  and beat lines, section bands, a click track on the grid, stems as lanes with solo/mute, the key,
  the tempo map and every figure of ``analysis.json`` (:func:`~technob_fx.report.html.render_html`).

Layer: imports ``core`` and ``stages`` only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import PathError
from ..core.progress import ProgressCallback, scaled
from ..stages.analysis import FILE_NAME
from .data import ReportData, Stem, load_report_data
from .peaks import Peaks, envelope_peaks, file_peaks
from .png import PngLayout

__all__ = ["ReportData", "ReportFiles", "Stem", "load_report_data", "write_report"]


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    analysis : Path
        The ``analysis.json`` the report shows.
    png, html : Path or None
        ``report.png`` and ``report.html`` (None when not asked for).
    layout : PngLayout or None
        Where the picture's parts landed.
    data : ReportData
        What was shown.
    seconds : dict
        Seconds per step (``analysis``, ``peaks``, ``png``, ``html``).
    """

    analysis: Path
    png: Path | None
    html: Path | None
    layout: PngLayout | None
    data: ReportData
    seconds: dict[str, float] = field(default_factory=dict)


def is_analysis(path: str | Path) -> bool:
    """True for an analysis folder or a ``.json`` file; False for anything else (audio)."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() == ".json"


def write_report(
    source: str | Path,
    out_dir: str | Path | None = None,
    *,
    stem_dirs: list[str | Path] | None = None,
    png: bool = True,
    html: bool = True,
    min_bpm: float | None = None,
    max_bpm: float | None = None,
    progress: ProgressCallback | None = None,
) -> ReportFiles:
    """Write ``report.png`` and ``report.html`` for a track or an analysis.

    Parameters
    ----------
    source : str or Path
        An analysis folder (or its ``analysis.json``), or an audio file, which is analysed first
        (:func:`~technob_fx.stages.analysis.analyze_file`) with the analysis written into ``out_dir``.
    out_dir : str or Path, optional
        Folder for the report (created). Default: the analysis folder, or ``<audio>.analysis``.
    stem_dirs : list of path, optional
        Folders of stems to show as lanes (default: separations found beside the analysis).
    png, html : bool
        Which files to write.
    min_bpm, max_bpm : float, optional
        Tempo range when an audio file is analysed.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    ReportFiles

    Raises
    ------
    PathError
        ``source`` does not exist, or ``out_dir`` is a file.
    AudioError
        An unreadable audio file.
    AnalysisFileError
        An ``analysis.json`` that breaks the schema (one line per problem).
    """
    src = Path(source)
    if not src.exists():
        raise PathError(f"input not found: {src}")
    seconds: dict[str, float] = {}
    from_audio = not is_analysis(src)
    if out_dir is None:
        out = src.with_name(src.name + ".analysis") if from_audio else (src if src.is_dir() else src.parent)
    else:
        out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PathError(f"output folder is a file: {out}")
    start = 0.0
    if from_audio:
        from ..stages.analysis import analyze_file

        t0 = time.perf_counter()
        analyze_file(src, out, progress=scaled(progress, 0.0, 0.7), min_bpm=min_bpm, max_bpm=max_bpm)
        seconds["analysis"] = time.perf_counter() - t0
        src, start = out, 0.7
    data = load_report_data(src, stem_dirs)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    span = 1.0 - start
    n_files = 1 + len(data.stems)
    peaks = _mix_peaks(data, scaled(progress, start, start + 0.6 * span / n_files))
    stem_peaks: list[Peaks] = []
    for i, stem in enumerate(data.stems):
        a = start + 0.6 * span * (i + 1) / n_files
        b = start + 0.6 * span * (i + 2) / n_files
        stem_peaks.append(file_peaks(stem.path, peaks.rate / 2, progress=scaled(progress, a, b)))
    seconds["peaks"] = time.perf_counter() - t0

    layout = None
    png_path = html_path = None
    if png:
        from .png import render_png

        if progress:
            progress(start + 0.65 * span, "report.png")
        t0 = time.perf_counter()
        png_path = out / "report.png"
        layout = render_png(data, peaks, png_path)
        seconds["png"] = time.perf_counter() - t0
    if html:
        from .html import render_html

        if progress:
            progress(start + 0.9 * span, "report.html")
        t0 = time.perf_counter()
        html_path = render_html(data, peaks, stem_peaks, out / "report.html")
        seconds["html"] = time.perf_counter() - t0
    if progress:
        progress(1.0, "done")
    return ReportFiles(analysis=data.analysis_dir / FILE_NAME, png=png_path, html=html_path,
                       layout=layout, data=data, seconds=seconds)


def _mix_peaks(data: ReportData, progress: ProgressCallback | None) -> Peaks:
    """Peaks of the analysed audio, or the RMS envelope of ``frames.npz`` when it is missing."""
    import numpy as np

    if data.audio_path is not None:
        return file_peaks(data.audio_path, progress=progress)
    f = data.analysis.features
    if f is not None and f.times.size > 1 and f.rms.size == f.times.size:
        return envelope_peaks(np.asarray(f.times, dtype=np.float64), np.asarray(f.rms))
    data.notes.append("no waveform: neither the audio nor frames.npz was found")
    return Peaks(rate=1.0, lo=np.zeros(0, np.float32), hi=np.zeros(0, np.float32), scale=0.0, kind="rms")
