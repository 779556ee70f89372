"""Frame and bar features."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.frontend import Frontend
from technob_fx.stages.features import FeatureExtractor, Features, extract_features, mfcc_from_log_mel


def test_frame_and_bar_features(short_track):
    audio, truth, _ = short_track
    feats = extract_features(audio, truth.sample_rate, grid=truth.grid)
    n = feats.times.size
    for name in ("onset_strength", "rms", "centroid", "flatness", "f0"):
        assert getattr(feats, name).shape == (n,)
    assert feats.mfcc.shape == (n, 13)
    assert feats.bar_times.size == truth.downbeats.size
    assert feats.bar_mfcc.shape == (truth.downbeats.size, 13)
    # the drum-less breakdown is quieter than the drops
    bd = next(s for s in truth.segments if s.label == "breakdown")
    drop = next(s for s in truth.segments if s.label == "drop")
    sel = lambda s: (feats.bar_times >= s.start) & (feats.bar_times < s.end)  # noqa: E731
    assert feats.bar_lufs[sel(bd)].mean() < feats.bar_lufs[sel(drop)].mean()
    assert feats.bar_onset[sel(bd)].mean() < feats.bar_onset[sel(drop)].mean()
    s = feats.summary()
    assert -30 < s["integrated_lufs"] < -5
    assert np.all(np.isfinite(feats.short_term_lufs))


def test_mfcc_matches_librosa(short_track):
    import librosa

    audio, truth, _ = short_track
    fe = Frontend(audio[:, : 44100 * 5], truth.sample_rate)
    ours = mfcc_from_log_mel(fe.log_mel())
    ref = librosa.feature.mfcc(S=librosa.power_to_db(fe.mel(), top_db=80.0), n_mfcc=13).T
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-2)


def test_node_without_bars_round_trips():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, 22050 * 3)) * 0.1).astype(np.float32)
    node = FeatureExtractor(per_bar=False)
    node(x, 22050)
    res = node.result
    assert res.bar_times.size == 0
    back = Features.from_json(res.to_json())
    assert back.mfcc.shape == res.mfcc.shape
    assert back.integrated_lufs == pytest.approx(res.integrated_lufs)
