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


def _trap_sections(name, grid_from_truth=True):
    import mir_eval

    from technob_fx.core.results import BeatGrid
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap(name, duration=30)
    sr = truth.sample_rate
    fe = Frontend(audio, sr)
    grid = (BeatGrid(truth.beats, truth.downbeats, truth.tempo, truth.beats_per_bar) if grid_from_truth
            else track_beats(audio, sr, frontend=fe))
    segs = segment(audio, sr, grid=grid, frontend=fe)
    ref = np.array([[s.start, s.end] for s in truth.segments])
    est = np.array([[s.start, s.end] for s in segs])
    ref_i, ref_l = mir_eval.util.adjust_intervals(ref, [s.label for s in truth.segments], t_min=0.0, t_max=truth.duration)
    est_i, est_l = mir_eval.util.adjust_intervals(est, [s.label for s in segs], t_min=0.0, t_max=truth.duration)
    f_beat = mir_eval.segment.detection(ref_i, est_i, window=60.0 / truth.tempo, trim=True)[2]
    return segs, truth, (ref_i, ref_l, est_i, est_l), f_beat


def _label_agreement(ref_i, ref_l, est_i, est_l, duration):
    t = np.arange(0.0, duration, 0.1)

    def at(iv, lab):
        out = np.full(t.size, "", dtype=object)
        for (a, b), x in zip(iv, lab):
            out[(t >= a) & (t < b)] = x
        return out

    return float(np.mean(at(ref_i, ref_l) == at(est_i, est_l)))


def test_techno_trap_sections_on_the_tracked_grid():
    """A 30-second techno trap (intro, build, drop, breakdown, build, drop, outro in 2-4 bar
    sections): boundaries within a beat and the techno labels on the time (mir_eval)."""
    segs, truth, iv, f_beat = _trap_sections("soft_808", grid_from_truth=False)
    assert segs.labeller == "techno"
    assert f_beat >= 0.9
    assert _label_agreement(*iv, truth.duration) >= 0.85


def test_modal_techno_sections_on_the_true_grid():
    segs, truth, iv, f_beat = _trap_sections("phrygian_145")
    assert f_beat >= 0.9
    assert _label_agreement(*iv, truth.duration) >= 0.85


def test_an_intro_of_kick_and_chords_is_not_a_drop():
    """Dub techno opens with kick and chord stabs at the drops' level; only the open hats, the
    sub bass and the percussion are missing. The drop starts where the hats come in."""
    segs, truth, iv, f_beat = _trap_sections("dub_techno", grid_from_truth=False)
    beat = 60.0 / truth.tempo
    assert segs[0].label != "drop"
    assert abs(segs[1].start - truth.segments[1].start) < beat and segs[1].label == "drop"
    assert f_beat >= 0.7


def test_refine_moves_a_boundary_back_to_the_first_change_never_later():
    from technob_fx.stages.segmentation import _refine

    beats = np.arange(40) * 0.5
    x = np.zeros((40, 4))
    x[20:, 0] = 1.0  # a section starts on beat 20 (the bar line at t = 10 s)
    x[22:, 1:] = 3.0  # and changes more two beats later (a kick stopping halfway)
    assert _refine(10.0, beats, x) == 10.0
    assert _refine(11.0, beats, x) == 11.0  # the stronger change after the line stays inside
    y = np.zeros((40, 4))
    y[18:, :] = 2.0  # the section starts on beat 18: a bar line 3 beats late moves back to it
    assert _refine(10.5, beats, y) == 9.0
    assert _refine(7.5, beats, y) == 7.5  # never forward, 3 beats early stays


def test_a_full_stop_does_not_end_the_track():
    """Two bars of silence before the second drop: the drop after them is still a drop (the
    stop fitted only an outro, and an outro never ends)."""
    segs, truth, iv, f_beat = _trap_sections("stops", grid_from_truth=False)
    last_drop = [s for s in truth.segments if s.label == "drop"][-1]
    mid = 0.5 * (last_drop.start + last_drop.end)
    assert next(s for s in segs if s.start <= mid < s.end).label == "drop"
    assert f_beat >= 0.8


def test_a_clip_shorter_than_two_sections_keeps_its_labeller():
    """Fewer bars than two sections give one section, labelled by the labeller the music asks
    for: a trumpet phrase is A (repetition), a techno drop a drop."""
    from technob_fx.synth.traps import make_trap

    audio, truth = make_trap("trumpet_90", duration=30)
    sr = truth.sample_rate
    segs = segment(audio[:, : int(5.3 * sr)], sr)
    assert segs.labeller == "repetition" and [s.label for s in segs] == ["A"]
    audio, truth = make_trap("soft_808", duration=30)
    drop = next(s for s in truth.segments if s.label == "drop")
    i0 = int(drop.start * sr)
    segs = segment(audio[:, i0 : i0 + int(5.5 * sr)], sr)
    assert segs.labeller == "techno" and [s.label for s in segs] == ["drop"]


def test_music_without_a_drum_kit_is_labelled_by_repetition():
    import mir_eval

    segs, truth, (ref_i, ref_l, est_i, est_l), _ = _trap_sections("siciliano_68")
    assert segs.labeller == "repetition"
    assert all(s.label.rstrip("'").isalpha() and s.label[0].isupper() for s in segs)
    assert segs[0].label == "A"
    assert mir_eval.segment.pairwise(ref_i, ref_l, est_i, est_l)[2] >= 0.85


def test_techno_sections_last_at_least_min_bars():
    """One odd bar does not make a section: with ``min_bars`` 2 (the default) the Viterbi keeps
    the drop through a single breakdown-like bar and the breakdown of two bars; with 1 the odd
    bar is a section of its own; the 2-bar breakdown between two drops stays a breakdown."""
    from technob_fx.stages.segmentation import _STATES, _viterbi_techno

    cost = np.full((16, len(_STATES)), 5.0)
    cost[:, _STATES.index("drop")] = 0.0
    cost[:4, _STATES.index("intro")] = -1.0  # 4 bars of intro
    cost[7, _STATES.index("breakdown")] = -3.0  # one odd bar inside the drop
    cost[10:12, _STATES.index("breakdown")] = -3.0  # a real 2-bar breakdown
    cost[14:, _STATES.index("outro")] = -1.0

    def sections(labels: list[str]) -> list[tuple[int, str]]:
        return [(b, lab) for b, lab in enumerate(labels) if b == 0 or lab != labels[b - 1]]

    two = sections(_viterbi_techno(cost, 0, 4, min_bars=2))
    assert two == [(0, "intro"), (4, "drop"), (10, "breakdown"), (12, "drop"), (14, "outro")]
    one = sections(_viterbi_techno(cost, 0, 4, min_bars=1))
    assert (7, "breakdown") in one and (8, "drop") in one
    # on rendered audio: no section shorter than a bar, whatever refine does (dub techno's first
    # bar, before its delay fills, was a 1-bar intro; hard techno's riser a 1-bar build)
    from technob_fx.synth.traps import make_trap

    for name in ("dub_techno", "hard_158"):
        audio, truth = make_trap(name, seed=0, duration=30)
        fe = Frontend(audio, truth.sample_rate)
        bar = 4 * 60.0 / truth.tempo
        on_bars = segment(audio, truth.sample_rate, refine=False, frontend=fe)
        assert on_bars.labeller == "techno" and len(on_bars) >= 3, name
        # (2 bars; the last may end on a partial bar of at least 3/4)
        assert all(s.end - s.start >= 1.7 * bar for s in on_bars), (name, [(s.start, s.end) for s in on_bars])
        refined = segment(audio, truth.sample_rate, frontend=fe)
        assert all(s.end - s.start >= 0.95 * bar for s in refined), (name, [(s.start, s.end) for s in refined])


def test_a_string_orchestra_is_not_labelled_as_techno(shared_data):
    """Real recordings (``../shared``): a string orchestra at 149 BPM in 4/4 has a fairly flat
    spectrum above 5 kHz (bowing noise, 0.31), but no drum kit; dance music with one does."""
    from technob_fx.core.io import read_audio
    from technob_fx.stages.key import has_drum_kit

    music = shared_data / "music"
    for stem, drums in (("Hungarian_Dance_number_5", False), ("Kevin_MacLeod_-_Vibe_Ace", True),
                        ("admiralbob77_-_Choice", True)):
        path = next(music.glob(f"{stem}*.ogg"), None)
        if path is None:
            continue
        y, sr = read_audio(path, 44100)
        fe = Frontend(y, sr)
        assert has_drum_kit(fe) is drums, stem
        assert segment(y, sr, frontend=fe).labeller == ("techno" if drums else "repetition"), stem

