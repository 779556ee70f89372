"""The ``technob`` CLI: render, presets, demo, and one-line errors with exit code 1."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from technob_fx.cli import build_parser, main
from technob_fx.core.io import read_audio, write_audio

SR = 44100


@pytest.fixture
def wav(tmp_path, short_track):
    return write_audio(tmp_path / "in.wav", short_track[0][:, : SR * 3], SR)


def test_render_with_preset_and_set(tmp_path, wav, capsys):
    out = tmp_path / "out.flac"
    code = main(["render", str(wav), str(out), "--preset", "lofi", "--set", "tape.depth_ms=2.5",
                 "--set", "dull.cutoff_frequency_hz=4000"])
    assert code == 0
    audio, sr = read_audio(out)
    assert sr == SR and audio.shape == (2, SR * 3)
    printed = capsys.readouterr().out
    assert "x real time" in printed and "tape" in printed


def test_render_writes_results_json_for_analyzer_chains(tmp_path, wav):
    preset = tmp_path / "p.toml"
    preset.write_text('[[chain]]\ntype = "stereo_width"\nwidth = 0.5\n')
    res = tmp_path / "r.json"
    assert main(["render", str(wav), str(tmp_path / "o.wav"), "--preset", str(preset), "--results", str(res), "--quiet"]) == 0
    assert json.loads(res.read_text()) == {}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["render", "{wav}", "{wav}", "--preset", "lofi"], "refusing to overwrite the input"),
        (["render", "{missing}", "{out}", "--preset", "lofi"], "no such file"),
        (["render", "{wav}", "{out}", "--preset", "nope"], "no preset named 'nope'"),
        (["render", "{wav}", "{out}", "--preset", "lofi", "--set", "tape.depth_ms=99"], "out of range"),
        (["render", "{wav}", "{out}", "--preset", "lofi", "--set", "tape=3"], "expected element.param=value"),
        (["render", "{wav}", "{out}", "--preset", "lofi", "--set", "ghost.x=1"], "no element named 'ghost'"),
        (["render", "{wav}", "{tmp}/x.xyz", "--preset", "lofi"], "cannot write format"),
        (["render", "{corrupt}", "{out}", "--preset", "lofi"], "cannot decode"),
        (["presets", "show", "nope"], "no preset named"),
    ],
)
def test_bad_input_prints_one_line_and_exits_1(tmp_path, wav, capsys, argv, fragment):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"not audio at all" * 10)
    fmt = {"wav": wav, "missing": tmp_path / "missing.wav", "out": tmp_path / "out.wav", "tmp": tmp_path, "corrupt": corrupt}
    before = wav.read_bytes()
    code = main([a.format(**fmt) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("technob: error:") and fragment in err and len(err.splitlines()) == 1
    assert wav.read_bytes() == before
    assert not (tmp_path / "out.wav").exists()
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_presets_list_and_show(capsys):
    assert main(["presets", "list"]) == 0
    out = capsys.readouterr().out
    assert "lofi" in out and "techno_master" in out
    assert main(["presets", "show", "lofi"]) == 0
    out = capsys.readouterr().out
    assert "tape  [wow_flutter]" in out and "depth_ms = 1.6" in out and "cutoff_frequency_hz = 5200.0" in out


def test_help_explains_every_option():
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sp in action.choices.items():
                    walk(sp, f"{prefix} {name}")
            elif action.dest != "help" and not action.help:
                missing.append(f"{prefix} {action.option_strings or action.dest}")

    walk(build_parser(), "technob")
    assert missing == [], f"options without help text: {missing}"


def test_demo_render_step_writes_its_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "-o", str(out), "--step", "render presets"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["track"]["tempo_bpm"] == 128.0
    assert summary["track"]["sections"][0][2] == "intro"
    for name in ("track.wav", "truth.json", "track_techno_master.wav", "track_lofi.wav"):
        assert (out / name).is_file()
    audio, sr = read_audio(out / "track_lofi.wav")
    assert sr == SR and np.isfinite(audio).all() and audio.shape[1] > SR * 50
    assert "results in" in capsys.readouterr().out


def test_console_script_runs(tmp_path):
    exe = shutil.which("technob") or str(__import__("pathlib").Path(sys.executable).parent / "technob")
    proc = subprocess.run([exe, "render", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--preset" in proc.stdout
    proc = subprocess.run([exe, "render", str(tmp_path / "nope.wav"), str(tmp_path / "o.wav"), "--preset", "lofi"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("technob: error:")
    assert "Traceback" not in proc.stderr


def test_import_is_light():
    code = "import sys, technob_fx, technob_fx.cli; print(sorted(m for m in ('librosa','torch','demucs','scipy') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]"
