"""The learned beat/downbeat activation: numpy inference equals its torch twin, the shipped
weights find the beats of music they were not trained on."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from technob_fx.core.frontend import FPS, Frontend
from technob_fx.stages import beatnet
from technob_fx.stages.beats import track_beats
from technob_fx.synth.traps import make_trap


def test_numpy_network_is_the_torch_network(tmp_path):
    torch = pytest.importorskip("torch")
    from training.train_beats import export, make_model

    torch.manual_seed(3)
    model = make_model().eval()
    path = tmp_path / "w.npz"
    export(model, path)
    x = np.random.default_rng(0).standard_normal((2 * beatnet.N_BANDS, 1201)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x[None]))[0].numpy()
    got = beatnet.BeatNet(path)(x)
    assert got.shape == (2, 1201)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_features_shape_and_range():
    lm = np.random.default_rng(1).uniform(-80, 0, (500, 128)).astype(np.float32)
    x = beatnet.features(lm)
    assert x.shape == (2 * beatnet.N_BANDS, 500) and x.dtype == np.float32
    assert x[: beatnet.N_BANDS].max() == pytest.approx(0.0) and x[: beatnet.N_BANDS].min() >= -1.0
    assert x[beatnet.N_BANDS :].min() >= 0.0
    assert np.all(x[beatnet.N_BANDS :, : beatnet.FLUX_LAG] == 0)


def _peaks(act: np.ndarray, thr: float) -> np.ndarray:
    a = act
    k = np.flatnonzero((a[1:-1] >= a[:-2]) & (a[1:-1] > a[2:]) & (a[1:-1] >= thr)) + 1
    return k / FPS


@pytest.mark.parametrize("name", ["offbeat_hat", "broken_kick", "waltz"])
def test_shipped_activation_marks_beats_and_downbeats(name):
    # seed 7: neither the benchmark's fixtures (seed 0) nor the training set (seeds >= 1000)
    audio, truth = make_trap(name, seed=7, duration=30.0)
    act = beatnet.beat_activation(Frontend(audio, 44100))
    assert act.shape[0] == 2 and act.dtype == np.float32
    assert 0.0 <= act.min() and act.max() <= 1.0
    f_beat = mir_eval.beat.f_measure(truth.beats, _peaks(act[0], 0.3))
    f_down = mir_eval.beat.f_measure(truth.downbeats, _peaks(act[1], 0.3))
    assert f_beat >= 0.9, f_beat
    assert f_down >= 0.7, f_down


def test_activation_of_silence_and_of_nothing():
    empty = Frontend(np.zeros((2, 0), np.float32), 44100)
    assert beatnet.beat_activation(empty).shape == (2, empty.log_mel().shape[0])
    silent = Frontend(np.zeros((2, 44100 * 5), np.float32), 44100)
    act = beatnet.beat_activation(silent)
    assert act.shape == (2, silent.log_mel().shape[0]) and act.max() < 0.5
    assert beatnet.trust(silent) == 0.0  # unsure: the tracker leans on its own signals
    assert track_beats(np.zeros((2, 44100 * 5), np.float32), 44100).beats.size == 0


def test_trust_follows_the_networks_confidence():
    act = np.zeros(1000, np.float32)
    act[::40] = 0.95
    assert beatnet.confidence(act) == pytest.approx(0.95)
    act[::40] = 0.5
    assert beatnet.confidence(act) == pytest.approx(0.5)
    assert beatnet.confidence(np.zeros(10)) == 0.0
    act[::80] = 0.9  # half the peaks at 0.9, half at 0.5
    assert beatnet.peak_height(act, 75.0) == pytest.approx(0.9)
    assert beatnet.peak_height(act, 25.0) == pytest.approx(0.5)


def test_shipped_activation_on_a_real_breakbeat_it_never_heard(shared_data):
    """loop_breakbeat (real drums, not in the training loops): the beat activation is high on its
    beats and low on its off-beats; the first, rendered-only weights had it the other way round
    (0.00 on the beats, 0.98 on the off-beats)."""
    from benchmarks.datasets import LOOPS
    from technob_fx.core.io import read_audio

    assert LOOPS["loop_breakbeat"] == (4, False)
    audio, sr = read_audio(shared_data / "samples" / "loop_breakbeat.flac")
    loop = audio.shape[1] / sr
    reps = int(np.ceil(30 / loop))
    act = beatnet.beat_activation(Frontend(np.tile(audio, (1, reps)), sr))[0]
    beats = np.arange(4, reps * 4 - 1) * loop / 4
    at = lambda t: act[np.clip(np.round(t * FPS).astype(int), 0, act.size - 1)]  # noqa: E731
    on = np.max([at(beats + d / FPS) for d in (-1, 0, 1)], axis=0).mean()
    off = np.max([at(beats + loop / 8 + d / FPS) for d in (-1, 0, 1)], axis=0).mean()
    assert on > 0.7 and off < 0.3, (on, off)


def test_loop_training_track_labels_fall_on_the_loop(shared_data):
    """A training track built on a real loop (the amen: its kick starts the loop) carries its
    downbeat labels where the loop starts: the positive flux of the network's input is high there."""
    from training.train_beats import TRAIN_LOOPS, render_loop_track

    assert sorted(TRAIN_LOOPS)[0] == "loop_amen"
    x, beats, downbeats = render_loop_track(0)
    assert x.shape[0] == 2 * beatnet.N_BANDS and beats.size > 32 and set(downbeats) <= set(beats)
    flux = x[beatnet.N_BANDS :].mean(axis=0)
    starts = downbeats[downbeats < x.shape[1] - 2]
    at = np.maximum.reduce([flux[np.clip(starts + d, 0, flux.size - 1)] for d in (-1, 0, 1)])
    mid = np.maximum.reduce([flux[np.clip(starts + (beats[1] - beats[0]) // 2 + d, 0, flux.size - 1)] for d in (-1, 0, 1)])
    assert np.median(at) > 1.5 * np.median(mid), (np.median(at), np.median(mid))
