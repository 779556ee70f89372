"""``technob demo``: the whole job on an embedded default track, no input file needed.

The demo synthesises a techno track with known tempo, beats, sections and notes
(:func:`technob_fx.synth.synth_techno`), writes it and its ground truth, renders it through the
shipped presets, then runs each stage's demo step. A stage adds itself by appending a
``"module:function"`` entry to :data:`DEMO_STEPS`; the function takes a :class:`DemoContext`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.progress import ProgressCallback
from ..synth import DEFAULT_STRUCTURE, SHORT_STRUCTURE, SynthTruth


@dataclass
class DemoContext:
    """What demo steps share.

    Attributes
    ----------
    out_dir : Path
        Folder every step writes into.
    audio : np.ndarray, float32, shape ``(2, samples)``
        The synthesised track.
    sample_rate : float
        Hz.
    truth : SynthTruth
        Its ground truth.
    track_path : Path
        The track as a WAV file in ``out_dir``.
    stems : dict
        Its true stems (drums, bass, pad, lead).
    summary : dict
        Steps add figures here; written to ``summary.json``.
    log : callable
        Print one line for the user.
    progress : callable or None
        ``progress(fraction, message)`` of the current step.
    quick : bool
        A short track and lighter settings (tests).
    """

    out_dir: Path
    audio: np.ndarray
    sample_rate: float
    truth: SynthTruth
    track_path: Path
    stems: dict[str, np.ndarray]
    summary: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print
    progress: ProgressCallback | None = None
    quick: bool = False


def render_step(ctx: DemoContext) -> None:
    """Render the track through the shipped techno master and Lo-Fi presets."""
    from ..core.chain import Chain
    from ..core.io import write_audio

    for preset in ("techno_master", "lofi"):
        chain = Chain.from_preset(preset)
        out = chain.run(ctx.audio, ctx.sample_rate)
        path = write_audio(ctx.out_dir / f"track_{preset}.wav", out.audio, ctx.sample_rate)
        peak = float(np.abs(out.audio).max())
        ctx.summary[f"render_{preset}"] = {
            "file": path.name, "x_realtime": round(out.realtime_factor, 1),
            "peak_dbfs": round(20 * np.log10(max(peak, 1e-9)), 2),
        }
        ctx.log(f"  rendered {path.name} through preset {preset!r}: {out.realtime_factor:.0f}x real time")


#: Demo steps in order: ``(title, "module:function")``. Stages append theirs.
DEMO_STEPS: list[tuple[str, str]] = [
    ("render presets", "technob_fx.demo:render_step"),
    # -- analysis (issue 3) --
    ("analysis", "technob_fx.demo.analysis:demo_step"),
    # -- separation and quantization (issue 4) --
    ("harmonic/percussive split", "technob_fx.demo.separation:demo_hpss"),
    ("demucs stems", "technob_fx.demo.separation:demo_demucs"),
    ("quantize a drifting track", "technob_fx.demo.quantize:demo_step"),
    # -- DAW bridge exports (issue 5) --
    ("DAW exports", "technob_fx.demo.bridge:demo_step"),
    # -- report of the demo track (issue 13) --
    ("report", "technob_fx.demo.report:demo_step"),
    # -- Lo-Fi x Classical generator (issue 6) --
    ("Lo-Fi x Classical blend", "technob_fx.demo.blend:demo_step"),
]


def _resolve(target: str) -> Callable[[DemoContext], None]:
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def run_demo(
    out_dir: str | Path = "technob-demo",
    *,
    quick: bool = False,
    log: Callable[[str], None] = print,
    progress_factory: Callable[[str], Any] | None = None,
    steps: list[str] | None = None,
) -> DemoContext:
    """Run the demo end to end.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created).
    quick : bool
        A 28-bar track (about 52 s) instead of 96 bars (3 min).
    log : callable
        Line printer.
    progress_factory : callable, optional
        ``progress_factory(title)`` -> context manager yielding a progress callback.
    steps : list of str, optional
        Only run steps whose title is listed.

    Returns
    -------
    DemoContext
        With ``summary`` filled; also written to ``out_dir/summary.json``.
    """
    import contextlib
    import json

    from ..core.io import atomic_write_text, write_audio
    from ..synth import synth_techno

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    structure = SHORT_STRUCTURE if quick else DEFAULT_STRUCTURE
    t0 = time.perf_counter()
    audio, truth, stems = synth_techno(structure, bpm=128.0, seed=0, return_stems=True)
    sr = truth.sample_rate
    track = write_audio(out / "track.wav", audio, sr)
    truth.to_json(out / "truth.json")
    log(f"synthesised {truth.duration:.1f} s of techno at {truth.tempo:g} BPM "
        f"({len(truth.segments)} sections, key {truth.key}) -> {track}")
    ctx = DemoContext(out, audio, sr, truth, track, stems, log=log, quick=quick)
    ctx.summary["track"] = {"file": track.name, "duration_s": round(truth.duration, 2),
                            "tempo_bpm": truth.tempo, "key": truth.key,
                            "sections": [[s.start, s.end, s.label] for s in truth.segments]}
    for title, target in DEMO_STEPS:
        if steps is not None and title not in steps:
            continue
        log(f"[{title}]")
        t = time.perf_counter()
        cm = progress_factory(title) if progress_factory else contextlib.nullcontext(None)
        with cm as cb:
            ctx.progress = cb
            _resolve(target)(ctx)
        ctx.summary.setdefault("step_seconds", {})[title] = round(time.perf_counter() - t, 2)
    ctx.summary["total_seconds"] = round(time.perf_counter() - t0, 2)
    from .index import write_index  # index.html and summary["outputs"]: every file, one line each

    write_index(out, ctx.summary)
    atomic_write_text(out / "summary.json", json.dumps(ctx.summary, indent=2) + "\n")
    log(f"done in {ctx.summary['total_seconds']:.1f} s; results in {out.resolve()}/ (index.html, summary.json)")
    return ctx
