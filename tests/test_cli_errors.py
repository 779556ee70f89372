"""The CLI as a clumsy user meets it: every case exits 1 with ONE ``technob: error:`` line naming
the problem, never a traceback or an internal error, leaves no temporary file, no output and its
inputs unchanged (issue 11, "CLI and files")."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from technob_fx.cli import main
from technob_fx.core.io import write_audio

SR = 44100


@pytest.fixture(scope="module")
def data(tmp_path_factory, short_track):
    """Inputs shared by the cases: a 4 s track, a 1-sample file, its analysis, broken files."""
    from technob_fx.stages.analysis import analyze_file

    d = tmp_path_factory.mktemp("cli_inputs")
    write_audio(d / "in.wav", short_track[0][:, : SR * 4], SR)
    write_audio(d / "one.wav", np.zeros((2, 1), np.float32), SR)
    analyze_file(d / "in.wav", d / "in.analysis")
    doc = json.loads((d / "in.analysis" / "analysis.json").read_text())
    for name, key, value in [("bad_tempo", "tempo", "fast"), ("bad_beats", "beats", "x"),
                             ("bad_duration", "duration", -3), ("bad_source", "source", 5)]:
        shutil.copytree(d / "in.analysis", d / name)
        (d / name / "analysis.json").write_text(json.dumps({**doc, key: value}))
    (d / "notjson").mkdir()
    (d / "notjson" / "analysis.json").write_text("{not json")
    (d / "text.txt").write_text("hello")
    (d / "bad.toml").write_text("[[chain]\n")
    (d / "plug.toml").write_text(f'[[chain]]\ntype = "plugin"\npath = "{d / "text.txt"}"\n')
    (d / "ir.toml").write_text('[[chain]]\ntype = "Convolution"\nimpulse_response_filename = "text.txt"\n')
    (d / "nan.toml").write_text('[[chain]]\ntype = "LowpassFilter"\ncutoff_frequency_hz = nan\n')
    (d / "bool.toml").write_text('[[chain]]\ntype = "Gain"\ngain_db = true\n')
    return d


def _mount_tmpfs(path: Path, options: str) -> bool:
    """Mount a small tmpfs (root only; refused in most containers): True when it worked."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


@pytest.fixture
def readonly(tmp_path, data):
    """A read-only folder holding a copy of in.wav (chmod 0555, or a read-only tmpfs as root)."""
    ro = tmp_path / "ro"
    mounted = _mount_tmpfs(ro, "size=16m")
    ro.mkdir(exist_ok=True)
    shutil.copy(data / "in.wav", ro / "in.wav")
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
    else:
        ro.chmod(0o555)
    with contextlib.suppress(OSError):
        (ro / "probe").write_bytes(b"")
        (ro / "probe").unlink()
        pytest.skip("cannot make a read-only folder here (root without mount)")
    yield ro
    if mounted:
        subprocess.run(["umount", str(ro)], check=False)
    else:
        ro.chmod(0o755)


@pytest.fixture
def full(tmp_path):
    """A 64 KiB tmpfs: writing audio there runs out of space (root with mount only)."""
    path = tmp_path / "full"
    if not _mount_tmpfs(path, "size=64k"):
        pytest.skip("needs root and mount for a tiny tmpfs")
    yield path
    subprocess.run(["umount", str(path)], check=False)


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


def _check(code: int, err: list[str], fragment: str) -> None:
    assert code == 1, err
    assert len(err) == 1 and err[0].startswith("technob: error: "), err
    assert fragment in err[0], err
    assert "Traceback" not in err[0] and "internal error" not in err[0]


# (id, argv with {d} = inputs folder and {o} = a fresh output folder, fragment of the error line)
CASES = [
    # missing files and folders given as files
    ("render-missing", "render {d}/missing.wav {o}/x.wav --preset lofi --quiet", "missing.wav: no such file"),
    ("render-dir-in", "render {d} {o}/x.wav --preset lofi --quiet", "is a folder, not an audio file"),
    ("render-dir-out", "render {d}/in.wav {d} --preset lofi --quiet", "is a folder; give a file name"),
    ("render-no-parent", "render {d}/in.wav {o}/nodir/x.wav --preset lofi --quiet", "folder"),
    ("render-no-ext", "render {d}/in.wav {o}/x --preset lofi --quiet", "cannot write format"),
    ("render-not-audio", "render {d}/text.txt {o}/x.wav --preset lofi --quiet", "cannot decode audio"),
    ("render-overwrite-input", "render {d}/in.wav {d}/in.wav --preset lofi --quiet", "refusing to overwrite the input"),
    ("analyze-missing", "analyze {d}/missing.wav -o {o}/a --quiet", "input file not found"),
    ("analyze-dir", "analyze {d} -o {o}/a --quiet", "is a folder, not an audio file"),
    ("analyze-out-is-file", "analyze {d}/in.wav -o {d}/text.txt --quiet", "output folder is a file"),
    ("analyze-bpm-range", "analyze {d}/in.wav -o {o}/a --min-bpm 200 --max-bpm 100 --quiet", "tempo range"),
    ("separate-missing", "separate {d}/missing.wav --engine hpss -o {o}/s --quiet", "no such file"),
    ("separate-dir", "separate {d} --engine hpss -o {o}/s --quiet", "is a folder, not an audio file"),
    ("separate-out-is-file", "separate {d}/in.wav --engine hpss -o {d}/text.txt --quiet", "output folder is a file"),
    ("separate-out-is-input", "separate {d}/in.wav --engine hpss -o {d}/in.wav --quiet", "output folder is a file"),
    ("separate-parts", "separate {d}/in.wav --engine hpss --parts bogus -o {o}/s --quiet", "parts must be among"),
    ("separate-repo", "separate {d}/in.wav --repo {d}/nowhere -o {o}/s --quiet", "does not exist"),
    ("quantize-bpm-nan", "quantize {d}/in.wav {o}/q.wav --bpm nan --quiet", "out of range"),
    ("quantize-strength", "quantize {d}/in.wav {o}/q.wav --bpm 120 --strength 2 --quiet", "strength 2.0 is out of range"),
    ("quantize-grid-dir", "quantize {d}/in.wav {o}/q.wav --bpm 120 --grid-file {d}/notjson --quiet", "is a folder"),
    ("quantize-grid-text", "quantize {d}/in.wav {o}/q.wav --bpm 120 --grid-file {d}/text.txt --quiet", "not a readable JSON"),
    ("quantize-bars-0", "quantize {d}/in.wav {o}/q.wav --bpm 120 --loop --bars 0 --quiet", "--bars must be at least 1"),
    ("transcribe-dir", "transcribe {d} -o {o}/t.mid --quiet", "is a folder, not an audio file"),
    ("transcribe-not-mid", "transcribe {d}/in.wav -o {o}/t.txt --quiet", "output must be a .mid file"),
    ("report-missing", "report {d}/missing.wav -o {o}/r --quiet", "not found"),
    ("report-out-is-file", "report {d}/in.wav -o {d}/text.txt --quiet", "output folder is a file"),
    ("dataset-out-is-file", "dataset build --genre lofi {d} -o {d}/text.txt --quiet", "output folder is a file"),
    ("dataset-sr-0", "dataset build --genre lofi {d} -o {o}/ds --sr 0 --quiet", "sample rate 0.0 Hz is out of range"),
    ("generate-no-dataset", "generate --dataset {d} -o {o}/g --quiet", "not a dataset folder"),
    ("generate-out-is-file", "generate --dataset {d} -o {d}/text.txt --quiet", "output folder is a file"),
    ("batch-out-is-file", "batch analyze {d}/in.wav -o {d}/text.txt --quiet", "not a folder"),
    ("catalog-none", "catalog stats {d}", "no catalogue here"),
    # analysis JSON with bad values: read_analysis names the key
    ("export-tempo-fast", "export {d}/bad_tempo -o {o}/e --quiet", "tempo: expected a number, got 'fast'"),
    ("export-beats", "export {d}/bad_beats -o {o}/e --quiet", "beats: expected a list of numbers"),
    ("export-duration", "export {d}/bad_duration -o {o}/e --quiet", "duration: must be > 0"),
    ("export-source", "export {d}/bad_source -o {o}/e --quiet", "source: expected a string"),
    ("export-not-json", "export {d}/notjson -o {o}/e --quiet", "not valid JSON"),
    ("report-tempo-fast", "report {d}/bad_tempo -o {o}/r --quiet", "tempo: expected a number, got 'fast'"),
    ("quantize-grid-tempo-fast", "quantize {d}/in.wav {o}/q.wav --bpm 120 --grid-file {d}/bad_tempo/analysis.json --quiet",
     "tempo: expected a number, got 'fast'"),
    ("export-missing", "export {d}/missing -o {o}/e --quiet", "no such file"),
    ("export-audio-missing", "export {d}/in.analysis -o {o}/e --audio {d}/missing.wav --quiet", "--audio: no such file"),
    ("export-stem-missing", "export {d}/in.analysis -o {o}/e --stem drums={d}/missing.wav --quiet", "--stem drums: no such file"),
    ("export-stems-dir", "export {d}/in.analysis -o {o}/e --stems-dir {d}/nowhere --quiet", "--stems-dir: no such folder"),
    ("export-out-is-file", "export {d}/in.analysis -o {d}/in.wav --quiet", "not a folder"),
    ("export-bpm-nan", "export {d}/in.analysis -o {o}/e --bpm nan --quiet", "tempo nan BPM is out of range"),
    # bad --set values and bad presets
    ("set-nan", "render {d}/in.wav {o}/x.wav --preset lofi --set tape.depth_ms=nan --quiet", "tape.depth_ms must be finite"),
    ("set-bool-node", "render {d}/in.wav {o}/x.wav --preset lofi --set tape.depth_ms=true --quiet", "must be a number, got True"),
    ("set-bool-builtin", "render {d}/in.wav {o}/x.wav --preset lofi --set dull.cutoff_frequency_hz=true --quiet",
     "dull.cutoff_frequency_hz must be a number, got True"),
    ("set-inf", "render {d}/in.wav {o}/x.wav --preset lofi --set dull.cutoff_frequency_hz=inf --quiet", "must be finite"),
    ("set-text", "render {d}/in.wav {o}/x.wav --preset lofi --set squash.ratio=abc --quiet", "must be a number, got 'abc'"),
    ("set-range", "render {d}/in.wav {o}/x.wav --preset lofi --set crush.bit_depth=-1 --quiet", "out of range [0.0, 32.0]"),
    ("set-int", "render {d}/in.wav {o}/x.wav --preset lofi --set vinyl.seed=1.5 --quiet", "must be a whole number"),
    ("set-unknown", "render {d}/in.wav {o}/x.wav --preset lofi --set ghost.x=1 --quiet", "no element named 'ghost'"),
    ("set-syntax", "render {d}/in.wav {o}/x.wav --preset lofi --set tape=3 --quiet", "expected element.param=value"),
    ("render-sr-nan", "render {d}/in.wav {o}/x.wav --preset lofi --sample-rate nan --quiet", "sample rate nan Hz is out of range"),
    ("preset-toml", "render {d}/in.wav {o}/x.wav --preset {d}/bad.toml --quiet", "not valid TOML"),
    ("preset-dir", "render {d}/in.wav {o}/x.wav --preset {d} --quiet", "no preset named"),
    ("preset-plugin-not-plugin", "render {d}/in.wav {o}/x.wav --preset {d}/plug.toml --quiet", "cannot load plugin"),
    ("preset-ir-not-audio", "render {d}/in.wav {o}/x.wav --preset {d}/ir.toml --quiet", "impulse_response_filename"),
    ("preset-nan", "render {d}/in.wav {o}/x.wav --preset {d}/nan.toml --quiet", "must be finite"),
    ("preset-bool", "render {d}/in.wav {o}/x.wav --preset {d}/bool.toml --quiet", "Gain.gain_db must be a number, got True"),
    ("presets-show-missing", "presets show nope", "no preset named 'nope'"),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_bad_input_is_one_error_line(tmp_path, data, capsys, argv, fragment):
    before = _snapshot(data)
    out = tmp_path / "out"
    out.mkdir()
    code, err = _run(argv.format(d=data, o=out).split(), capsys)
    _check(code, err, fragment)
    assert _snapshot(data) == before  # inputs untouched, nothing written beside them
    assert not list(out.iterdir())  # no output, no temporary file


READONLY_CASES = [
    ("render", "render {d}/in.wav {ro}/x.wav --preset lofi --quiet", "{ro}/x.wav: cannot write"),
    ("render-results", "render {d}/in.wav {o}/x.wav --preset lofi --results {ro}/r.json --quiet", "{ro}/r.json: cannot write"),
    ("analyze", "analyze {d}/in.wav -o {ro}/a --quiet", "{ro}/a"),
    ("analyze-beside-input", "analyze {ro}/in.wav --quiet", "{ro}/in.wav.analysis"),
    ("separate", "separate {d}/in.wav --engine hpss -o {ro}/s --quiet", "{ro}/s"),
    ("separate-beside-input", "separate {ro}/in.wav --engine hpss --quiet", "{ro}/in_stems"),
    ("quantize", "quantize {d}/in.wav {ro}/q.wav --bpm 128 --quiet", "{ro}/q.wav: cannot write"),
    ("export", "export {d}/in.analysis -o {ro}/e --quiet", "{ro}/e"),
    ("report", "report {d}/in.analysis -o {ro}/r --quiet", "{ro}/r"),
    ("transcribe", "transcribe {d}/in.wav -o {ro}/t.mid --quiet", "{ro}/t.mid: cannot write"),
    ("dataset", "dataset build --genre lofi {d}/in.wav -o {ro}/ds --quiet", "{ro}/ds"),
    ("batch", "batch analyze {d}/in.wav -o {ro}/cat --quiet", "{ro}/cat"),
]


@pytest.mark.parametrize(("argv", "fragment"), [c[1:] for c in READONLY_CASES], ids=[c[0] for c in READONLY_CASES])
def test_read_only_output_folder_is_one_error_line(tmp_path, data, readonly, capsys, argv, fragment):
    out = tmp_path / "out"
    out.mkdir()
    code, err = _run(argv.format(d=data, o=out, ro=readonly).split(), capsys)
    _check(code, err, fragment.format(ro=readonly))
    assert sorted(p.name for p in readonly.iterdir()) == ["in.wav"]  # nothing half-written
    assert not list(out.iterdir())


@pytest.mark.parametrize("argv", [
    "render {d}/in.wav {full}/x.wav --preset lofi --bit-depth 32 --quiet",
    "quantize {d}/in.wav {full}/q.wav --bpm 128 --quiet",
], ids=["render", "quantize"])
def test_full_disk_is_one_error_line(data, full, capsys, argv):
    code, err = _run(argv.format(d=data, full=full).split(), capsys)
    _check(code, err, "cannot write audio: no space left on the device")
    assert not list(full.iterdir())


def test_one_sample_file_exports_an_empty_project(tmp_path, data, capsys):
    """A 1-sample file (ZeroDivisionError once) analyses to no beats and exports valid files at
    the default tempo."""
    code, err = _run(["export", str(data / "one.wav"), "-o", str(tmp_path / "e"), "--quiet"], capsys)
    assert code == 0 and not err
    rpp = (tmp_path / "e" / "one.RPP").read_text()
    assert "TEMPO 120 4 4" in rpp and (tmp_path / "e" / "one.mid").read_bytes().startswith(b"MThd")


def test_errors_reach_a_real_terminal_as_one_line(data, tmp_path):
    """The console script, as a user runs it: stderr is the one line (no traceback)."""
    preset = tmp_path / "p.toml"
    preset.write_text(textwrap.dedent("""\
        [[chain]]
        type = "LowpassFilter"
        cutoff_frequency_hz = 5200.0
        """))
    r = subprocess.run(
        [sys.executable, "-m", "technob_fx", "render", str(data / "in.wav"), str(tmp_path / "x.wav"),
         "--preset", str(preset), "--set", "lowpass_filter.cutoff_frequency_hz=nan"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"technob: error: {preset}: override lowpass_filter.cutoff_frequency_hz=nan: "
        "lowpass_filter.cutoff_frequency_hz must be finite, got nan"
    ]
