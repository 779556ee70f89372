"""Techno section segmentation: intro / build / drop / breakdown / outro on bar lines.

Works bar by bar on a :class:`~technob_fx.core.results.BeatGrid` (tracked when not given):

1. **Bar features** from the shared front-end: kick presence (low-band onsets on the beats),
   snare/clap and hat activity (mid and high-band onsets), loudness, bass and harmonic (chroma)
   content.
2. **Boundaries** where the features change: a novelty curve (distance between the mean features
   of the bars before and after each bar line, over 2- and 4-bar windows), with a bonus on phrase
   lines (every ``phrase_bars`` bars from the first downbeat); peaks are picked greedily, strongest
   first, at least ``min_bars`` apart. Boundaries therefore sit exactly on downbeats.
3. **Labels** from drum presence, energy and position: the loudest sections with a steady kick are
   drops, sections without kick breakdowns, a section whose snare/hat activity rises into a drop
   a build, and the quieter drum sections before the first drop and after the last one intro and
   outro. Adjacent sections with the same label are merged.

Beatless audio is cut into 2-second pseudo-bars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ParameterError
from ..core.frontend import StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode, Param
from ..core.results import BeatGrid, Segment, Segmentation

if TYPE_CHECKING:
    from ..core.frontend import Frontend


def _bar_edges(grid: BeatGrid, duration: float) -> np.ndarray:
    """Bar start times covering ``[0, duration]``: 0, the downbeats, and the end."""
    db = grid.downbeats[(grid.downbeats >= 0) & (grid.downbeats < duration)]
    if db.size >= 2:
        bar = float(np.median(np.diff(db)))
        # whole bars before the first downbeat (pickup) and after the last one
        first = db[0] - bar * np.arange(int(np.floor(db[0] / bar + 1e-6)), 0, -1)
        last = db[-1] + bar * np.arange(1, int(np.floor((duration - db[-1]) / bar + 1e-6)) + 1)
        edges = np.concatenate([[0.0], first[first > 0.05], db, last[last < duration - 0.05], [duration]])
    else:
        step = 2.0
        edges = np.append(np.arange(0.0, duration, step), duration)
    edges = np.unique(edges)
    edges = edges[np.concatenate([[True], np.diff(edges) > 0.05])]
    if edges.size > 3:
        # partial bars at either end shorter than 3/4 of a bar join their neighbour
        bar = float(np.median(np.diff(edges)))
        if edges[1] - edges[0] < 0.75 * bar:
            edges = np.delete(edges, 1)
        if edges.size > 3 and edges[-1] - edges[-2] < 0.75 * bar:
            edges = np.delete(edges, -2)
    return edges


def bar_features(frontend: Frontend, grid: BeatGrid, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bar features used for segmentation.

    Returns
    -------
    dict
        ``kick`` (median rise of the 30-120 Hz energy across the beats, dB / 24, clipped to 0-1;
        a kick gives > 0.25), ``mid``, ``high`` (mean mid / high band
        onset strength), ``loud`` (mean frame power, dB), ``bass`` (mean log-mel energy below 200 Hz,
        dB), ``harm`` (mean log-mel energy 200 Hz - 2 kHz, dB) and ``chroma`` (``(n_bars, 12)``, normalised), one row per bar ``[edges[i],
        edges[i+1])``.
    """
    from ..core.frontend import mel_centres
    from .features import interval_means

    fps = frontend.fps
    bands = frontend.onset_bands()
    spec = frontend.spectral()
    lm = frontend.log_mel()
    n = lm.shape[0]
    fr = np.clip(np.round(edges * fps).astype(np.int64), 0, n)
    nb = edges.size - 1
    centres = mel_centres()
    low = centres < 200
    power = spec.rms.astype(np.float64) ** 2
    out = {
        "mid": interval_means(bands[1], fr),
        "high": interval_means(bands[2], fr),
        "loud": 10 * np.log10(np.maximum(interval_means(power, fr), 1e-10)),
        "bass": interval_means(lm[:, low].mean(axis=1), fr),
        "harm": interval_means(lm[:, (centres > 200) & (centres < 2000)].mean(axis=1), fr),
    }
    # kick: rise of the sub-bass (30-120 Hz) log-mel energy across each beat (dB), median per bar
    kick = np.zeros(nb)
    sub = (centres > 30) & (centres < 120)
    if grid.beats.size and n > 0:
        lsub = lm[:, sub].mean(axis=1)
        bf = np.round(grid.beats * fps).astype(np.int64)
        jump = lsub[np.clip(bf + 3, 0, n - 1)] - lsub[np.clip(bf - 3, 0, n - 1)]
        which = np.searchsorted(edges, grid.beats, side="right") - 1
        for i in range(nb):
            sel = which == i
            if sel.any():
                kick[i] = np.median(jump[sel])
    out["kick"] = np.clip(kick, 0.0, 24.0) / 24.0
    chroma, crate = frontend.chroma()
    cf = np.clip(np.round(edges * crate).astype(np.int64), 0, chroma.shape[1])
    ch = interval_means(chroma.T, cf)
    out["chroma"] = ch / np.maximum(ch.sum(axis=1, keepdims=True), 1e-9)
    return out


def _novelty(x: np.ndarray, w: int) -> np.ndarray:
    """Distance between the mean rows of ``x`` over ``w`` bars before and after each bar line."""
    nb = x.shape[0]
    nov = np.zeros(nb + 1)
    cs = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    for b in range(1, nb):
        lo, hi = max(0, b - w), min(nb, b + w)
        before = (cs[b] - cs[lo]) / (b - lo)
        after = (cs[hi] - cs[b]) / (hi - b)
        nov[b] = np.sqrt(np.mean((after - before) ** 2))
    return nov


def _label(feats: dict[str, np.ndarray], bounds: list[int]) -> list[str]:
    """Label each segment ``[bounds[i], bounds[i+1])`` of bars."""
    n_seg = len(bounds) - 1
    kick_bar = feats["kick"] > 0.25
    loud = feats["loud"]
    act = feats["mid"] + feats["high"]
    act_ref = float(np.median(act[kick_bar])) if kick_bar.any() else float(np.median(act))
    stats = []
    for i in range(n_seg):
        a, b = bounds[i], bounds[i + 1]
        kf = float(kick_bar[a:b].mean())
        ld = float(np.mean(loud[a:b]))
        bass = float(np.mean(feats["bass"][a:b]))
        activity = float(np.mean(act[a:b])) / max(act_ref, 1e-9)
        stats.append((kf, ld, bass, activity))
    lmax = max(s[1] for s in stats)
    bmax = max(s[2] for s in stats)
    harm = [float(np.mean(feats["harm"][bounds[i] : bounds[i + 1]])) for i in range(n_seg)]
    hmax = max(harm)
    labels = [""] * n_seg
    for i, (kf, ld, bass, activity) in enumerate(stats):
        if kf < 0.25:
            labels[i] = "build" if activity > 0.6 else "breakdown"
        elif kf >= 0.75 and ld >= lmax - 3.0 and bass >= bmax - 6.0 and harm[i] >= hmax - 4.0:
            labels[i] = "drop"
    if "drop" not in labels:  # no clear drop: the loudest kick section is the drop
        cand = [i for i, s in enumerate(stats) if s[0] >= 0.5]
        if cand:
            labels[max(cand, key=lambda i: stats[i][1])] = "drop"
    drops = [i for i, lab in enumerate(labels) if lab == "drop"]
    # quieter sections with a kick: intro before the first drop, outro after the last one, and
    # a build when they lead (possibly through other build sections) into a drop
    for i in range(n_seg - 1, -1, -1):
        if labels[i]:
            continue
        kf, ld, bass, activity = stats[i]
        j = i + 1
        leads_to_drop = j < n_seg and labels[j] in ("drop", "build")
        if leads_to_drop and (kf < 0.75 or bass < bmax - 6.0) and i > 0:
            labels[i] = "build"
        elif drops and i < drops[0]:
            labels[i] = "intro"
        elif drops and i > drops[-1]:
            labels[i] = "outro"
        else:
            labels[i] = "drop"
    # a build must lead into a drop; otherwise it is a breakdown (no kick) or an intro/outro
    for i in range(n_seg):
        if labels[i] == "build":
            j = i
            while j < n_seg and labels[j] == "build":
                j += 1
            if j >= n_seg or labels[j] != "drop":
                labels[i] = "outro" if drops and i > drops[-1] else "breakdown"
    if n_seg > 1 and labels[0] in ("breakdown",):
        labels[0] = "intro"
    if n_seg > 1 and labels[-1] in ("breakdown", "build"):
        labels[-1] = "outro"
    return labels


def segment(
    audio: np.ndarray,
    sr: float,
    *,
    grid: BeatGrid | None = None,
    phrase_bars: int = 4,
    min_bars: int = 2,
    frontend: Frontend | None = None,
) -> Segmentation:
    """Split a track into labelled sections on bar lines.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    grid : BeatGrid, optional
        Beat grid of ``audio``; tracked with :func:`~technob_fx.stages.beats.track_beats` when absent.
    phrase_bars : int
        Phrase length in bars: bar lines every ``phrase_bars`` bars (from the first downbeat) are
        preferred as boundaries.
    min_bars : int
        Shortest section, bars.
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    Segmentation
        Sections covering ``[0, duration]`` with labels from
        :data:`~technob_fx.core.results.SECTION_LABELS`; interior boundaries are downbeat times.
    """
    from .beats import track_beats

    if phrase_bars < 1 or min_bars < 1:
        raise ParameterError(f"phrase_bars and min_bars must be >= 1, got {phrase_bars}, {min_bars}")
    fe = frontend_for(audio, sr, frontend)
    duration = fe.duration
    if grid is None:
        grid = track_beats(fe.audio, fe.sample_rate, frontend=fe)
    edges = _bar_edges(grid, duration)
    nb = edges.size - 1
    if nb < 2 * min_bars:
        return Segmentation([Segment(0.0, float(duration), "drop" if grid.beats.size else "intro")])
    feats = bar_features(fe, grid, edges)
    cols = [feats["kick"], feats["mid"], feats["high"], feats["loud"] / 6.0, feats["bass"] / 6.0]
    x = np.stack(cols, axis=1)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-6)
    x = np.concatenate([x, 4.0 * feats["chroma"]], axis=1)
    nov = 0.5 * (_novelty(x, 1) + _novelty(x, 2))
    # phrase lines relative to the first real downbeat
    first_db = int(np.searchsorted(edges, grid.downbeats[0] + 1e-3, side="right")) - 1 if grid.downbeats.size else 0
    first_db = max(first_db, 0)
    bonus = np.ones(nb + 1)
    bonus[(np.arange(nb + 1) - first_db) % phrase_bars == 0] = 1.5
    score = nov * bonus
    thr = float(np.median(score[1:nb]) + 0.25 * np.std(score[1:nb]))
    order = np.argsort(score[1:nb])[::-1] + 1
    chosen: list[int] = []
    for b in order:
        if score[b] < thr:
            break
        if all(abs(b - c) >= min_bars for c in chosen) and b >= min_bars and nb - b >= min_bars:
            chosen.append(int(b))
    bounds = [0, *sorted(chosen), nb]
    labels = _label(feats, bounds)
    segs: list[Segment] = []
    for i, lab in enumerate(labels):
        s, e = float(edges[bounds[i]]), float(edges[bounds[i + 1]])
        if segs and segs[-1].label == lab:
            segs[-1] = Segment(segs[-1].start, e, lab)
        else:
            segs.append(Segment(s, e, lab))
    return Segmentation(segs)


class Segmenter(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: labelled sections (:func:`segment`); result is a :class:`Segmentation`."""

    type_name = "segmenter"
    phrase_bars = Param(int, 4, 1, 64, unit="bars", doc="preferred boundary spacing")
    min_bars = Param(int, 2, 1, 64, unit="bars", doc="shortest section before merging")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return segment(audio, sample_rate, phrase_bars=self.phrase_bars, min_bars=self.min_bars, frontend=frontend)
