"""Lo-Fi x Classical building blocks: the sequence model, composing in one key, sampled instruments."""

from __future__ import annotations

import numpy as np
import pytest

SR = 22050


def test_ngram_counts_backoff_and_round_trip():
    from technob_fx.blend.compose import NGram, mix, sample

    m = NGram(3).fit([["0", "5", "7", "0"], ["0", "5", "9", "0"]])
    assert m.distribution(["0", "5"]) == {"7": 0.5, "9": 0.5}
    assert m.distribution(["7"]) == {"0": 1.0}  # unseen 2-token context: backs off to one token
    assert m.distribution(["11", "4"])["0"] == pytest.approx(4 / 8)  # unseen: the unigram
    assert NGram.from_dict(m.to_dict()).counts == m.counts and len(m) == 8
    d = mix({"a": 1.0}, {"b": 1.0}, 0.25)
    assert d == {"a": 0.75, "b": 0.25}
    rng = np.random.default_rng(0)
    assert {sample(rng, d, lambda t: t == "b") for _ in range(5)} == {"b"}
    assert sample(rng, d, lambda t: False) is None


def _model():
    from technob_fx.blend.compose import NGram, ScoreModel

    return ScoreModel(chords={"classical": NGram(2).fit([["0", "5", "7", "0", "9", "2", "7"]]),
                              "lofi": NGram(2).fit([["2", "7", "0", "9", "1", "6"]])},  # 1, 6: outside the key
                      melody=NGram(3).fit([["0,4", "1,2", "1,2", "-2,4", "-1,8"], ["0,2", "2,2", "-1,4"]]),
                      voicings={"min7": [[0, 3, 7, 10, 14]], "maj7": [[0, 4, 7, 11]]},
                      cadences=[[0, "0"], [4, "7"]])


@pytest.mark.parametrize("blend", [0.0, 0.5, 1.0])
def test_compose_stays_in_one_key(blend):
    from technob_fx.blend.compose import MINOR, compose

    pats = np.zeros((1, 3, 16), np.float32)
    pats[0, 0, [0, 10]] = 1.0
    pats[0, 1, [4, 12]] = 0.8
    pats[0, 2, ::2] = 0.5
    s = compose(_model(), pats, [1], tonic=9, mode="minor", bars=8, blend=blend, swing=0.62,
                rng=np.random.default_rng(1))
    pcs = {(9 + i) % 12 for i in MINOR}
    assert s.key == "A minor" and len(s.chords) == 8 and s.chords[0].startswith("A:")
    assert all(n[3] % 12 in pcs for n in s.notes)
    assert all(0 <= n[1] < 32 and n[2] > 0 for n in s.notes)
    assert bool(s.hits) == (blend >= 0.2)
    assert s.swing == pytest.approx(0.5 + blend * 0.12)
    lead = [n for n in s.notes if n[0] == "lead"]
    assert lead and all(62 <= n[3] <= 84 for n in lead)


def test_sampler_repitches_and_cut_samples_finds_exposed_notes():
    from technob_fx.blend.instruments import Sampler, cut_samples
    from technob_fx.core.results import NoteEvent

    t = np.arange(int(2.0 * SR)) / SR
    y = np.zeros(t.size, np.float32)
    notes = []
    for on, pitch in [(0.1, 57), (0.9, 64)]:
        f = 440.0 * 2 ** ((pitch - 69) / 12)
        seg = (t >= on) & (t < on + 0.6)
        y[seg] += (0.5 * np.sin(2 * np.pi * f * (t[seg] - on)) * np.exp(-(t[seg] - on) / 0.4)).astype(np.float32)
        notes.append(NoteEvent(on, on + 0.6, pitch, 100))
    cuts = cut_samples(y, SR, notes, source="x")
    assert sorted(c[1] for c in cuts) == [57, 64]
    assert all(c[3]["source"] == "x" and c[2].size <= 1.6 * SR for c in cuts)
    smp = Sampler([(c[1], c[2]) for c in cuts], SR, 44100)
    x = smp.note(69, 0.3, 1.0)  # A4 from the A3 sample (one octave up) or E4 (5 semitones)
    assert x is not None and x.size == int(0.42 * 44100)
    spec = np.abs(np.fft.rfft(x[:8192] * np.hanning(8192)))
    assert np.fft.rfftfreq(8192, 1 / 44100)[int(np.argmax(spec))] == pytest.approx(440.0, rel=0.02)
    assert smp.note(90, 0.3, 1.0) is None  # too far from every sample


@pytest.mark.parametrize("blend", [0.0, 0.5, 1.0])
def test_phrases_open_and_close_on_the_tonic(blend):
    """Every 4-bar phrase opens on the tonic and ends with a cadence to it, so the tonic is the most
    frequent chord (a piece read as its dominant's key when the dominant outnumbered the tonic)."""
    from collections import Counter

    from technob_fx.blend.compose import PHRASE_BARS, compose

    pats = np.zeros((1, 3, 16), np.float32)
    pats[0, 0, [0, 8]] = 1.0
    for seed in range(6):
        s = compose(_model(), pats, [1], tonic=9, mode="minor", bars=16, blend=blend, swing=0.6,
                    rng=np.random.default_rng(seed))
        prog = s.info["progression"]
        assert all(prog[b] == "0" for b in range(0, 16, PHRASE_BARS)), prog
        assert all(prog[b] == "0" for b in range(PHRASE_BARS - 1, 16, PHRASE_BARS)), prog
        # the cadence's first chord: the dominant, else one that leads to the tonic in the learned
        # progressions (here only "7"), else the subdominant when the dominant came just before
        assert all(prog[b] in ("7", "5") for b in range(PHRASE_BARS - 2, 16, PHRASE_BARS)), prog
        counts = Counter(prog)
        assert counts["0"] == 8 and all(v < counts["0"] for t, v in counts.items() if t != "0"), prog
        assert all(c.startswith("A:") for c in (s.chords[0], s.chords[-1]))
        bass = sorted((n for n in s.notes if n[0] == "bass"), key=lambda n: n[1])
        assert bass[0][3] % 12 == 9 and bass[-1][3] % 12 in (9, 4)  # tonic (a fifth push at high blend)


def test_melody_turns_back_at_the_edges_of_its_range():
    """A learned line that only falls must not pile up on its lowest degree (it did at a clip: half
    the lead on the supertonic, which made a piece read as the dominant's key)."""
    from collections import Counter

    from technob_fx.blend.compose import NGram, ScoreModel, _snap, compose

    m = ScoreModel(chords={"classical": NGram(2).fit([["0", "5", "7", "0"]])},
                   melody=NGram(3).fit([["-1,4"] * 12]), voicings={}, cadences=[])
    s = compose(m, np.zeros((0, 3, 16), np.float32), [], tonic=4, mode="minor", bars=16, blend=0.0, swing=0.5,
                rng=np.random.default_rng(0))
    lead = [n for n in s.notes if n[0] == "lead"]
    beats = Counter()
    for n in lead:
        beats[n[3]] += n[2]
    assert max(beats.values()) < 0.25 * sum(beats.values()), beats
    assert len(beats) >= 8 and all(62 <= p <= 84 for p in beats)
    assert _snap(66, {11, 2}) == 62 and _snap(60, {6}) == 54  # a pitch class up to a tritone away
