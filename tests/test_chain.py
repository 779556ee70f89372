"""Chain: technob nodes and pedalboard plugins in any order, streaming, timing, parameters."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from technob_fx.core.chain import Chain
from technob_fx.core.errors import AudioError, ParameterError, TechnobError
from technob_fx.core.io import read_audio, write_audio
from technob_fx.core.node import AnalyzerNode, Result
from technob_fx.stages.effects import SoftClip, StereoWidth, VinylNoise, WowFlutter

SR = 44100


def test_chain_mixes_nodes_with_reverb_and_compressor(short_track):
    audio = short_track[0][:, : SR * 4]
    comp, width, verb = pedalboard.Compressor(threshold_db=-18, ratio=4), StereoWidth(width=1.4), pedalboard.Reverb(room_size=0.4)
    chain = Chain([comp, width, verb, SoftClip(drive_db=4)])
    out = chain(audio, SR)
    expected = SoftClip(drive_db=4)(
        pedalboard.Reverb(room_size=0.4)(
            StereoWidth(width=1.4)(pedalboard.Compressor(threshold_db=-18, ratio=4)(audio, SR), SR), SR
        ),
        SR,
    )
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert chain.names == ["compressor", "stereo_width", "reverb", "soft_clip"]
    assert set(chain.timings) == {"compressor", "stereo_width", "reverb", "soft_clip"}
    assert all(t > 0 for t in chain.timings.values())


def test_consecutive_plugins_run_as_one_native_pedalboard(short_track):
    audio = short_track[0][:, : SR * 2]
    plugins = [pedalboard.HighpassFilter(40), pedalboard.Compressor(), pedalboard.Reverb()]
    chain = Chain(plugins + [StereoWidth(width=0.5)])
    groups = chain._compile()
    assert len(groups) == 2 and isinstance(groups[0][2].plugin, pedalboard.Pedalboard)
    assert list(groups[0][2].plugin) == plugins and groups[0][1] == [0, 1, 2]
    assert groups[0][0] == "highpass_filter+compressor+reverb"
    out = chain(audio, SR)
    ref = StereoWidth(width=0.5)(pedalboard.Pedalboard(plugins)(audio, SR), SR)
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_pedalboard_containers_and_mix_are_elements(noise):
    mix = pedalboard.Mix([pedalboard.Gain(-6), pedalboard.Pedalboard([pedalboard.Delay(0.01, mix=1.0)])])
    board = pedalboard.Pedalboard([pedalboard.LowpassFilter(3000)])
    chain = Chain([StereoWidth(width=0.0), mix, board])
    out = chain(noise, SR)
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)  # width 0 made it mono before the mix
    ref = board(mix(StereoWidth(width=0.0)(noise, SR), SR), SR)
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_nested_chain_and_names(noise):
    inner = Chain([SoftClip(), pedalboard.Gain(-3)])
    chain = Chain([inner, SoftClip(), SoftClip()])
    assert chain.names == ["chain", "soft_clip", "soft_clip_2"]
    out = chain(noise, SR)
    assert out.shape == noise.shape
    chain.set_parameter("chain.gain.gain_db", -1.0)
    assert inner["gain"].gain_db == -1.0
    with pytest.raises(TechnobError, match="duplicate"):
        chain.append(SoftClip(), name="soft_clip")


def test_set_parameter_on_nodes_and_plugins():
    chain = Chain([WowFlutter(name="tape"), pedalboard.Reverb()])
    chain.set_parameter("tape.depth_ms", 4)
    chain.set_parameter("reverb.room_size", 0.9)
    assert chain["tape"].depth_ms == 4.0 and chain["reverb"].room_size == pytest.approx(0.9)
    assert chain.get_parameter("reverb.room_size") == pytest.approx(0.9)
    assert "tape.depth_ms" in chain.parameters and "reverb.room_size" in chain.parameters
    with pytest.raises(ParameterError, match="out of range"):
        chain.set_parameter("tape.depth_ms", 99)
    with pytest.raises(ParameterError, match="Room Size|room_size"):
        chain.set_parameter("reverb.room_size", 3.0)
    with pytest.raises(ParameterError, match="no element named 'nope'"):
        chain.set_parameter("nope.x", 1)
    with pytest.raises(ParameterError, match="unknown parameter"):
        chain.set_parameter("reverb.bogus", 1)
    with pytest.raises(ParameterError, match="element.param"):
        chain.set_parameter("reverb", 1)


def test_plugins_run_through_the_plugin_node_adapter(noise):
    """A pedalboard plugin in a chain runs through a PluginNode: validated parameters, the plugin
    itself under its name, the same output as the bare plugin."""
    from technob_fx.core.plugins import PluginNode

    gain = pedalboard.Gain(-6.0)
    node = PluginNode(gain, "trim")
    np.testing.assert_allclose(node.process(noise, SR), gain(noise, SR), atol=1e-7)
    assert node.get_parameter("gain_db") == pytest.approx(-6.0) and node.latency == 0
    with pytest.raises(ParameterError, match="trim: unknown parameter 'bogus'"):
        node.get_parameter("bogus")
    with pytest.raises(ParameterError, match="trim.gain_db must be a number"):
        node.set_parameter("gain_db", "loud")
    chain = Chain([gain, SoftClip()], names=["trim", "clip"])
    assert chain["trim"] is gain and [type(s).__name__ for _, _, s in chain._compile()] == ["PluginNode", "SoftClip"]
    with pytest.raises(ParameterError, match="trim: unknown parameter 'bogus'"):
        chain.get_parameter("trim.bogus")
    chain.set_parameter("trim.gain_db", -12.0)
    assert gain.gain_db == pytest.approx(-12.0)


def test_rejects_non_plugins():
    with pytest.raises(TechnobError, match="must be technob nodes or pedalboard plugins"):
        Chain([lambda x, sr: x])


STATELESS_AND_STREAMING = [
    lambda: [StereoWidth(width=1.3), pedalboard.Gain(-2.0), SoftClip(drive_db=5)],
    lambda: [pedalboard.HighpassFilter(80), StereoWidth(width=0.6), pedalboard.LowpassFilter(6000)],
    lambda: [WowFlutter(depth_ms=3.0), VinylNoise(seed=3), pedalboard.Gain(1.0)],
]


@pytest.mark.parametrize("make", STATELESS_AND_STREAMING)
def test_streaming_blocks_equals_whole_buffer(short_track, make):
    audio = short_track[0][:, : SR * 6]
    whole = Chain(make())(audio, SR)
    stream_chain = Chain(make())
    parts = [
        stream_chain(audio[:, i : i + 10007], SR, reset=(i == 0))
        for i in range(0, audio.shape[1], 10007)
    ]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=2e-6)


def test_process_file_streams_to_the_same_result(tmp_path, short_track):
    audio = short_track[0][:, : SR * 5]
    src = write_audio(tmp_path / "in.wav", audio, SR, bit_depth=32)
    chain = Chain([pedalboard.HighpassFilter(60), StereoWidth(width=1.2), SoftClip()])
    reference = chain(read_audio(src)[0], SR)
    progress = []
    out = chain.process_file(src, tmp_path / "out.wav", block_size=4096, bit_depth=32,
                             progress=lambda f, m: progress.append(f))
    streamed, sr = read_audio(tmp_path / "out.wav")
    assert sr == SR and out.duration == pytest.approx(5.0)
    np.testing.assert_allclose(streamed, reference, atol=1e-5)
    assert progress[-1] == 1.0 and len(progress) == int(np.ceil(audio.shape[1] / 4096))
    assert out.realtime_factor > 1


def test_process_file_compensates_node_latency(tmp_path, short_track):
    from technob_fx.stages.hpss import HarmonicPercussive

    audio = short_track[0][:, : SR * 4]
    src = write_audio(tmp_path / "in.wav", audio, SR, bit_depth=32)
    chain = Chain([HarmonicPercussive(percussive_db=4.0, harmonic_db=-6.0), pedalboard.Gain(-1.0)])
    assert chain.latency == chain[0].latency > 0
    reference = chain(read_audio(src)[0], SR)  # whole buffer: aligned by the node itself
    chain.process_file(src, tmp_path / "out.wav", block_size=3000, bit_depth=32)
    streamed, _ = read_audio(tmp_path / "out.wav")
    assert streamed.shape == audio.shape  # aligned and as long as the input: no delay, no lost tail
    np.testing.assert_allclose(streamed, reference, atol=1e-4)


class _Energy(AnalyzerNode):
    type_name = "energy_meter"

    def analyze(self, audio, sample_rate, frontend=None):
        from dataclasses import dataclass

        @dataclass
        class Energy(Result):
            rms: float
            frontend_id: int

        rms = frontend.get("rms", lambda: float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))))
        return Energy(rms, id(frontend))


def test_analyzers_leave_results_and_share_one_frontend(noise):
    chain = Chain([_Energy(name="a"), _Energy(name="b"), pedalboard.Gain(6), _Energy(name="c")])
    out = chain(noise, SR)
    assert set(chain.results) == {"a", "b", "c"}
    assert chain.results["a"].frontend_id == chain.results["b"].frontend_id  # same audio, shared
    assert chain.results["c"].frontend_id != chain.results["a"].frontend_id  # audio changed
    assert chain.results["c"].rms == pytest.approx(chain.results["a"].rms * 10 ** (6 / 20), rel=1e-3)
    np.testing.assert_allclose(out, noise * 10 ** (6 / 20), rtol=1e-4, atol=1e-6)


def test_streamed_analyzers_give_results_at_finalize(tmp_path, noise):
    src = write_audio(tmp_path / "n.wav", noise, SR, bit_depth=32)
    chain = Chain([_Energy(name="meter")])
    out = chain.process_file(src, None, block_size=1000)
    assert out.results["meter"].rms == pytest.approx(float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))), rel=1e-5)


def test_plugin_error_names_the_element():
    chain = Chain([pedalboard.Gain(0)])
    with pytest.raises(AudioError, match="chain input"):
        chain(np.zeros((2, 10, 3), np.float32), SR)


def test_timing_report_lists_elements(noise):
    chain = Chain([StereoWidth(), pedalboard.Gain()])
    out = chain.run(noise, SR)
    report = chain.timing_report(out.duration)
    assert "stereo_width" in report and "x real time" in report
