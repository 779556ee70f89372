"""Report speed, size and page responsiveness on a 6-minute track.

1. A 6-minute synthesised techno track (192 bars at 128 BPM, 44.1 kHz stereo WAV) and its true
   stems (drums, bass, other) written beside it; its analysis
   (:func:`technob_fx.stages.analysis.analyze_file`) as the baseline run in the same process,
   and a plain decode of the file (:func:`technob_fx.core.io.read_audio`) as a second one.
2. :func:`technob_fx.report.write_report` from the analysis folder, median of 3 runs: seconds per
   step (peaks, png, html), x real time, ratio to the analysis and to the decode; the same in a
   child process for its peak RSS; report.html size with and without the stem lanes.
3. The page in headless Chromium (when ``chromium`` and Playwright are installed): wall time from
   navigation to the page's ready flag, the page's own load time (``performance.now()`` at ready),
   a waveform redraw (median of 15) at the whole-track view and while scrolling at 8x zoom, whether playback moves the playhead.
   ``--screenshot PATH`` saves the viewport (the picture in docs/).

Usage: ``python -m benchmarks.bench_report [--quick] [--screenshot PATH]``.
Writes ``benchmarks/results/report.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._util import run_child, save

SR = 44100


def make_track(folder: Path, minutes: float) -> Path:
    """``track.wav`` of ``minutes`` (whole bars at 128 BPM) and ``stems_truth/{drums,bass,other}.wav``."""
    from technob_fx.core.io import write_audio
    from technob_fx.synth import synth_techno

    bars = int(round(minutes * 60 * 128 / 240))
    parts = [("intro", 16), ("build", 8), ("drop", 32), ("breakdown", 16), ("build", 8), ("drop", 32),
             ("breakdown", 16), ("drop", 32), ("outro", 32)]
    structure, left = [], bars
    for label, n in parts:
        if left <= 0:
            break
        structure.append((label, min(n, left)))
        left -= n
    audio, truth, stems = synth_techno(structure, bpm=128.0, seed=11, sample_rate=SR, return_stems=True)
    track = write_audio(folder / "track.wav", audio, SR)
    (folder / "stems_truth").mkdir()
    write_audio(folder / "stems_truth" / "drums.wav", stems["drums"], SR)
    write_audio(folder / "stems_truth" / "bass.wav", stems["bass"], SR)
    write_audio(folder / "stems_truth" / "other.wav", stems["pad"] + stems["lead"], SR)
    return track


def _small_png(png: bytes, path: Path, colours: int = 128) -> None:
    """Save a screenshot as a palette PNG (a few tens of KiB, for docs/)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def browser_figures(html: Path, screenshot: Path | None) -> dict:
    """Load time, redraw time and playback of the page in headless Chromium."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed"}
    if exe is None:
        return {"skipped": "chromium is not installed"}
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required"]
    out: dict = {}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=exe, headless=True, args=flags,
                                                    viewport={"width": 1280, "height": 720})
        loads, own, fit, zoom8 = [], [], [], []
        for _ in range(3):
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            t0 = time.perf_counter()
            page.goto(html.resolve().as_uri())
            page.wait_for_function("window.technobReport && window.technobReport.ready", timeout=60000)
            loads.append(time.perf_counter() - t0)
            own.append(page.evaluate("window.technobReport.loadMs"))
            out["console_errors"] = errors
            for _ in range(5):
                page.click("#zoom-fit")
                fit.append(page.evaluate("window.technobReport.drawMs"))
            for _ in range(3):
                page.click("#zoom-in")
            for _ in range(5):
                page.evaluate("document.getElementById('viewport').scrollLeft += 200")
                page.wait_for_timeout(30)
                zoom8.append(page.evaluate("window.technobReport.drawMs"))
            page.click("#zoom-fit")
            page.click("#play")
            page.wait_for_timeout(1500)
            out["playhead_after_1_5_s"] = float(page.get_attribute("#playhead", "data-time"))
            page.click("#play")
            if screenshot is not None and not screenshot.exists():
                page.click("#rewind")
                _small_png(page.screenshot(), screenshot)
            page.close()
        ctx.close()
    out["draw_ms_fit"] = round(statistics.median(fit), 1)
    out["draw_ms_zoom8"] = round(statistics.median(zoom8), 1)
    out["load_s_median"] = round(statistics.median(loads), 3)
    out["page_ready_ms_median"] = round(statistics.median(own), 1)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_report")
    ap.add_argument("--quick", action="store_true", help="a 1-minute track, one run")
    ap.add_argument("--screenshot", type=Path, default=None, help="save the page's viewport here (PNG)")
    ap.add_argument("--keep", type=Path, default=None, help="copy one report's files into this folder")
    args = ap.parse_args(argv)
    from technob_fx.core.io import read_audio
    from technob_fx.report import write_report
    from technob_fx.stages.analysis import analyze_file

    minutes = 1.0 if args.quick else 6.0
    runs = 1 if args.quick else 3
    res: dict = {"minutes": minutes}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        track = make_track(root, minutes)
        dur = read_audio(track)[0].shape[1] / SR
        t0 = time.perf_counter()
        read_audio(track)
        decode = time.perf_counter() - t0
        t0 = time.perf_counter()
        analyze_file(track, root / "analysis")
        analysis = time.perf_counter() - t0
        write_report(root / "analysis", root / "warm", html=False)  # imports matplotlib once
        totals, steps = [], []
        for i in range(runs):
            t0 = time.perf_counter()
            rep = write_report(root / "analysis", root / f"rep{i}")
            totals.append(time.perf_counter() - t0)
            steps.append(rep.seconds)
        total = statistics.median(totals)
        with_stems = write_report(root / "analysis", root / "solo", png=False)
        (root / "empty").mkdir()
        bare = write_report(root / "analysis", root / "bare", stem_dirs=[root / "empty"], png=False)
        peak, wall, _ = run_child(
            "from technob_fx.report import write_report\n"
            f"write_report({str(root / 'analysis')!r}, {str(root / 'child')!r})\n"
        )
        res.update({
            "duration_s": round(dur, 2),
            "stems": [f"{s.group}/{s.name}" for s in rep.data.stems],
            "report_s_median": round(total, 3),
            "report_steps_s": {k: round(statistics.median(s[k] for s in steps), 3) for k in steps[0]},
            "x_realtime": round(dur / total, 1),
            "analysis_s": round(analysis, 3),
            "report_over_analysis": round(total / analysis, 3),
            "decode_s": round(decode, 3),
            "report_over_decode": round(total / decode, 2),
            "html_kib_with_3_stems": round(with_stems.html.stat().st_size / 1024, 1),
            "html_kib_without_stems": round(bare.html.stat().st_size / 1024, 1),
            "png_kib": round(rep.png.stat().st_size / 1024, 1),
            "wav_mib": round(track.stat().st_size / 2**20, 1),
            "child_peak_rss_mib": round(peak, 1),
            "child_wall_s": round(wall, 2),
        })
        res["browser"] = browser_figures(rep.html, args.screenshot)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in (rep.png, rep.html):
                shutil.copy(f, args.keep / f.name)
    print(f"report of a {res['duration_s']:.0f} s track ({len(res['stems'])} stem lanes): "
          f"{res['report_s_median']:.2f} s ({res['x_realtime']:.0f}x real time; steps {res['report_steps_s']}), "
          f"{res['report_over_analysis']:.2f}x the analysis ({res['analysis_s']:.1f} s), "
          f"{res['report_over_decode']:.1f}x a plain decode ({res['decode_s']:.2f} s)")
    print(f"report.html {res['html_kib_with_3_stems']:.0f} KiB with 3 stems, {res['html_kib_without_stems']:.0f} KiB "
          f"without (the WAV: {res['wav_mib']:.0f} MiB); report.png {res['png_kib']:.0f} KiB; "
          f"peak RSS {res['child_peak_rss_mib']:.0f} MiB (child, {res['child_wall_s']:.1f} s with start-up)")
    b = res["browser"]
    if "skipped" in b:
        print(f"browser: skipped ({b['skipped']})")
    else:
        print(f"browser: load {b['load_s_median']:.2f} s to ready (page's own {b['page_ready_ms_median']:.0f} ms), "
              f"redraw {b['draw_ms_fit']:.1f} ms whole track / {b['draw_ms_zoom8']:.1f} ms at 8x, playhead "
              f"{b['playhead_after_1_5_s']:.2f} s after 1.5 s of play, console errors: {len(b['console_errors'])}")
    save("report", res)
    return res


if __name__ == "__main__":
    main()
