"""The one tempo map (technob_fx.core.tempo): fewest points within 1 ms, pickups, meters, ramps."""

from __future__ import annotations

import numpy as np
import pytest

from technob_fx.core.errors import ParameterError
from technob_fx.core.results import BeatGrid
from technob_fx.core.tempo import TOLERANCE_S, corrected_grid, fit_tempo_map, onto_downbeat
from technob_fx.synth.techno import beat_times


def grid(beats, bpb=4, phase=0):
    beats = np.asarray(beats, dtype=np.float64)
    return BeatGrid(beats, beats[phase::bpb], float(np.median(60 / np.diff(beats))), bpb)


def constant(bpm=138.0, n=600, first=0.028):
    return grid(first + 60.0 / bpm * np.arange(n))


def stepped():
    """128 BPM for 16 bars, then 140 BPM for 16 bars."""
    a = 0.01 + 60 / 128 * np.arange(65)
    return grid(np.concatenate([a, a[-1] + 60 / 140 * np.arange(1, 64)]))


def ramping():
    """124 -> 130 BPM gliding per beat over 48 bars (the synth's drifting tracks)."""
    return grid(beat_times(193, 124.0, 130.0, 0.3))


def test_constant_track_gives_exactly_one_tempo_and_reports_smf_drift():
    tm = fit_tempo_map(constant())
    assert len(tm.points) == 1 and tm.points[0].bpm == pytest.approx(138.0, abs=1e-9)
    assert tm.max_error < 1e-9
    # SMF stores 434783 us per quarter instead of 434782.6: ~0.4 us per beat over 599 beats
    assert tm.smf_tempi() == [(0.0, 434783)]
    assert tm.smf_drift() == pytest.approx(599 * (434783 - 60e6 / 138) / 1e6, rel=1e-6)
    # a grid with tracker-like wander (2 ms) is still one tempo
    rng = np.random.default_rng(0)
    noisy = constant().beats + rng.normal(0, 0.002, 600)
    assert len(fit_tempo_map(grid(noisy)).points) == 1


def test_stepped_track_gives_two_tempi_on_the_step():
    for ramps in (None, "time", "beats"):
        tm = fit_tempo_map(stepped(), ramps=ramps)
        assert [(p.beat, round(p.bpm, 6), p.ramp) for p in tm.points] == [(0.0, 128.0, False), (64.0, 140.0, False)]
        assert tm.max_error < 1e-9


@pytest.mark.parametrize("ramps, most", [(None, 20), ("beats", 3), ("time", 6)])
def test_ramping_track_stays_within_a_millisecond(ramps, most):
    tm = fit_tempo_map(ramping(), ramps=ramps)
    assert tm.max_error <= TOLERANCE_S + 1e-9
    assert 2 <= len(tm.points) <= most
    assert tm.ramps == (ramps is not None)
    # the map is monotonic and invertible
    q = np.linspace(-2, 200, 1001)
    t = tm.beat_to_time(q)
    assert np.all(np.diff(t) > 0)
    assert np.allclose(tm.time_to_beat(t), q, atol=1e-9)


def test_ramps_cannot_go_into_a_midi_file():
    tm = fit_tempo_map(ramping(), ramps="beats")
    with pytest.raises(Exception, match="ramps"):
        tm.smf_tempi()


def test_no_fake_bar_before_the_first_downbeat():
    # a decoder lead-in of 28 ms: bar 1 starts on the first downbeat, the item start is trimmed
    tm = fit_tempo_map(constant(first=0.028))
    assert tm.pickup == "trim" and tm.first_downbeat == 0.0
    assert tm.item_position == 0.0 and tm.item_start_offset == pytest.approx(0.028)
    assert tm.meters[0].numerator == 4
    # one beat before the first downbeat, 0.3 s in: a 2-beat pickup bar at the track's tempo
    b = 0.3 + 60 / 128 * np.arange(64)
    tm = fit_tempo_map(grid(b, phase=1))
    assert tm.pickup == "bar"
    assert [(m.beat, m.numerator, m.bar) for m in tm.meters] == [(0.0, 2, 1), (2.0, 4, 2)]
    assert tm.first_downbeat == 2.0
    assert len(tm.points) == 1 and tm.points[0].bpm == pytest.approx(128.0)
    assert tm.item_position == pytest.approx(60 / 128 - 0.3)  # one beat added before 0.3 s
    assert float(tm.beat_to_audio(2.0)) == pytest.approx(b[1])
    # a long intro without beats is covered by whole bars at the first tempo, never one fast beat
    tm = fit_tempo_map(grid(30.0 + 60 / 128 * np.arange(64)))
    assert all(p.bpm == pytest.approx(128.0) for p in tm.points)
    assert tm.first_downbeat % 4 == 0 and tm.item_position >= 0
    assert float(tm.beat_to_audio(tm.first_downbeat)) == pytest.approx(30.0)


def test_meter_comes_from_the_grid():
    b = 60 / 120 * np.arange(48)
    tm = fit_tempo_map(grid(b, bpb=3))
    assert [(m.numerator, m.bar) for m in tm.meters] == [(3, 1)]
    assert tm.bar_of(6.0) == (3, 1.0)
    # an odd 2-beat bar inside 4/4 gets its own time signature
    down = np.concatenate([b[0:16:4], b[14:48:4]])
    tm = fit_tempo_map(BeatGrid(b, down, 120.0, 4))
    assert [(m.beat, m.numerator) for m in tm.meters] == [(0.0, 4), (12.0, 2), (14.0, 4)]
    assert [m.bar for m in tm.meters] == [1, 4, 5]
    assert tm.bar_of(14.0) == (5, 1.0) and tm.bar_of(19.0) == (6, 2.0)


def test_corrections_flow_into_the_map():
    g = constant(bpm=128.0, n=64, first=0.0)
    shifted = corrected_grid(g, downbeat=float(g.beats[1]))
    assert shifted.downbeats[0] == g.beats[1]
    tm = fit_tempo_map(shifted)
    assert float(tm.beat_to_audio(tm.first_downbeat)) == pytest.approx(g.beats[1])
    waltz = corrected_grid(g, beats_per_bar=3)
    assert fit_tempo_map(waltz).meters[-1].numerator == 3
    forced = corrected_grid(g, bpm=125.0, duration=30.0)
    tm = fit_tempo_map(forced)
    assert len(tm.points) == 1 and tm.points[0].bpm == pytest.approx(125.0)
    with pytest.raises(ParameterError):
        corrected_grid(g, bpm=0.0)
    with pytest.raises(ParameterError):
        corrected_grid(g, beats_per_bar=0)


def test_a_downbeat_between_beats_moves_the_grid_half_a_beat():
    g = constant(bpm=120.0, n=16, first=0.25)  # beats at 0.25, 0.75, ... 7.75 s
    # nearer a beat than the middle: unchanged (the same array)
    assert onto_downbeat(g.beats, 2.25 + 0.1) is g.beats
    # between two beats: the midpoints, plus half a period at each end inside [0, duration]
    moved = onto_downbeat(g.beats, 2.5, duration=7.9)
    assert np.allclose(moved, 0.5 * np.arange(16))  # 0.0 ... 7.5; 8.0 is past the end
    assert np.allclose(onto_downbeat(g.beats, 2.5), 0.5 * np.arange(17))  # no duration: 8.0 too
    # before the first beat: the grid extended at its period decides
    assert onto_downbeat(g.beats, 0.25 - 3 * 0.5) is g.beats
    assert onto_downbeat(g.beats, 0.0)[0] == pytest.approx(0.0)
    # the export and quantize corrections follow: bar 1 on the given time
    fixed = corrected_grid(g, downbeat=2.5, duration=8.0)
    assert fixed.downbeats[0] == pytest.approx(0.5) and 2.5 in fixed.downbeats
    assert np.array_equal(g.beats, 0.25 + 0.5 * np.arange(16))  # the input grid is not modified


def test_degenerate_grids_and_bad_options():
    empty = BeatGrid(np.zeros(0), np.zeros(0), 0.0, 4)
    assert fit_tempo_map(empty).points[0].bpm == 120.0
    one = BeatGrid(np.array([1.0]), np.array([1.0]), 100.0, 4)
    assert fit_tempo_map(one).points[0].bpm == 100.0
    with pytest.raises(ParameterError):
        fit_tempo_map(constant(), ramps="cubic")
    with pytest.raises(ParameterError):
        fit_tempo_map(constant(), pickup="none")
    with pytest.raises(ParameterError):
        fit_tempo_map(constant(), tolerance=0.0)
