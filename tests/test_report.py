"""``technob report``: report.png read back pixel by pixel, report.html opened in a real browser
(headless Chromium driven by Playwright; skipped where Chromium or Playwright is missing, CI
installs both), the CLI and its one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from technob_fx.cli import main
from technob_fx.core.io import read_audio, write_audio
from technob_fx.report import load_report_data, write_report
from technob_fx.report.peaks import MAX_PEAKS, file_peaks, peak_rate
from technob_fx.report.style import section_colour
from technob_fx.synth import synth_techno

#: A short track: 10 bars at 128 BPM (19 s), four sections.
STRUCTURE = (("intro", 2), ("drop", 4), ("breakdown", 2), ("outro", 2))


@pytest.fixture(scope="module")
def track_dir(tmp_path_factory) -> Path:
    """``track.wav`` and its true stems in ``stems_truth/`` (named like a demucs separation)."""
    root = tmp_path_factory.mktemp("report")
    audio, truth, stems = synth_techno(STRUCTURE, bpm=128.0, seed=2, return_stems=True)
    write_audio(root / "track.wav", audio, truth.sample_rate)
    (root / "stems_truth").mkdir()
    write_audio(root / "stems_truth" / "drums.wav", stems["drums"], truth.sample_rate)
    write_audio(root / "stems_truth" / "bass.wav", stems["bass"], truth.sample_rate)
    write_audio(root / "stems_truth" / "other.wav", stems["pad"] + stems["lead"], truth.sample_rate)
    return root


@pytest.fixture(scope="module")
def report(track_dir):
    """The report of track.wav, from the audio file (analysed into ``analysis/``)."""
    res = write_report(track_dir / "track.wav", track_dir / "analysis")
    doc = json.loads(res.analysis.read_text())
    return res, doc


# --------------------------------------------------------------------------------------------
# report.png
# --------------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_png_has_one_band_per_section_in_its_colour(report):
    from matplotlib.image import imread

    res, doc = report
    img = imread(res.png)[..., :3]
    lay = res.layout
    assert img.shape[:2] == (lay.height, lay.width) == (900, 1600)
    row = img[lay.sections_row, lay.column(0) : lay.column(doc["duration"]) + 1]
    coloured = (row < 0.97).any(axis=1)  # white gaps separate the bands
    runs = _runs(coloured)
    segs = doc["segments"]
    assert len(segs) >= 2
    assert len(runs) == len(segs)
    for (a, b), seg in zip(runs, segs, strict=True):
        want = np.array([int(section_colour(seg["label"])[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        assert np.abs(row[(a + b) // 2] - want).max() < 3 / 255, seg["label"]
        assert abs(a + lay.column(0) - lay.column(seg["start"])) <= 3
        assert abs(b + lay.column(0) - lay.column(seg["end"])) <= 3


def test_png_draws_the_waveform_and_the_bar_lines(report):
    from matplotlib.image import imread

    res, doc = report
    img = imread(res.png)[..., :3]
    lay = res.layout
    # ink along the waveform's centre line wherever the track sounds
    mid = (lay.wave_top + lay.wave_bottom) // 2
    centre = img[mid - 2 : mid + 3, lay.column(0.2) : lay.column(doc["duration"] - 1.0)]
    assert (centre.max(axis=2) < 0.5).any(axis=0).mean() > 0.9
    # a red downbeat tick at the foot of the waveform at each bar
    foot = img[lay.wave_bottom - 6 : lay.wave_bottom - 1]
    red = (foot[..., 0] > 0.6) & (foot[..., 1] < 0.2) & (foot[..., 2] < 0.2)
    cols = np.flatnonzero(red.any(axis=0))
    inside = [t for t in doc["downbeats"] if 0.05 < t < doc["duration"] - 0.05]  # not on the axes' frame
    ticks = _runs(np.isin(np.arange(lay.width), cols))
    assert [lay.column(t) for t in inside] == pytest.approx([(a + b - 1) / 2 for a, b in ticks], abs=2)


# --------------------------------------------------------------------------------------------
# report.html without a browser
# --------------------------------------------------------------------------------------------


def _page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_html_is_one_offline_page_with_peaks_not_samples(report, track_dir):
    res, doc = report
    html = res.html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # no CDN, no network
    assert "<link" not in html and not re.search(r"<script[^>]+src=", html)
    assert '<audio id="audio" preload="auto" src="../track.wav">' in html
    data = _page_data(html)
    assert data["analysis"] == doc  # every figure of analysis.json travels with the page
    assert data["peaks"]["rate"] <= 200.5
    assert [s["src"] for s in data["stems"]] == [f"../stems_truth/{n}.wav" for n in ("bass", "drums", "other")]
    assert res.html.stat().st_size < 0.05 * (track_dir / "track.wav").stat().st_size


def test_file_peaks_are_the_min_and_max_of_each_bin(tmp_path):
    sr = 8000
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, sr * 3 + 123)) * 0.3).astype(np.float32)
    path = write_audio(tmp_path / "n.wav", audio, sr, bit_depth=32)
    back, _ = read_audio(path)
    p = file_peaks(path, 100.0)
    hop = sr // 100
    assert p.rate == 100.0 and p.lo.size == int(np.ceil(back.shape[1] / hop))
    lo = np.array([back[:, i : i + hop].min() for i in range(0, back.shape[1], hop)])
    hi = np.array([back[:, i : i + hop].max() for i in range(0, back.shape[1], hop)])
    np.testing.assert_allclose(p.lo * p.scale, lo, atol=1e-6)
    np.testing.assert_allclose(p.hi * p.scale, hi, atol=1e-6)
    assert peak_rate(3600.0) * 3600.0 <= MAX_PEAKS  # an hour-long mix stays a light page


# --------------------------------------------------------------------------------------------
# report.html in headless Chromium
# --------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium (Debian's ``chromium``) under Playwright; skips where either is missing."""
    exe = os.environ.get("TECHNOB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (CI installs it: make system-deps)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900},
        )
        yield ctx
        ctx.close()


class Opened:
    """A page opened from disk, with what it printed and fetched."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page()
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("window.technobReport && window.technobReport.ready", timeout=20000)

    @property
    def errors(self) -> list[str]:
        return [m for m in self.console if m.startswith(("error", "warning"))]

    def js(self, expr: str):
        return self.page.evaluate(expr)

    def inked_fraction(self) -> float:
        """Share of the waveform canvas' pixels that are drawn on."""
        return self.js("""() => {
            const c = document.getElementById('wave');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0 && d[i - 1] + d[i - 2] + d[i - 3] < 600) n++;
            return n / (c.width * c.height);
        }""")


def test_page_loads_offline_and_shows_the_whole_analysis(browser, report):
    res, doc = report
    page = Opened(browser, res.html)
    try:
        assert page.errors == []
        # only the page and its audio: nothing from the network
        assert all(u.startswith("file://") for u in page.requests), page.requests
        assert {Path(u).name for u in page.requests} == {"report.html", "track.wav", "drums.wav", "bass.wav",
                                                         "other.wav"}
        assert page.inked_fraction() > 0.05
        counts = page.js("""() => ['.bar-line', '.section-band', '.lane-head[data-lane]']
            .map(s => document.querySelectorAll(s).length)""")
        assert counts == [len(doc["downbeats"]), len(doc["segments"]), 1 + 3]
        # the other beats are drawn on the canvas (only those in view: cheap for hour-long tracks)
        assert page.js("() => window.technobReport.beatsDrawn") == len(set(doc["beats"]) - set(doc["downbeats"]))
        labels = page.js("() => [...document.querySelectorAll('.section-band')].map(b => b.dataset.label)")
        assert labels == [s["label"] for s in doc["segments"]]
        keys = page.js("() => [...document.querySelectorAll('#figures > tbody > tr')].map(r => r.dataset.key)")
        assert keys == list(doc)
        facts = page.js("() => document.getElementById('facts').textContent")
        assert f"{doc['tempo']:.2f} BPM" in facts and doc["key"]["label"] in facts
        assert page.js("() => document.querySelectorAll('#tempo-table tbody tr').length") == len(doc["tempo_map"])
        width = page.js("() => document.getElementById('track').offsetWidth")
        page.page.click("#zoom-in")
        assert page.js("() => document.getElementById('track').offsetWidth") >= 1.9 * width
        assert page.inked_fraction() > 0.05
    finally:
        page.page.close()


def test_play_moves_the_playhead_with_the_click_track_and_solo(browser, report):
    res, _ = report
    page = Opened(browser, res.html)
    try:
        page.page.click("#click")
        page.page.click("#play")
        page.page.wait_for_function("Number(document.getElementById('playhead').dataset.time) > 0.5", timeout=15000)
        assert page.js("() => window.technobReport.clicks") > 0  # the grid is being clicked
        page.page.click('.lane-head[data-lane="stems_truth/drums"] .lane-solo')
        muted = page.js("""() => [document.getElementById('audio').muted,
            ...[...document.querySelectorAll('audio.stem-audio')].map(a => [a.dataset.stem, a.muted])]""")
        assert muted == [True, ["stems_truth/bass", True], ["stems_truth/drums", False], ["stems_truth/other", True]]
        page.page.click("#play")  # pause
        t = float(page.page.get_attribute("#playhead", "data-time"))
        page.page.wait_for_timeout(300)
        assert float(page.page.get_attribute("#playhead", "data-time")) == t
        assert page.errors == []
    finally:
        page.page.close()


def test_page_says_when_the_audio_is_missing(browser, report, tmp_path):
    res, doc = report
    moved = tmp_path / "elsewhere"
    shutil.copytree(res.analysis.parent, moved)
    out = write_report(moved, moved, png=False)
    assert out.data.audio_path is None and out.data.stems == []
    page = Opened(browser, out.html)
    try:
        notices = page.js("() => window.technobReport.notices")
        assert any("audio file not found: ../track.wav" in n for n in notices)
        assert page.page.is_visible("#notice-box")
        assert page.inked_fraction() > 0.02  # the RMS envelope from frames.npz stands in
        page.page.click("#play")  # a silent clock still runs the grid
        page.page.wait_for_function("Number(document.getElementById('playhead').dataset.time) > 0.3", timeout=15000)
        assert page.errors == []
        assert [Path(u).name for u in page.requests] == ["report.html"]
    finally:
        page.page.close()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def test_cli_report_of_an_analysis_folder(report, tmp_path, capsys):
    res, doc = report
    out = tmp_path / "rep"
    assert main(["report", str(res.analysis.parent), "-o", str(out), "--no-png"]) == 0
    printed = capsys.readouterr().out
    assert "report.html" in printed and "stems: stems_truth/bass" in printed
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    data = _page_data((out / "report.html").read_text())
    assert data["audio"]["src"] == os.path.relpath(res.analysis.parent.parent / "track.wav", out)


def test_cli_analyze_report(tmp_path, capsys):
    audio, truth = synth_techno((("intro", 2), ("drop", 2)), bpm=126.0, seed=4)
    wav = write_audio(tmp_path / "clip.wav", audio, truth.sample_rate)
    assert main(["analyze", str(wav), "-o", str(tmp_path / "a"), "--report"]) == 0
    assert "report.png" in capsys.readouterr().out
    data = load_report_data(tmp_path / "a")
    assert data.audio_path is not None and data.audio_path.resolve() == wav.resolve()
    assert (tmp_path / "a" / "report.png").stat().st_size > 10_000
    assert _page_data((tmp_path / "a" / "report.html").read_text())["analysis"]["tempo"] == data.tempo


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("missing", "input not found"),
        ("not_json", "analysis.json: not valid JSON"),
        ("no_duration", "analysis.json: duration: must be > 0, got 0"),
        ("bad_segments", "analysis.json: segments[0].end: missing"),
        ("out_is_file", "output folder is a file"),
        ("no_stems_dir", "stems folder not found"),
        ("not_audio", "cannot decode"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, setup, fragment):
    src = tmp_path / "an"
    src.mkdir()
    doc = {"duration": 10.0, "tempo": 120.0, "beats": [0.5, 1.0], "downbeats": [0.5], "segments": []}
    out = tmp_path / "out"
    extra: list[str] = []
    if setup == "missing":
        src = tmp_path / "nope"
    elif setup == "not_json":
        (src / "analysis.json").write_text("{oops")
    elif setup == "no_duration":
        (src / "analysis.json").write_text(json.dumps({**doc, "duration": 0}))
    elif setup == "bad_segments":
        (src / "analysis.json").write_text(json.dumps({**doc, "segments": [{"start": 1.0, "label": "x"}]}))
    elif setup == "out_is_file":
        (src / "analysis.json").write_text(json.dumps(doc))
        out.write_text("a file")
    elif setup == "no_stems_dir":
        (src / "analysis.json").write_text(json.dumps(doc))
        extra = ["--stems", str(tmp_path / "nowhere")]
    elif setup == "not_audio":
        src = tmp_path / "noise.wav"
        src.write_bytes(b"RIFF-but-not-really" * 20)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["report", str(src), "-o", str(out), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("technob: error:") and fragment in err and len(err.splitlines()) == 1, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # inputs untouched, no output
    assert not out.is_dir()


def test_minimal_analysis_document_still_draws(tmp_path):
    """A hand-written analysis.json (no arrays, no audio, 3 beats per bar, a field the schema does
    not know on a section) still gives both files."""
    beats = [0.5 + 0.5 * i for i in range(18)]
    doc = {"duration": 10.0, "tempo": 120.0, "beats_per_bar": 3, "beats": beats, "downbeats": beats[::3],
           "segments": [{"start": 0.0, "end": 4.0, "label": "intro", "labeller": "hand"},
                        {"start": 4.0, "end": 10.0, "label": "verse"}]}
    (tmp_path / "analysis.json").write_text(json.dumps(doc))
    res = write_report(tmp_path)
    assert res.png.stat().st_size > 10_000
    data = _page_data(res.html.read_text())
    assert data["bar_tempo"]["bpm"] == [120.0] * 5  # 3 beats over 1.5 s: not assumed 4/4
    assert any("names no audio" in n for n in data["notes"])
    assert data["grid"]["segments"][0]["labeller"] == "hand"  # shown in the band's tooltip
