"""Analysis is a chain: analyzers hand their results on (``needs`` / ``provides``), beats are
tracked once per call, and the beat tracker's range and meter reach sections, features and exports."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.chain import Chain
from technob_fx.stages import beats as beats_module
from technob_fx.stages.beats import BeatTracker
from technob_fx.stages.features import FeatureExtractor
from technob_fx.stages.pitch import PitchTracker
from technob_fx.stages.segmentation import Segmenter, segment


@pytest.fixture
def tracking_calls(monkeypatch) -> list[dict]:
    """Every call of :func:`track_beats` (its keyword arguments), wherever it comes from."""
    calls: list[dict] = []
    real = beats_module.track_beats

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(beats_module, "track_beats", counting)
    return calls


def _on(times: np.ndarray, grid_times: np.ndarray, tol: float = 1e-6) -> bool:
    return all(np.min(np.abs(grid_times - t)) < tol for t in times)


def test_nodes_declare_what_they_need_and_provide():
    assert BeatTracker.provides == "grid" and BeatTracker.needs == ()
    assert Segmenter.needs == ("grid",) and Segmenter.provides == "segments"
    assert FeatureExtractor.needs == ("grid", "pitch") and PitchTracker.provides == "pitch"


def test_segmenter_and_features_use_the_trackers_grid(short_track, tracking_calls):
    """A 50-80 BPM range turns the 128 BPM track into a 64 BPM grid; the sections and the bars
    follow that grid, and the beats are tracked once."""
    audio, truth, _ = short_track
    chain = Chain([BeatTracker(min_bpm=50, max_bpm=80), Segmenter(), FeatureExtractor(per_bar=True)])
    out = chain.run(audio, truth.sample_rate)
    assert len(tracking_calls) == 1 and tracking_calls[0]["max_bpm"] == 80
    grid = out.results["beat_tracker"]
    assert grid.tempo == pytest.approx(64.0, abs=0.5)
    segs = out.results["segmenter"]
    inner = np.array([s.start for s in segs][1:])
    assert inner.size >= 2 and _on(inner, grid.beats)
    assert [(s.start, s.end, s.label) for s in segs] == [
        (s.start, s.end, s.label) for s in segment(audio, truth.sample_rate, grid=grid)]
    feats = out.results["features"]
    np.testing.assert_allclose(feats.bar_times, grid.downbeats[: feats.bar_times.size])
    assert feats.bar_times.size == grid.downbeats.size
    # Alone, the segmenter tracks at its default range (128 BPM): other boundaries.
    alone = Segmenter()
    alone(audio, truth.sample_rate)
    assert [s.start for s in alone.result] != [s.start for s in segs]
    assert not _on(np.array([s.start for s in alone.result][1:]), grid.beats)


def test_features_use_the_pitch_trackers_track(short_track):
    audio, truth, _ = short_track
    chain = Chain([PitchTracker(fmin=200.0), FeatureExtractor(per_bar=False)])
    out = chain.run(audio, truth.sample_rate)
    pitch, feats = out.results["pitch_tracker"], out.results["features"]
    idx = np.clip(np.searchsorted(pitch.times, feats.times), 0, pitch.times.size - 1)
    np.testing.assert_array_equal(feats.f0, pitch.f0[idx])
    assert np.nanmin(feats.f0) >= 200.0 * 0.99  # the tracker's own range, not the 65 Hz default


def test_a_forced_meter_reaches_sections_and_bars(short_track, tracking_calls):
    audio, truth, _ = short_track
    out = Chain([BeatTracker(beats_per_bar=3), Segmenter(), FeatureExtractor()]).run(audio, truth.sample_rate)
    grid = out.results["beat_tracker"]
    assert grid.beats_per_bar == 3 and len(tracking_calls) == 1
    assert grid.downbeats.size == pytest.approx(grid.beats.size / 3, abs=1)
    np.testing.assert_allclose(out.results["features"].bar_times, grid.downbeats)
    assert _on(np.array([s.start for s in out.results["segmenter"]][1:]), grid.beats)


def test_streamed_chain_hands_the_grid_on_at_finalize(short_track_file, tracking_calls):
    chain = Chain([BeatTracker(min_bpm=50, max_bpm=80), Segmenter(), FeatureExtractor()])
    out = chain.process_file(short_track_file, None)
    assert len(tracking_calls) == 1
    grid = out.results["beat_tracker"]
    assert grid.tempo == pytest.approx(64.0, abs=0.5)
    assert _on(np.array([s.start for s in out.results["segmenter"]][1:]), grid.beats)
    np.testing.assert_allclose(out.results["features"].bar_times, grid.downbeats)


def test_inputs_are_cleared_after_the_chain(short_track):
    """A node used alone after a chain run does not reuse the chain's grid."""
    audio, truth, _ = short_track
    seg = Segmenter()
    Chain([BeatTracker(min_bpm=50, max_bpm=80), seg]).run(audio, truth.sample_rate)
    assert seg.inputs == {}
    seg(audio, truth.sample_rate)
    assert seg.result.labeller == "techno"  # its own 128 BPM grid: four to the floor


@pytest.mark.parametrize("notes", [False, True])
def test_analyze_tracks_beats_once(short_track, tracking_calls, notes):
    from technob_fx.stages.analysis import analyze

    audio, truth, _ = short_track
    seen: list[tuple[float, str]] = []
    res = analyze(audio, truth.sample_rate, notes=notes, progress=lambda f, m: seen.append((f, m)))
    assert len(tracking_calls) == 1
    stages = ["front-end", "beats", "sections", "key", "pitch", "features", "notes", "done"]
    assert list(dict.fromkeys(m for _, m in seen if m in stages)) == [s for s in stages if notes or s != "notes"]
    assert seen[-1] == (1.0, "done") and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    if notes:
        bars = res.grid.downbeats
        assert _on(np.array([c.start for c in res.transcription.chords]), bars)
    assert set(res.timings) >= {"frontend", "beats", "segments", "key", "pitch", "features"}


def test_analyze_passes_the_range_and_meter_to_every_result(short_track, tracking_calls, tmp_path):
    from bridge.track import TrackData
    from technob_fx.stages.analysis import analyze, read_analysis

    audio, truth, _ = short_track
    res = analyze(audio, truth.sample_rate, min_bpm=50, max_bpm=80, beats_per_bar=3)
    assert len(tracking_calls) == 1
    assert tracking_calls[0]["min_bpm"] == 50 and tracking_calls[0]["beats_per_bar"] == 3
    assert res.grid.beats_per_bar == 3 and res.tempo == pytest.approx(64.0, abs=0.5)
    np.testing.assert_allclose(res.features.bar_times, res.grid.downbeats)
    assert _on(np.array([s.start for s in res.segments][1:]), res.grid.beats)
    back = read_analysis(res.write(tmp_path))
    assert back.grid.beats_per_bar == 3
    np.testing.assert_allclose(back.grid.downbeats, res.grid.downbeats, atol=1e-6)
    tm = TrackData.from_analysis(res, name="t").tempo_map()  # what every DAW export writes
    assert [m.numerator for m in tm.meters] == [3]
    assert tm.to_json()[0]["bpm"] == pytest.approx(64.0, abs=0.5)


def test_analyze_rejects_an_unknown_tracker_parameter(short_track):
    from technob_fx.core.errors import ParameterError
    from technob_fx.stages.analysis import analyze

    audio, truth, _ = short_track
    with pytest.raises(ParameterError, match="beats_per_barr"):
        analyze(audio[:, : int(truth.sample_rate)], truth.sample_rate, beats_per_barr=3)
