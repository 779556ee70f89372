"""Quantization: time maps, both warp engines, shared maps for stems, the node, the CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from technob_fx.core.errors import AudioError, DependencyError, ParameterError
from technob_fx.core.results import BeatGrid
from technob_fx.stages.quantize import Quantize, TimeMap, time_map, warp, warp_stems
from technob_fx.synth import synth_techno
from tests.conftest import require_program

SR = 44100


@pytest.fixture(scope="module")
def drifting():
    """A 12-bar drop whose tempo drifts 122 -> 134 BPM, with its truth and stems (read-only)."""
    audio, truth, stems = synth_techno((("drop", 12),), bpm=122.0, bpm_end=134.0, seed=4, return_stems=True)
    audio.setflags(write=False)
    for v in stems.values():
        v.setflags(write=False)
    return audio, truth, stems


def kick_onsets(audio: np.ndarray, expected: np.ndarray, sr: float = SR) -> np.ndarray:
    """Onset of the kick nearest each expected time: the low band's envelope crossing 30 % of
    its local peak within -50..+80 ms, seconds."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, 120, "lp", fs=sr, output="sos")
    env = np.abs(sosfilt(sos, np.asarray(audio, dtype=np.float64).reshape(-1, audio.shape[-1]).mean(0)))
    out = []
    for t in expected:
        a = max(int((t - 0.05) * sr), 0)
        w = env[a : int((t + 0.08) * sr)]
        out.append((a + int(np.argmax(w > 0.3 * w.max()))) / sr)
    return np.asarray(out)


def alignment_ms(audio, truth, warped, tm) -> np.ndarray:
    """Distance of the re-detected kicks of ``warped`` to where the map puts them, ms (the
    detector's own bias, measured on the input, removed)."""
    bias = np.median(kick_onsets(audio, truth.kick_times) - truth.kick_times)
    target = tm.map_times(truth.kick_times, audio.shape[1] / SR)
    return (kick_onsets(warped, target) - target - bias) * 1000


# -- time maps ---------------------------------------------------------------------------------


def test_time_map_puts_anchors_on_the_grid(drifting):
    _, truth, _ = drifting
    tm = time_map(truth.grid, 128.0)
    period = 60 / 128
    assert tm.source[0] == tm.target[0] == truth.beats[0]
    np.testing.assert_allclose(np.diff(tm.target), period, atol=1e-9)
    np.testing.assert_array_equal(tm.source, truth.beats)
    # The map sends every beat onto the grid.
    np.testing.assert_allclose(tm.map_times(truth.beats, truth.duration), tm.target, atol=1e-9)


def test_time_map_units_and_strength(drifting):
    _, truth, _ = drifting
    bars = time_map(truth.grid, 128.0, unit="bar")
    np.testing.assert_array_equal(bars.source, truth.downbeats)
    np.testing.assert_allclose(np.diff(bars.target), 4 * 60 / 128)
    sixteenths = time_map(truth.grid, 128.0, unit="16th")
    assert sixteenths.source.size == 4 * (truth.beats.size - 1) + 1
    np.testing.assert_allclose(np.diff(sixteenths.target), 15 / 128)
    half = time_map(truth.grid, 128.0, strength=0.5)
    full = time_map(truth.grid, 128.0)
    np.testing.assert_allclose(half.target, 0.5 * (full.target + full.source))
    none = time_map(truth.grid, 128.0, strength=0.0)
    np.testing.assert_array_equal(none.target, none.source)


def test_time_map_json_round_trip():
    tm = time_map(np.arange(8) * 0.5, 125.0)
    back = TimeMap.from_json(tm.to_json())
    np.testing.assert_allclose(back.source, tm.source)
    np.testing.assert_allclose(back.target, tm.target)
    assert back.unit == "beat" and back.target_bpm == 125.0


# -- warping -----------------------------------------------------------------------------------


def test_pedalboard_warp_lands_drifting_beats_on_grid(drifting):
    audio, truth, _ = drifting
    tm = time_map(truth.grid, 128.0)
    out = warp(audio, SR, tm)
    assert out.dtype == np.float32 and out.shape[0] == 2
    assert out.shape[1] == int(round(tm.output_duration(audio.shape[1] / SR) * SR))
    err = np.abs(alignment_ms(audio, truth, out, tm))
    assert np.median(err) < 5.0 and np.percentile(err, 95) < 15.0, err
    # The warped beats are evenly spaced at 128 BPM.
    onsets = kick_onsets(out, tm.map_times(truth.kick_times, audio.shape[1] / SR))
    assert abs(np.median(np.diff(onsets)) - 60 / 128) < 0.002


def test_rubberband_warp_lands_drifting_beats_on_grid(drifting):
    require_program("rubberband")
    audio, truth, _ = drifting
    tm = time_map(truth.grid, 128.0)
    out = warp(audio, SR, tm, engine="rubberband")
    assert out.shape == (2, int(round(tm.output_duration(audio.shape[1] / SR) * SR)))
    err = np.abs(alignment_ms(audio, truth, out, tm))
    assert np.median(err) < 5.0 and np.percentile(err, 95) < 15.0, err


def test_missing_rubberband_is_explained(drifting, monkeypatch):
    import shutil

    audio, truth, _ = drifting
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DependencyError, match="apt-get install rubberband-cli"):
        warp(audio, SR, time_map(truth.grid, 128.0), engine="rubberband")


def test_strength_zero_is_identity(drifting):
    audio, truth, _ = drifting
    out = warp(audio, SR, time_map(truth.grid, 128.0, strength=0.0))
    np.testing.assert_array_equal(out, audio)
    assert out is not audio


def test_mono_in_mono_out_and_input_untouched(drifting):
    audio, truth, _ = drifting
    mono = audio[0]
    before = mono.copy()
    out = warp(mono, SR, time_map(truth.grid, 128.0))
    assert out.ndim == 1
    np.testing.assert_array_equal(mono, before)


def test_shared_time_map_keeps_stems_aligned(drifting):
    audio, truth, stems = drifting
    tm = time_map(truth.grid, 128.0)
    parts = {"drums": stems["drums"], "rest": stems["bass"] + stems["pad"] + stems["lead"]}
    warped = warp_stems(parts, SR, tm)
    mix = warp(audio, SR, tm)
    assert {w.shape for w in warped.values()} == {mix.shape}
    # Kicks of the warped drum stem sit where the warped mix has them (the stems stay aligned).
    target = tm.map_times(truth.kick_times, audio.shape[1] / SR)
    lag = kick_onsets(warped["drums"], target) - kick_onsets(mix, target)
    assert np.median(np.abs(lag)) < 0.002
    # The warped stems sum to the warped mix up to phase (a phase vocoder is not linear in
    # phase): their 10 ms loudness envelopes match.
    def env(x):
        m = x.mean(0)
        hop = SR // 100
        return np.sqrt(np.mean(m[: m.size // hop * hop].reshape(-1, hop) ** 2, axis=1))

    assert np.corrcoef(env(mix), env(warped["drums"] + warped["rest"]))[0, 1] > 0.95


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("beats", [[], [1.0]])
def test_grid_with_fewer_than_two_beats(beats):
    with pytest.raises(ParameterError, match="at least 2"):
        time_map(BeatGrid(np.array(beats), np.array(beats[:1]), 120.0), 128.0)


@pytest.mark.parametrize("bpm", [0, 1000, -5, float("nan")])
def test_target_bpm_out_of_range(bpm):
    with pytest.raises(ParameterError, match="BPM"):
        time_map(np.arange(8) * 0.5, bpm)


def test_stretch_beyond_4x_is_refused():
    with pytest.raises(ParameterError, match="beyond the 4x limit"):
        time_map(np.arange(8) * 0.5, 25.0)  # 120 -> 25 BPM: 4.8x
    with pytest.raises(ParameterError, match="beyond the 4x limit"):
        time_map(np.arange(8) * 2.0, 150.0)  # 30 -> 150 BPM: 5x faster


def test_bad_strength_unit_engine(drifting):
    audio, truth, _ = drifting
    with pytest.raises(ParameterError, match="strength"):
        time_map(truth.grid, 128.0, strength=1.5)
    with pytest.raises(ParameterError, match="unit"):
        time_map(truth.grid, 128.0, unit="half")
    with pytest.raises(ParameterError, match="engine"):
        warp(audio, SR, time_map(truth.grid, 128.0), engine="sox")


def test_unequal_stems_are_refused(drifting):
    _, truth, stems = drifting
    with pytest.raises(AudioError, match="unequal lengths"):
        warp_stems({"drums": stems["drums"], "bass": stems["bass"][:, :-10]}, SR, time_map(truth.grid, 128.0))


# -- node and CLI ------------------------------------------------------------------------------


def test_quantize_node(drifting):
    from technob_fx.core.registry import NODE_TYPES, node_class

    audio, truth, _ = drifting
    if "quantize" in NODE_TYPES:
        assert node_class("quantize") is Quantize
    node = Quantize(grid=truth.grid, target_bpm=128.0, unit="beat")
    out = node(audio, SR)
    assert node.time_map is not None
    assert out.shape[1] == int(round(node.time_map.output_duration(audio.shape[1] / SR) * SR))
    with pytest.raises(AudioError, match="cannot stream"):
        node(audio[:, :4096], SR, reset=False)
    with pytest.raises(ParameterError):
        Quantize(target_bpm=1000)


def test_quantize_node_detects_grid_when_none_given(drifting):
    audio, truth, _ = drifting
    node = Quantize(target_bpm=128.0, strength=1.0)
    out = node(audio, SR)
    assert out.shape[0] == 2
    # Whatever tracker found the beats, the output tempo is the target.
    assert node.time_map.target_bpm == 128.0
    assert node.time_map.source.size >= 8


def test_cli_quantize(tmp_path, drifting):
    from technob_fx.cli import main
    from technob_fx.core.io import audio_info, write_audio

    audio, truth, stems = drifting
    src = write_audio(tmp_path / "in.wav", audio, SR)
    drums = write_audio(tmp_path / "drums.wav", stems["drums"], SR)
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(truth.grid.to_json())
    out = tmp_path / "out.wav"
    tm_file = tmp_path / "tm.json"
    rc = main(["quantize", str(src), str(out), "--bpm", "128", "--grid-file", str(grid_file),
               "--also", str(drums), str(tmp_path / "drums_q.wav"), "--time-map", str(tm_file), "--quiet"])
    assert rc == 0
    tm = TimeMap.from_json(tm_file)
    assert audio_info(out).frames == audio_info(tmp_path / "drums_q.wav").frames
    assert abs(audio_info(out).frames - tm.output_duration(audio.shape[1] / SR) * SR) <= 1
    # A plain list of beat times works as a grid file too.
    grid_file.write_text(json.dumps(truth.beats.tolist()))
    assert main(["quantize", str(src), str(tmp_path / "out2.wav"), "--bpm", "128", "--grid", "bar",
                 "--grid-file", str(grid_file), "--quiet"]) == 0


@pytest.mark.parametrize("extra", [["--bpm", "0"], ["--bpm", "1000"], ["--bpm", "128", "--strength", "2"],
                                   ["--bpm", "128", "--grid-file", "ONE_BEAT"], ["--bpm", "30"]])
def test_cli_quantize_bad_input_writes_nothing(tmp_path, drifting, capsys, extra):
    from technob_fx.cli import main
    from technob_fx.core.io import write_audio

    audio, truth, _ = drifting
    src = write_audio(tmp_path / "in.wav", audio, SR)
    one = tmp_path / "one.json"
    one.write_text("[1.0]")
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(truth.grid.to_json())
    extra = [str(one) if e == "ONE_BEAT" else e for e in extra]
    if "--grid-file" not in extra:
        extra += ["--grid-file", str(grid_file)]
    out = tmp_path / "out.wav"
    assert main(["quantize", str(src), str(out), "--quiet", *extra]) == 1
    assert "technob: error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.json", "in.wav", "one.json"]


def test_cli_quantize_audio_without_beats_is_refused(tmp_path, capsys):
    from technob_fx.cli import main
    from technob_fx.core.io import write_audio

    src = write_audio(tmp_path / "silence.wav", np.zeros((2, SR * 4), np.float32), SR)
    assert main(["quantize", str(src), str(tmp_path / "out.wav"), "--bpm", "128", "--quiet"]) == 1
    assert "no beats found" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silence.wav"]


def _acid(path):
    """The loop info libsndfile reads from the file's acid chunk: (num, den, beats, bpm)."""
    import struct

    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        buf = sf._ffi.new("char[]", 44)  # sizeof(SF_LOOP_INFO)
        assert sf._snd.sf_command(f._file, 0x10E0, buf, 44) == 1  # SFC_GET_LOOP_INFO
        num, den, _mode, beats, bpm = struct.unpack("<hhiif", bytes(sf._ffi.buffer(buf, 16)))
    return num, den, beats, bpm


def test_cli_quantize_loop_is_exact_and_tagged(tmp_path, drifting, capsys):
    """--loop: from the first downbeat, a whole number of bars to the sample, tempo in the WAV."""
    from technob_fx.cli import main
    from technob_fx.core.io import audio_info, read_audio, wav_chunks, write_audio

    audio, truth, _ = drifting
    # a 28 ms lead-in before the first downbeat, as decoders leave
    lead = int(0.028 * SR)
    end = truth.grid.downbeats[9]  # 9 bars
    clip = np.concatenate([np.zeros((2, lead), np.float32), audio[:, : int(end * SR)]], axis=1)
    src = write_audio(tmp_path / "in.wav", clip, SR)
    grid = truth.grid
    keep = grid.beats < end
    shifted = type(grid)(grid.beats[keep] + lead / SR, grid.downbeats[grid.downbeats < end] + lead / SR, grid.tempo, 4)
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(shifted.to_json())
    out = tmp_path / "loop.wav"
    assert main(["quantize", str(src), str(out), "--bpm", "128", "--grid-file", str(grid_file), "--loop",
                 "--bars", "8"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert audio_info(out).frames == 8 * 4 * 60 * SR // 128 == 661500  # 15.000 s exactly
    assert "8 bars of 4 at 128 BPM" in line and "15.000 s = 661500 samples" in line  # the output, not the input
    assert _acid(out) == (4, 4, 32, 128.0)
    assert "acid" in wav_chunks(out)
    # the loop starts on the first downbeat: the kick is at sample 0, and bar 5 starts at 7.5 s
    y, _ = read_audio(out)
    env = np.abs(y).mean(axis=0)
    bars = np.arange(8) * 4 * 60 / 128
    onsets = []
    for t in bars:  # the kick's attack: first sample above 30 % of the window's peak
        a = max(int((t - 0.02) * SR), 0)
        w = env[a: int((t + 0.05) * SR)]
        onsets.append((a + int(np.argmax(w > 0.3 * w.max()))) / SR)
    assert np.abs(np.array(onsets) - bars).max() < 0.006
    # all bars of the track by default; --bars beyond it is an error that writes nothing
    assert main(["quantize", str(src), str(tmp_path / "all.wav"), "--bpm", "128", "--grid-file", str(grid_file),
                 "--loop", "--quiet"]) == 0
    n = audio_info(tmp_path / "all.wav").frames
    beats = _acid(tmp_path / "all.wav")[2]
    assert beats % 4 == 0 and n == round(beats * 60 * SR / 128) and beats >= 32  # 8 or 9 bars of 4
    assert main(["quantize", str(src), str(tmp_path / "bad.wav"), "--bpm", "128", "--grid-file", str(grid_file),
                 "--loop", "--bars", "10", "--quiet"]) == 1
    assert not (tmp_path / "bad.wav").exists()


def test_a_one_bar_loop_comes_out_a_whole_bar_at_the_new_tempo():
    """A producer's case: a one-bar loop (133 BPM, 1.80 s) warped to 128 BPM is exactly 4 beats
    long at 128 (the tail after the last beat is held to the grid's next beat, the loop's end),
    and reads back as 128 BPM. Before, the tail kept its speed: 7 ms too long for a loop."""
    import warnings

    from technob_fx.stages.beats import track_beats

    audio, truth = synth_techno((("drop", 1),), bpm=133.0, seed=3)
    loop = np.ascontiguousarray(audio[:, : int(round(4 * 60 / 133 * SR))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the LoopGridWarning of a one-bar clip
        grid = track_beats(loop, SR)
        out = warp(loop, SR, time_map(grid, 128.0))
        back = track_beats(out, SR)
    assert out.shape[1] / SR == pytest.approx(4 * 60 / 128, abs=0.001)
    assert back.tempo == pytest.approx(128.0, rel=2e-3) and back.beats.size == 4
