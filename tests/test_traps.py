"""The trap fixture generator (technob_fx.synth.traps): self-consistent truth, determinism, alignment."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from technob_fx.synth.traps import TRAPS, make_trap, trap_names

#: A techno trap, one with a tempo-less intro, one in 3/4 with a pickup, one in 6/8 with a pickup,
#: the two backbeat bands (rock, funk), each with a two-beat drum pickup, and a 2/4 dance whose
#: sections each have their own tempo.
CASES = ("offbeat_hat", "ambient_intro", "minuet", "siciliano_68", "rock_8ths", "funk_16ths", "csardas_24")
DURATION = 16.0


@pytest.fixture(scope="module")
def rendered():
    return {name: make_trap(name, seed=3, duration=DURATION) for name in CASES}


def test_trap_list():
    assert set(trap_names(True)) | set(trap_names(False)) == set(TRAPS)
    assert len(trap_names(True)) >= 12 and len(trap_names(False)) >= 5
    with pytest.raises(KeyError):
        make_trap("no_such_trap")


@pytest.mark.parametrize("name", CASES)
def test_truth_is_self_consistent(rendered, name):
    audio, truth = rendered[name]
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[0] == 2
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert audio.shape[1] == pytest.approx(truth.duration * truth.sample_rate, abs=1)
    beats, downbeats = truth.beats, truth.downbeats
    assert beats.size >= 8 and np.all(np.diff(beats) > 0)
    assert beats[0] >= 0 and beats[-1] < truth.duration
    # downbeats are beats, one every beats_per_bar beats
    idx = np.searchsorted(beats, downbeats)
    assert np.allclose(beats[idx], downbeats)
    assert np.all(np.diff(idx) == truth.beats_per_bar)
    assert truth.beats_per_bar == {"4/4": 4, "3/4": 3, "6/8": 2, "2/4": 2}[truth.meter]
    assert truth.tempo == pytest.approx(60.0 / np.median(np.diff(beats)), rel=1e-6)
    mir_eval.key.validate_key(truth.key)
    assert truth.mode in ("major", "minor", "harmonic_minor", "dorian", "phrygian")
    # sections tile [0, duration]
    segs = truth.segments
    assert segs[0].start == 0.0 and segs[-1].end == pytest.approx(truth.duration)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(segs, segs[1:]))
    assert all(s.end > s.start for s in segs)
    labels = {s.label for s in segs}
    if truth.label_kind == "techno":
        assert labels <= {"intro", "build", "drop", "breakdown", "outro"}
    else:
        assert truth.label_kind == "repetition" and all(len(lab) == 1 and lab.isupper() for lab in labels)
    mir_eval.beat.validate(beats, beats)


def test_pickups_and_free_intro(rendered):
    _, minuet = rendered["minuet"]
    assert minuet.downbeats[0] == minuet.beats[1]  # one pickup beat before bar 1
    _, sic = rendered["siciliano_68"]
    assert sic.downbeats[0] == sic.beats[0] and sic.beats[0] > 0.3  # an eighth pickup, not a beat
    _, amb = rendered["ambient_intro"]
    assert amb.segments[0].label == "intro" and amb.beats[0] == pytest.approx(amb.segments[0].end)
    assert amb.beats[0] > 5.0  # no beats in the tempo-less intro


def test_kick_on_the_beat_hat_on_the_off_beat(rendered):
    """The truth beats are where the kicks are: low-band energy on the beats, hats between."""
    audio, truth = rendered["offbeat_hat"]
    sr = int(truth.sample_rate)
    spec = np.fft.rfft(audio.mean(axis=0))
    f = np.fft.rfftfreq(audio.shape[1], 1 / sr)
    low = np.fft.irfft(spec * (f < 150), audio.shape[1])
    high = np.fft.irfft(spec * (f > 6000), audio.shape[1])
    # the first half of the intro has the kick and the open hat only (the off-beat bass comes later)
    intro = truth.segments[0]
    assert intro.label == "intro"
    beats = truth.beats[truth.beats < (intro.start + intro.end) / 2]
    assert beats.size >= 4
    half = 30.0 / truth.tempo

    def energy(x, times):
        w = int(0.03 * sr)
        return np.mean([np.sum(x[int(t * sr): int(t * sr) + w] ** 2) for t in times])

    assert energy(low, beats) > 3 * energy(low, beats + half)
    assert energy(high, beats + half) > 3 * energy(high, beats)


def test_deterministic_by_seed():
    a1, t1 = make_trap("trumpet_90", seed=1, duration=10)
    a2, t2 = make_trap("trumpet_90", seed=1, duration=10)
    a3, _ = make_trap("trumpet_90", seed=2, duration=10)
    assert np.array_equal(a1, a2) and np.array_equal(t1.beats, t2.beats) and t1.key == t2.key
    assert a1.shape != a3.shape or not np.array_equal(a1, a3)


def test_funk_snare_on_the_backbeat_kick_off_the_beat(rendered):
    """The funk trap's truth: the snare cracks on beats 2 and 4 of every bar, while the kick and
    bass sit more on the off-beats than on the beats they leave (the trap for a kick-led tracker)."""
    audio, truth = rendered["funk_16ths"]
    sr = int(truth.sample_rate)
    assert truth.downbeats[0] == truth.beats[2]  # a two-beat pickup before bar 1
    spec = np.fft.rfft(audio.mean(axis=0))
    f = np.fft.rfftfreq(audio.shape[1], 1 / sr)
    noise = np.fft.irfft(spec * ((f > 1500) & (f < 8000)), audio.shape[1])
    low = np.fft.irfft(spec * (f < 150), audio.shape[1])

    def energy(x, times):
        w = int(0.03 * sr)
        return np.mean([np.sum(x[int(t * sr): int(t * sr) + w] ** 2) for t in times if t * sr + w < x.size])

    bars = truth.downbeats[:-1]
    period = 60.0 / truth.tempo
    backbeat = np.concatenate([bars + period, bars + 3 * period])
    assert energy(noise, backbeat) > 3 * energy(noise, np.concatenate([bars, bars + 2 * period]))
    assert energy(low, bars + 1.5 * period) > 2 * energy(low, bars + period)


def test_csardas_sections_have_their_own_tempo(rendered):
    """Slow A, B accelerating from 1.25x to 1.5x, C from 0.8x slowing to 0.6x, A' from 1.05x:
    the truth's beat lengths change with the sections, well beyond the +-6 % rubato."""
    _, truth = rendered["csardas_24"]
    bpm = 60.0 / np.diff(truth.beats)
    bounds = [np.searchsorted(truth.beats, s.start) for s in truth.segments] + [truth.beats.size]
    per = [np.median(bpm[a : b - 1]) for a, b in zip(bounds, bounds[1:])]
    assert [s.label for s in truth.segments] == ["A", "B", "C", "A"]
    assert per[1] > 1.25 * per[0] and per[2] < 0.8 * per[0] and per[3] > 1.1 * per[0]
    assert bpm.max() / bpm.min() > 2.0
