"""``report.png``: the analysis at a glance, drawn with matplotlib's Agg backend (no display).

Four rows sharing the time axis: sections as coloured bands with their labels; the waveform with
bar lines (downbeats), beat ticks and the key; the local tempo of each bar under the tempo map;
short-term loudness (LUFS) with the integrated value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.io import atomic_path
from .data import ReportData
from .peaks import Peaks
from .style import WAVE_COLOUR, section_colour

#: Figure size in pixels (at 100 dpi).
WIDTH, HEIGHT = 1600, 900
#: Figure margins (fractions of the figure).
LEFT, RIGHT = 0.055, 0.985


@dataclass
class PngLayout:
    """Where things landed in ``report.png`` (pixels, origin top-left), for checks and tools.

    Attributes
    ----------
    width, height : int
        Image size.
    sections_row : int
        A pixel row crossing every section band (and nothing else).
    x0 : float
        Column of time 0.
    px_per_second : float
        Columns per second of audio.
    wave_top, wave_bottom : int
        First and last pixel rows of the waveform panel.
    """

    width: int
    height: int
    sections_row: int
    x0: float
    px_per_second: float
    wave_top: int = 0
    wave_bottom: int = 0

    def column(self, t: float) -> int:
        """Pixel column of time ``t`` (s)."""
        return int(round(self.x0 + t * self.px_per_second))


def _mmss(t: float, _pos: object = None) -> str:
    t = max(t, 0.0)
    return f"{int(t // 60)}:{int(t % 60):02d}"


def _time_step(duration: float) -> float:
    """A round tick step (s) giving 8 to 20 ticks over ``duration``."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if duration / step <= 20:
            return float(step)
    return 1200.0


def render_png(data: ReportData, peaks: Peaks | None, path: str | Path) -> PngLayout:
    """Draw ``report.png`` (1600 x 900) atomically.

    Parameters
    ----------
    data : ReportData
        The analysis.
    peaks : Peaks or None
        Waveform envelope (none: the waveform row says so).
    path : str or Path
        Output file.

    Returns
    -------
    PngLayout
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    dpi = 100
    fig = Figure(figsize=(WIDTH / dpi, HEIGHT / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(4, 1, height_ratios=[0.45, 3.0, 1.15, 1.15], hspace=0.12,
                          left=LEFT, right=RIGHT, top=0.925, bottom=0.06)
    ax_sec = fig.add_subplot(gs[0])
    ax_wave = fig.add_subplot(gs[1], sharex=ax_sec)
    ax_tempo = fig.add_subplot(gs[2], sharex=ax_sec)
    ax_loud = fig.add_subplot(gs[3], sharex=ax_sec)
    dur = max(data.duration, 1e-3)
    axes_px = (RIGHT - LEFT) * WIDTH
    px_s = dur / axes_px  # seconds per pixel

    # title: the figures a producer checks first
    lufs = data.integrated_lufs
    facts = [f"{data.tempo:.2f} BPM", f"{data.meter} meter", f"key {data.key_label}",
             f"{lufs:.1f} LUFS integrated" if lufs is not None else "loudness n/a", f"{_mmss(dur)} ({dur:.1f} s)",
             f"{data.downbeats.size} bars, {data.beats.size} beats, {len(data.segments)} sections"]
    fig.suptitle(f"{data.title}    " + "  ·  ".join(facts), x=LEFT, ha="left", y=0.975, fontsize=14,
                 fontweight="bold")

    # sections: one band per section, 2 px white gap at each boundary, label above the band
    ax_sec.set_ylim(0, 1)
    ax_sec.set_yticks([])
    ax_sec.set_ylabel("sections", rotation=0, ha="right", va="center", fontsize=9)
    for side in ("top", "right", "left", "bottom"):
        ax_sec.spines[side].set_visible(False)
    ax_sec.tick_params(axis="x", labelbottom=False, length=0)
    for seg in data.segments:
        s, e = float(seg["start"]), float(seg["end"])
        a, b = s + 1.5 * px_s, e - 1.5 * px_s
        label = str(seg.get("label", ""))
        colour = section_colour(label)
        if b > a:
            ax_sec.add_patch(Rectangle((a, 0.0), b - a, 0.5, facecolor=colour, edgecolor="none"))
        if (e - s) / px_s >= 30:
            ax_sec.text((s + e) / 2, 0.76, label, ha="center", va="center", fontsize=9, color=colour,
                        fontweight="bold", clip_on=True)
        ax_wave.axvspan(s, e, color=colour, alpha=0.13, lw=0)

    # waveform with downbeats, beat ticks and the key
    ax_wave.set_ylim(-1.08, 1.08)
    ax_wave.set_yticks([])
    ax_wave.set_ylabel("waveform", fontsize=9)
    if peaks is not None and peaks.lo.size:
        n = int(axes_px)
        lo, hi = peaks.resampled(n)
        t = (np.arange(n) + 0.5) * (peaks.lo.size / peaks.rate) / n
        ax_wave.fill_between(t, lo, hi, color=WAVE_COLOUR, lw=0, step="mid")
        if peaks.kind == "rms":
            ax_wave.text(0.5, 0.5, "audio not found: RMS envelope from frames.npz", transform=ax_wave.transAxes,
                         ha="center", va="center", fontsize=12, color="#b00020")
    else:
        ax_wave.text(0.5, 0.5, "audio not found", transform=ax_wave.transAxes, ha="center", va="center",
                     fontsize=12, color="#b00020")
    db = data.downbeats
    if db.size:
        spacing = axes_px / max(db.size, 1)  # pixels per bar
        ax_wave.vlines(db, -1.08, 1.08, colors="#111111", lw=0.7, alpha=0.45 if spacing >= 12 else 0.15)
    beats = data.beats
    if beats.size:
        ax_wave.vlines(beats, -1.08, -0.94, colors="#111111", lw=0.6, alpha=0.7)
        ax_wave.vlines(db, -1.08, -0.86, colors="#c00000", lw=1.0)
    ax_wave.text(0.995, 0.97, f"key {data.key_label}", transform=ax_wave.transAxes, ha="right", va="top",
                 fontsize=12, fontweight="bold", bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#999999"})
    ax_wave.text(0.005, 0.97, "lines and red ticks: bars (downbeats); black ticks: beats", transform=ax_wave.transAxes,
                 ha="left", va="top", fontsize=8, color="#444444",
                 bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
    ax_wave.tick_params(axis="x", labelbottom=False)

    # tempo: per-bar local tempo under the tempo map
    bt, bpm = data.bar_tempi()
    tm = data.tempo_map
    ax_tempo.set_ylabel("tempo (BPM)", fontsize=9)
    if bpm.size:
        ax_tempo.step(bt, bpm, where="post", color="#777777", lw=1.0, label="bar tempo")
    if tm:
        tx = [e[0] for e in tm] + [dur]
        ty = [e[1] for e in tm] + [tm[-1][1]]
        ax_tempo.step(tx, ty, where="post", color="#c00000", lw=2.0, label="tempo map")
    vals = np.concatenate([bpm, [e[1] for e in tm]]) if (bpm.size or tm) else np.array([data.tempo])
    vals = vals[np.isfinite(vals)]
    if vals.size:
        mid = float(np.median(vals))
        spread = max(3.0, float(np.percentile(np.abs(vals - mid), 98)) * 1.3)
        ax_tempo.set_ylim(mid - spread, mid + spread)
    if bpm.size or tm:
        ax_tempo.legend(loc="upper right", fontsize=8, frameon=False, ncol=2)
    ax_tempo.grid(axis="y", alpha=0.3)
    ax_tempo.tick_params(axis="x", labelbottom=False)

    # loudness: short-term LUFS and the integrated value
    ax_loud.set_ylabel("short-term\nLUFS", fontsize=9)
    st = data.short_term_lufs
    if st is not None and st.size:
        tl = (np.arange(st.size) + 1) / data.loudness_rate
        shown = np.where(st > -70, st, np.nan)
        ax_loud.plot(tl, shown, color="#1f6f8b", lw=1.2, label="short-term (3 s)")
        top = np.nanmax(shown) if np.isfinite(shown).any() else -20.0
        low = np.nanpercentile(shown, 2) if np.isfinite(shown).any() else -60.0
        ax_loud.set_ylim(max(low - 3, -70), top + 3)
    else:
        ax_loud.text(0.5, 0.5, "no loudness in the analysis", transform=ax_loud.transAxes, ha="center", va="center")
    if lufs is not None and lufs > -70:
        ax_loud.axhline(lufs, color="#1f6f8b", ls="--", lw=1.0, label=f"integrated {lufs:.1f} LUFS")
    if ax_loud.get_legend_handles_labels()[0]:
        ax_loud.legend(loc="lower right", fontsize=8, frameon=False, ncol=2)
    ax_loud.grid(axis="y", alpha=0.3)
    ax_loud.xaxis.set_major_locator(MultipleLocator(_time_step(dur)))
    ax_loud.xaxis.set_major_formatter(FuncFormatter(_mmss))
    ax_loud.set_xlabel("time (m:ss)", fontsize=9)
    ax_sec.set_xlim(0, dur)

    x_a, y_a = ax_sec.transData.transform((0.0, 0.25))
    x_b, _ = ax_sec.transData.transform((dur, 0.25))
    _, y_top = ax_wave.transData.transform((0.0, 1.08))
    _, y_bot = ax_wave.transData.transform((0.0, -1.08))
    layout = PngLayout(width=WIDTH, height=HEIGHT, sections_row=int(round(HEIGHT - y_a)), x0=float(x_a),
                       px_per_second=float((x_b - x_a) / dur), wave_top=int(np.ceil(HEIGHT - y_top)),
                       wave_bottom=int(np.floor(HEIGHT - y_bot)) - 1)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
    return layout
