"""Section segmentation on bar lines: intro / build / drop / breakdown / outro for dance music
with a drum kit, A / B / A' ... by repetition for everything else.

Works bar by bar on a :class:`~technob_fx.core.results.BeatGrid` (tracked when not given):

1. **Bar features** from the shared front-end (:func:`bar_features`): loudness, bass (< 200 Hz),
   harmony (200 Hz - 2 kHz), air (> 4 kHz: hats, cymbals), drum onsets and chroma, one row per bar.
2. **Techno labeller** (four-to-the-floor music, :func:`is_four_to_the_floor`): each bar costs
   each state by how far it is from that state's sound, relative to the track's full sections
   (a drop is as loud, bassy and harmonic as the track gets; a breakdown loses the bass and the
   drums; a build is less than the drop; intro and outro have drums without the drops'
   harmony). A Viterbi pass over the bars under a left-to-right grammar (intro -> build ->
   drop -> breakdown -> build -> drop -> outro, any of them repeated or skipped) picks the
   labels, with sections of at least ``min_bars`` bars and changes preferred on phrase lines.
   A second pass also asks a drop for the air of the drops the first pass found. Boundaries are
   then moved back by up to 3 beats to a clearly stronger change (``refine``).
3. **Repetition labeller** (everything else): boundaries at the peaks of a checkerboard novelty
   on the bars' self-similarity (timbre and chroma), preferring phrase lines; a section that
   repeats an earlier one takes its letter (A, B, A', C ...).

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
        dB), ``harm`` (mean log-mel energy 200 Hz - 2 kHz, dB), ``air`` (mean log-mel energy
        above 4 kHz, dB: hats and cymbals) and ``chroma`` (``(n_bars, 12)``, normalised), one
        row per bar ``[edges[i], edges[i+1])``.
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
        "air": interval_means(lm[:, centres > 4000].mean(axis=1), fr),
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


# --------------------------------------------------------------------------------------------
# Techno labeller: a left-to-right model over bars (Viterbi)
# --------------------------------------------------------------------------------------------

#: States of the techno model; ``build_a`` (drums and harmony, no full bass) and ``build_b``
#: (the riser: bass and kick gone, drum roll) are both labelled ``build``.
_STATES = ("intro", "build_a", "build_b", "drop", "breakdown", "outro")
_LABEL_OF = {"intro": "intro", "build_a": "build", "build_b": "build", "drop": "drop",
             "breakdown": "breakdown", "outro": "outro"}
# allowed transitions (from -> to), besides staying
_NEXT = {
    "intro": ("build_a", "build_b", "drop"),
    "build_a": ("build_b", "drop"),
    "build_b": ("drop",),
    "drop": ("breakdown", "build_a", "build_b", "outro"),
    "breakdown": ("build_a", "build_b", "drop", "outro"),
    "outro": (),
}


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _techno_costs(feats: dict[str, np.ndarray], drops: np.ndarray | None = None) -> np.ndarray:
    """Cost of each state for each bar, ``(n_bars, len(_STATES))`` (0 = a perfect fit).

    Levels are relative to the track's full sections (a high percentile of each feature): a drop
    is as loud, bassy and harmonic as the track gets; a breakdown keeps the harmony and loses the
    bass and the drums; a build keeps harmony and drums but not the full loudness, bass or
    harmony (its riser half loses bass and kick, while hats and rolls go on); intro and outro
    have drums without the harmony of the drops.

    ``drops`` (bool, ``(n_bars,)``): the drop bars of a first pass. A drop then also keeps the
    air (hats, cymbals) of those drops: a bar more than 2 dB below their median air costs a drop
    1 per dB more (and counts as less full to an intro or outro). An intro of kick and chords
    differs from the drop by its missing hats. The reference is the drops' level, not a
    percentile of the track, since the noise sweep of a build is often the track's loudest air.
    """
    loud, bass, harm = feats["loud"], feats["bass"], feats["harm"]
    drums = feats["high"] + 0.5 * feats["mid"]
    dl = loud - np.percentile(loud, 90)
    db = bass - np.percentile(bass, 90)
    dt = harm - np.percentile(harm, 90)
    hh = drums / max(float(np.percentile(drums, 75)), 1e-6)
    tonal = _relu(-dt - 9.0) / 3.0  # 0 when the harmony is near the drops' level
    full = _relu(-dl - 1.5) / 1.5 + _relu(-db - 4.0) / 3.0
    if drops is not None and drops.any():
        full = full + _relu(np.median(feats["air"][drops]) - feats["air"] - 2.0)
    c = np.zeros((dl.size, len(_STATES)))
    c[:, _STATES.index("drop")] = full + _relu(-dt - 5.0) / 3.0
    c[:, _STATES.index("breakdown")] = _relu(db + 14.0) / 4.0 + _relu(hh - 0.55) / 0.12 + tonal
    # a build is less than the drop: quieter, or without its full bass, or (a long, saturated
    # kick fills the low band as a bass would) without its full harmony: no lead, pads only
    less = np.minimum(np.minimum(_relu(dl + 1.5), _relu(db + 4.0) / 2.0), _relu(dt + 4.0) / 2.0)
    c[:, _STATES.index("build_a")] = tonal + _relu(0.6 - hh) / 0.15 + less + 0.3
    c[:, _STATES.index("build_b")] = tonal + _relu(0.6 - hh) / 0.15 + _relu(db + 14.0) / 4.0 + 0.3
    # an intro or outro costs more the nearer its harmony comes to the drops' (uncapped: a full
    # drop bar labelled outro costs about 3, so a breakdown between drops stays a breakdown)
    edge = _relu(dt + 9.0) / 3.0 + 0.2 * np.maximum(0.0, 1.0 - full)
    # an intro is not far quieter than the drops (a riser, whose kick and bass are gone, is)
    c[:, _STATES.index("intro")] = edge + _relu(-dl - 7.0) / 2.0
    c[:, _STATES.index("outro")] = edge
    c = np.minimum(c, 8.0)
    # a full stop (a bar 20 dB below the loud bars, with music after it) belongs to the section it
    # interrupts: it fits every state. A silent end is left to the costs above (an outro's fade).
    silent = dl < -20.0
    sounding = np.flatnonzero(~silent)
    last = sounding[-1] if sounding.size else -1
    c[silent & (np.arange(silent.size) < last)] = 0.0
    return c


def _viterbi_techno(cost: np.ndarray, phrase_start: int, phrase_bars: int, switch: float = 1.0,
                    off_phrase: float = 0.3, min_bars: int = 1) -> list[str]:
    """Cheapest state path through the bars under the left-to-right grammar of :data:`_NEXT`.

    A change of state costs ``switch``, plus ``off_phrase`` when it is not on a phrase line
    (every ``phrase_bars`` bars from bar ``phrase_start``). The path starts in intro, a build or
    a drop and ends in outro, drop or breakdown; every section lasts at least ``min_bars`` bars
    (each state is a chain of ``min_bars`` sub-states, the last of which may repeat).
    """
    nb, ns = cost.shape
    m = max(1, min(int(min_bars), nb))
    idx = {s: i for i, s in enumerate(_STATES)}
    start_ok = {"intro", "build_a", "drop", "build_b"}
    end_ok = {"outro", "drop", "breakdown"}
    inf = 1e18
    # sub-state k = state * m + d: d bars of the section so far, minus one (m - 1: m or more)
    acc = np.full(ns * m, inf)
    for s in start_ok:
        acc[idx[s] * m] = cost[0, idx[s]]
    back = np.zeros((nb, ns * m), dtype=np.int64)
    prev_of = {j: [i for i, r in enumerate(_STATES) if _STATES[j] in _NEXT[r]] for j in range(ns)}
    for b in range(1, nb):
        pen = switch + (0.0 if (b - phrase_start) % phrase_bars == 0 else off_phrase)
        new = np.full(ns * m, inf)
        for j in range(ns):
            base = j * m
            # a new section of state j: from a finished section of an allowed previous state
            best, arg = inf, base
            for i in prev_of[j]:
                v = acc[i * m + m - 1] + pen
                if v < best:
                    best, arg = v, i * m + m - 1
            if m == 1 and acc[base] < best:  # staying and entering land on the same sub-state
                best, arg = acc[base], base
            new[base], back[b, base] = best + cost[b, j], arg
            for d in range(1, m):
                k = base + d
                stay_from = [base + d - 1] + ([k] if d == m - 1 else [])
                src = min(stay_from, key=lambda q: acc[q])
                new[k], back[b, k] = acc[src] + cost[b, j], src
        acc = new
    for s in _STATES:
        acc[idx[s] * m : idx[s] * m + m - 1] = inf  # an unfinished last section
        if s not in end_ok:
            acc[idx[s] * m + m - 1] += 3.0
    k = int(np.argmin(acc))
    path = [k]
    for b in range(nb - 1, 0, -1):
        k = int(back[b, k])
        path.append(k)
    return [_LABEL_OF[_STATES[q // m]] for q in path[::-1]]


def is_four_to_the_floor(grid: BeatGrid, frontend: Frontend) -> bool:
    """Whether the track is dance music with a drum kit (the techno labeller applies).

    4/4, a tempo between 100 and 190 BPM, and noisy drums (hats, cymbals, claps): the spectrum
    above 5 kHz is flat in the median loud frame (:func:`technob_fx.stages.key.has_drum_kit`).
    Tonal instruments (strings, keys, brass, voices) have peaky spectra there.
    """
    from .key import has_drum_kit

    if grid.beats.size < 8 or grid.beats_per_bar != 4 or not 100.0 <= float(grid.tempo) <= 190.0:
        return False
    return has_drum_kit(frontend)


# --------------------------------------------------------------------------------------------
# Repetition labeller
# --------------------------------------------------------------------------------------------


def _repetition_sections(x: np.ndarray, chroma: np.ndarray, phrase_start: int, phrase_bars: int,
                         min_bars: int) -> tuple[list[int], list[str]]:
    """Boundaries (bar indices) and letters A, B, A', C ... by repetition.

    Boundaries are the peaks of a checkerboard novelty on the bar self-similarity matrix (timbre
    and chroma), preferring phrase lines; sections whose bars match an earlier section's bars
    take its letter (``'`` when the match is loose).
    """
    nb = x.shape[0]
    f = np.concatenate([x, 3.0 * chroma], axis=1)
    f = f - f.mean(axis=0)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
    ssm = f @ f.T
    nov = np.zeros(nb + 1)
    for w in (2, 4):
        k = np.zeros((2 * w, 2 * w))
        k[:w, :w] = k[w:, w:] = 1.0
        k[:w, w:] = k[w:, :w] = -1.0
        for b in range(1, nb):
            lo, hi = b - w, b + w
            if lo < 0 or hi > nb:
                ww = min(b, nb - b)
                if ww < 1:
                    continue
                kk = np.zeros((2 * ww, 2 * ww))
                kk[:ww, :ww] = kk[ww:, ww:] = 1.0
                kk[:ww, ww:] = kk[ww:, :ww] = -1.0
                nov[b] += float(np.sum(ssm[b - ww : b + ww, b - ww : b + ww] * kk)) / (4 * ww * ww)
            else:
                nov[b] += float(np.sum(ssm[lo:hi, lo:hi] * k)) / (4 * w * w)
    bonus = np.where((np.arange(nb + 1) - phrase_start) % phrase_bars == 0, 1.0, 0.5)
    score = nov * bonus
    inner = score[1:nb]
    thr = float(np.median(inner) + 0.5 * np.std(inner)) if inner.size else 0.0
    chosen: list[int] = []
    for b in np.argsort(inner)[::-1] + 1:
        if score[b] <= max(thr, 1e-6):
            break
        if b >= min_bars and nb - b >= min_bars and all(abs(b - c) >= min_bars for c in chosen):
            chosen.append(int(b))
    bounds = [0, *sorted(chosen), nb]
    letters: list[str] = []
    names: list[str] = []
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        best, best_j = -1.0, -1
        for j in range(i):
            c, d = bounds[j], bounds[j + 1]
            n = min(b - a, d - c)
            sim = float(np.mean([ssm[a + t, c + t] for t in range(n)])) if n else -1.0
            if sim > best:
                best, best_j = sim, j
        if best_j >= 0 and best > 0.8:
            letters.append(letters[best_j].rstrip("'"))
        elif best_j >= 0 and best > 0.6:
            letters.append(letters[best_j].rstrip("'") + "'")
        else:
            letters.append(chr(ord("A") + len(names)) if len(names) < 26 else f"S{len(names)}")
            names.append(letters[-1])
    return bounds, letters


def beat_features(frontend: Frontend, grid: BeatGrid, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Beat-level features for refining boundaries: beat start times ``(n,)`` and standardised
    loudness, bass, harmony and drum activity ``(n, 4)`` of each beat interval."""
    from ..core.frontend import mel_centres
    from .features import interval_means

    beats = grid.beats[(grid.beats >= 0) & (grid.beats < duration)]
    edges = np.append(beats, duration)
    if beats.size < 9:
        return beats, np.zeros((beats.size, 4))
    fps = frontend.fps
    lm = frontend.log_mel()
    fr = np.clip(np.round(edges * fps).astype(np.int64), 0, lm.shape[0])
    centres = mel_centres()
    power = frontend.spectral().rms.astype(np.float64) ** 2
    bands = frontend.onset_bands()
    x = np.stack([
        10 * np.log10(np.maximum(interval_means(power, fr), 1e-10)),
        interval_means(lm[:, centres < 200].mean(axis=1), fr),
        interval_means(lm[:, (centres > 200) & (centres < 2000)].mean(axis=1), fr),
        interval_means(bands[2] + 0.5 * bands[1], fr),
    ], axis=1)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-6)
    return beats, x


def _refine(t: float, beats: np.ndarray, x: np.ndarray, reach: int = 3, span: int = 4, factor: float = 2.0) -> float:
    """Move a boundary at ``t`` back to the beat within ``reach`` beats before it where the
    features change most (mean of ``span`` beats after against before), when that change is
    ``factor`` times the one at ``t``: a section starts at its first change. Never later: the
    elements of a section also come and go after its start (a build's kick stops halfway, an
    outro's bass after its first half), so a stronger change after the bar line is most often
    inside the section, while one before it says that the bar line came late (a downbeat tracked
    a beat or three off, or the labeller a bar late)."""
    if beats.size < 2 * span + 1:
        return t
    k0 = int(np.argmin(np.abs(beats - t)))

    def change(k: int) -> float:
        if k - span < 0 or k + span > beats.size:
            return -1.0
        return float(np.linalg.norm(x[k : k + span].mean(axis=0) - x[k - span : k].mean(axis=0)))

    base = change(k0)
    best_k, best = k0, base
    for k in range(k0 - reach, k0):
        c = change(k)
        if c > best and c > factor * base:  # only a clearly stronger change moves it
            best_k, best = k, c
    return float(beats[best_k]) if best_k != k0 else t


def segment(
    audio: np.ndarray,
    sr: float,
    *,
    grid: BeatGrid | None = None,
    phrase_bars: int = 4,
    min_bars: int = 2,
    labeller: str = "auto",
    refine: bool = True,
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
        Shortest section, bars (both labellers; a techno section's boundaries may then move back
        by up to 3 beats, see ``refine``, but never to less than a bar).
    labeller : str
        ``"techno"`` (intro/build/drop/breakdown/outro), ``"repetition"`` (A, B, A', ...) or
        ``"auto"``: techno for four-to-the-floor dance music (:func:`is_four_to_the_floor`),
        repetition otherwise.
    refine : bool
        Move each techno boundary back to the beat (up to 3 beats earlier) where loudness, bass,
        harmony and drums change clearly more than on the bar line, so that a downbeat tracked
        a beat or three off does not move the sections with it. Never later: a section's
        elements also change after its start.
    frontend : Frontend, optional
        Shared front-end of ``audio``.

    Returns
    -------
    Segmentation
        Sections covering ``[0, duration]``; interior boundaries are beat times (downbeats
        unless refined off them); ``labeller`` says which labeller ran.
    """
    from .beats import track_beats

    if phrase_bars < 1 or min_bars < 1:
        raise ParameterError(f"phrase_bars and min_bars must be >= 1, got {phrase_bars}, {min_bars}")
    if labeller not in ("auto", "techno", "repetition"):
        raise ParameterError(f"labeller must be auto, techno or repetition, got {labeller!r}")
    fe = frontend_for(audio, sr, frontend)
    duration = fe.duration
    if grid is None:
        grid = track_beats(fe.audio, fe.sample_rate, frontend=fe)
    edges = _bar_edges(grid, duration)
    nb = edges.size - 1
    kind = labeller if labeller != "auto" else ("techno" if is_four_to_the_floor(grid, fe) else "repetition")
    if nb < 2 * min_bars:
        return Segmentation([Segment(0.0, float(duration), "drop" if kind == "techno" else "A")], labeller=kind)
    feats = bar_features(fe, grid, edges)
    first_db = int(np.searchsorted(edges, grid.downbeats[0] + 1e-3, side="right")) - 1 if grid.downbeats.size else 0
    first_db = max(first_db, 0)
    if kind == "techno":
        labels_per_bar = _viterbi_techno(_techno_costs(feats), first_db, phrase_bars, min_bars=min_bars)
        drops = np.array([lab == "drop" for lab in labels_per_bar])
        labels_per_bar = _viterbi_techno(_techno_costs(feats, drops), first_db, phrase_bars, min_bars=min_bars)
        bounds = [0] + [b for b in range(1, nb) if labels_per_bar[b] != labels_per_bar[b - 1]] + [nb]
        labels = [labels_per_bar[b] for b in bounds[:-1]]
    else:
        cols = [feats["mid"], feats["high"], feats["loud"] / 6.0, feats["bass"] / 6.0, feats["harm"] / 6.0]
        x = np.stack(cols, axis=1)
        x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-6)
        bounds, labels = _repetition_sections(x, feats["chroma"], first_db, phrase_bars, min_bars)
    times = [float(edges[b]) for b in bounds]
    if kind == "techno" and refine:
        beats, bx = beat_features(fe, grid, duration)
        bar = float(np.median(np.diff(edges)))
        for i in range(1, len(times) - 1):
            t = _refine(times[i], beats, bx)
            # never a section shorter than a bar (a refined boundary next to a short section)
            if t - times[i - 1] >= 0.95 * bar and times[i + 1] - t >= 0.95 * bar:
                times[i] = t
        for i in range(1, len(times)):
            times[i] = max(times[i], times[i - 1] + 1e-3) if i < len(times) - 1 else times[i]
    segs: list[Segment] = []
    for i, lab in enumerate(labels):
        s, e = times[i], times[i + 1]
        if segs and segs[-1].label == lab and kind == "techno":
            segs[-1] = Segment(segs[-1].start, e, lab)
        else:
            segs.append(Segment(s, e, lab))
    return Segmentation(segs, labeller=kind)


class Segmenter(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: labelled sections (:func:`segment`); result is a :class:`Segmentation`.

    In a chain it cuts on the grid of the beat tracker before it (``needs = ("grid",)``), so the
    tracker's tempo range and meter reach the sections; alone it tracks beats itself.
    """

    type_name = "segmenter"
    needs = ("grid",)
    provides = "segments"
    phrase_bars = Param(int, 4, 1, 64, unit="bars", doc="preferred boundary spacing")
    min_bars = Param(int, 2, 1, 64, unit="bars", doc="shortest section")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return segment(audio, sample_rate, grid=self.inputs.get("grid"), phrase_bars=self.phrase_bars,
                       min_bars=self.min_bars, frontend=frontend)
