"""The DAW bridge's ``technob demo`` step: export the demo track for REAPER, MIDI, JAMS, Audacity
and DAWproject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.export import export
from bridge.track import TrackData, read_analysis_json

from . import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """Export the synthesised track's true beat grid, sections, key and notes to ``daw/``.

    Writes ``daw/track.RPP`` (mix track plus the harmonic/percussive stems when the separation
    step left them in ``hpss/``), ``daw/track.mid``, ``daw/track.jams``, Audacity label files and
    ``daw/track.dawproject``;
    when the analysis step left ``analysis/analysis.json``, the same files of what it detected
    as ``daw/track_analysed.*``. ``ctx`` is a :class:`technob_fx.demo.DemoContext`.
    """
    out = Path(ctx.out_dir) / "daw"
    stems = {p.stem: p for p in sorted((Path(ctx.out_dir) / "hpss").glob("*.wav"))}
    data = TrackData.from_truth(ctx.truth, audio=ctx.track_path, stems=stems, name="track")
    written = export(data, None, out)
    files = [str(f.relative_to(ctx.out_dir)) for fs in written.values() for f in fs]
    summary: dict[str, Any] = {"folder": out.name, "files": files, "stems_in_rpp": sorted(stems),
                               "sections": len(data.segments), "beats": int(data.grid.beats.size)}
    ctx.log(f"  wrote {', '.join(Path(f).name for f in files)} to {out}/ ({len(data.segments)} sections, "
            f"{data.grid.beats.size} beats{', stems ' + ', '.join(stems) if stems else ''})")
    analysis = Path(ctx.out_dir) / "analysis" / "analysis.json"
    if analysis.exists():
        try:
            detected = read_analysis_json(analysis)
        except Exception as exc:  # noqa: BLE001 - the demo goes on without it
            ctx.log(f"  skipped the analysed export: {exc}")
        else:
            detected.audio, detected.stems, detected.name = ctx.track_path, stems, "track_analysed"
            more = export(detected, None, out)
            summary["analysed_files"] = [str(f.relative_to(ctx.out_dir)) for fs in more.values() for f in fs]
            ctx.log(f"  and the analysed grid ({detected.tempo:.2f} BPM, {len(detected.segments)} sections) "
                    "as track_analysed.*")
    ctx.summary["daw_exports"] = summary
