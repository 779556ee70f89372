"""SIGTERM and Ctrl-C in the middle of a command, and output folders on failure (issue 11, "CLI
and files"): the command exits 143 (SIGTERM) or 130 (SIGINT) with one line, leaves no ``.part``
file and no output folder it created; bad input leaves no empty folder either.

Each interrupt case starts the real CLI as a subprocess on an input long enough to still be
running, waits until it is mid-work (a ``.part`` file exists, or its progress has started),
sends the signal and checks what is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from technob_fx.cli import main
from technob_fx.core.io import audio_info, read_audio, write_audio

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
SIGNALS = [pytest.param(signal.SIGTERM, 143, "technob: terminated", id="SIGTERM"),
           pytest.param(signal.SIGINT, 130, "technob: interrupted", id="SIGINT")]


def _clicks(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Stereo noise with a click every half second (something for beat trackers)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    x[:, :: sr // 2] += 0.6
    return x


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("signal_inputs")
    write_audio(d / "long.wav", _clicks(240.0), SR, bit_depth=16)
    write_audio(d / "mid.wav", _clicks(120.0, seed=1), SR, bit_depth=16)
    write_audio(d / "short.wav", _clicks(30.0, seed=2), SR, bit_depth=16)
    (d / "grid.json").write_text(json.dumps([i * 0.5 for i in range(240)]))
    return d


def _interrupt(args: list[str], sig: int, cwd: Path, ready: Callable[[list[str]], bool],
               timeout: float = 240.0) -> tuple[int, list[str]]:
    """Run ``technob ARGS`` in ``cwd``; once ``ready(stderr lines)`` send ``sig``; return the exit
    status and the stderr lines."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "technob_fx", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            # SIGINT handled as in a terminal even when pytest runs in the background
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not ready(lines) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"finished before the signal (make the input longer): {lines}"
        assert ready(lines), f"not ready after {timeout} s: {lines}"
        proc.send_signal(sig)
        rc = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    return rc, lines


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".part" in p.name]


def _part_exists(folder: Path) -> Callable[[list[str]], bool]:
    return lambda lines: bool(_parts(folder))


def _progress_started(lines: list[str]) -> bool:
    return bool(lines)


def _check_exit(rc: int, lines: list[str], code: int, line: str) -> None:
    assert rc == code, lines
    assert not any("Traceback" in x or "internal error" in x for x in lines), lines
    assert lines and lines[-1] == line, lines
    assert sum(x.startswith("technob:") for x in lines) == 1, lines  # one line (progress lines aside)


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_render_interrupted(tmp_path, inputs, sig, code, line):
    rc, lines = _interrupt(["render", str(inputs / "long.wav"), "out.wav", "--preset", "lofi",
                            "--block-size", "2048", "--quiet"], sig, tmp_path, _part_exists(tmp_path))
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []  # no .part, no output


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_separate_hpss_interrupted(tmp_path, inputs, sig, code, line):
    rc, lines = _interrupt(["separate", str(inputs / "long.wav"), "-o", "stems/song", "--engine", "hpss",
                            "--quiet"], sig, tmp_path, _part_exists(tmp_path))
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []  # the folders it created are gone too


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_separate_demucs_interrupted(tmp_path, inputs, sig, code, line):
    pytest.importorskip("demucs")
    rc, lines = _interrupt(["separate", str(inputs / "short.wav"), "-o", "stems", "--model", "demucs_unittest",
                            "--segment", "2", "--shifts", "0", "--quiet"],
                           sig, tmp_path, _part_exists(tmp_path))
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_quantize_interrupted(tmp_path, inputs, sig, code, line):
    # Two files warped (the track and an --also stem): the first progress line comes after the
    # first warp, so the signal arrives during the second, before anything is written.
    rc, lines = _interrupt(["quantize", str(inputs / "mid.wav"), "q.wav", "--bpm", "125", "--grid-file",
                            str(inputs / "grid.json"), "--also", str(inputs / "mid.wav"), "q2.wav"],
                           sig, tmp_path, _progress_started)
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_analyze_interrupted(tmp_path, inputs, sig, code, line):
    rc, lines = _interrupt(["analyze", str(inputs / "long.wav"), "-o", "an"], sig, tmp_path, _progress_started)
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_export_interrupted(tmp_path, inputs, sig, code, line):
    rc, lines = _interrupt(["export", str(inputs / "long.wav"), "-o", "proj", "--no-stems"], sig, tmp_path,
                           _progress_started)
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def genre_dirs(tmp_path_factory) -> dict[str, Path]:
    from technob_fx.blend.genres import make_genre_folders

    return make_genre_folders(tmp_path_factory.mktemp("signal_genres"), files=3, seconds=24.0, sr=22050, seed=3)


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_dataset_build_interrupted(tmp_path, genre_dirs, sig, code, line):
    """Two worker processes; only the parent gets the signal and stops the workers. Chunks
    already complete stay (the build resumes), and a second run completes the dataset."""
    from technob_fx.blend.dataset import read_manifest

    out = tmp_path / "ds"
    argv = ["dataset", "build", *[a for g, d in genre_dirs.items() for a in ("--genre", g, str(d))],
            "-o", str(out), "--chunk", "4", "--sr", "22050", "--n-mels", "32", "--jobs", "2", "--quiet"]
    rc, lines = _interrupt(argv, sig, tmp_path, lambda _: bool(list(out.rglob("c*.wav"))))
    _check_exit(rc, lines, code, line)
    assert _parts(tmp_path) == []
    assert not (out / "manifest.csv").exists()
    assert main(argv) == 0
    assert len(read_manifest(out)) == 2 * 3 * 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, genre_dirs) -> Path:
    from technob_fx.blend.dataset import DatasetConfig, build_dataset

    out = tmp_path_factory.mktemp("signal_ds") / "ds"
    build_dataset({g: [d] for g, d in genre_dirs.items()}, out,
                  config=DatasetConfig(chunk_seconds=8.0, sample_rate=22050, n_mels=64, val_fraction=0.25), jobs=1)
    return out


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
def test_generate_interrupted(tmp_path, dataset, sig, code, line):
    rc, lines = _interrupt(["generate", "--dataset", str(dataset), "--bars", "64", "-o", "gen"], sig, tmp_path,
                           _progress_started)
    _check_exit(rc, lines, code, line)
    assert list(tmp_path.iterdir()) == []
    assert _parts(dataset) == []


# -- failures leave no folder ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ["hpss", "demucs"])
def test_separate_nan_input_leaves_no_folder(tmp_path, engine, capsys):
    import soundfile as sf

    if engine == "demucs":
        pytest.importorskip("demucs")
    x = _clicks(3.0).T.copy()
    x[1000, 0] = np.nan
    sf.write(tmp_path / "nan.wav", x, SR, subtype="FLOAT")
    rc = main(["separate", str(tmp_path / "nan.wav"), "-o", str(tmp_path / "out" / "stems"), "--engine", engine,
               "--model", "demucs_unittest", "--segment", "2", "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(err) == 1 and "NaN" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.wav"]


def test_dataset_build_without_audio_exits_1_and_writes_nothing(tmp_path, genre_dirs, capsys):
    (tmp_path / "lofi").mkdir()
    (tmp_path / "classical").mkdir()
    (tmp_path / "classical" / "notes.txt").write_text("no audio here")
    out = tmp_path / "ds"
    rc = main(["dataset", "build", "--genre", "lofi", str(tmp_path / "lofi"), "--genre", "classical",
               str(tmp_path / "classical"), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(err) == 1 and err[0].startswith("technob: error: no audio files"), err
    assert not out.exists()
    # one genre with audio, one without: still refused, naming the empty one
    rc = main(["dataset", "build", "--genre", "lofi", str(genre_dirs["lofi"]), "--genre", "classical",
               str(tmp_path / "classical"), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(err) == 1 and "'classical'" in err[0] and str(tmp_path / "classical") in err[0], err
    assert not out.exists()


# -- formats (issue 11): truncated input, bit depth, dither ---------------------------------------


def test_render_refuses_a_truncated_wav(tmp_path, capsys):
    src = write_audio(tmp_path / "whole.wav", _clicks(3.0), SR, bit_depth=16)
    data = src.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 4])  # the header still says 3 s
    rc = main(["render", str(tmp_path / "cut.wav"), str(tmp_path / "out.wav"), "--preset", "lofi", "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(err) == 1 and "truncated" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.wav", "whole.wav"]


@pytest.mark.parametrize(("argv", "bits"), [([], 24), (["--bit-depth", "16"], 16), (["--bit-depth", "32"], 32)])
def test_render_bit_depth_follows_the_input(tmp_path, argv, bits):
    src = write_audio(tmp_path / "in24.wav", _clicks(2.0, sr=96000), 96000, bit_depth=24)
    assert audio_info(src).bit_depth == 24
    assert main(["render", str(src), str(tmp_path / "out.wav"), "--preset", "lofi", "--quiet", *argv]) == 0
    info = audio_info(tmp_path / "out.wav")
    assert info.bit_depth == bits and info.sample_rate == 96000


def test_separate_hpss_bit_depth_and_dither(tmp_path):
    """24-bit in, 24-bit parts out; --bit-depth 16 adds TPDF dither: a -100 dBFS tone (below
    16-bit's LSB) survives as noise-like dithered samples instead of being truncated to zero."""
    t = np.arange(SR * 2) / SR
    quiet = np.tile((1e-5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), (2, 1))
    src = write_audio(tmp_path / "quiet.wav", quiet, SR, bit_depth=24)
    assert main(["separate", str(src), "-o", str(tmp_path / "p24"), "--engine", "hpss", "--quiet"]) == 0
    assert audio_info(tmp_path / "p24" / "harmonic.wav").bit_depth == 24
    assert main(["separate", str(src), "-o", str(tmp_path / "p16"), "--engine", "hpss", "--bit-depth", "16",
                 "--quiet"]) == 0
    assert audio_info(tmp_path / "p16" / "harmonic.wav").bit_depth == 16
    y, _ = read_audio(tmp_path / "p16" / "harmonic.wav")
    lsb = 2.0 ** -15
    assert np.count_nonzero(y) > y.size // 4  # dithered, not truncated to silence
    assert np.max(np.abs(y)) <= 3 * lsb  # +-1 LSB TPDF on a signal of 0.3 LSB
