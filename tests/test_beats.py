"""Beat tracking on synthesised techno (steady, drifting, breakdowns) and tempo-range handling."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from technob_fx.core.errors import ParameterError
from technob_fx.core.frontend import Frontend
from technob_fx.core.results import BeatGrid
from technob_fx.stages.beats import (
    BeatTracker,
    bar_novelty,
    estimate_tempo,
    local_period,
    steady_line,
    track_beats,
)
from technob_fx.synth import synth_techno

STRUCT = (("intro", 2), ("drop", 4), ("breakdown", 4), ("drop", 4), ("outro", 2))


def _score(grid: BeatGrid, truth) -> tuple[float, float]:
    return (mir_eval.beat.f_measure(truth.beats, grid.beats),
            mir_eval.beat.f_measure(truth.downbeats, grid.downbeats))


def test_short_track_beats_downbeats_tempo(short_track):
    audio, truth, _ = short_track
    grid = track_beats(audio, truth.sample_rate)
    f_beat, f_down = _score(grid, truth)
    assert f_beat >= 0.98
    assert f_down >= 0.95
    assert grid.tempo == pytest.approx(truth.tempo, rel=0.01)
    # sub-frame precision: median error well under one 11.6 ms frame
    err = np.abs(grid.beats[:, None] - truth.beats[None]).min(axis=1)
    assert np.median(err) < 0.006
    # the grid survives the drum-less breakdown: beats every beat inside it
    bd = next(s for s in truth.segments if s.label == "breakdown")
    inside = grid.beats[(grid.beats > bd.start + 0.1) & (grid.beats < bd.end - 0.1)]
    assert inside.size == int(round((bd.end - bd.start) * truth.tempo / 60)) - 1


@pytest.mark.parametrize(("bpm", "bpm_end"), [(100.0, None), (140.0, None), (124.0, 132.0)])
def test_tempi_and_drift(bpm, bpm_end):
    audio, truth = synth_techno(STRUCT, bpm=bpm, bpm_end=bpm_end, seed=3, sample_rate=22050)
    grid = track_beats(audio, truth.sample_rate)
    f_beat, f_down = _score(grid, truth)
    assert f_beat >= 0.98 and f_down >= 0.95
    true_tempo = float(np.median(60 / np.diff(truth.beats)))
    assert grid.tempo == pytest.approx(true_tempo, rel=0.01)
    if bpm_end is not None:
        tm = grid.local_tempi
        assert tm[:8].mean() < tm[-8:].mean()  # follows the drift


def test_tempo_range_resolves_octave(short_track):
    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    half = track_beats(audio, truth.sample_rate, min_bpm=40, max_bpm=80, frontend=fe)
    assert half.tempo == pytest.approx(64.0, rel=0.01)
    double = track_beats(audio, truth.sample_rate, min_bpm=200, max_bpm=300, frontend=fe)
    assert double.tempo == pytest.approx(256.0, rel=0.01)


def test_estimate_tempo_on_a_click_train():
    fps = 100.0
    o = np.zeros(3000)
    o[:: 50] = 1.0  # 120 BPM
    bpm, sal = estimate_tempo(o, fps)
    assert bpm == pytest.approx(120.0, abs=0.2) and sal > 0.5


def test_estimate_tempo_on_a_signal_shorter_than_a_second():
    o = np.zeros(40)
    o[::10] = 1.0  # 516 BPM at 86 fps: nothing in range, but no crash
    bpm, sal = estimate_tempo(o, 86.0)
    assert np.isfinite(bpm) and np.isfinite(sal)


def test_bad_range_raises():
    with pytest.raises(ParameterError):
        track_beats(np.zeros(44100, np.float32), 44100, min_bpm=150, max_bpm=100)


def test_node_in_chain_shares_frontend(short_track):
    from technob_fx.core.chain import Chain
    from technob_fx.core.registry import node_class

    audio, truth, _ = short_track
    assert node_class("beat_tracker") is BeatTracker
    out = Chain([BeatTracker(min_bpm=100, max_bpm=160)]).run(audio, truth.sample_rate)
    grid = out.results["beat_tracker"]
    assert isinstance(grid, BeatGrid) and grid.tempo == pytest.approx(128, rel=0.01)
    assert BeatGrid.from_json(grid.to_json()).beats.size == grid.beats.size


@pytest.mark.parametrize(("name", "beats_per_loop"), [("loop_amen", 4), ("loop_breakbeat", 4), ("loop_mika", 16)])
def test_real_drum_loops_tempo_and_phase(shared_data, name, beats_per_loop):
    """Real breakbeats repeated: the tempo, and the beats on the loop's beats, not its off-beats
    (the amen break's kicks fall on off-beats; the flux alone put the grid there, beat F 0.00).
    The amen is in the beat network's training music; breakbeat and mika are not."""
    from technob_fx.core.io import read_audio

    audio, sr = read_audio(shared_data / "samples" / f"{name}.flac")
    loop = audio.shape[1] / sr
    reps = int(np.ceil(24 / loop))
    tiled = np.tile(audio, (1, reps))
    grid = track_beats(tiled, sr)
    assert grid.tempo == pytest.approx(60 * beats_per_loop / loop, rel=0.01)
    truth = np.arange(reps * beats_per_loop) * loop / beats_per_loop
    assert mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth), mir_eval.beat.trim_beats(grid.beats)) >= 0.95


def test_annotated_clip_runs(shared_data):
    from technob_fx.core.io import read_audio

    audio, sr = read_audio(shared_data / "annotated" / "sample.wav")
    ref = np.loadtxt(shared_data / "annotated" / "sample.beats", comments="#", ndmin=2)[:, 0]
    grid = track_beats(audio, sr)
    assert grid.beats.size >= ref.size - 1  # a 2.8 s clip: only a sanity check


# -- meter, forced meter and downbeat, tempo ranges that leave out the music's tempo (issue 10) --


@pytest.fixture(scope="module")
def waltz():
    from technob_fx.synth.traps import make_trap

    return make_trap("waltz", seed=3, duration=30, sample_rate=22050)


def test_meter_three_for_a_waltz_four_for_techno(waltz, short_track):
    from technob_fx.synth.traps import make_trap

    audio, truth = waltz
    grid = track_beats(audio, truth.sample_rate)
    assert truth.beats_per_bar == 3 and grid.beats_per_bar == 3
    assert mir_eval.beat.f_measure(truth.beats, grid.beats) >= 0.75
    idx = np.searchsorted(grid.beats, grid.downbeats)
    assert np.mean(np.diff(idx) == 3) > 0.8  # bars of 3 (one longer or shorter where a beat was added)
    # the ritardandos make the tracker add a beat; the bar phase follows (0.47 with one phase)
    assert mir_eval.beat.f_measure(truth.downbeats, grid.downbeats) >= 0.7
    # four-to-the-floor stays 4, also with a loud off-beat hat
    audio, truth, _ = short_track
    assert track_beats(audio, truth.sample_rate).beats_per_bar == 4
    hat, hat_truth = make_trap("offbeat_hat", seed=3, duration=30, sample_rate=22050)
    grid = track_beats(hat, hat_truth.sample_rate)
    assert grid.beats_per_bar == 4
    assert mir_eval.beat.f_measure(hat_truth.downbeats, grid.downbeats) >= 0.95


@pytest.mark.parametrize(("bars", "bpm", "seed"), [(7, 120.0, 0), (7, 131.0, 5), (16, 139.0, 12)])
def test_four_to_the_floor_stays_four(bars, bpm, seed):
    structure = (("intro", 2), ("drop", 2), ("breakdown", 1), ("drop", 2)) if bars == 7 else \
        (("intro", 4), ("drop", 4), ("breakdown", 2), ("drop", 4), ("outro", 2))
    audio, truth = synth_techno(structure, bpm=bpm, seed=seed, sample_rate=22050)
    grid = track_beats(audio, truth.sample_rate)
    assert grid.beats_per_bar == 4
    assert mir_eval.beat.f_measure(truth.downbeats, grid.downbeats) >= 0.95


def test_bar_positions_follow_a_phase_change():
    from technob_fx.stages.beats import _bar_positions

    rng = np.random.default_rng(0)
    score = rng.normal(0, 0.3, 60)
    score[0:30:4] += 2.0  # downbeats on 0, 4, ... 28
    score[31:60:4] += 2.0  # one beat added at 30: then 31, 35, ...
    pos = _bar_positions(score, 4)
    assert np.array_equal(np.flatnonzero(pos == 0), np.r_[0:30:4, 31:60:4])
    # one stray strong beat does not move the bars
    score = rng.normal(0, 0.3, 48)
    score[0::4] += 2.0
    score[18] += 3.0
    assert np.array_equal(np.flatnonzero(_bar_positions(score, 4) == 0), np.arange(0, 48, 4))


def test_forced_meter_and_downbeat(short_track):
    audio, truth, _ = short_track
    fe = Frontend(audio, truth.sample_rate)
    auto = track_beats(audio, truth.sample_rate, frontend=fe)
    three = track_beats(audio, truth.sample_rate, beats_per_bar=3, frontend=fe)
    assert three.beats_per_bar == 3
    assert np.array_equal(three.beats, auto.beats)  # the meter moves bars, not beats
    assert np.all(np.diff(np.searchsorted(three.beats, three.downbeats)) == 3)
    # the beat nearest to the forced time starts a bar; the bars keep their length
    t = float(auto.beats[9]) + 0.04
    forced = track_beats(audio, truth.sample_rate, downbeat=t, frontend=fe)
    assert forced.beats_per_bar == 4 and auto.beats[9] in forced.downbeats
    assert np.all(np.diff(np.searchsorted(forced.beats, forced.downbeats)) == 4)
    assert mir_eval.beat.f_measure(truth.downbeats, forced.downbeats) < 0.1  # one beat late: all wrong
    both = track_beats(audio, truth.sample_rate, beats_per_bar=3, downbeat=float(auto.beats[4]), frontend=fe)
    assert auto.beats[4] in both.downbeats and both.beats_per_bar == 3
    # before the first beat: the grid is extended at its period
    early = track_beats(audio, truth.sample_rate, downbeat=float(auto.beats[0] - 2 * np.diff(auto.beats[:2])[0]),
                        frontend=fe)
    assert auto.beats[2] in early.downbeats
    node = BeatTracker(beats_per_bar=3, downbeat=float(auto.beats[4])).analyze(audio, truth.sample_rate, fe)
    assert node.beats_per_bar == 3 and auto.beats[4] in node.downbeats
    with pytest.raises(ParameterError):
        track_beats(audio, truth.sample_rate, beats_per_bar=-2, frontend=fe)
    with pytest.raises(ParameterError):
        track_beats(audio, truth.sample_rate, downbeat=float("nan"), frontend=fe)


def test_a_downbeat_between_two_beats_moves_the_grid_onto_it():
    """The funk trap's kick and bass sit off the beat and the tracker takes the off-beats (beat F
    0.00, a known limit). A producer who gives bar 1's time gets the grid on the beat: the grid
    moves half a beat onto it, bars follow, and a downbeat a few ms off a beat moves nothing."""
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap("funk_16ths", seed=0, duration=30.0)
    sr = truth.sample_rate
    fe = Frontend(audio, sr)
    auto = track_beats(audio, sr, frontend=fe)
    assert mir_eval.beat.f_measure(truth.beats, auto.beats) < 0.1  # the off-beat lock
    bar2 = float(truth.downbeats[1])
    fixed = track_beats(audio, sr, downbeat=bar2, frontend=fe)
    assert mir_eval.beat.f_measure(truth.beats, fixed.beats) > 0.95
    assert mir_eval.beat.f_measure(truth.downbeats, fixed.downbeats) > 0.95
    assert abs(fixed.beats - bar2).min() < 0.03 and fixed.tempo == pytest.approx(auto.tempo, rel=0.01)
    # a click 20 ms late on the tracked grid keeps it
    near = track_beats(audio, sr, downbeat=float(auto.beats[8]) + 0.02, frontend=fe)
    assert np.array_equal(near.beats, auto.beats) and auto.beats[8] in near.downbeats


def test_tempo_range_that_leaves_out_the_tempo():
    """The issue's solo trumpet at 90 BPM: a range around it finds it, a range without it gives
    the best tempo inside it and a warning, never an empty grid without a word."""
    from technob_fx.stages.beats import TempoRangeWarning
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap("trumpet_90", seed=1, duration=10)
    fe = Frontend(audio, truth.sample_rate)
    inside = track_beats(audio, truth.sample_rate, min_bpm=80, max_bpm=100, frontend=fe)
    assert inside.tempo == pytest.approx(90.0, rel=0.02)
    assert mir_eval.beat.f_measure(truth.beats, inside.beats) >= 0.85  # as with the default range
    with pytest.warns(TempoRangeWarning, match="leaves out"):
        out = track_beats(audio, truth.sample_rate, min_bpm=100, max_bpm=120, frontend=fe)
    # the tempo is the beats' median interval: at the edge of the range, within 1 % of it
    assert out.beats.size >= 20 and 100 <= out.tempo <= 120 * 1.01
    # a clip too short for 4 beats in the range: an empty grid, with a warning
    with pytest.warns(TempoRangeWarning, match="fewer than 4 beats"):
        short = track_beats(audio[:, : int(4 * truth.sample_rate)], truth.sample_rate, min_bpm=20, max_bpm=40)
    assert short.beats.size == 0


def test_tempo_range_on_the_real_trumpet_loop(shared_data):
    """The recording of the issue (90 BPM): --min-bpm 80 --max-bpm 100 returned 0 beats."""
    from technob_fx.core.io import read_audio

    audio, sr = read_audio(shared_data / "music" / "sorohanro_-_solo-trumpet-06.hq.ogg")
    grid = track_beats(audio, sr, min_bpm=80, max_bpm=100)
    assert grid.beats.size >= 5 and 80 <= grid.tempo <= 100


def _loop(bars: int, bpm: float, label: str = "drop") -> tuple[np.ndarray, float]:
    """A loop of ``bars`` bars cut from a rendered section: exactly ``4 x bars`` beats long, first beat at 0."""
    audio, truth = synth_techno(((label, bars),), bpm=bpm, seed=3)
    n = int(round(bars * 4 * 60.0 / bpm * truth.sample_rate))
    return np.ascontiguousarray(audio[:, :n]), truth.sample_rate


@pytest.mark.parametrize("bpm", [133.0, 174.0])
def test_a_one_bar_loop_gets_its_tempo_from_its_length(bpm):
    """A one-bar loop (1.4-1.8 s) is too short for the tracker alone (it gave no grid); repeated,
    it is read as 4 beats: the tempo is 4 beats over its length, the bar starts at 0, and a
    warning says the loop was assumed. At 174 BPM the repeated loop alone was tracked at 2/3 of
    its tempo: the beat count whose tempo comb is strongest decides."""
    from technob_fx.stages.beats import LoopGridWarning

    audio, sr = _loop(1, bpm)
    with pytest.warns(LoopGridWarning, match="read as a loop of 4 beats"):
        grid = track_beats(audio, sr)
    step = 60.0 / bpm
    assert grid.tempo == pytest.approx(bpm, rel=1e-3)
    assert grid.beats.size == 4 and np.allclose(grid.beats, step * np.arange(4), atol=0.01)
    assert np.allclose(grid.downbeats, grid.beats[:1]) and grid.beats_per_bar == 4
    # a forced downbeat moves the bar; the beats stay
    with pytest.warns(LoopGridWarning):
        forced = track_beats(audio, sr, downbeat=2 * step, frontend=Frontend(audio, sr))
    assert np.allclose(forced.beats, grid.beats) and forced.downbeats[0] == pytest.approx(grid.beats[2])
    # a downbeat between two beats moves the loop's grid half a beat onto it (onto_downbeat)
    with pytest.warns(LoopGridWarning):
        moved = track_beats(audio, sr, downbeat=2.5 * step, frontend=Frontend(audio, sr))
    assert np.allclose(moved.beats, step * (np.arange(4) + 0.5), atol=0.01)
    assert moved.downbeats[0] == pytest.approx(2.5 * step, abs=0.01)


def test_a_two_bar_loop_starts_its_bar_at_its_start():
    """A 2-bar loop (4.9 s) the tracker reads alone at its tempo takes the loop's grid: exact tempo
    and bar 1 on the first beat (the tracker alone put it on beat 3), without a warning."""
    import warnings

    audio, sr = _loop(2, 97.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid = track_beats(audio, sr)
    step = 60.0 / 97.0
    assert grid.tempo == pytest.approx(97.0, rel=1e-3)
    assert np.allclose(grid.beats, step * np.arange(8), atol=0.01)
    assert np.allclose(grid.downbeats, [0.0, 4 * step], atol=0.01)


def test_a_one_shot_is_not_a_loop():
    """A single kick (0.6 s) has no beats to count: an empty grid, no loop read into it."""
    import warnings

    audio, sr = _loop(1, 100.0, "intro")
    one = np.zeros_like(audio[:, : int(0.6 * sr)])
    one[:, : int(0.3 * sr)] = audio[:, : int(0.3 * sr)]  # the first kick, then silence
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid = track_beats(one, sr)
    assert grid.beats.size == 0 and grid.tempo == 0.0


def test_the_real_drum_loops_get_their_tempo(shared_data):
    """The CC0 pack's loops, 0.9 to 14.8 s long: the tempo their beat count gives and bar 1 at the start."""
    import warnings

    from technob_fx.core.io import read_audio

    loops = {"loop_industrial": 2, "loop_amen": 4, "loop_breakbeat": 4, "loop_perc1": 4, "loop_safari": 16,
             "arovane_beat_a": 32}
    for name, n in loops.items():
        audio, sr = read_audio(shared_data / "samples" / f"{name}.flac")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = track_beats(audio, sr)
        dur = audio.shape[1] / sr
        assert grid.tempo == pytest.approx(60.0 * n / dur, rel=0.005), name
        assert grid.beats.size == n and grid.downbeats[0] == grid.beats[0] < 0.03, name


def test_cli_analyze_forced_meter_and_downbeat(short_track_file, tmp_path, capsys):
    """`technob analyze --beats-per-bar 3 --downbeat T`: analysis.json and the bar features follow."""
    import json

    from technob_fx.cli import main

    out = tmp_path / "a"
    assert main(["analyze", str(short_track_file), "-o", str(out), "--quiet"]) == 0
    auto = json.loads((out / "analysis.json").read_text())
    assert auto["beats_per_bar"] == 4
    beats = np.asarray(auto["beats"])
    t = float(beats[6]) - 0.05
    assert main(["analyze", str(short_track_file), "-o", str(out), "--quiet", "--beats-per-bar", "3",
                 "--downbeat", f"{t:.3f}"]) == 0
    doc = json.loads((out / "analysis.json").read_text())
    down = np.asarray(doc["downbeats"])
    assert doc["beats_per_bar"] == 3 and np.allclose(doc["beats"], beats)
    assert np.min(np.abs(down - beats[6])) < 1e-6
    assert np.all(np.diff(np.searchsorted(beats, down - 1e-6)) == 3)
    assert np.allclose(doc["bars"]["times"], down)  # the bar features follow the forced bars
    capsys.readouterr()
    assert main(["analyze", str(short_track_file), "-o", str(out), "--beats-per-bar", "0"]) == 1
    assert capsys.readouterr().err.startswith("technob: error: --beats-per-bar must be 1 to 16")
    assert main(["analyze", str(short_track_file), "-o", str(out), "--downbeat", "-3"]) == 1
    assert "technob: error: --downbeat" in capsys.readouterr().err


# -- techno traps that pulled the tracker off (issue 10): one short case each --


def test_no_beats_in_a_free_ambient_intro():
    """Drones swelling at unrelated times before the beat: the grid starts with the beat."""
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap("ambient_intro", seed=3, duration=30, sample_rate=22050)
    assert truth.beats[0] > 5.0  # 8 s of free intro
    grid = track_beats(audio, truth.sample_rate)
    period = 60.0 / truth.tempo
    assert grid.beats[0] > truth.beats[0] - 0.5 * period  # was extended back to 0.1 s (beat F 0.88)
    assert mir_eval.beat.f_measure(truth.beats, grid.beats) >= 0.98
    assert mir_eval.beat.f_measure(truth.downbeats, grid.downbeats) >= 0.95
    # a pad-only bar before the drums (chords change on the bar line) still gets its beats
    audio, truth = make_trap("dubstep_140", seed=1, duration=30, sample_rate=22050)
    grid = track_beats(audio, truth.sample_rate)
    assert grid.beats[0] < truth.beats[0] + 0.5 * 60.0 / truth.tempo
    assert mir_eval.beat.f_measure(truth.beats, grid.beats) >= 0.98



def test_no_pulse_says_so_and_a_range_forces_a_grid():
    """Beatless audio (20 s of a noise drone with sine swells at unrelated times) gets an empty
    grid and a warning that says why; with a tempo range given, the best tempo inside it and a
    warning that the pulse is weak, never an unexplained 0 BPM."""
    from technob_fx.stages.beats import NoPulseWarning, TempoRangeWarning

    sr = 22050
    rng = np.random.default_rng(0)
    t = np.arange(20 * sr) / sr
    x = np.cumsum(rng.normal(0.0, 1.0, t.size))
    x -= np.convolve(x, np.ones(2205) / 2205, "same")
    y = 0.2 * x / np.abs(x).max()
    for f0, start, length in ((110.0, 1.5, 6.0), (165.0, 6.3, 7.0), (220.0, 11.1, 5.0), (138.6, 14.0, 5.0)):
        y += 0.15 * np.clip((t - start) / 2.0, 0, 1) * np.clip((start + length - t) / 2.0, 0, 1) * np.sin(2 * np.pi * f0 * t)
    audio = np.stack([y, y]).astype(np.float32)
    fe = Frontend(audio, sr)
    with pytest.warns(NoPulseWarning, match="no steady pulse"):
        grid = track_beats(audio, sr, frontend=fe)
    assert grid.beats.size == 0 and grid.tempo == 0.0
    with pytest.warns(TempoRangeWarning, match="weak pulse"):
        forced = track_beats(audio, sr, min_bpm=100, max_bpm=130, frontend=fe)
    assert forced.beats.size >= 20 and 100 * 0.97 <= forced.tempo <= 130 * 1.03
    with pytest.warns(NoPulseWarning, match="silence"):
        assert track_beats(np.zeros((2, 5 * sr), np.float32), sr).beats.size == 0

def test_pulsed_extent_stops_at_free_onsets():
    from technob_fx.stages.beats import _pulsed_extent

    fps, period = 100.0, 0.5
    rng = np.random.default_rng(1)
    onset = np.zeros(2000)
    onset[1000::50] = 1.0  # beats from 10 s on
    onset[rng.integers(0, 1000, 150)] = 0.08  # soft onsets at random times before (drones)
    ext = 10.0 - period * np.arange(1, 20)  # the grid extended back from 10 s
    assert _pulsed_extent(onset, fps, ext, period) == 0
    onset[100:1000:200] = 0.6  # a chord on every bar line (every 4th extended beat)
    assert _pulsed_extent(onset, fps, ext, period) == ext.size


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 5])
def test_techno_traps_tempo_meter_and_beats(seed):
    """Every techno trap, 30 s, seeds 4 and 5 (neither the benchmark's fixtures, seed 0, nor the
    beat network's training music): the tempo (drum and bass at 174, not 87), the meter, and the
    beats and the downbeats of every trap. On seed 5 phrygian_145's drop used to slip a sixteenth
    onto the bass line (beat F 0.75): the steady-tempo line holds it. broken_kick was tracked on
    its off-beats (beat F 0.00) until the network's activation joined the onsets that place the
    beats; dub techno's bars were a beat late and drum and bass's two beats off (downbeat F 0.00
    on both seeds) until its downbeat activation joined the bar-phase score."""
    from benchmarks.bench_accuracy import offbeat_bars
    from technob_fx.synth.traps import make_trap, trap_names

    f_beat, f_down = [], []
    for name in trap_names(techno=True):
        audio, truth = make_trap(name, seed=seed, duration=30)
        grid = track_beats(audio, truth.sample_rate)
        f_beat.append(mir_eval.beat.f_measure(truth.beats, grid.beats))
        f_down.append(mir_eval.beat.f_measure(truth.downbeats, grid.downbeats))
        assert f_down[-1] >= 0.9, (name, f_down[-1])
        assert abs(grid.tempo / truth.tempo - 1) < 0.04, (name, grid.tempo, truth.tempo)
        assert grid.beats_per_bar == 4, name
        assert f_beat[-1] >= 0.95, (name, f_beat[-1])
        assert offbeat_bars(truth.beats, grid.beats, 4) <= 2, name
    assert np.mean(f_beat) >= 0.98, np.round(f_beat, 2)
    assert np.mean(f_down) >= 0.95, np.round(f_down, 2)


def test_steady_line_holds_a_slipped_stretch_and_leaves_tempo_changes():
    """One tempo with a stretch a sixteenth early: the line of the rest; a ritardando, a tempo
    change after 60 % of the track, or too few beats: None."""
    rng = np.random.default_rng(1)
    idx = np.arange(80)
    period = 60 / 145
    t = 0.3 + period * idx + rng.normal(0, 0.003, idx.size)
    t[50:] -= period / 4  # the drop slipped onto the bass' sixteenths
    line = steady_line(t, idx)
    assert line is not None
    assert abs(line[1] - period) < 1e-3 and abs(line[0] - 0.3) < 0.01
    rit = 0.3 + np.cumsum(period * (1 + 0.004 * np.maximum(idx - 20, 0)))
    assert steady_line(rit, idx) is None
    change = np.where(idx < 48, 0.3 + period * idx, 0.3 + period * 48 + 60 / 150 * (idx - 48))
    assert steady_line(change, idx) is None
    assert steady_line(t[:10], idx[:10]) is None


def test_steady_track_keeps_one_bar_phase(short_track):
    """Music on one exact tempo (the synth's track) gets the steady line, and its bars one phase
    from start to end: every fourth beat is a downbeat, no bar of 3 or 5 (the Viterbi moved the
    phase inside acid_dorian's second drop, 27 bars on beat 4, before)."""
    audio, truth, _ = short_track
    grid = track_beats(audio, truth.sample_rate)
    period = 60 / truth.tempo
    line = steady_line(grid.beats, np.round((grid.beats - grid.beats[0]) / period).astype(int))
    assert line is not None and abs(line[1] - period) < 1e-3
    k0 = int(np.argmin(np.abs(grid.beats - grid.downbeats[0])))
    np.testing.assert_array_equal(grid.downbeats, grid.beats[k0::4])
    assert mir_eval.beat.f_measure(truth.downbeats, grid.downbeats) > 0.95


def test_best_sixteenth_weighs_the_whole_track():
    """A steady line a sixteenth early everywhere moves onto the kicks; one on the kicks stays
    there although a longer drop has bass notes a sixteenth before each kick a little stronger
    than the kicks (phrygian_145 at full length slipped onto them for most of the track)."""
    from technob_fx.stages.beats import _best_sixteenth

    fps, period = 86.1328125, 60 / 145
    n_beats = 300
    onset = np.zeros(int((n_beats + 2) * period * fps))
    kicks = 1.0 + period * np.arange(n_beats)
    onset[np.round(kicks * fps).astype(int)] = np.where(np.arange(n_beats) < 64, 2.4, 0.86)
    bass = kicks[64:] - period / 4
    onset[np.round(bass * fps).astype(int)] = 1.08
    assert _best_sixteenth(onset, fps, 1.0, period, 0, n_beats - 1) == 0.0
    assert _best_sixteenth(onset, fps, 1.0 - period / 4, period, 0, n_beats - 1) == 0.25


def test_local_period_follows_a_ramp_and_holds_a_steady_pulse():
    """A click train whose tempo ramps 135 -> 125 BPM gets a falling local period; a steady one
    its own period everywhere."""
    fps = 86.1328125
    n = int(60 * fps)

    def clicks(bpm_of_t):
        o = np.zeros(n)
        t = 0.0
        while t * fps < n - 1:
            o[int(t * fps)] = 1.0
            t += 60.0 / bpm_of_t(t)
        return o

    steady = local_period(clicks(lambda t: 128.0), fps, 60 * fps / 128)
    assert np.allclose(steady, 60 * fps / 128, rtol=0.01)
    ramp = local_period(clicks(lambda t: 135.0 - 10.0 * t / 60), fps, 60 * fps / 130)
    bpm = 60 * fps / ramp
    assert abs(bpm[int(8 * fps)] - 133.7) < 1.5 and abs(bpm[int(52 * fps)] - 126.3) < 1.5
    assert np.all(np.diff(ramp) >= -1e-9)
    # a section at its own tempo: 100 BPM, then 130 BPM from 30 s on, is followed (a bare click
    # train at 1.5x would be as much a step to half of it, 0.75x: music's accents decide that)
    step = local_period(clicks(lambda t: 100.0 if t < 30 else 130.0), fps, 60 * fps / 115)
    bpm = 60 * fps / step
    assert abs(bpm[int(20 * fps)] - 100.0) < 2.0 and abs(bpm[int(40 * fps)] - 130.0) < 2.5
    # and stays inside the user's tempo range
    held = local_period(clicks(lambda t: 100.0 if t < 30 else 130.0), fps, 60 * fps / 115, (105.0, 125.0))
    assert np.all((60 * fps / held >= 105.0 - 1e-6) & (60 * fps / held <= 125.0 + 1e-6))


def test_the_grid_follows_sections_at_their_own_tempo():
    """The csardas fixture (2/4; sections at 1.0x, 1.25-1.5x, 0.8-0.6x, 1.05-1.35x of its first
    tempo): one tempo held through them gave beat F 0.40 at 30 s (seed 0), madmom 0.81."""
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap("csardas_24", seed=0, duration=30.0)
    grid = track_beats(audio, truth.sample_rate)
    assert mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth.beats), mir_eval.beat.trim_beats(grid.beats)) >= 0.8


def test_bar_novelty_peaks_where_a_bar_pattern_changes():
    """Beat spectra that repeat every 4 beats and change at beat 16: the peak is at 16."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (4, 8)), rng.normal(0, 1, (4, 8))
    spec = np.vstack([np.tile(a, (4, 1)), np.tile(b, (4, 1))])
    nov = bar_novelty(spec, 4)
    assert nov.shape == (32,)
    assert int(np.argmax(nov)) == 16
    assert np.allclose(nov[4:13], 0.0) and np.allclose(nov[20:29], 0.0)


def test_network_places_beats_only_on_drum_music():
    """The learned activation joins the onsets, and its downbeat activation the bar-phase score, on
    music with a drum kit, never on music without one (the waltz fixture: strings and piano), and
    never the tempo's own onset signal."""
    from technob_fx.core.frontend import Frontend
    from technob_fx.stages.beats import _net_downbeats, _with_net, beat_features, beat_onset_signal
    from technob_fx.synth.traps import make_trap

    for name, drums in (("broken_kick", True), ("waltz", False)):
        audio, truth = make_trap(name, seed=4, duration=20)
        fe = Frontend(audio, truth.sample_rate)
        onset = beat_onset_signal(fe)
        placed = _with_net(fe, onset)
        assert (placed is not onset) == drums, name
        assert placed.shape == onset.shape and float(np.percentile(placed, 95)) == pytest.approx(1.0, rel=1e-6)
        feats = beat_features(fe, truth.beats)
        _net_downbeats(fe, truth.beats, feats)
        assert ("net" in feats) == drums, name
        if drums:  # the activation is highest on the true downbeats
            on = np.isin(truth.beats, truth.downbeats)
            assert feats["net"].shape == truth.beats.shape and feats["net"][on].mean() > 2 * feats["net"][~on].mean()
    assert not beat_onset_signal(fe).flags.writeable


def test_tempo_prior_follows_the_drums():
    """Music without a drum kit gets a slower tempo prior (110 BPM, not techno's 125): the
    30-second siciliano (6/8, 61 BPM dotted quarters) and a chorale (62 BPM) were tracked at
    twice their tempo; with the techno prior forced they still are. Techno keeps its prior."""
    from technob_fx.stages.beats import PRIOR_BPM, PRIOR_BPM_NO_DRUMS
    from technob_fx.stages.key import has_drum_kit
    from technob_fx.synth.traps import make_trap

    assert PRIOR_BPM_NO_DRUMS < PRIOR_BPM
    for name, seed in (("siciliano_68", 1), ("chorale", 2)):
        audio, truth = make_trap(name, seed=seed, duration=30)
        fe = Frontend(audio, truth.sample_rate)
        assert not has_drum_kit(fe), name
        auto = track_beats(audio, truth.sample_rate, frontend=fe)
        assert abs(auto.tempo / truth.tempo - 1) < 0.04, (name, auto.tempo, truth.tempo)
        forced = track_beats(audio, truth.sample_rate, prior_bpm=PRIOR_BPM, frontend=fe)
        assert abs(forced.tempo / (2 * truth.tempo) - 1) < 0.08, (name, forced.tempo, truth.tempo)  # rubato
    audio, truth = make_trap("dnb_174", seed=4, duration=20)
    fe = Frontend(audio, truth.sample_rate)
    assert track_beats(audio, truth.sample_rate, frontend=fe).tempo == pytest.approx(
        track_beats(audio, truth.sample_rate, prior_bpm=PRIOR_BPM, frontend=fe).tempo)
    with pytest.raises(ParameterError):
        track_beats(audio, truth.sample_rate, prior_bpm=-1.0)


def test_the_tempo_octave_does_not_depend_on_where_a_real_track_is_cut(shared_data):
    """Vibe Ace (Kevin MacLeod, 130 BPM; ``../shared``): the comb prefers 65 BPM, and the
    network's octave check doubles it back wherever the file is cut. Cut at 57.5 or 60 s it
    stayed at 65 BPM (the old gate, the median peak height, swung with the cut); Let's Go Fishin'
    (88.5 BPM) is never doubled."""
    from technob_fx.core.io import read_audio

    music = shared_data / "music"
    for stem, bpm, cuts in (("Kevin_MacLeod_-_Vibe_Ace", 130.0, (30.0, 57.5, 60.0, None)),
                            ("Karissa_Hobbs_-_Lets_Go_Fishin", 88.5, (20.0, 60.0))):
        path = next(music.glob(f"{stem}*.ogg"), None)
        if path is None:
            continue
        y, sr = read_audio(path, 44100)
        for cut in cuts:
            part = y if cut is None else y[:, : int(cut * sr)]
            tempo = track_beats(part, sr).tempo
            assert abs(tempo / bpm - 1) < 0.02, (stem, cut, tempo)


def test_the_grid_keeps_a_performances_own_timing():
    """Off one steady tempo the grid runs through the beats' own onsets: rubato (beat lengths
    +-6 % at random) keeps its beats, where the +-8-beat line that smoothed them was up to 0.16 s
    off; an isolated beat the programme put on a pickup, 0.13 s off the line of its neighbours,
    takes the line. The 30-second siciliano (6/8, rubato) went from beat F 0.57 to 0.90."""
    from technob_fx.stages.beats import GRID_KEEP_TOL, _fit_grid
    from technob_fx.synth.traps import make_trap

    ibi = 0.9 * np.exp(np.random.default_rng(0).normal(0.0, 0.06, 24))
    times = np.concatenate([[0.4], 0.4 + np.cumsum(ibi)])
    index = np.arange(times.size)
    t_hat, slope = _fit_grid(times, index, 0.9)
    np.testing.assert_allclose(t_hat, times, atol=1e-9)
    assert np.all((slope > 0.75) & (slope < 1.1))
    steady = 0.4 + 0.9 * index
    pickup = steady.copy()
    pickup[10] -= 0.13
    t_hat, _ = _fit_grid(pickup, index, 0.9)
    assert abs(pickup[10] - t_hat[10]) > GRID_KEEP_TOL and abs(t_hat[10] - steady[10]) < 0.01
    np.testing.assert_allclose(np.delete(t_hat, 10), np.delete(steady, 10), atol=1e-9)
    audio, truth = make_trap("siciliano_68", seed=1, duration=30)
    grid = track_beats(audio, truth.sample_rate)
    assert mir_eval.beat.f_measure(truth.beats, grid.beats) >= 0.85  # 0.57 before


def test_cli_analyze_a_one_bar_loop(tmp_path, capsys):
    """`technob analyze loop.wav`: the loop's 4 beats and tempo, and one warning line saying a loop
    was assumed; `--not-a-loop`: no grid, no warning."""
    import json

    from technob_fx.cli import main
    from technob_fx.core.io import write_audio

    audio, sr = _loop(1, 133.0)
    src = write_audio(tmp_path / "loop.wav", audio, sr, bit_depth=24)
    assert main(["analyze", str(src), "-o", str(tmp_path / "a"), "--quiet"]) == 0
    doc = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert len(doc["beats"]) == 4 and doc["tempo"] == pytest.approx(133.0, rel=1e-3)
    err = capsys.readouterr().err
    assert err.count("technob: warning:") == 1 and "read as a loop of 4 beats" in err
    assert main(["analyze", str(src), "-o", str(tmp_path / "b"), "--quiet", "--not-a-loop"]) == 0
    assert json.loads((tmp_path / "b" / "analysis.json").read_text())["beats"] == []
    assert "warning" not in capsys.readouterr().err
