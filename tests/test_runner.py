"""The one file runner (technob_fx.core.runner, issue 17): streaming with latency compensation,
several named outputs written all-or-nothing, progress, cancellation, timing, signals."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from technob_fx.core.errors import AudioError, PathError
from technob_fx.core.io import audio_info, read_audio, write_audio
from technob_fx.core.runner import (
    AudioOutputs,
    Cancelled,
    Terminated,
    new_folders,
    per_block,
    run_file,
    run_stream,
    signals_as_exceptions,
)

SR = 44100


@pytest.fixture
def src(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    x = (0.2 * rng.standard_normal((2, SR * 2 + 123))).astype(np.float32)
    return write_audio(tmp_path / "in.wav", x, SR, bit_depth=32)


def _delay(latency: int):
    """A block transform that delays its input by ``latency`` samples (a streaming node with latency)."""
    state = {"buf": None}

    def fn(block: np.ndarray) -> np.ndarray:
        if state["buf"] is None:
            state["buf"] = np.zeros((block.shape[0], latency), np.float32)
        joined = np.concatenate([state["buf"], block], axis=1)
        state["buf"] = joined[:, joined.shape[1] - latency:]
        return joined[:, : joined.shape[1] - latency]

    return fn


@pytest.mark.parametrize(("latency", "block"), [(0, 4096), (1000, 4096), (10000, 3000)])
def test_latency_is_compensated(tmp_path, src, latency, block):
    x, _ = read_audio(src)
    rep = run_file(src, per_block(_delay(latency)), {"out": tmp_path / "out.wav"}, block_size=block,
                   latency=latency)
    y, sr = read_audio(tmp_path / "out.wav")
    assert sr == SR and y.shape == x.shape
    np.testing.assert_array_equal(y, x)  # aligned, same length, bit-exact at 32-bit float
    assert rep.frames == x.shape[1] and rep.duration == pytest.approx(x.shape[1] / SR)
    assert rep.paths == {"out": tmp_path / "out.wav"}
    assert set(rep.timings) == {"read", "process", "write"} and all(v >= 0 for v in rep.timings.values())


def test_several_named_outputs_stacked_or_dict(tmp_path, src):
    x, _ = read_audio(src)
    paths = {"half": tmp_path / "parts" / "half.wav", "neg": tmp_path / "parts" / "neg.flac"}
    run_file(src, per_block(lambda b: np.stack([0.5 * b, -b])), paths, make_folders=True, bit_depth=24)
    half, _ = read_audio(paths["half"])
    neg, _ = read_audio(paths["neg"])
    np.testing.assert_allclose(half, 0.5 * x, atol=2 ** -22)
    np.testing.assert_allclose(neg, -x, atol=2 ** -22)
    assert audio_info(paths["neg"]).bit_depth == 24
    out = {"a": tmp_path / "a.wav", "b": tmp_path / "b.wav"}
    run_file(src, per_block(lambda b: {"a": b, "b": b[:1]}), out, bit_depth=32)
    assert audio_info(out["a"]).channels == 2 and audio_info(out["b"]).channels == 1


def test_an_error_in_any_output_writes_none_and_removes_the_new_folder(tmp_path, src):
    paths = {"ok": tmp_path / "new" / "deep" / "ok.wav", "bad": tmp_path / "new" / "deep" / "bad.wav"}
    calls = {"n": 0}

    def fn(b: np.ndarray) -> dict:
        calls["n"] += 1
        bad = b.copy()
        if calls["n"] == 3:
            bad[0, 0] = np.nan  # the third block of one output is unusable
        return {"ok": b, "bad": bad}

    with pytest.raises(AudioError, match="NaN"):
        run_file(src, per_block(fn), paths, block_size=8192, make_folders=True)
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]  # no file, no .part, no new folder


def test_outputs_refuse_overwriting_the_input_and_duplicates(tmp_path, src):
    with pytest.raises(PathError, match="overwrite the input"):
        run_file(src, per_block(lambda b: b), {"out": src})
    with pytest.raises(PathError, match="same path"):
        AudioOutputs({"a": tmp_path / "x.wav", "b": tmp_path / "x.wav"}, SR)
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_progress_once_per_block_and_cancel(tmp_path, src):
    seen: list[tuple[float, str]] = []
    run_file(src, per_block(lambda b: b), None, block_size=20000, progress=lambda f, m: seen.append((f, m)))
    n = audio_info(src).frames
    assert len(seen) == -(-n // 20000) and seen[-1][0] == 1.0 and seen[-1][1] == f"{n / SR:.1f}/{n / SR:.1f} s"
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    stop = threading.Event()

    def fn(b: np.ndarray) -> np.ndarray:
        stop.set()  # cancelled while the first block is processed
        return b

    with pytest.raises(Cancelled):
        run_file(src, per_block(fn), {"out": tmp_path / "out" / "x.wav"}, block_size=4096, cancel=stop,
                 make_folders=True)
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_finish_runs_before_the_rename(tmp_path, src):
    def finish() -> dict:
        assert not (tmp_path / "out.wav").exists()  # not in place yet
        assert [p for p in tmp_path.iterdir() if ".part" in p.name]
        return {"done": True}

    rep = run_file(src, per_block(lambda b: b), {"out": tmp_path / "out.wav"}, finish=finish)
    assert rep.result == {"done": True} and (tmp_path / "out.wav").exists()

    def fail() -> None:
        raise AudioError("analysis failed")

    with pytest.raises(AudioError, match="analysis failed"):
        run_file(src, per_block(lambda b: b), {"out": tmp_path / "out2.wav"}, finish=fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_run_stream_of_arrays_with_a_stream_transform(tmp_path):
    """A transform that reads ahead (like demucs' windows) and yields uneven output blocks."""
    x = np.arange(2 * 10000, dtype=np.float32).reshape(2, 10000) / 20000

    def regroup(blocks):
        pending = []
        for b in blocks:
            pending.append(b)
            if len(pending) == 3:
                yield np.concatenate(pending, axis=1)
                pending = []
        if pending:
            yield np.concatenate(pending, axis=1)

    out = AudioOutputs({"y": tmp_path / "y.wav"}, SR, bit_depth=32)
    rep = run_stream((x[:, i: i + 777] for i in range(0, 10000, 777)), regroup, out, sample_rate=SR)
    y, _ = read_audio(tmp_path / "y.wav")
    np.testing.assert_array_equal(y, x)
    assert rep.frames == 10000


def test_sigterm_raises_terminated_and_cleans_up(tmp_path, src):
    def fn(b: np.ndarray) -> np.ndarray:
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` mid-run
        return b

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), signals_as_exceptions():
        run_file(src, per_block(fn), {"out": tmp_path / "o" / "out.wav"}, block_size=4096, make_folders=True)
    assert signal.getsignal(signal.SIGTERM) is before
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]
    assert issubclass(Terminated, KeyboardInterrupt)


def test_new_folders_removes_only_empty_new_folders(tmp_path):
    keep = tmp_path / "old"
    keep.mkdir()
    with pytest.raises(KeyboardInterrupt), new_folders(tmp_path / "a" / "b", keep / "c", tmp_path / "full"):
        (tmp_path / "a" / "b" / "sub").mkdir(parents=True)
        (keep / "c").mkdir()
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "kept.txt").write_text("resumable work")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "old"]
    assert list(keep.iterdir()) == []
    with new_folders(tmp_path / "ok"):
        (tmp_path / "ok").mkdir()
    assert (tmp_path / "ok").is_dir()  # success keeps everything
