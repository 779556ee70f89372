"""The shared analysis front-end: cached features, layouts, agreement with librosa / pyloudnorm."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.frontend import FPS, N_MELS, Frontend, mel_filterbank


def test_features_are_cached_readonly_and_shaped(short_track):
    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    mono = fe.mono()
    assert mono.ndim == 1 and mono.dtype == np.float32
    assert abs(mono.size / 22050 - truth.duration) < 0.01
    spec = fe.spectral()
    assert fe.spectral() is spec  # computed once
    n = spec.rms.size
    assert abs(n / FPS - truth.duration) < 0.05
    assert fe.mel().shape == (N_MELS, n)
    assert fe.onset_bands().shape == (3, n)
    assert fe.onset_envelope().shape == (n,)
    chroma, rate = fe.chroma()
    assert chroma.shape[0] == 12 and rate > 0
    power, brate = fe.loudness_blocks()
    assert power.shape[0] == 2 and brate == pytest.approx(10.0)
    for arr in (mono, spec.mel, fe.onset_envelope(), chroma):
        assert not arr.flags.writeable
        assert np.all(np.isfinite(arr))


def test_mel_filterbank_matches_librosa():
    import librosa

    ours = mel_filterbank(22050, 1024, 128)
    ref = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_onset_envelope_peaks_on_kicks(short_track):
    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    low = fe.onset_bands()[0]
    frames = np.round(truth.kick_times * FPS).astype(int)
    frames = frames[frames < low.size - 2]
    near = np.array([np.argmax(low[f - 2 : f + 3]) - 2 for f in frames[frames > 2]])
    assert np.median(np.abs(near)) <= 1


def test_integrated_loudness_matches_pyloudnorm(short_track):
    import pyloudnorm

    from technob_fx.stages.features import loudness

    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    _, _, integrated = loudness(*fe.loudness_blocks())
    ref = pyloudnorm.Meter(int(truth.sample_rate)).integrated_loudness(np.asarray(audio.T, dtype=np.float64))
    assert integrated == pytest.approx(ref, abs=0.3)


def test_mono_and_multichannel_inputs():
    rng = np.random.default_rng(0)
    for shape in ((22050,), (1, 22050), (6, 22050)):
        x = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        fe = Frontend(x, 22050)
        assert fe.mono().shape == (22050,)
        assert fe.spectral().rms.size > 0


def test_builder_streamed_equals_whole(short_track):
    from technob_fx.core.frontend import FrontendBuilder
    from technob_fx.stages.features import loudness

    audio, truth, _ = short_track
    whole = Frontend(audio, truth.sample_rate)
    b = FrontendBuilder(truth.sample_rate)
    for i in range(0, audio.shape[1], 30001):  # blocks not aligned to the 100 ms loudness blocks
        b.add(audio[:, i : i + 30001])
    fe = b.finish()
    assert fe.duration == pytest.approx(whole.duration)
    assert abs(fe.mono().size - whole.mono().size) <= 2
    pw, _ = whole.loudness_blocks()
    ps, _ = fe.loudness_blocks()
    np.testing.assert_allclose(ps, pw, rtol=1e-4, atol=1e-12)
    assert loudness(ps, 10.0)[2] == pytest.approx(loudness(pw, 10.0)[2], abs=0.01)


# the first call (reset=True) analyses its 1.49-s block alone, which reads as a loop, with a warning
@pytest.mark.filterwarnings("ignore::technob_fx.stages.beats.LoopGridWarning")
def test_streamed_analyzer_node_matches_whole_buffer(short_track):
    from technob_fx.stages.beats import BeatTracker

    audio, truth, _ = short_track
    node = BeatTracker()
    node(audio, truth.sample_rate)
    whole = node.result
    node.reset()
    for i in range(0, audio.shape[1], 65536):
        node(audio[:, i : i + 65536], truth.sample_rate, reset=(i == 0))
    streamed = node.finalize()
    assert node._blocks == []  # nothing kept but the mono analysis signal
    assert streamed.tempo == pytest.approx(whole.tempo, rel=1e-3)
    assert np.max(np.abs(streamed.beats - whole.beats)) < 0.005
