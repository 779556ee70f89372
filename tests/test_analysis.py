"""Full analysis: analysis.json schema, CLI, demo step, and bad input."""

from __future__ import annotations

import json

import mir_eval
import numpy as np
import pytest

from technob_fx.cli import main
from technob_fx.core.errors import AudioError, TechnobError
from technob_fx.stages.analysis import Analysis, analyze, analyze_file


def test_analyze_short_track_and_write(short_track, tmp_path):
    audio, truth, _ = short_track
    before = audio.copy()
    res = analyze(audio, truth.sample_rate)
    assert np.array_equal(audio, before)
    assert isinstance(res, Analysis)
    assert mir_eval.beat.f_measure(truth.beats, res.grid.beats) >= 0.98
    assert mir_eval.beat.f_measure(truth.downbeats, res.grid.downbeats) >= 0.95
    assert res.tempo == pytest.approx(128, rel=0.01)
    assert [s.label for s in res.segments] == [s.label for s in truth.segments]
    assert res.key.label == "A minor"
    path = res.write(tmp_path / "out")
    doc = json.loads(path.read_text())
    for key in ("duration", "sample_rate", "tempo", "beats", "downbeats", "segments", "key", "features",
                "bars", "notes", "arrays"):
        assert key in doc
    assert doc["segments"][0] == {"start": 0.0, "end": pytest.approx(truth.segments[0].end, abs=0.05),
                                  "label": "intro"}
    assert doc["key"]["label"] == "A minor"
    frames = np.load(tmp_path / "out" / doc["arrays"]["frames"])
    assert frames["mfcc"].shape[1] == 13
    pitch = np.load(tmp_path / "out" / doc["arrays"]["pitch"])
    assert pitch["f0"].shape == pitch["times"].shape


def test_cli_analyze(short_track_file, tmp_path, capsys):
    out = tmp_path / "an"
    assert main(["analyze", str(short_track_file), "-o", str(out), "--quiet"]) == 0
    doc = json.loads((out / "analysis.json").read_text())
    assert doc["tempo"] == pytest.approx(128, rel=0.01)
    assert (out / doc["source"]).resolve() == short_track_file.resolve()
    assert main(["analyze", str(tmp_path / "missing.wav")]) == 1
    assert "not found" in capsys.readouterr().err


def test_analyze_file_returns_and_writes(short_track_file, tmp_path):
    res = analyze_file(short_track_file, tmp_path / "x")
    assert (tmp_path / "x" / "analysis.json").is_file()
    assert "load" in res.timings


def test_demo_step(tmp_path):
    from technob_fx.demo import run_demo

    ctx = run_demo(tmp_path / "demo", quick=True, log=lambda s: None, steps=["analysis"])
    s = ctx.summary["analysis"]
    assert s["beat_f"] >= 0.98 and s["key"] == "A minor"
    assert (tmp_path / "demo" / "analysis" / "analysis.json").is_file()


def _noise(shape, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 0.1).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "audio", "sr"),
    [
        ("silence", np.zeros((2, 44100 * 5), np.float32), 44100),
        ("half a second", _noise((2, 22050)), 44100),
        ("one sample", np.zeros((1, 1), np.float32), 44100),
        ("white noise", _noise((2, 44100 * 8)), 44100),
        ("mono 1-D", _noise(44100 * 3), 44100),
        ("6 channels", _noise((6, 48000 * 3)), 48000),
        ("8 kHz", _noise((1, 8000 * 3)), 8000),
        ("192 kHz", _noise((2, 192000 * 2)), 192000),
        ("sustained tone, no beat", (0.3 * np.sin(2 * np.pi * 220 * np.arange(44100 * 6) / 44100)).astype(np.float32), 44100),
    ],
)
def test_bad_input_gives_sensible_result(name, audio, sr):
    res = analyze(audio, sr)
    assert res.duration == pytest.approx(audio.shape[-1] / sr)
    assert np.all(np.diff(res.grid.beats) > 0)
    assert len(res.segments) >= 1 and res.segments[0].start == 0.0
    back = Analysis.from_dict(json.loads(json.dumps(res.to_dict(), allow_nan=False)))  # validates
    assert np.allclose(back.grid.beats, res.grid.beats, atol=1e-6)
    if name in ("silence", "half a second", "one sample", "white noise", "sustained tone, no beat"):
        assert res.grid.beats.size == 0 and res.tempo == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_raise(bad):
    x = _noise((2, 44100))
    x[0, 100] = bad
    with pytest.raises(AudioError, match="NaN or infinite"):
        analyze(x, 44100)


@pytest.mark.parametrize(("audio", "sr"), [(np.zeros((2, 0), np.float32), 44100), (np.zeros(100, np.float32), 10)])
def test_empty_or_bad_rate_raise(audio, sr):
    with pytest.raises(TechnobError):
        analyze(audio, sr)


def test_analysis_round_trips_through_json():
    x = (0.3 * np.sin(2 * np.pi * 330 * np.arange(44100 * 3) / 44100)).astype(np.float32)
    res = analyze(x, 44100)
    back = Analysis.from_json(res.to_json())
    assert back.key.label == res.key.label
    assert np.array_equal(np.isnan(back.pitch.f0), np.isnan(res.pitch.f0))
    assert back.features.mfcc.shape == res.features.mfcc.shape


def test_cli_rejects_a_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk" * 10)
    assert main(["analyze", str(bad), "-o", str(tmp_path / "o"), "--quiet"]) == 1
    assert "technob: error:" in capsys.readouterr().err


def test_all_analysis_nodes_in_one_chain_share_a_frontend(short_track, tmp_path):
    from technob_fx.core.chain import Chain
    from technob_fx.core.io import write_audio
    from technob_fx.core.registry import node_class

    audio, truth, _ = short_track
    names = ["beat_tracker", "segmenter", "key_detector", "pitch_tracker", "features"]
    chain = Chain([node_class(n)() for n in names])
    out = chain.run(audio, truth.sample_rate)
    assert np.array_equal(out.audio, audio)
    assert out.results["key_detector"].label == "A minor"
    assert [s.label for s in out.results["segmenter"]] == [s.label for s in truth.segments]
    # streamed through a file, block by block
    src = write_audio(tmp_path / "in.wav", audio[:, : 44100 * 20], truth.sample_rate)
    res = chain.process_file(src, tmp_path / "out.wav", block_size=32768).results
    assert res["beat_tracker"].tempo == pytest.approx(128, rel=0.01)
    json.dumps({k: v.to_dict() for k, v in res.items()}, allow_nan=False)


@pytest.mark.parametrize(("channels", "sr", "seconds"), [(6, 8000, 0.5), (2, 192000, 1.0), (1, 44100, 3.0)])
def test_analyze_file_odd_formats(tmp_path, channels, sr, seconds):
    from technob_fx.core.io import write_audio

    x = _noise((channels, int(sr * seconds)), seed=channels)
    path = write_audio(tmp_path / "odd.wav", x, sr)
    res = analyze_file(path, tmp_path / "out")
    assert res.channels == channels and res.sample_rate == sr
    assert res.duration == pytest.approx(seconds, abs=1e-3)
    doc = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert doc["channels"] == channels and doc["beats"] == []
