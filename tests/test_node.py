"""The node protocol: typed parameters, call convention, input validation."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.errors import AudioError, ParameterError
from technob_fx.core.node import AnalyzerNode, EffectNode, Param, Result
from technob_fx.stages.effects import SoftClip, StereoWidth, VinylNoise, WowFlutter


def test_parameters_are_typed_with_range_default_and_unit():
    node = WowFlutter()
    specs = node.parameters
    assert list(specs) == ["wow_hz", "flutter_hz", "depth_ms"]
    depth = specs["depth_ms"]
    assert (depth.type, depth.default, depth.minimum, depth.maximum, depth.unit) == (float, 1.5, 0.0, 20.0, "ms")
    assert node.depth_ms == 1.5
    node.depth_ms = 3
    assert node.depth_ms == 3.0 and isinstance(node.depth_ms, float)
    assert "range=[0.0, 20.0]" in depth.describe()


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("depth_ms", 25.0, "out of range [0.0, 20.0] ms"),
        ("depth_ms", "loud", "must be a number"),
        ("depth_ms", float("nan"), "must be finite"),
        ("depth_ms", True, "must be a number"),
    ],
)
def test_bad_parameter_values_name_node_and_parameter(key, value, fragment):
    node = WowFlutter(name="tape")
    with pytest.raises(ParameterError, match="tape.depth_ms") as err:
        setattr(node, key, value)
    assert fragment in str(err.value)
    assert node.depth_ms == 1.5  # unchanged


def test_unknown_parameter_is_rejected():
    with pytest.raises(ParameterError, match="unknown parameter.*bogus.*known: width"):
        StereoWidth(bogus=1)
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        StereoWidth().set_parameter("bogus", 1)


def test_int_parameter_rejects_fractions():
    with pytest.raises(ParameterError, match="whole number"):
        VinylNoise(seed=1.5)
    assert VinylNoise(seed="3").seed == 3


def test_called_like_a_pedalboard_plugin(noise):
    node = SoftClip(drive_db=6.0)
    out = node(noise, 44100)
    assert out.shape == noise.shape and out.dtype == np.float32
    assert np.array_equal(out, node.process(noise, 44100, buffer_size=512, reset=True))
    mono = node(noise[0], 44100)
    assert mono.shape == (44100,)  # 1-D in, 1-D out, as pedalboard does
    np.testing.assert_allclose(mono, out[0], atol=1e-7)


def test_input_is_never_modified(noise):
    frozen = noise.copy()
    frozen.setflags(write=False)
    for node in (StereoWidth(width=0.3), SoftClip(), WowFlutter(), VinylNoise()):
        node(frozen, 44100)
    np.testing.assert_array_equal(frozen, noise)


@pytest.mark.parametrize(
    ("audio", "sr", "fragment"),
    [
        (np.zeros((2, 0), np.float32), 44100, "empty"),
        (np.full((2, 100), np.nan, np.float32), 44100, "NaN or infinite"),
        (np.zeros((2, 3, 4), np.float32), 44100, "shape"),
        (np.zeros((100, 2), np.float32), 44100, "transpose"),
        (np.zeros((2, 100), np.float32), 0, "sample rate"),
        (np.zeros((2, 100), np.float32), float("nan"), "sample rate"),
        (np.array(["a", "b"]), 44100, "numeric"),
    ],
)
def test_bad_audio_gets_a_clear_error(audio, sr, fragment):
    with pytest.raises(AudioError, match=fragment):
        StereoWidth()(audio, sr)


def test_integer_pcm_is_scaled():
    pcm = np.array([[0, 16384, -32768]], dtype=np.int16)
    out = SoftClip(drive_db=0.0, ceiling_db=0.0)(pcm, 8000)
    assert out.dtype == np.float32 and abs(out[0, 2] + 1.0) < 1e-3


class _Peak(AnalyzerNode):
    type_name = "peak_meter"
    floor_db = Param(float, -120.0, -200.0, 0.0, unit="dB")

    def analyze(self, audio, sample_rate, frontend=None):
        from dataclasses import dataclass

        @dataclass
        class Peak(Result):
            peak_db: float

        return Peak(float(20 * np.log10(max(np.abs(audio).max(), 10 ** (self.floor_db / 20)))))


def test_analyzer_passes_audio_through_and_leaves_a_result(noise):
    meter = _Peak()
    out = meter(noise, 44100)
    assert np.array_equal(out, noise)
    assert meter.result.peak_db == pytest.approx(20 * np.log10(np.abs(noise).max()), abs=1e-4)
    assert '"peak_db"' in meter.result.to_json()


def test_analyzer_streams_and_finalizes(noise):
    meter = _Peak()
    for i in range(0, noise.shape[1], 10000):
        meter(noise[:, i : i + 10000], 44100, reset=(i == 0))
    assert meter.result is None  # not analysed until the stream ends
    assert meter.finalize().peak_db == pytest.approx(20 * np.log10(np.abs(noise).max()), abs=1e-4)


def test_blockwise_effect_matches_whole_buffer(noise):
    class Blockwise(EffectNode):
        blockwise = True

        def process_block(self, audio, sample_rate):
            return audio * np.float32(0.5)

    node = Blockwise()
    np.testing.assert_array_equal(node(noise, 44100, buffer_size=1000), noise * np.float32(0.5))


def test_results_round_trip_json():
    from technob_fx.core.results import BeatGrid, KeyEstimate, Segment, Segmentation

    grid = BeatGrid.from_tempo(128, 10.0, first_beat=0.1)
    again = BeatGrid.from_json(grid.to_json())
    np.testing.assert_allclose(again.beats, grid.beats)
    np.testing.assert_allclose(again.downbeats, grid.downbeats)
    assert again.tempo == 128 and list(again.beat_in_bar[:5]) == [1, 2, 3, 4, 1]
    seg = Segmentation([Segment(0.0, 7.5, "intro"), Segment(7.5, 15.0, "drop")])
    assert Segmentation.from_json(seg.to_json()).segments == seg.segments
    assert KeyEstimate.from_dict({"tonic": "A", "mode": "minor", "confidence": 0.8}).label == "A minor"


def test_tempo_map_of_a_drifting_grid():
    from technob_fx.core.results import BeatGrid
    from technob_fx.core.tempo import fit_tempo_map
    from technob_fx.synth.techno import beat_times

    grid = BeatGrid(beat_times(64, 120.0, 128.0), beat_times(64, 120.0, 128.0)[::4], 124.0)
    tmap = fit_tempo_map(grid)
    assert len(tmap.points) > 2 and tmap.points[0].bpm == pytest.approx(120.0, abs=0.5)
    assert tmap.max_error <= 1e-3 + 1e-9
    const = fit_tempo_map(BeatGrid.from_tempo(128, 30))
    assert [(p.time, p.bpm) for p in const.points] == [(0.0, pytest.approx(128.0))]
