"""The one tempo map: a beat grid as tempo points and time signatures for every export.

Every file and message that carries tempo -- ``analysis.json``, the Standard MIDI File, the REAPER
project, JAMS, DAWproject, the OSC bridge, the Lo-Fi generator's MIDI, DJ-software grids -- takes
it from :func:`fit_tempo_map`, so they all agree.

Project timeline
----------------
A map describes a DAW *project*: positions in quarter notes (``beat``, 0 = project start) and in
project seconds (``time``). The audio sits on it at :attr:`TempoMap.audio_offset` (project seconds
of audio second 0). How the time before the first downbeat is laid out is the ``pickup`` choice:

* ``"trim"`` -- bar 1 starts on the first downbeat at project time 0; the audio item starts there
  with a start offset (:attr:`TempoMap.item_start_offset`) that hides what comes before it.
* ``"bar"`` -- the grid is continued backwards at the first tempo until it covers the start of the
  audio: a partial pickup bar (and whole bars when needed) at the track's tempo, then the first
  downbeat on a bar line. The audio item starts at :attr:`TempoMap.item_position` ``>= 0``.
* ``"auto"`` (default) -- ``"trim"`` when no beat was found before the first downbeat and it comes
  less than half a beat into the audio (a decoder's lead-in, not music); ``"bar"`` otherwise.

No bar is ever squeezed into the gap before the first beat at an invented tempo.

Fitting
-------
Beats become *segments* between tempo points. Every analysed beat ``k`` sits on a whole quarter
note and the map puts it within ``tolerance`` (1 ms) of its analysed time, with the fewest points
a greedy search finds: a constant grid gives exactly one point. A segment holds one tempo
(``ramp=False``, a step) or, where the target format has them (``ramps=...``), a linear ramp to
the next point's tempo. Ramps are linear either in *time* (REAPER's tempo envelope, whose points
live on the time axis) or in *beats* (DAWproject's tempo automation on a beats timeline).

A format that stores tempo coarsely renders the same map with rounded values: SMF stores whole
microseconds per quarter note (:meth:`TempoMap.smf_tempi`, drift reported by
:meth:`TempoMap.smf_drift`); ``.RPP`` and DAWproject store decimal BPM.

Meter
-----
Bar lengths come from the grid's downbeats (beats between consecutive downbeats), so a 3/4 grid
gives 3/4 bars and an odd bar gets its own time signature; after the last downbeat the grid's
``beats_per_bar`` continues. The denominator is always 4 (a beat is a quarter note).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ParameterError, TechnobError
from .results import BeatGrid

#: Largest distance between an analysed beat and the map's beat (s).
TOLERANCE_S = 1e-3
#: A grid whose beats all lie within this distance of one straight line (s) has one tempo: the
#: beat tracker's own wander (a few ms) is not a tempo change to follow.
CONSTANT_TOLERANCE_S = 0.010
#: Ramp interpolation domains.
RAMP_DOMAINS = ("time", "beats")
#: Pickup layouts.
PICKUPS = ("auto", "trim", "bar")
#: Tempo used when a grid has no beats and no tempo.
DEFAULT_BPM = 120.0


@dataclass(frozen=True)
class TempoPoint:
    """Where a tempo starts.

    Attributes
    ----------
    beat : float
        Quarter notes from the project start (whole numbers for fitted points).
    time : float
        Project seconds.
    bpm : float
        Tempo at this point, quarter notes per minute.
    ramp : bool
        ``True``: the tempo moves linearly to the next point's ``bpm``; ``False``: it holds.
    """

    beat: float
    time: float
    bpm: float
    ramp: bool = False


@dataclass(frozen=True)
class MeterChange:
    """A time signature from a bar line on: ``numerator / denominator`` from ``beat`` (quarter
    notes from the project start) on; ``bar`` is its 1-based bar number."""

    beat: float
    numerator: int
    denominator: int = 4
    bar: int = 1


@dataclass
class TempoMap:
    """Tempo points, time signatures and the audio's place on a project timeline.

    Build one with :func:`fit_tempo_map`. Times are project seconds unless a method says *audio*.

    Attributes
    ----------
    points : list of TempoPoint
        At least one; the first at beat 0, time 0. The last point's tempo holds for ever.
    meters : list of MeterChange
        At least one; the first at beat 0.
    audio_offset : float
        Project seconds of audio second 0 (negative when the start of the audio is trimmed).
    beat_positions : np.ndarray, shape ``(n_beats,)``
        Project beat of each analysed beat (whole numbers; negative ones lie before the project).
    analysed : np.ndarray, shape ``(n_beats,)``
        The analysed beat times, audio seconds.
    first_downbeat : float
        Project beat of the first analysed downbeat (a bar line).
    ramp_domain : str
        ``"time"`` or ``"beats"``: what ramps are linear in.
    tolerance : float
        The fit's tolerance, seconds.
    pickup : str
        ``"trim"`` or ``"bar"``: how the time before the first downbeat was laid out.
    """

    points: list[TempoPoint]
    meters: list[MeterChange]
    audio_offset: float = 0.0
    beat_positions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    analysed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    first_downbeat: float = 0.0
    ramp_domain: str = "time"
    tolerance: float = TOLERANCE_S
    pickup: str = "trim"

    # -- audio placement ----------------------------------------------------------------------

    @property
    def item_position(self) -> float:
        """Project seconds where the audio item starts (``>= 0``)."""
        return max(self.audio_offset, 0.0)

    @property
    def item_start_offset(self) -> float:
        """Seconds of audio hidden at the item's start (the take's start offset, ``>= 0``)."""
        return max(-self.audio_offset, 0.0)

    @property
    def ramps(self) -> bool:
        """Whether any point ramps."""
        return any(p.ramp for p in self.points[:-1])

    @property
    def bpm(self) -> float:
        """The tempo at the first analysed downbeat, BPM (the one tempo of a constant map)."""
        return self.bpm_at(self.first_downbeat)

    # -- conversions --------------------------------------------------------------------------

    def _segment(self, value: np.ndarray, key: str) -> np.ndarray:
        starts = np.array([getattr(p, key) for p in self.points])
        return np.clip(np.searchsorted(starts, value, side="right") - 1, 0, len(self.points) - 1)

    def _end_bpm(self, i: int) -> float:
        p = self.points[i]
        return self.points[i + 1].bpm if p.ramp and i + 1 < len(self.points) else p.bpm

    def bpm_at(self, beat: float) -> float:
        """Tempo at a project beat, BPM."""
        i = int(self._segment(np.array([float(beat)]), "beat")[0])
        p = self.points[i]
        if not p.ramp or i + 1 >= len(self.points):
            return p.bpm
        nxt = self.points[i + 1]
        if self.ramp_domain == "beats":
            return p.bpm + (nxt.bpm - p.bpm) * (beat - p.beat) / (nxt.beat - p.beat)
        t = float(self.beat_to_time(beat))
        return p.bpm + (nxt.bpm - p.bpm) * (t - p.time) / (nxt.time - p.time)

    def beat_to_time(self, beat: np.ndarray | float) -> np.ndarray:
        """Project seconds at project beats (before beat 0, the first tempo continues)."""
        q = np.asarray(beat, dtype=np.float64)
        seg = self._segment(q.reshape(-1), "beat")
        out = np.empty(q.size)
        for i in np.unique(seg):
            sel = seg == i
            p = self.points[i]
            out[sel] = p.time + _seg_time(q.reshape(-1)[sel] - p.beat, p.bpm, self._end_bpm(i),
                                          self._span(i), self.ramp_domain, p.ramp)
        return out.reshape(q.shape)

    def time_to_beat(self, time: np.ndarray | float) -> np.ndarray:
        """Project beats at project seconds."""
        t = np.asarray(time, dtype=np.float64)
        seg = self._segment(t.reshape(-1), "time")
        out = np.empty(t.size)
        for i in np.unique(seg):
            sel = seg == i
            p = self.points[i]
            out[sel] = p.beat + _seg_beats(t.reshape(-1)[sel] - p.time, p.bpm, self._end_bpm(i),
                                           self._span(i), self.ramp_domain, p.ramp)
        return out.reshape(t.shape)

    def _span(self, i: int) -> tuple[float, float]:
        """(beats, seconds) of segment ``i`` (inf for the last)."""
        if i + 1 >= len(self.points):
            return math.inf, math.inf
        a, b = self.points[i], self.points[i + 1]
        return b.beat - a.beat, b.time - a.time

    def audio_to_beat(self, seconds: np.ndarray | float) -> np.ndarray:
        """Project beats of audio times (seconds into the audio file)."""
        return self.time_to_beat(np.asarray(seconds, dtype=np.float64) + self.audio_offset)

    def beat_to_audio(self, beat: np.ndarray | float) -> np.ndarray:
        """Audio seconds at project beats."""
        return self.beat_to_time(beat) - self.audio_offset

    def bar_of(self, beat: float) -> tuple[int, float]:
        """``(bar number, beat in bar)`` of a project beat, both 1-based (beat may be fractional)."""
        m = self.meters[0]
        for nxt in self.meters[1:]:
            if nxt.beat > beat + 1e-9:
                break
            m = nxt
        k, rem = divmod(beat - m.beat, m.numerator)
        return m.bar + int(k), rem + 1.0

    # -- quality ------------------------------------------------------------------------------

    def errors(self) -> np.ndarray:
        """Map time minus analysed time of every analysed beat, seconds."""
        if self.analysed.size == 0:
            return np.zeros(0)
        return self.beat_to_audio(self.beat_positions) - self.analysed

    @property
    def max_error(self) -> float:
        """Largest ``|map - analysed|`` over the analysed beats, seconds."""
        e = self.errors()
        return float(np.abs(e).max()) if e.size else 0.0

    # -- format renderings --------------------------------------------------------------------

    def smf_tempi(self) -> list[tuple[float, int]]:
        """The points as SMF stores them: ``[(beat, microseconds per quarter), ...]``.

        Raises
        ------
        TechnobError
            The map ramps (SMF cannot; fit it with ``ramps=None``).
        """
        if self.ramps:
            raise TechnobError("a Standard MIDI File cannot hold tempo ramps; fit the map with ramps=None")
        return [(p.beat, int(min(max(round(60e6 / p.bpm), 1), 0xFFFFFF))) for p in self.points]

    def smf_drift(self) -> float:
        """Largest shift of an analysed beat caused by SMF's whole-microsecond tempi, seconds."""
        if self.analysed.size == 0:
            return 0.0
        tempi = self.smf_tempi()
        beats = np.array([b for b, _ in tempi])
        us = np.array([u for _, u in tempi], dtype=np.float64)
        t0 = np.concatenate([[0.0], np.cumsum(np.diff(beats) * us[:-1] / 1e6)])
        q = self.beat_positions
        i = np.clip(np.searchsorted(beats, q, side="right") - 1, 0, beats.size - 1)
        smf = t0[i] + (q - beats[i]) * us[i] / 1e6
        return float(np.abs(smf - self.beat_to_time(q)).max())

    def summary(self) -> dict[str, Any]:
        """Counts and errors for reports: points, ramps, meters, max beat error (ms)."""
        return {"points": len(self.points), "ramps": sum(p.ramp for p in self.points[:-1]),
                "meters": len(self.meters), "max_error_ms": round(self.max_error * 1e3, 4),
                "pickup": self.pickup, "audio_offset": round(self.audio_offset, 6)}

    def to_json(self) -> list[dict[str, Any]]:
        """The points as JSON: ``[{"time": audio s, "beat", "bpm", "ramp"}, ...]``.

        ``time`` is in *audio* seconds (what ``analysis.json`` readers expect); ``beat`` is the
        project beat.
        """
        return [{"time": round(p.time - self.audio_offset, 6), "beat": round(p.beat, 6),
                 "bpm": round(p.bpm, 6), "ramp": bool(p.ramp)} for p in self.points]


# --------------------------------------------------------------------------------------------
# Segment arithmetic
# --------------------------------------------------------------------------------------------


def _seg_time(dq: np.ndarray, s: float, e: float, span: tuple[float, float], domain: str,
              ramp: bool) -> np.ndarray:
    """Seconds after a point for ``dq`` beats after it (step or ramp from ``s`` to ``e`` BPM)."""
    dq = np.asarray(dq, dtype=np.float64)
    if not ramp or abs(e - s) < 1e-12 or not math.isfinite(span[0]):
        return dq * 60.0 / s
    beats, secs = span
    inside = np.clip(dq, 0.0, beats)
    if domain == "beats":  # tempo(q) = s + (e - s) q / B; t = 60 B / (e - s) ln(tempo / s)
        g = (e - s) / beats
        t = 60.0 / g * np.log1p(g * inside / s)
    else:  # tempo(t) = s + (e - s) t / D; beats = (s t + (e - s) t^2 / (2 D)) / 60
        a = (e - s) / (2.0 * secs)
        c = 60.0 * inside
        t = 2.0 * c / (s + np.sqrt(np.maximum(s * s + 4.0 * a * c, 0.0)))
    # outside a ramp (extrapolation), continue at the nearer end's tempo
    t = t + np.minimum(dq, 0.0) * 60.0 / s + np.maximum(dq - beats, 0.0) * 60.0 / e
    return t


def _seg_beats(dt: np.ndarray, s: float, e: float, span: tuple[float, float], domain: str,
               ramp: bool) -> np.ndarray:
    """Inverse of :func:`_seg_time`: beats after a point for ``dt`` seconds after it."""
    dt = np.asarray(dt, dtype=np.float64)
    if not ramp or abs(e - s) < 1e-12 or not math.isfinite(span[1]):
        return dt * s / 60.0
    beats, secs = span
    inside = np.clip(dt, 0.0, secs)
    if domain == "beats":
        g = (e - s) / beats
        q = s / g * np.expm1(g * inside / 60.0)
    else:
        q = (s * inside + (e - s) * inside**2 / (2.0 * secs)) / 60.0
    return q + np.minimum(dt, 0.0) * s / 60.0 + np.maximum(dt - secs, 0.0) * e / 60.0


def _ramp_end_bpm(s: float, beats: float, secs: float, domain: str) -> float:
    """End tempo of a ramp starting at ``s`` BPM that covers ``beats`` in ``secs``."""
    if domain == "time":
        return 120.0 * beats / secs - s
    # beats: secs = 60 B / (e - s) ln(e / s), decreasing in e: bisect on log(e)
    def f(e: float) -> float:
        if abs(e - s) < 1e-9 * s:
            return 60.0 * beats / s - secs
        return 60.0 * beats / (e - s) * math.log(e / s) - secs

    lo, hi = math.log(s * 1e-3), math.log(s * 1e3)
    if f(math.exp(lo)) * f(math.exp(hi)) > 0:
        return 60.0 * beats / secs
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if f(math.exp(mid)) > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


@dataclass
class _Seg:
    k0: int  # first beat index
    k1: int  # last beat index (the next segment starts there)
    t0: float  # audio seconds at k0
    s: float  # BPM at k0
    e: float  # BPM at k1 (== s for a step)
    ramp: bool

    def times(self, k: np.ndarray, domain: str) -> np.ndarray:
        span = (float(self.k1 - self.k0), 0.0)
        if self.ramp:
            span = (span[0], self.duration(domain))
        return self.t0 + _seg_time(k - self.k0, self.s, self.e, span, domain, self.ramp)

    def duration(self, domain: str) -> float:
        n = float(self.k1 - self.k0)
        if not self.ramp or abs(self.e - self.s) < 1e-12:
            return n * 60.0 / self.s
        if domain == "beats":
            return 60.0 * n / (self.e - self.s) * math.log(self.e / self.s)
        return 120.0 * n / (self.s + self.e)


def _longest(feasible: Any, lo: int, hi: int) -> int:
    """Largest K in ``[lo, hi]`` with ``feasible(K)`` (assumed true at ``lo``), by galloping and
    bisection."""
    if feasible(hi):
        return hi
    good, step = lo, 1
    bad = hi
    while good + step < hi:
        if feasible(good + step):
            good += step
            step *= 2
        else:
            bad = good + step
            break
    while bad - good > 1:
        mid = (good + bad) // 2
        if feasible(mid):
            good = mid
        else:
            bad = mid
    return good


def _step_fixed(b: np.ndarray, k0: int, t0: float, tol: float) -> _Seg:
    """Longest constant-tempo segment from beat ``k0`` anchored at ``t0`` (exact, O(n))."""
    rest = b[k0 + 1:]
    k = np.arange(1, rest.size + 1, dtype=np.float64)
    lo = np.maximum.accumulate((rest - tol - t0) / k)
    hi = np.minimum.accumulate((rest + tol - t0) / k)
    ok = np.flatnonzero(lo <= hi)
    n = int(ok[-1]) + 1 if ok.size else 1
    # the feasible periods at n: end as close to the analysed beat as allowed
    p = float(np.clip((rest[n - 1] - t0) / n, lo[n - 1], hi[n - 1]))
    return _Seg(k0, k0 + n, t0, 60.0 / p, 60.0 / p, False)


def _hull(x: np.ndarray, y: np.ndarray, upper: bool) -> np.ndarray:
    """Indices of the lower (or upper) convex hull of points with increasing ``x``."""
    sign = -1.0 if upper else 1.0
    out: list[int] = []
    for i in range(x.size):
        while len(out) >= 2:
            a, b = out[-2], out[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if sign * cross <= 0:
                out.pop()
            else:
                break
        out.append(i)
    return np.asarray(out)


def _minimax_line(k: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Chebyshev (minimax) line ``y ~ a + p k`` through points with increasing ``k``:
    ``(a, p, max error)``.

    The narrowest vertical strip holding the points has one side on an edge of the lower or
    upper convex hull and the other through a vertex of the opposite hull.
    """
    if k.size == 1:
        return float(y[0] - k[0]), 1.0, 0.0
    lo, up = _hull(k, y, False), _hull(k, y, True)
    best = (math.inf, 0.0, 0.0)
    for edge, other, sgn in ((lo, up, 1.0), (up, lo, -1.0)):
        if edge.size < 2:
            continue
        x0, x1, y0, y1 = k[edge[:-1]], k[edge[1:]], y[edge[:-1]], y[edge[1:]]
        slope = (y1 - y0) / (x1 - x0)
        icpt = y0 - slope * x0
        # vertical distance of every vertex of the other hull from each edge's line
        dist = sgn * (y[other][None, :] - (icpt[:, None] + slope[:, None] * k[other][None, :]))
        width = dist.max(axis=1)
        j = int(np.argmin(width))
        if width[j] < best[0]:
            best = (float(width[j]), float(slope[j]), float(icpt[j] + sgn * width[j] / 2.0))
    width, p, a = best
    return a, p, width / 2.0


def _step_free(b: np.ndarray, tol: float) -> _Seg:
    """Longest constant-tempo segment from beat 0 with a free anchor (a minimax line)."""
    n_all = b.size - 1
    y = b - b[0]

    def feasible(n: int) -> bool:
        k = np.arange(n + 1, dtype=np.float64)
        return _minimax_line(k, y[: n + 1])[2] <= tol * (1 - 1e-9)

    n = _longest(feasible, 1, n_all) if n_all >= 1 else 1
    k = np.arange(n + 1, dtype=np.float64)
    a, p, _ = _minimax_line(k, y[: n + 1])
    if p <= 0:
        p = float(np.median(np.diff(b[: n + 1])))
    return _Seg(0, n, float(b[0] + a), 60.0 / p, 60.0 / p, False)


def _ramp_fit(b: np.ndarray, k0: int, n: int, t0: float, s_fixed: float | None, domain: str) -> _Seg | None:
    """A ramp over beats ``k0..k0+n`` anchored at ``t0``: a quadratic least-squares fit of time
    against beat number gives the start tempo and the segment's length, refined on the exact
    model by a few Gauss-Newton steps. ``None`` when it does not describe a positive tempo."""
    k = np.arange(1, n + 1, dtype=np.float64)
    y = b[k0 + 1: k0 + n + 1] - t0
    if s_fixed is None:
        A = np.column_stack([k, k * k])
        (a, c), *_ = np.linalg.lstsq(A, y, rcond=None)
    else:
        a = 60.0 / s_fixed
        c = float(np.dot(k * k, y - a * k) / np.dot(k**2, k**2))
    if a <= 0:
        return None
    s = 60.0 / a if s_fixed is None else s_fixed
    secs = a * n + c * n * n
    if secs <= 0:
        return None
    e = _ramp_end_bpm(s, float(n), secs, domain)
    if not (e > 0 and math.isfinite(e)):
        return None
    seg = _Seg(k0, k0 + n, t0, s, e, True)
    # Gauss-Newton on (s, e) (or e alone) against the exact model
    for _ in range(3):
        r = seg.times(k0 + k, domain) - (t0 + y)
        params = [seg.s, seg.e] if s_fixed is None else [seg.e]
        jac = []
        for j in range(len(params)):
            h = 1e-6 * params[j]
            pp = list(params)
            pp[j] += h
            trial = _Seg(k0, k0 + n, t0, *(pp if s_fixed is None else [s_fixed, pp[0]]), True)
            jac.append((trial.times(k0 + k, domain) - seg.times(k0 + k, domain)) / h)
        J = np.column_stack(jac)
        step, *_ = np.linalg.lstsq(J, -r, rcond=None)
        new = [p + d for p, d in zip(params, step, strict=True)]
        if min(new) <= 0:
            break
        seg = _Seg(k0, k0 + n, t0, *(new if s_fixed is None else [s_fixed, new[0]]), True)
    return seg


def _ramp_longest(b: np.ndarray, k0: int, t0: float, s_fixed: float | None, tol: float, domain: str,
                  min_n: int) -> _Seg | None:
    """Longest ramp from beat ``k0`` (anchored at ``t0``; start tempo ``s_fixed`` when given) that
    keeps its beats within ``tol``, at least ``min_n`` beats long; ``None`` if there is none."""
    n_all = b.size - 1 - k0
    if n_all < max(min_n, 3):
        return None
    cache: dict[int, _Seg | None] = {}

    def fit(n: int) -> _Seg | None:
        if n not in cache:
            seg = _ramp_fit(b, k0, n, t0, s_fixed, domain)
            if seg is not None:
                k = np.arange(k0 + 1, k0 + n + 1)
                local = 60.0 / float(np.median(np.diff(b[k0:k0 + n + 1])))
                if (np.abs(seg.times(k, domain) - b[k]).max() > tol
                        or max(abs(seg.s - local), abs(seg.e - local)) > MAX_RAMP_DEVIATION * local):
                    seg = None
            cache[n] = seg
        return cache[n]

    if fit(min_n) is None:
        return None
    n = _longest(lambda m: fit(m) is not None, min_n, n_all)
    if n == n_all:
        return fit(n)
    # The next point's tempo is where this ramp arrives, so what follows must start from its end
    # tempo. The longest ramp often arrives at a poor end tempo (it bends to reach one more beat):
    # keep only lengths after which that tempo holds for at least one beat (so the fit never runs
    # into a dead end), and among them the one reaching furthest with the hold.
    best, reach = None, 0
    for m in sorted({max(min_n, int(round(n * f))) for f in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)}, reverse=True):
        seg = fit(m)
        if seg is None:
            continue
        hold = _follow(b, seg, tol, domain)
        if hold >= 1 and m + hold > reach:
            best, reach = seg, m + hold
    return best


def _follow(b: np.ndarray, seg: _Seg, tol: float, domain: str) -> int:
    """Beats a ramp's end tempo holds for after it (the whole rest when it ends on the last beat)."""
    if seg.k1 >= b.size - 1:
        return b.size
    t_end = float(seg.times(np.array([seg.k1]), domain)[0])
    return _hold(b, seg.k1, t_end, seg.e, tol)


#: Shortest ramp used (beats): shorter ones chase the analysis noise.
MIN_RAMP_BEATS = 8
#: A ramp's start and end tempo stay within this fraction of the median tempo of its beats.
MAX_RAMP_DEVIATION = 0.2


def _hold(b: np.ndarray, k0: int, t0: float, bpm: float, tol: float) -> int:
    """How many beats after ``k0`` a constant ``bpm`` from ``t0`` keeps within ``tol``."""
    rest = b[k0 + 1:]
    k = np.arange(1, rest.size + 1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(t0 + k * 60.0 / bpm - rest) > tol)
    return int(bad[0]) if bad.size else int(rest.size)


def _fit_segments(b: np.ndarray, tol: float, ramps: str | None) -> list[_Seg]:
    """Greedy segmentation of beat times ``b`` (audio s) into steps (and ramps).

    Each segment is the longest one that keeps its beats within ``tol``, starting where the
    previous one ended (the first with a free anchor). With ``ramps``, a ramp of at least
    :data:`MIN_RAMP_BEATS` replaces a step when it covers more beats. A point's tempo is where the
    ramp before it arrives, so after a ramp comes either a ramp from its end tempo or a step
    holding that tempo, whichever lasts longer; a ramp is only taken where its end tempo can hold
    for a beat, so the fit never runs into a dead end.
    """
    segs: list[_Seg] = []
    k0, t0 = 0, None
    last = b.size - 1
    while k0 < last:
        best: _Seg | None = None
        if ramps is not None and segs and segs[-1].ramp:
            e = segs[-1].e
            chained = _ramp_longest(b, k0, float(t0), e, tol, ramps, 1)  # type: ignore[arg-type]
            n_hold = _hold(b, k0, float(t0), e, tol)  # type: ignore[arg-type]
            if chained is not None and (chained.k1 - k0 >= max(MIN_RAMP_BEATS, n_hold + 1) or n_hold == 0):
                best = chained
            else:  # every ramp is chosen so that its end tempo holds for at least a beat
                best = _Seg(k0, k0 + max(n_hold, 1), float(t0), e, e, False)  # type: ignore[arg-type]
        else:
            step = _step_free(b, tol) if t0 is None else _step_fixed(b, k0, t0, tol)
            best = step
            if ramps is not None:
                anchor = float(b[0]) if t0 is None else t0
                ramp = _ramp_longest(b, k0, anchor, None, tol, ramps,
                                     max(step.k1 - k0 + 1, MIN_RAMP_BEATS))
                if ramp is not None and abs(ramp.e - ramp.s) > 1e-6:
                    best = ramp
        segs.append(best)
        t0 = float(best.times(np.array([best.k1]), ramps or "time")[0])
        k0 = best.k1
    return segs


def _meters(grid: BeatGrid, idx_down: np.ndarray, pre: int) -> list[tuple[int, int]]:
    """``[(beat index, numerator), ...]`` from the downbeats: one entry where the bar length
    changes. ``pre`` beats before the first downbeat form the pickup."""
    bpb = max(int(grid.beats_per_bar), 1)
    out: list[tuple[int, int]] = []
    if pre > 0:
        whole, part = divmod(pre, bpb)
        if part:
            out.append((0, part))
        if whole:
            out.append((part, bpb))
    lengths = np.diff(idx_down) if idx_down.size > 1 else np.zeros(0, dtype=np.int64)
    for j, length in enumerate(lengths):
        start = pre + int(idx_down[j] - idx_down[0])
        num = int(length)
        if num >= 1 and (not out or out[-1][1] != num):
            out.append((start, num))
    tail = pre + (int(idx_down[-1] - idx_down[0]) if idx_down.size else 0)
    if not out or out[-1][1] != bpb:
        out.append((tail, bpb))
    # collapse entries at the same beat (the later wins)
    clean: list[tuple[int, int]] = []
    for beat, num in out:
        if clean and clean[-1][0] == beat:
            clean[-1] = (beat, num)
        elif not clean or clean[-1][1] != num:
            clean.append((beat, num))
    return clean


def fit_tempo_map(
    grid: BeatGrid,
    *,
    ramps: str | None = None,
    tolerance: float = TOLERANCE_S,
    pickup: str = "auto",
    constant: bool = False,
    constant_tolerance: float = CONSTANT_TOLERANCE_S,
) -> TempoMap:
    """The tempo map of a beat grid: the fewest tempo points that keep every beat within
    ``tolerance``, time signatures from the downbeats, and where the audio sits.

    Parameters
    ----------
    grid : BeatGrid
        Beats (s, strictly increasing), downbeats (a subset of the beats), meter.
    ramps : {None, "time", "beats"}
        ``None``: steps only (SMF, Ableton Live). ``"time"``: linear ramps in time (REAPER).
        ``"beats"``: linear ramps in beats (DAWproject).
    tolerance : float
        Largest ``|map - analysed|`` of a beat, seconds (default 1 ms).
    pickup : {"auto", "trim", "bar"}
        How the time before the first downbeat is laid out (see the module docstring).
    constant : bool
        One tempo for the whole track whatever the error (the minimax line when it is within
        ``constant_tolerance``, else the least-squares tempo): for targets that hold a single
        tempo (Ableton Live over AbletonOSC).
    constant_tolerance : float
        A grid within this distance (s) of one straight line is a constant-tempo track and gets
        exactly one tempo (the beat tracker's wander is not followed); default 10 ms.

    Returns
    -------
    TempoMap

    Raises
    ------
    ParameterError
        Unknown ``ramps``/``pickup``, or a tolerance that is not positive.
    """
    if ramps is not None and ramps not in RAMP_DOMAINS:
        raise ParameterError(f"ramps must be None or one of {', '.join(RAMP_DOMAINS)}; got {ramps!r}")
    if pickup not in PICKUPS:
        raise ParameterError(f"pickup must be one of {', '.join(PICKUPS)}; got {pickup!r}")
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise ParameterError(f"tolerance must be a positive number of seconds, got {tolerance!r}")
    domain = ramps or "time"
    b = np.asarray(grid.beats, dtype=np.float64)
    bpb = max(int(grid.beats_per_bar), 1)
    fallback = grid.tempo if grid.tempo > 0 else DEFAULT_BPM
    if b.size < 2:
        t = float(b[0]) if b.size else 0.0
        return TempoMap([TempoPoint(0.0, 0.0, fallback)], [MeterChange(0.0, bpb)], audio_offset=-t,
                        beat_positions=np.zeros(b.size), analysed=b.copy(), ramp_domain=domain,
                        tolerance=tolerance, pickup="trim")
    # which beats are downbeats
    if grid.downbeats.size:
        idx_down = np.unique(np.clip(np.searchsorted(b, grid.downbeats - 1e-6), 0, b.size - 1))
    else:
        idx_down = np.arange(0, b.size, bpb)
    j0 = int(idx_down[0])

    k_all = np.arange(b.size, dtype=np.float64)
    a_line, p_line, err_line = _minimax_line(k_all, b)
    if constant or err_line <= constant_tolerance:
        if err_line > constant_tolerance:  # forced: the least-squares tempo
            p_line, a_line = np.polyfit(k_all, b, 1)
        segs = [_Seg(0, b.size - 1, float(a_line), 60.0 / p_line, 60.0 / p_line, False)]
    else:
        segs = _fit_segments(b, float(tolerance), ramps)

    def model(k: np.ndarray) -> np.ndarray:
        out = np.empty(k.size)
        for seg in segs:
            sel = (k >= seg.k0) & (k <= seg.k1) if seg is segs[-1] else (k >= seg.k0) & (k < seg.k1)
            out[sel] = seg.times(k[sel], domain)
        before = k < segs[0].k0
        out[before] = segs[0].t0 + (k[before] - segs[0].k0) * 60.0 / segs[0].s
        after = k > segs[-1].k1
        end_t = segs[-1].times(np.array([segs[-1].k1]), domain)[0]
        out[after] = end_t + (k[after] - segs[-1].k1) * 60.0 / segs[-1].e
        return out

    t_first = float(model(np.array([0.0]))[0])
    period0 = 60.0 / segs[0].s
    mode = pickup
    if mode == "auto":
        mode = "trim" if j0 == 0 and t_first < 0.5 * period0 else "bar"
    if mode == "trim":
        pre = 0
        origin_k = float(j0)  # the beat index at project beat 0
    else:
        extra = max(0, int(math.ceil(t_first / period0 - 1e-9)))
        pre = extra + j0
        origin_k = -float(extra)
    origin_t = float(model(np.array([origin_k]))[0])
    audio_offset = -origin_t

    # tempo points in project coordinates
    points: list[TempoPoint] = []
    for i, seg in enumerate(segs):
        if seg.k1 <= origin_k and i < len(segs) - 1:
            continue  # trimmed away
        if seg.k0 < origin_k:  # the project starts inside this segment (trim)
            start_k = origin_k
            if seg.ramp and domain == "time":
                t_in = float(model(np.array([origin_k]))[0]) - seg.t0
                bpm = seg.s + (seg.e - seg.s) * t_in / seg.duration(domain)
            elif seg.ramp:
                bpm = seg.s + (seg.e - seg.s) * (origin_k - seg.k0) / (seg.k1 - seg.k0)
            else:
                bpm = seg.s
        else:
            if not points and seg.k0 > origin_k:  # the pickup before the first beat (bar)
                points.append(TempoPoint(0.0, 0.0, float(seg.s), False))
            start_k, bpm = float(seg.k0), seg.s
        t_start = float(model(np.array([start_k]))[0])
        points.append(TempoPoint(start_k - origin_k, t_start - origin_t, float(bpm), seg.ramp))
    if segs[-1].ramp:
        end_t = float(segs[-1].times(np.array([segs[-1].k1]), domain)[0])
        points.append(TempoPoint(segs[-1].k1 - origin_k, end_t - origin_t, float(segs[-1].e), False))
    merged: list[TempoPoint] = []
    for p in points:
        if merged and not merged[-1].ramp and abs(merged[-1].bpm - p.bpm) < 1e-9 and not p.ramp:
            continue  # the same tempo again
        merged.append(p)
    meters = [MeterChange(float(beat), num, 4, 0) for beat, num in _meters(grid, idx_down, pre)]
    numbered: list[MeterChange] = []
    bar = 1
    for i, m in enumerate(meters):
        if i:
            prev = meters[i - 1]
            bar += int(round((m.beat - prev.beat) / prev.numerator))
        numbered.append(MeterChange(m.beat, m.numerator, 4, bar))
    positions = np.arange(b.size, dtype=np.float64) - origin_k
    tm = TempoMap(merged, numbered, audio_offset=audio_offset, beat_positions=positions,
                  analysed=b.copy(), first_downbeat=float(j0 - origin_k), ramp_domain=domain,
                  tolerance=float(tolerance), pickup=mode)
    return tm


# --------------------------------------------------------------------------------------------
# Grid corrections
# --------------------------------------------------------------------------------------------


#: A downbeat given further than this share of a beat from the nearest beat lies between two
#: beats: the grid took the off-beats and moves half a beat onto it (:func:`onto_downbeat`).
OFF_BEAT_SHARE = 0.25


def beat_position(beats: np.ndarray, t: float) -> float:
    """Fractional beat number of time ``t`` (s) on ``beats`` (at least 2, increasing): linear
    between beats, the grid extended at its end periods outside them."""
    if t <= beats[0]:
        return float((t - beats[0]) / (beats[1] - beats[0]))
    if t >= beats[-1]:
        return float(beats.size - 1 + (t - beats[-1]) / (beats[-1] - beats[-2]))
    i = int(np.searchsorted(beats, t, side="right")) - 1
    return float(i + (t - beats[i]) / (beats[i + 1] - beats[i]))


def onto_downbeat(beats: np.ndarray, downbeat: float, duration: float | None = None) -> np.ndarray:
    """``beats`` moved by half a beat when the given ``downbeat`` (s) lies nearer the middle
    between two beats than a beat: the tracker took the off-beats (a funk groove whose kick and
    bass sit off the beat), and a downbeat the user gives is a beat. ``beats`` itself otherwise.

    Parameters
    ----------
    beats : np.ndarray, ``(n,)``
        Beat times, seconds, increasing.
    downbeat : float
        Time of a downbeat, seconds (outside the beats: the grid extended at its end periods).
    duration : float, optional
        Track length, seconds; the moved grid stays in ``[0, duration]`` (no upper limit when
        absent).

    Returns
    -------
    np.ndarray
        The midpoints of the beats, plus half a period before the first and after the last
        where that is inside ``[0, duration]``; or ``beats`` itself.
    """
    if beats.size < 2:
        return beats
    x = beat_position(beats, downbeat)
    if abs(x - round(x)) <= OFF_BEAT_SHARE:
        return beats
    first = beats[0] - 0.5 * (beats[1] - beats[0])
    last = beats[-1] + 0.5 * (beats[-1] - beats[-2])
    return np.concatenate([[first] if first >= 0.0 else [], 0.5 * (beats[:-1] + beats[1:]),
                           [last] if duration is None or last <= duration else []])


def corrected_grid(
    grid: BeatGrid,
    *,
    bpm: float | None = None,
    downbeat: float | None = None,
    beats_per_bar: int | None = None,
    duration: float | None = None,
) -> BeatGrid:
    """A beat grid with a user's corrections applied (the input is not modified).

    Parameters
    ----------
    grid : BeatGrid
    bpm : float, optional
        Tempo override: a constant grid at ``bpm`` through the first downbeat (or ``downbeat``),
        covering ``duration`` (default: up to the last beat).
    downbeat : float, optional
        Time (s) of a downbeat: the beat nearest to it starts a bar, and bars are counted from it.
        A time nearer the middle between two beats moves the grid half a beat onto it first
        (:func:`onto_downbeat`).
    beats_per_bar : int, optional
        Meter numerator; downbeats are renumbered from the first downbeat (or ``downbeat``).
    duration : float, optional
        Track length (s), for a tempo override.

    Raises
    ------
    ParameterError
        ``bpm`` out of ``(0, 1000]``, ``beats_per_bar < 1``, or a downbeat outside the grid.
    """
    beats = grid.beats.copy()
    bpb = int(beats_per_bar) if beats_per_bar is not None else int(grid.beats_per_bar)
    if bpb < 1:
        raise ParameterError(f"beats per bar must be >= 1, got {beats_per_bar}")
    anchor = downbeat
    if anchor is None:
        anchor = float(grid.downbeats[0]) if grid.downbeats.size else (float(beats[0]) if beats.size else 0.0)
    if downbeat is not None and (not math.isfinite(downbeat) or downbeat < 0):
        raise ParameterError(f"downbeat time must be >= 0 s, got {downbeat}")
    if bpm is not None:
        if not (0 < bpm <= 1000 and math.isfinite(bpm)):
            raise ParameterError(f"tempo {bpm} BPM is out of range (0, 1000]")
        end = duration if duration is not None else (float(beats[-1]) if beats.size else anchor)
        period = 60.0 / bpm
        n_before = int(math.floor(anchor / period + 1e-9))
        n_after = int(math.floor((end - anchor) / period + 1e-9))
        beats = anchor + period * np.arange(-n_before, n_after + 1)
        i0 = n_before
        return BeatGrid(beats, beats[i0 % bpb::bpb], float(bpm), bpb)
    if beats.size == 0:
        return BeatGrid(beats, beats.copy(), grid.tempo, bpb)
    if downbeat is not None:
        beats = onto_downbeat(beats, float(downbeat), duration)
    i0 = int(np.argmin(np.abs(beats - anchor)))
    if downbeat is not None and abs(beats[i0] - downbeat) > 0.5 * float(np.median(np.diff(beats)) if beats.size > 1 else 1.0):
        raise ParameterError(f"no beat near the downbeat at {downbeat:.3f} s")
    downbeats = beats[i0 % bpb::bpb]
    return BeatGrid(beats, downbeats, grid.tempo, bpb)
