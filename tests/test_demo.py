"""``technob demo --quick`` end to end: every step runs and every file it reports exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from technob_fx.demo import DEMO_STEPS


def _reported_files(node, found: list[str]) -> list[str]:
    """Every string under a key naming a file (``file``, ``files``, ``path``...) in the summary."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"file", "path"} and isinstance(value, str):
                found.append(value)
            elif key in {"files", "paths"}:
                values = value.values() if isinstance(value, dict) else value
                found.extend(v for v in values if isinstance(v, str))
            else:
                _reported_files(value, found)
    elif isinstance(node, list):
        for value in node:
            _reported_files(value, found)
    return found


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    from technob_fx.cli import main

    out = tmp_path_factory.mktemp("demo") / "technob-demo"
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    return out


@pytest.mark.slow
def test_every_demo_step_runs_and_is_timed(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text())
    assert set(summary["step_seconds"]) == {title for title, _ in DEMO_STEPS}
    assert summary["total_seconds"] > 0
    assert summary["track"]["tempo_bpm"] == 128.0  # the synth's input (its truth)
    # what the analysis measured on the rendered file, and what its analysis.json says
    measured = summary["analysis"]
    assert measured["tempo_bpm"] == pytest.approx(128.0, abs=0.1)
    assert measured["beat_f"] >= 0.98 and measured["key"] == summary["track"]["key"]
    doc = json.loads((demo_dir / measured["file"]).read_text())
    assert doc["tempo"] == pytest.approx(measured["tempo_bpm"], abs=0.005)


@pytest.mark.slow
def test_every_file_the_demo_reports_exists_and_is_not_empty(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text())
    files = _reported_files(summary, [])
    assert len(files) >= len(DEMO_STEPS)
    for name in files:
        path = Path(name) if Path(name).is_absolute() else demo_dir / name
        assert path.exists(), name
        assert path.is_dir() or path.stat().st_size > 0, name
    leftovers = [p for p in demo_dir.rglob("*") if ".part" in p.name]
    assert leftovers == []


@pytest.mark.slow
def test_summary_and_index_name_every_file_in_the_demo_folder(demo_dir):
    from urllib.parse import quote

    from technob_fx.demo.index import UNDESCRIBED

    summary = json.loads((demo_dir / "summary.json").read_text())
    listed = {o["path"]: o["about"] for o in summary["outputs"]}
    on_disk = {p.relative_to(demo_dir).as_posix() for p in demo_dir.rglob("*") if p.is_file()}
    assert sorted(on_disk - set(listed)) == []
    assert sorted(set(listed) - on_disk) == []
    assert [p for p, about in listed.items() if about == UNDESCRIBED or not about.strip()] == []
    index = (demo_dir / "index.html").read_text()
    assert [p for p in listed if f'href="{quote(p)}"' not in index] == []
    # the demo's own report, with the HPSS split as stem lanes
    assert {"report/report.png", "report/report.html"} <= set(listed)
    assert summary["report"]["stems"] == ["hpss/harmonic", "hpss/percussive"]
