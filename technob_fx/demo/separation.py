"""``technob demo`` steps: harmonic/percussive split and demucs stems of the synthesised track."""

from __future__ import annotations

from . import DemoContext


def demo_hpss(ctx: DemoContext) -> None:
    """Demo: stream the track through HPSS into harmonic / percussive files; score against the
    true drum stem; render "drums louder, synths down" with the node."""
    import time

    import numpy as np

    from ..core.io import read_audio, write_audio
    from ..stages.hpss import HarmonicPercussive, hpss_file

    t0 = time.perf_counter()
    paths = hpss_file(ctx.track_path, ctx.out_dir / "hpss", progress=ctx.progress)
    secs = time.perf_counter() - t0
    perc, _ = read_audio(paths["percussive"])
    drums = ctx.stems["drums"]
    synths = ctx.stems["bass"] + ctx.stems["pad"] + ctx.stems["lead"]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

    n = min(perc.shape[1], drums.shape[1])
    c_drums, c_synths = corr(perc[:, :n], drums[:, :n]), corr(perc[:, :n], synths[:, :n])
    node = HarmonicPercussive(percussive_db=4.0, harmonic_db=-6.0)
    clip = ctx.audio[:, : int(15 * ctx.sample_rate)] if ctx.quick else ctx.audio
    louder = write_audio(ctx.out_dir / "track_drums_up.wav", node(clip, ctx.sample_rate), ctx.sample_rate)
    dur = ctx.audio.shape[1] / ctx.sample_rate
    ctx.summary["hpss"] = {"files": [str(p.relative_to(ctx.out_dir)) for p in paths.values()], "x_realtime": round(dur / secs, 1),
                           "percussive_corr_drums": round(c_drums, 3), "percussive_corr_synths": round(c_synths, 3),
                           "drums_up_file": louder.name}
    ctx.log(f"  streamed HPSS -> hpss/harmonic.wav, hpss/percussive.wav ({dur / secs:.1f}x real time); the "
            f"percussive part correlates {c_drums:.2f} with the true drums, {c_synths:.2f} with the synths")
    ctx.log(f"  'drums +4 dB, synths -6 dB' in one node -> {louder.name}")


def demo_demucs(ctx: DemoContext) -> None:
    """Demo: demucs stems of the track, streamed, with htdemucs when its weights are available
    offline, else the untrained test model (said so)."""
    import time

    from ..core.errors import ModelError
    from ..core.io import write_audio
    from ..stages.stems import load_model, separate_file

    name = "htdemucs"
    try:
        model = load_model(name, allow_download=False)
    except ModelError as exc:
        ctx.log(f"  {exc}")
        name = "demucs_unittest"
        model = load_model(name)
        ctx.log("  -> using demucs_unittest instead: a tiny UNTRAINED model, to show streamed separation and "
                "memory only; its stems are not meaningful")
    src = ctx.track_path
    seconds = ctx.audio.shape[1] / ctx.sample_rate
    if ctx.quick or name == "demucs_unittest":
        seconds = min(seconds, 10.0 if ctx.quick else 20.0)
        n = int(seconds * ctx.sample_rate)
        src = write_audio(ctx.out_dir / f"track_first_{seconds:.0f}s.wav", ctx.audio[:, :n], ctx.sample_rate)
    t0 = time.perf_counter()
    paths = separate_file(src, ctx.out_dir / f"stems_{name}", model=model, shifts=0 if ctx.quick else 1,
                          segment=4.0 if name == "demucs_unittest" else None,
                          progress=ctx.progress)
    secs = time.perf_counter() - t0
    ctx.summary["demucs"] = {"model": name, "seconds_separated": round(seconds, 1),
                             "x_realtime": round(seconds / secs, 2),
                             "files": [str(p.relative_to(ctx.out_dir)) for p in paths.values()]}
    ctx.log(f"  {name}: {seconds:.0f} s -> {', '.join(p.name for p in paths.values())} in stems_{name}/ "
            f"({seconds / secs:.1f}x real time, streamed to disk)")
