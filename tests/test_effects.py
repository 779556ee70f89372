"""technob's effect nodes that need more than the node-protocol tests: the true-peak limiter."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx import Chain
from technob_fx.core.io import read_audio, write_audio
from technob_fx.stages.effects import TruePeakLimiter, true_peak


def _db(x: float) -> float:
    return 20 * np.log10(x)


def _loud(sr: int, seconds: float = 3.0) -> np.ndarray:
    """Hard material for a true-peak limiter: clipped white noise (inter-sample peaks up to
    +4 dB over the sample peaks), a square wave and kicks 7 dB over full scale."""
    rng = np.random.default_rng(1)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    kick = np.zeros(n)
    for k in range(int(seconds * 2)):
        s = int(k * 0.5 * sr)
        m = np.arange(min(int(0.2 * sr), n - s))
        kick[s : s + m.size] += 2.2 * np.sin(2 * np.pi * (50 + 200 * np.exp(-m / (0.007 * sr))) * m / sr) * np.exp(-m / (0.07 * sr))
    left = kick + 0.6 * rng.standard_normal(n).clip(-1.2, 1.2)
    right = 0.99 * np.sign(np.sin(2 * np.pi * 997 * t)) + 0.5 * kick
    return np.stack([left, right]).astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 44100, 192000])
def test_true_peak_stays_under_the_ceiling_at_any_rate(sr):
    x = _loud(sr)
    assert _db(true_peak(x)) > 6.0
    for ceiling in (-1.0, -3.0):
        y = TruePeakLimiter(ceiling_db=ceiling)(x, sr)
        assert y.shape == x.shape
        assert _db(true_peak(y)) <= ceiling + 1e-3  # measured with 4x oversampling
        assert _db(true_peak(y)) > ceiling - 0.5  # and it does not just turn everything down


def test_quiet_audio_passes_unchanged_and_aligned():
    sr = 44100
    x = (0.1 * _loud(sr, 1.0)).astype(np.float32)
    np.testing.assert_array_equal(TruePeakLimiter()(x, sr), x)


def test_streaming_is_exact_and_latency_is_reported():
    sr = 48000
    x = _loud(sr, 2.0)
    whole = TruePeakLimiter()(x, sr)
    lim = TruePeakLimiter()
    parts = [lim(x[:, i : i + 777], sr, reset=False) for i in range(0, x.shape[1], 777)]
    lat = lim.latency
    assert lat == round(2.0e-3 * sr) + 10 + 11  # look-ahead + filter delay + spread
    parts.append(lim(np.zeros((2, lat), np.float32), sr, reset=False))
    streamed = np.concatenate(parts, axis=1)
    np.testing.assert_array_equal(streamed[:, :lat], 0.0)
    np.testing.assert_allclose(streamed[:, lat:], whole, atol=1e-6)


def test_chain_process_file_compensates_the_latency(tmp_path):
    sr = 44100
    x = _loud(sr, 2.0)
    src = write_audio(tmp_path / "in.wav", 0.4 * x, sr, bit_depth=32)  # float: keep the overs
    chain = Chain([TruePeakLimiter(ceiling_db=-2.0)])
    chain.process_file(src, tmp_path / "out.wav", buffer_size=5000, bit_depth=32)
    out, _ = read_audio(tmp_path / "out.wav")
    whole = chain(read_audio(src)[0], sr)
    assert out.shape == whole.shape
    np.testing.assert_allclose(out, whole, atol=1e-6)


def test_techno_master_keeps_true_peak_under_minus_1_dbtp_on_loud_input(short_track):
    audio, truth, _ = short_track
    sr = truth.sample_rate
    x = audio[:, : int(8 * sr)]
    x = (x * (10 ** (-0.5 / 20) / np.abs(x).max())).astype(np.float32)  # a -0.5 dBFS master
    y = Chain.from_preset("techno_master")(x, sr)
    assert _db(true_peak(y)) <= -1.0 + 1e-3
    assert np.count_nonzero(np.abs(y) >= 1.0) == 0
