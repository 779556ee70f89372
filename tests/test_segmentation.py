"""Section segmentation of synthesised techno: labels and boundaries on bar lines."""

from __future__ import annotations

import numpy as np

from technob_fx.core.frontend import Frontend
from technob_fx.core.results import SECTION_LABELS
from technob_fx.stages.beats import track_beats
from technob_fx.stages.segmentation import Segmenter, segment


def test_sections_match_truth(short_track):
    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    grid = track_beats(audio, truth.sample_rate, frontend=fe)
    segs = segment(audio, truth.sample_rate, grid=grid, frontend=fe)
    assert [s.label for s in segs] == [s.label for s in truth.segments]
    beat = 60.0 / truth.tempo
    for est, ref in zip(segs.segments[1:], truth.segments[1:], strict=True):
        assert abs(est.start - ref.start) < beat
        assert np.min(np.abs(grid.downbeats - est.start)) < 1e-6  # on a bar line
    assert segs[0].start == 0.0 and abs(segs[-1].end - truth.duration) < 0.01
    assert all(s.label in SECTION_LABELS for s in segs)


def test_node_and_beatless_audio():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((2, 44100 * 6)) * 0.1).astype(np.float32)
    res = Segmenter()(noise, 44100)
    assert res.shape == noise.shape
    node = Segmenter()
    node(noise, 44100)
    segs = node.result
    assert len(segs) >= 1 and segs[0].start == 0.0
    assert abs(segs[-1].end - 6.0) < 0.01
