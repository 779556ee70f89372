"""``technob demo`` step: analyse the synthesised track and score it against its truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..stages.analysis import analyze
from . import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """``technob demo`` step: analyse the synthesised track and score it against its truth."""
    import mir_eval

    res = analyze(ctx.audio, ctx.sample_rate, progress=ctx.progress)
    res.source = str(Path(ctx.track_path).resolve())
    path = res.write(ctx.out_dir / "analysis")
    truth = ctx.truth
    f_beat = float(mir_eval.beat.f_measure(truth.beats, res.grid.beats))
    f_down = float(mir_eval.beat.f_measure(truth.downbeats, res.grid.downbeats))
    tb = np.array([s.start for s in truth.segments[1:]])
    eb = np.array([s.start for s in res.segments.segments[1:]])
    bound_err = float(max((np.abs(eb - b).min() for b in tb), default=0.0)) if eb.size else float("inf")
    total = sum(v for k, v in res.timings.items())
    ctx.summary["analysis"] = {
        "file": str(path.relative_to(ctx.out_dir)), "tempo_bpm": round(res.tempo, 2),
        "beat_f": round(f_beat, 4), "downbeat_f": round(f_down, 4),
        "max_boundary_error_s": round(bound_err, 3) if np.isfinite(bound_err) else None,
        "sections": [[round(s.start, 2), round(s.end, 2), s.label] for s in res.segments],
        "key": res.key.label, "notes": len(res.pitch.notes),
        "integrated_lufs": res.features.summary()["integrated_lufs"],
        "x_realtime": round(res.duration / max(total, 1e-9), 1),
    }
    ctx.log(f"  tempo {res.tempo:.2f} BPM, beat F {f_beat:.3f}, downbeat F {f_down:.3f}, key {res.key.label}")
    ctx.log("  sections: " + ", ".join(f"{s.label} {s.start:.1f}-{s.end:.1f}s" for s in res.segments))
    ctx.log(f"  {len(res.pitch.notes)} notes, {res.features.summary()['integrated_lufs']:.1f} LUFS, "
            f"{res.duration / max(total, 1e-9):.0f}x real time -> {path}")
