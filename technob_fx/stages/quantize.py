"""Quantization: warp a track so its beats land on a constant-tempo grid, keeping pitch.

A :class:`TimeMap` pairs anchor times in the input (detected beats, bars or 16ths) with times in
the output (the same anchors moved onto a grid at the target tempo, by ``strength``). Between
anchors the audio is stretched at a constant ratio; before the first anchor it plays at its
original speed, and after the last too, once past the grid's next anchor (one spacing on).
:func:`warp` applies a map with one of two Rubber Band engines:

* ``"pedalboard"`` (default, no system dependency): :func:`pedalboard.time_stretch` with a
  per-input-sample ``stretch_factor`` array. In pedalboard a stretch factor is a *speed*
  (``2.0`` halves the length), the array has one value per input sample and changes faster than
  every 1024 samples have no effect, so the map's piecewise-constant speed
  ``d(input time) / d(output time)`` is passed as is.
* ``"rubberband"``: :func:`pyrubberband.timemap_stretch`, the ``rubberband`` program's
  ``--timemap`` (exact sample anchors); needs ``rubberband`` on ``PATH``
  (``apt-get install rubberband-cli``).

Stems warped with one shared map (:func:`warp_stems`) stay aligned with each other.

Example
-------
>>> grid = track_beats(audio, sr)                       # doctest: +SKIP
>>> tm = time_map(grid, 128.0, unit="beat", strength=1.0)  # doctest: +SKIP
>>> out = warp(audio, sr, tm)                           # doctest: +SKIP
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..core.audio import as_audio, check_sample_rate, restore_layout
from ..core.errors import AudioError, DependencyError, ParameterError, TechnobError
from ..core.node import EffectNode, Param, Result
from ..core.progress import ProgressCallback
from ..core.results import BeatGrid

#: Accepted target tempi, BPM (inclusive).
MIN_BPM = 20.0
MAX_BPM = 400.0
#: Largest stretch (or squeeze) between two anchors, as a ratio of durations.
MAX_STRETCH = 4.0
#: Grid units and their length in beats.
UNITS: dict[str, float] = {"beat": 1.0, "bar": 4.0, "16th": 0.25}
ENGINES = ("pedalboard", "rubberband")
#: Samples of silence put around the audio for the pedalboard engine (its start-up and flush
#: transients), removed afterwards.
_PAD = 4096


@dataclass
class TimeMap(Result):
    """Anchor times of a warp: ``source[i]`` in the input plays at ``target[i]`` in the output.

    Attributes
    ----------
    source : np.ndarray, shape ``(n_anchors,)``
        Input times, seconds, strictly increasing, ``>= 0``.
    target : np.ndarray, shape ``(n_anchors,)``
        Output times, seconds, strictly increasing, ``>= 0``.
    target_bpm : float
        Tempo of the grid the anchors were moved to, BPM.
    unit : str
        ``"beat"``, ``"bar"`` or ``"16th"``.
    strength : float
        ``0`` (identity) to ``1`` (anchors exactly on the grid).
    """

    source: np.ndarray
    target: np.ndarray
    target_bpm: float = 0.0
    unit: str = "beat"
    strength: float = 1.0

    def __post_init__(self) -> None:
        self.source = np.asarray(self.source, dtype=np.float64).reshape(-1)
        self.target = np.asarray(self.target, dtype=np.float64).reshape(-1)
        if self.source.shape != self.target.shape:
            raise ParameterError(
                f"time map: {self.source.size} source anchors but {self.target.size} targets"
            )
        if self.source.size < 2:
            raise ParameterError(f"time map needs at least 2 anchors, got {self.source.size}")
        for name, arr in (("source", self.source), ("target", self.target)):
            if not np.all(np.isfinite(arr)) or arr[0] < 0 or np.any(np.diff(arr) <= 0):
                raise ParameterError(f"time map {name} times must be finite, >= 0 and strictly increasing")
        ratios = self.ratios
        worst = int(np.argmax(np.maximum(ratios, 1.0 / ratios)))
        r = float(ratios[worst])
        if max(r, 1.0 / r) > MAX_STRETCH * (1 + 1e-9):
            raise ParameterError(
                f"time map stretches {self.source[worst]:.3f}-{self.source[worst + 1]:.3f} s by "
                f"{r:.3g}x, beyond the {MAX_STRETCH:g}x limit (is the target tempo or grid unit right?)"
            )

    @property
    def ratios(self) -> np.ndarray:
        """Output duration / input duration of each anchor segment, shape ``(n_anchors - 1,)``."""
        return np.diff(self.target) / np.diff(self.source)

    def extended(self, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """Anchors covering ``[0, duration]`` of the input.

        The head before the first anchor keeps its speed (ratio 1). The tail after the last anchor
        is stretched as the last segment up to the grid's next anchor (one spacing after the
        last: a loop's end is its next first beat, so a loop comes out a whole number of beats
        long), and keeps its speed after that. Anchors past ``duration`` are dropped (the map is
        cut at ``duration`` by interpolation).

        Parameters
        ----------
        duration : float
            Input length, seconds.

        Returns
        -------
        source, target : np.ndarray, shape ``(m,)``
            Seconds; ``source[0] == 0`` and ``source[-1] == duration``.
        """
        src, dst = self.source, self.target
        if duration <= 0:
            raise AudioError(f"cannot warp {duration} s of audio")
        keep = src < duration
        s, d = src[keep], dst[keep]
        if s.size == 0:
            return np.array([0.0, duration]), np.array([0.0, duration])
        if keep.all():
            if s.size >= 2:
                # the grid's next anchor, one spacing on; the tail up to it stretched as the last
                # segment (a loop), beyond it at its own speed (a fade-out)
                ns, nd = 2.0 * s[-1] - s[-2], 2.0 * d[-1] - d[-2]
                if ns < duration:
                    s, d = np.append(s, ns), np.append(d, nd)
                    end = nd + (duration - ns)
                else:
                    end = float(np.interp(duration, [s[-1], ns], [d[-1], nd]))
            else:
                end = d[-1] + (duration - s[-1])  # the tail keeps its speed
        else:
            end = float(np.interp(duration, src, dst))  # cut inside a segment
        if s[0] > 0:
            # The head keeps its speed when the first anchor stays put (always so for maps made
            # by time_map); otherwise it is stretched from [0, s0] onto [0, d0].
            s = np.concatenate([[0.0], s])
            d = np.concatenate([[0.0], d])
        else:
            shift = d[0]
            d = d - shift
            end -= shift
        s = np.concatenate([s, [duration]])
        d = np.concatenate([d, [max(end, d[-1] + 1e-6)]])
        return s, d

    def map_times(self, times: np.ndarray, duration: float | None = None) -> np.ndarray:
        """Where input times land in the output, seconds (piecewise-linear in the anchors)."""
        if duration is None:
            duration = float(max(np.max(times, initial=0.0), self.source[-1])) + 1.0
        s, d = self.extended(duration)
        return np.interp(np.asarray(times, dtype=np.float64), s, d)

    def output_duration(self, duration: float) -> float:
        """Output length for an input of ``duration`` seconds."""
        return float(self.extended(duration)[1][-1])


# --------------------------------------------------------------------------------------------
# Building a map
# --------------------------------------------------------------------------------------------


def check_bpm(bpm: float, what: str = "target tempo") -> float:
    """Validate a tempo in BPM (``[20, 400]``); raises :class:`ParameterError`."""
    try:
        val = float(bpm)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be a number of BPM, got {bpm!r}") from None
    if not np.isfinite(val) or not (MIN_BPM <= val <= MAX_BPM):
        raise ParameterError(f"{what} {bpm!r} BPM is out of range [{MIN_BPM:g}, {MAX_BPM:g}]")
    return val


def _as_grid(grid: BeatGrid | np.ndarray | list[float]) -> BeatGrid:
    if isinstance(grid, BeatGrid):
        return grid
    beats = np.asarray(grid, dtype=np.float64).reshape(-1)
    if beats.size > 1 and np.any(np.diff(beats) <= 0):
        raise ParameterError("beat times must be strictly increasing")
    tempo = 60.0 / float(np.median(np.diff(beats))) if beats.size > 1 else 0.0
    return BeatGrid(beats, beats[::4], tempo, 4)


def time_map(
    grid: BeatGrid | np.ndarray | list[float],
    target_bpm: float,
    *,
    unit: str = "beat",
    strength: float = 1.0,
) -> TimeMap:
    """Map a track's beat grid onto a constant-tempo grid.

    The first anchor stays where it is; anchor ``k`` goes to ``first + k * period`` where
    ``period`` is the unit's length at ``target_bpm``, blended with its own time by ``strength``:
    ``target = source + strength * (grid_time - source)``.

    Parameters
    ----------
    grid : BeatGrid or array-like of float
        Detected beats (seconds). A plain array is taken as beats with a bar every 4 beats.
    target_bpm : float
        Tempo of the output grid, BPM, in ``[20, 400]``.
    unit : {"beat", "bar", "16th"}
        Anchors: every beat, every downbeat (``grid.downbeats``), or every 16th (beats
        subdivided evenly in 4).
    strength : float
        ``0`` keeps the input timing (identity map), ``1`` puts every anchor on the grid.

    Returns
    -------
    TimeMap

    Raises
    ------
    ParameterError
        Fewer than 2 anchors, a tempo out of range, an unknown unit, strength outside
        ``[0, 1]``, or a segment stretched beyond 4x.
    """
    bpm = check_bpm(target_bpm)
    if unit not in UNITS:
        raise ParameterError(f"grid unit must be one of {', '.join(UNITS)}; got {unit!r}")
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise ParameterError(f"strength must be a number in [0, 1], got {strength!r}") from None
    if not np.isfinite(s) or not 0.0 <= s <= 1.0:
        raise ParameterError(f"strength {strength!r} is out of range [0, 1]")
    g = _as_grid(grid)
    if g.beats.size < 2:
        raise ParameterError(f"the beat grid has {g.beats.size} beat(s); quantizing needs at least 2")
    if unit == "bar":
        anchors = g.downbeats if g.downbeats.size >= 2 else g.beats[:: g.beats_per_bar]
        beats_per_unit = float(g.beats_per_bar)
        if anchors.size < 2:
            raise ParameterError(
                f"the beat grid has {anchors.size} bar(s); quantizing to bars needs at least 2"
            )
    elif unit == "16th":
        b = g.beats
        frac = np.arange(4) / 4.0
        anchors = (b[:-1, None] + np.diff(b)[:, None] * frac[None, :]).reshape(-1)
        anchors = np.concatenate([anchors, b[-1:]])
        beats_per_unit = 0.25
    else:
        anchors = g.beats
        beats_per_unit = 1.0
    anchors = np.asarray(anchors, dtype=np.float64)
    if np.any(anchors < 0):
        raise ParameterError("beat times must be >= 0 s")
    period = 60.0 / bpm * beats_per_unit
    ideal = anchors[0] + period * np.arange(anchors.size)
    target = anchors + s * (ideal - anchors)
    return TimeMap(anchors, target, target_bpm=bpm, unit=unit, strength=s)


# --------------------------------------------------------------------------------------------
# Warping
# --------------------------------------------------------------------------------------------


def rubberband_program() -> str:
    """Path of the ``rubberband`` program.

    Raises
    ------
    DependencyError
        Not on ``PATH``, with how to install it.
    """
    path = shutil.which("rubberband")
    if path is None:
        raise DependencyError(
            "the rubberband engine needs the 'rubberband' program, which is not on PATH: install "
            "it with 'sudo apt-get install rubberband-cli' (macOS: 'brew install rubberband'), or "
            "use engine='pedalboard' (built in, no system dependency)"
        )
    return path


def _warp_pedalboard(audio: np.ndarray, sr: float, src: np.ndarray, dst: np.ndarray,
                     n_out: int, high_quality: bool) -> np.ndarray:
    import pedalboard

    n = audio.shape[1]
    t_in = np.arange(n, dtype=np.float64) / sr
    seg = np.clip(np.searchsorted(src, t_in, side="right") - 1, 0, src.size - 2)
    speed = (np.diff(src) / np.diff(dst))[seg]
    pad = np.zeros((audio.shape[0], _PAD), np.float32)
    padded = np.concatenate([pad, audio, pad], axis=1)
    speed = np.concatenate([np.ones(_PAD), speed, np.ones(_PAD)])
    out = pedalboard.time_stretch(padded, sr, stretch_factor=np.ascontiguousarray(speed),
                                  high_quality=high_quality)
    return out[:, _PAD : _PAD + n_out]


def _warp_rubberband(audio: np.ndarray, sr: float, src: np.ndarray, dst: np.ndarray,
                     n_out: int, high_quality: bool) -> np.ndarray:
    import pyrubberband.pyrb as pyrb

    prog = rubberband_program()
    n = audio.shape[1]
    pairs: list[tuple[int, int]] = []
    for a, b in zip(np.round(src * sr).astype(np.int64), np.round(dst * sr).astype(np.int64), strict=True):
        a, b = int(min(max(a, 0), n)), int(max(b, 0))
        if pairs and (a <= pairs[-1][0] or b <= pairs[-1][1]):
            continue
        pairs.append((a, b))
    pairs[-1] = (n, max(n_out, pairs[-2][1] + 1) if len(pairs) > 1 else n_out)
    if pairs[0] != (0, 0):
        pairs.insert(0, (0, 0))
    # The R3 engine (--fine) of rubberband 3 offsets time-mapped output by ~23 ms; R2 (the
    # default, the same engine pedalboard uses with high_quality=False) lands on the anchors.
    rbargs: dict[str, str] = {"--crisp": "6"} if high_quality else {}
    try:
        y = pyrb.timemap_stretch(np.ascontiguousarray(audio.T), int(round(sr)), pairs, rbargs=rbargs)
    except Exception as exc:  # noqa: BLE001 - CalledProcessError / RuntimeError from the program
        raise DependencyError(f"rubberband ({prog}) failed: {exc}") from None
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[:, None]
    return y.T


def warp(
    audio: np.ndarray,
    sr: float,
    time_map: TimeMap,
    *,
    engine: str = "pedalboard",
    high_quality: bool = False,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Time-stretch audio along a time map, keeping its pitch.

    Parameters
    ----------
    audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
        Input; never modified.
    sr : float
        Sample rate, Hz.
    time_map : TimeMap
        From :func:`time_map` (anchors in seconds).
    engine : {"pedalboard", "rubberband"}
        ``"pedalboard"``: built-in Rubber Band with a per-sample speed array (default).
        ``"rubberband"``: the ``rubberband`` program with an exact sample time map.
    high_quality : bool
        pedalboard: its ``high_quality`` option (Rubber Band's R3 "finer" engine, about 3x
        slower); default ``False`` is the R2 engine, which lands beats as precisely. rubberband:
        ``--crisp 6`` instead of the default crispness 5.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    np.ndarray, float32, shape ``(channels, round(time_map.output_duration(samples / sr) * sr))``
        Same layout as the input. Input time ``t`` is at ``time_map.map_times(t)`` in it.

    Raises
    ------
    ParameterError
        Unknown engine.
    DependencyError
        ``engine="rubberband"`` without the ``rubberband`` program.
    """
    if engine not in ENGINES:
        raise ParameterError(f"warp engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if not isinstance(time_map, TimeMap):
        raise ParameterError(f"time_map must be a TimeMap (from quantize.time_map), got {type(time_map).__name__}")
    rate = check_sample_rate(sr)
    x, was_mono = as_audio(audio, name="audio to warp")
    if engine == "rubberband":
        rubberband_program()
    n = x.shape[1]
    src, dst = time_map.extended(n / rate)
    n_out = int(round(dst[-1] * rate))
    if progress:
        progress(0.0, f"warping with {engine}")
    if np.allclose(src, dst, atol=0.5 / rate):
        out = x.copy()
    elif engine == "pedalboard":
        out = _warp_pedalboard(x, rate, src, dst, n_out, high_quality)
    else:
        out = _warp_rubberband(x, rate, src, dst, n_out, high_quality)
    if out.shape[1] < n_out:
        out = np.concatenate([out, np.zeros((out.shape[0], n_out - out.shape[1]), np.float32)], axis=1)
    out = np.ascontiguousarray(out[:, :n_out], dtype=np.float32)
    if progress:
        progress(1.0, "warped")
    return restore_layout(out, was_mono)


def warp_stems(
    stems: Mapping[str, np.ndarray],
    sr: float,
    time_map: TimeMap,
    *,
    engine: str = "pedalboard",
    high_quality: bool = False,
    progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Warp several stems with one shared time map so they stay aligned.

    Parameters
    ----------
    stems : mapping of str -> np.ndarray, shape ``(channels, samples)``
        All of the same length (samples). Never modified.
    sr, time_map, engine, high_quality : see :func:`warp`.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict of str -> np.ndarray, float32
        Warped stems, all of the same length.

    Raises
    ------
    AudioError
        No stems, or stems of unequal length.
    """
    if not stems:
        raise AudioError("no stems to warp")
    lengths = {k: as_audio(v, name=f"stem {k!r}")[0].shape[1] for k, v in stems.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise AudioError(f"stems have unequal lengths ({desc} samples); they must share one time map")
    out: dict[str, np.ndarray] = {}
    for i, (k, v) in enumerate(stems.items()):
        if progress:
            progress(i / len(stems), f"warping {k}")
        out[k] = warp(v, sr, time_map, engine=engine, high_quality=high_quality)
    if progress:
        progress(1.0, "warped stems")
    return out


# --------------------------------------------------------------------------------------------
# Loop-exact output
# --------------------------------------------------------------------------------------------


@dataclass
class Loop:
    """A whole number of bars of warped audio, from its first downbeat.

    Attributes
    ----------
    start : int
        First sample (the first downbeat in the warped audio).
    length : int
        Samples: ``bars * beats_per_bar * 60 / bpm`` seconds, rounded to the sample.
    bars, beats_per_bar : int
    bpm : float
        The loop's tempo.
    """

    start: int
    length: int
    bars: int
    beats_per_bar: int
    bpm: float

    @property
    def beats(self) -> int:
        return self.bars * self.beats_per_bar


def loop_region(grid: BeatGrid, time_map: TimeMap, sr: float, n_out: int, *, bars: int | None = None) -> Loop:
    """Where a loop of whole bars starts and how long it is, in the warped audio.

    Parameters
    ----------
    grid : BeatGrid
        The input's grid (its first downbeat starts the loop).
    time_map : TimeMap
        The map the audio was warped with (its ``target_bpm`` is the loop's tempo).
    sr : float
        Hz.
    n_out : int
        Samples of warped audio.
    bars : int, optional
        Bars to keep (default: as many whole bars as the audio holds after the first downbeat).

    Raises
    ------
    ParameterError
        Fewer than one whole bar after the first downbeat, or fewer than ``bars``.
    """
    bpb = max(int(grid.beats_per_bar), 1)
    first = float(grid.downbeats[0]) if grid.downbeats.size else float(grid.beats[0])
    t0 = float(time_map.map_times(np.array([first]), n_out / sr + 1.0)[0])
    start = int(round(t0 * sr))
    bar_s = bpb * 60.0 / time_map.target_bpm
    whole = int(np.floor((n_out - start) / sr / bar_s + 1e-9))
    if bars is None:
        bars = whole
    if bars < 1 or bars > whole:
        raise ParameterError(f"the quantized audio holds {whole} whole bar(s) of {bpb} beats after the first "
                             f"downbeat at {t0:.3f} s; cannot cut {bars if bars else 'one'}")
    return Loop(start, int(round(bars * bar_s * sr)), int(bars), bpb, float(time_map.target_bpm))


# --------------------------------------------------------------------------------------------
# Beat grid when none is given
# --------------------------------------------------------------------------------------------


def detect_grid(audio: np.ndarray, sr: float) -> BeatGrid:
    """Beat grid of ``audio`` with :func:`technob_fx.stages.beats.track_beats`.

    Parameters
    ----------
    audio : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
    sr : float
        Hz.

    Returns
    -------
    BeatGrid

    Raises
    ------
    TechnobError
        No beat in the audio (silence, noise, a held tone): give a grid instead.
    """
    from .beats import track_beats

    x, _ = as_audio(audio, name="audio")
    grid = track_beats(x, sr)
    if grid.beats.size < 2:
        raise TechnobError("no beats found in the audio; give a grid (--grid-file) instead")
    return grid


# --------------------------------------------------------------------------------------------
# Node
# --------------------------------------------------------------------------------------------


class Quantize(EffectNode):
    """Warp audio so its beats (or bars, or 16ths) land on a constant-tempo grid.

    The grid of the input is ``grid`` when given (a :class:`~technob_fx.core.results.BeatGrid` or beat
    times), else detected (:func:`detect_grid`). The time map used last is left on
    ``node.time_map`` so stems can be warped with it (:func:`warp_stems`).

    The output is longer or shorter than the input, so the node processes whole buffers only
    (``reset=True``); a stream of ``reset=False`` blocks is refused.
    """

    type_name = "quantize"
    whole_buffer_only = ("quantize changes the audio's length and needs the whole track; "
                         "call it with reset=True (it cannot stream block by block)")
    target_bpm = Param(float, 128.0, MIN_BPM, MAX_BPM, unit="BPM", doc="tempo of the output grid")
    unit = Param(str, "beat", choices=tuple(UNITS), doc="anchor every beat, bar or 16th")
    strength = Param(float, 1.0, 0.0, 1.0, unit="fraction", doc="0 keeps the timing, 1 = fully on the grid (100 %)")
    engine = Param(str, "pedalboard", choices=ENGINES, doc="Rubber Band via pedalboard or the rubberband program")
    high_quality = Param(bool, False, doc="Rubber Band R3 engine (pedalboard; ~3x slower) / crisp 6 (rubberband)")

    changes_length: ClassVar[bool] = True

    def __init__(self, *, name: str | None = None, grid: BeatGrid | np.ndarray | list[float] | None = None,
                 **params: Any) -> None:
        super().__init__(name=name, **params)
        self.grid = grid
        self.time_map: TimeMap | None = None

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        grid = self.grid if self.grid is not None else detect_grid(audio, sample_rate)
        self.time_map = time_map(grid, self.target_bpm, unit=self.unit, strength=self.strength)
        return warp(audio, sample_rate, self.time_map, engine=self.engine, high_quality=self.high_quality)


# --------------------------------------------------------------------------------------------
# Kick onsets: how far warped kicks land from the grid (the demo and bench_quantize)
# --------------------------------------------------------------------------------------------


def _kick_onsets(audio: np.ndarray, sr: float, expected: np.ndarray) -> np.ndarray:
    """Onset (s) of the kick nearest each expected time: the envelope below 120 Hz crossing 30 %
    of its peak within -50..+80 ms."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, 120, "lp", fs=sr, output="sos")
    env = np.abs(sosfilt(sos, np.atleast_2d(audio).mean(axis=0).astype(np.float64)))
    out = []
    for t in expected:
        a = max(int((t - 0.05) * sr), 0)
        w = env[a : int((t + 0.08) * sr)]
        out.append((a + int(np.argmax(w > 0.3 * w.max()))) / sr if w.size and w.max() > 0 else np.nan)
    return np.asarray(out)
