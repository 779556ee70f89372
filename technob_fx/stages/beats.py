"""Beat tracking: tempo, beats, downbeats and a :class:`~technob_fx.core.results.BeatGrid`.

Techno is 4/4 over a steady kick, and the tracker exploits it while staying reasonable on other
music:

1. **Onset signal** -- the front-end's log-mel flux, with the low band (< 200 Hz, the kick) weighted
   up, at 86 frames per second (:data:`technob_fx.core.frontend.FPS`).
2. **Tempo** -- a comb over the autocorrelation of the onset signal (lags 1-4 x the period, so the
   whole metrical hierarchy votes), evaluated every 0.05 BPM inside ``[min_bpm, max_bpm]``, times a
   log-normal prior centred on ``prior_bpm``. This settles the x2 / /2 octave question: a half
   tempo is supported by only every second comb tooth, a double tempo loses on the prior and the
   range. Both ends of the range are settable.
3. **Beats** -- dynamic programming (Ellis 2007) picks the beat sequence that best agrees with the
   onsets and the period.
4. **Grid** -- beats that sit on a clear onset are located with sub-frame (parabolic) precision,
   given integer beat numbers (a gap without onsets, a breakdown with no kick, gets
   ``round(gap / period)`` beats), and a smooth curve of time against beat number is fitted
   through them (local linear fits, then a cubic Hermite spline whose slopes are the local beat
   periods). The grid therefore keeps going, in time, through breakdowns, and follows a drifting
   tempo.
5. **Downbeats** -- each of the four bar phases is scored by how much the harmony and the bass
   change across its beats (chords and bass lines change on bar lines) and how little snare /
   clap energy it has (backbeats fall on 2 and 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ParameterError
from ..core.frontend import StreamedAnalyzer, frontend_for
from ..core.node import AnalyzerNode, Param
from ..core.results import BeatGrid

if TYPE_CHECKING:
    from ..core.frontend import Frontend

#: Default tempo range (BPM) and the centre of the tempo prior.
MIN_BPM = 70.0
MAX_BPM = 180.0
PRIOR_BPM = 125.0


def beat_onset_signal(frontend: Frontend) -> np.ndarray:
    """Onset signal used for beat tracking: full-band flux plus the low (kick) band, ``(n_frames,)``.

    Normalised so that its 95th percentile is 1 (all zeros for silence). Cached on the front-end.
    """

    def compute() -> np.ndarray:
        bands = frontend.onset_bands()
        full = frontend.onset_envelope()
        o = full.astype(np.float64) + 1.5 * bands[0] + 0.25 * bands[1]
        ref = float(np.percentile(o, 95)) if o.size else 0.0
        if not np.isfinite(ref) or ref <= 1e-6:
            return np.zeros_like(o)
        o = o / ref
        o.setflags(write=False)
        return o

    return frontend.get("beat_onset", compute)


def _autocorr(x: np.ndarray, max_lag: int) -> np.ndarray:
    import scipy.fft

    x = x - x.mean()
    n = x.size
    nfft = scipy.fft.next_fast_len(2 * n)
    f = scipy.fft.rfft(x, nfft)
    ac = scipy.fft.irfft(f.real**2 + f.imag**2, nfft)[: max_lag + 1]
    ac /= np.arange(n, n - max_lag - 1, -1).clip(1)  # unbiased
    return ac / (ac[0] + 1e-12)


def estimate_tempo(
    onset: np.ndarray,
    fps: float,
    *,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    prior_bpm: float = PRIOR_BPM,
    prior_octaves: float = 1.0,
) -> tuple[float, float]:
    """Global tempo from an onset signal by a comb over its autocorrelation.

    Parameters
    ----------
    onset : np.ndarray, shape ``(n_frames,)``
        Onset strength.
    fps : float
        Frames per second of ``onset``.
    min_bpm, max_bpm : float
        Allowed tempo range, BPM.
    prior_bpm : float
        Centre of the log-normal tempo prior, BPM.
    prior_octaves : float
        Standard deviation of the prior in octaves (large = no preference).

    Returns
    -------
    bpm : float
        Tempo, BPM (0.0 when the signal has no periodicity at all).
    salience : float
        Weighted mean autocorrelation over the comb's teeth (lags 1-4 x the period), ``[0, 1]``;
        low for beatless audio.
    """
    n = onset.size
    # lags up to half the signal only: beyond that the autocorrelation rests on too few products
    max_lag = int(min(n // 2, 4 * 60.0 * fps / min_bpm + 2))
    if n < 8 or max_lag < 4 or not np.any(onset > 0):
        return 0.0, 0.0
    # remove the slow envelope (loudness changes) before the autocorrelation
    k = max(3, int(fps))
    kern = np.ones(k) / k
    x = onset - np.convolve(onset, kern, mode="same")
    ac = _autocorr(np.maximum(x, 0.0), max_lag)
    bpms = np.arange(min_bpm, max_bpm + 1e-9, 0.05)
    lags = 60.0 * fps / bpms
    score = np.zeros_like(bpms)
    wsum = np.zeros_like(bpms)
    for m, w in ((1, 1.0), (2, 1.0), (3, 0.5), (4, 1.0)):
        lag = lags * m
        ok = lag < max_lag
        score[ok] += w * np.interp(lag[ok], np.arange(ac.size), ac)
        wsum[ok] += w
    prior = np.exp(-0.5 * (np.log2(bpms / prior_bpm) / prior_octaves) ** 2)
    total = np.maximum(score, 0.0) * prior
    i = int(np.argmax(total))
    if total[i] <= 0:
        return 0.0, 0.0
    # parabolic refinement on the 0.05 BPM grid
    bpm = float(bpms[i])
    if 0 < i < bpms.size - 1:
        a, b, c = total[i - 1], total[i], total[i + 1]
        d = a - 2 * b + c
        if d < 0:
            bpm += 0.05 * 0.5 * (a - c) / d
    sal = float(score[i]) / max(float(wsum[i]), 1.0)  # weighted mean over the teeth in range
    return bpm, max(0.0, sal)


def _dp_beats(onset: np.ndarray, period: float, tightness: float = 100.0) -> np.ndarray:
    """Ellis-style dynamic-programming beat tracker; returns beat frame indices."""
    n = onset.size
    lo = max(1, int(round(0.7 * period)))
    hi = max(lo + 1, int(round(1.4 * period)))
    offs = np.arange(lo, hi + 1)
    penalty = -tightness * np.log(offs / period) ** 2
    local = onset - onset.std() * 0.1  # a small cost for beats on silence
    cs = np.zeros(n)
    back = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        if t >= lo:
            start = max(0, t - hi)
            prev = cs[start : t - lo + 1][::-1] + penalty[: t - lo + 1 - start]
            j = int(np.argmax(prev))
            if prev[j] > 0:
                cs[t] = local[t] + prev[j]
                back[t] = t - lo - j
                continue
        cs[t] = local[t]
    # end at the best-scoring frame within the last period
    tail = cs[max(0, n - hi) :]
    t = max(0, n - hi) + int(np.argmax(tail))
    out = []
    while t >= 0:
        out.append(t)
        t = int(back[t])
    return np.asarray(out[::-1], dtype=np.int64)


def _refine_peak(onset: np.ndarray, centre: float, radius: int) -> tuple[float, float]:
    """Sub-frame position and height of the strongest onset peak within ``radius`` of ``centre``."""
    c = int(round(centre))
    a = max(1, c - radius)
    b = min(onset.size - 1, c + radius + 1)
    if b <= a:
        return centre, 0.0
    j = a + int(np.argmax(onset[a:b]))
    y0, y1, y2 = onset[j - 1], onset[j], onset[min(j + 1, onset.size - 1)]
    d = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / d if d < 0 else 0.0
    return j + float(np.clip(off, -0.5, 0.5)), float(y1)


def _fit_grid(
    times: np.ndarray, index: np.ndarray, period: float, win: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Local linear fits of time vs beat number: smoothed times and local periods at ``index``."""
    t_hat = np.empty(times.size)
    slope = np.empty(times.size)
    for k in range(times.size):
        sel = np.abs(index - index[k]) <= win
        if sel.sum() < 3:
            # few neighbours: take the nearest 3 supported beats on either side
            order = np.argsort(np.abs(index - index[k]))[: min(6, index.size)]
            sel = np.zeros(index.size, bool)
            sel[order] = True
        x = index[sel].astype(np.float64)
        y = times[sel]
        if np.ptp(x) == 0:
            t_hat[k], slope[k] = times[k], period
            continue
        # robust: one pass of residual trimming
        p = np.polyfit(x, y, 1)
        r = np.abs(y - np.polyval(p, x))
        keep = r <= max(3 * np.median(r), 0.01)
        if keep.sum() >= 2 and np.ptp(x[keep]) > 0:
            p = np.polyfit(x[keep], y[keep], 1)
        t_hat[k] = np.polyval(p, index[k])
        slope[k] = p[0] if p[0] > 0 else period
    return t_hat, slope


def _downbeat_phase(frontend: Frontend, beats: np.ndarray, beats_per_bar: int) -> int:
    """Index (0..beats_per_bar-1) of the first beat that starts a bar."""
    if beats.size < 2 * beats_per_bar:
        return 0
    from ..core.frontend import mel_centres

    fps = frontend.fps
    lm = frontend.log_mel()
    centres = mel_centres()
    harm = (centres > 30) & (centres < 2500)
    bands = frontend.onset_bands()
    fr = np.clip(np.round(beats * fps).astype(np.int64), 0, lm.shape[0] - 1)
    period = np.median(np.diff(fr))
    skip = max(1, int(0.12 * period))
    # mean harmonic spectrum of each beat interval (skipping the transient)
    edges = np.append(fr, min(lm.shape[0], fr[-1] + int(period)))
    cs = np.concatenate([np.zeros((1, int(harm.sum()))), np.cumsum(lm[:, harm], axis=0, dtype=np.float64)])
    a = np.minimum(edges[:-1] + skip, edges[1:] - 1)
    b = np.maximum(edges[1:], a + 1)
    spec = (cs[b] - cs[a]) / (b - a)[:, None]
    change = np.zeros(beats.size)
    change[1:] = np.abs(np.diff(spec, axis=0)).mean(axis=1)
    # snare / clap strength at each beat (mid band), relative to the low band
    mid = bands[1]
    mid_at = np.array([mid[max(0, f - 2) : f + 3].max() if f < mid.size else 0.0 for f in fr])

    def z(x: np.ndarray) -> np.ndarray:
        s = x.std()
        return (x - x.mean()) / s if s > 1e-9 else np.zeros_like(x)

    feat = z(change) - 0.5 * z(mid_at)
    scores = [feat[p::beats_per_bar].mean() for p in range(beats_per_bar)]
    return int(np.argmax(scores))


def track_beats(
    audio: np.ndarray,
    sr: float,
    *,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    prior_bpm: float = PRIOR_BPM,
    beats_per_bar: int = 4,
    frontend: Frontend | None = None,
) -> BeatGrid:
    """Track tempo, beats and downbeats.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified).
    sr : float
        Sample rate, Hz.
    min_bpm, max_bpm : float
        Allowed tempo range, BPM (``0 < min_bpm < max_bpm <= 400``). Narrow it to force a tempo
        octave (e.g. ``min_bpm=110, max_bpm=150`` for techno).
    prior_bpm : float
        Most likely tempo, BPM (centre of the log-normal prior that breaks octave ties).
    beats_per_bar : int
        Meter numerator (4).
    frontend : Frontend, optional
        Shared front-end of ``audio`` (created when absent). The grid is cached on it per
        parameter set, so a segmenter or feature extractor after a beat tracker reuses it.

    Returns
    -------
    BeatGrid
        ``beats`` and ``downbeats`` in seconds; ``tempo`` is the median local tempo in BPM
        (:func:`technob_fx.core.tempo.fit_tempo_map` gives the tempo map of a drifting track). An empty grid with tempo
        0 when the audio has no beat (silence, noise, too short).

    Raises
    ------
    ParameterError
        Invalid tempo range.
    AudioError
        Invalid audio (NaN/inf samples, wrong shape, bad sample rate).
    """
    if not (0 < min_bpm < max_bpm <= 400):
        raise ParameterError(f"tempo range must satisfy 0 < min_bpm < max_bpm <= 400, got [{min_bpm}, {max_bpm}]")
    if not (0 < prior_bpm <= 1000):
        raise ParameterError(f"prior_bpm must be in (0, 1000], got {prior_bpm}")
    if beats_per_bar < 1:
        raise ParameterError(f"beats_per_bar must be >= 1, got {beats_per_bar}")
    fe = frontend_for(audio, sr, frontend)
    key = f"beat_grid:{min_bpm:g}:{max_bpm:g}:{prior_bpm:g}:{beats_per_bar}"
    grid = fe.get(key, lambda: _track(fe, min_bpm, max_bpm, prior_bpm, beats_per_bar))
    # a copy: callers may change the grid without touching the cached one
    return BeatGrid(grid.beats.copy(), grid.downbeats.copy(), grid.tempo, grid.beats_per_bar)


def _track(fe: Frontend, min_bpm: float, max_bpm: float, prior_bpm: float, beats_per_bar: int) -> BeatGrid:
    empty = BeatGrid(np.zeros(0), np.zeros(0), 0.0, beats_per_bar)
    onset = beat_onset_signal(fe)
    fps = fe.fps
    if onset.size < int(2 * fps) or not np.any(onset > 0):
        return empty
    bpm0, salience = estimate_tempo(onset, fps, min_bpm=min_bpm, max_bpm=max_bpm, prior_bpm=prior_bpm)
    # the autocorrelation of a beatless signal is noise of size ~ 1/sqrt(n): the threshold follows
    if bpm0 <= 0 or salience < max(0.03, 2.8 / np.sqrt(onset.size)):
        return empty
    period = 60.0 * fps / bpm0
    dp = _dp_beats(onset, period)
    if dp.size < 4:
        return empty
    # sub-frame peaks at the tracked beats; keep the ones on a clear onset
    radius = max(1, int(round(period / 6)))
    pos = np.empty(dp.size)
    height = np.empty(dp.size)
    for k, f in enumerate(dp):
        pos[k], height[k] = _refine_peak(onset, float(f), radius)
    ref = float(np.percentile(height, 90))
    strong = height >= 0.3 * ref
    if strong.sum() < 4:
        return empty
    t_sup = pos[strong] / fps
    # integer beat numbers, counting beats across gaps with the local period on both sides
    per = period / fps
    idx = np.zeros(t_sup.size, dtype=np.int64)
    recent: list[float] = []
    for k in range(1, t_sup.size):
        d = t_sup[k] - t_sup[k - 1]
        local = float(np.median(recent[-8:])) if recent else per
        steps = max(1, int(round(d / local)))
        if steps > 1:
            # look ahead: the period after the gap
            ahead = np.diff(t_sup[k : k + 9])
            ahead = ahead[(ahead > 0.8 * local) & (ahead < 1.25 * local)]
            if ahead.size:
                local = 0.5 * (local + float(np.median(ahead)))
                steps = max(1, int(round(d / local)))
        idx[k] = idx[k - 1] + steps
        if steps == 1:
            recent.append(d)
    # drop doubly assigned numbers (two peaks on one beat): keep the stronger
    h_sup = height[strong]
    keep = np.ones(t_sup.size, bool)
    for k in range(1, t_sup.size):
        if idx[k] == idx[k - 1]:
            drop = k if h_sup[k] < h_sup[k - 1] else k - 1
            keep[drop] = False
    t_sup, idx = t_sup[keep], idx[keep]
    t_hat, slope = _fit_grid(t_sup, idx, per)
    from scipy.interpolate import CubicHermiteSpline

    all_idx = np.arange(idx[0], idx[-1] + 1)
    if idx.size >= 2:
        beats = CubicHermiteSpline(idx.astype(np.float64), t_hat, slope)(all_idx)
    else:
        beats = t_hat.copy()
    # extend to the ends of the sounding audio at the end periods
    rms = fe.spectral().rms
    loud = np.flatnonzero(rms > 1e-3 * max(float(rms.max()), 1e-9))
    t_first = loud[0] / fps if loud.size else 0.0
    t_last = loud[-1] / fps if loud.size else fe.duration
    p0, p1 = float(slope[0]), float(slope[-1])
    n_pre = int(np.floor((beats[0] - t_first) / p0 + 0.25)) if p0 > 0 else 0
    n_post = int(np.floor((t_last - beats[-1]) / p1 - 0.5)) if p1 > 0 else 0
    pre = beats[0] - p0 * np.arange(max(0, n_pre), 0, -1)
    post = beats[-1] + p1 * np.arange(1, max(0, n_post) + 1)
    beats = np.concatenate([pre, beats, post])
    beats = beats[(beats >= -0.05) & (beats <= fe.duration)]
    beats = np.maximum(beats, 0.0)
    beats = beats[np.concatenate([[True], np.diff(beats) > 1e-3])]
    if beats.size < 2:
        return empty
    phase = _downbeat_phase(fe, beats, beats_per_bar)
    tempo = float(np.median(60.0 / np.diff(beats)))
    return BeatGrid(beats, beats[phase::beats_per_bar], tempo, beats_per_bar)


class BeatTracker(StreamedAnalyzer, AnalyzerNode):
    """Analyzer node: tempo, beats and downbeats (:func:`track_beats`); result is a :class:`BeatGrid`."""

    type_name = "beat_tracker"
    provides = "grid"
    min_bpm = Param(float, MIN_BPM, 20.0, 400.0, unit="BPM", doc="lowest tempo considered")
    max_bpm = Param(float, MAX_BPM, 20.0, 400.0, unit="BPM", doc="highest tempo considered")
    prior_bpm = Param(float, PRIOR_BPM, 20.0, 400.0, unit="BPM", doc="most likely tempo (breaks octave ties)")
    beats_per_bar = Param(int, 4, 1, 16, doc="meter numerator")

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        return track_beats(
            audio, sample_rate, min_bpm=self.min_bpm, max_bpm=self.max_bpm, prior_bpm=self.prior_bpm,
            beats_per_bar=self.beats_per_bar, frontend=frontend,
        )
