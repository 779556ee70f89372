"""``technob demo`` step: the report of the demo's own track (``report/report.png`` and
``report/report.html``), drawn from the analysis step's folder with the HPSS stems as lanes."""

from __future__ import annotations

import time
from pathlib import Path

from . import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """Write ``report/report.png`` and ``report/report.html`` of the demo track."""
    from ..report import write_report

    analysis = Path(ctx.out_dir) / "analysis"
    source = analysis if (analysis / "analysis.json").is_file() else ctx.track_path  # analysed here if needed
    out = Path(ctx.out_dir) / "report"
    t0 = time.perf_counter()
    res = write_report(source, out, progress=ctx.progress)
    secs = time.perf_counter() - t0
    files = [p for p in (res.png, res.html) if p is not None]
    ctx.summary["report"] = {
        "files": [str(p.relative_to(ctx.out_dir)) for p in files],
        "seconds": round(secs, 2),
        "html_kib": round(res.html.stat().st_size / 1024, 1) if res.html else None,
        "stems": [f"{s.group}/{s.name}" for s in res.data.stems],
        "notes": res.data.notes,
    }
    ctx.log(f"  report of the track -> report/report.png, report/report.html "
            f"({ctx.summary['report']['html_kib']} KiB, {secs:.1f} s; stems: "
            f"{', '.join(ctx.summary['report']['stems']) or 'none'})")
    for note in res.data.notes:
        ctx.log(f"  note: {note}")
