"""The GRU chord model of the generator: learning, determinism, storage, composing with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

POP = ["0", "9", "5", "7"]  # I - vi - IV - V


def test_gru_learns_a_deterministic_progression():
    from technob_fx.blend.gru import ChordGRU, next_token_scores

    m = ChordGRU().fit([POP * 6, POP * 4], seed=0, weight_decay=0.0)
    assert m.vocab == ["0", "5", "7", "9", "^"] and m.info["tokens"] == 40
    for i in range(1, 12):  # after any prefix the next chord of the loop
        d = m.distribution((POP * 3)[:i])
        assert "^" not in d and sum(d.values()) == pytest.approx(1.0)
        assert d[(POP * 3)[i]] > 0.9, (i, d)
    assert m.distribution([])["0"] > 0.75  # sequences open on the tonic
    s = next_token_scores(m, [POP * 3])
    assert s["accuracy"] == 1.0 and s["n"] == 12 and s["loglik"] > np.log(0.85)
    # the default (regularised) training over all twelve roots: still the loop, unseen roots rare
    r = ChordGRU().fit([POP * 6, POP * 4], seed=0, vocab=[str(i) for i in range(12)])
    assert len(r.vocab) == 13 and next_token_scores(r, [POP * 3])["accuracy"] == 1.0
    assert all(r.distribution((POP * 3)[:i])[(POP * 3)[i]] > 0.8 for i in range(1, 12))
    assert all(r.distribution(POP[:2]).get(str(t), 0.0) < 0.02 for t in (1, 3, 6))


def test_gru_same_seed_same_weights_and_json_round_trip():
    from technob_fx.blend.gru import ChordGRU

    seqs = [["0", "5", "7", "0", "9", "2", "7", "0"], ["0", "2", "7", "0"], ["0", "9", "5", "7", "0"]]
    a = ChordGRU().fit(seqs, seed=3)
    b = ChordGRU().fit(seqs, seed=3)
    c = ChordGRU().fit(seqs, seed=4)
    assert a.weights.keys() == b.weights.keys()
    assert all(a.weights[k].tobytes() == b.weights[k].tobytes() for k in a.weights)
    assert any(a.weights[k].tobytes() != c.weights[k].tobytes() for k in a.weights)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())  # model.json: same seed, same bytes
    r = ChordGRU.from_dict(json.loads(json.dumps(a.to_dict())))
    assert r.vocab == a.vocab and all(r.weights[k].tobytes() == a.weights[k].tobytes() for k in a.weights)
    for ctx in ([], ["0"], ["0", "5", "7"], ["0", "9", "unknown"]):
        assert r.distribution(ctx) == a.distribution(ctx)
    assert ChordGRU().fit([], seed=0).distribution(["0"]) == {}


def _score_model(sequence: str):
    from technob_fx.blend.compose import NGram, ScoreModel

    mel = [["0,4", "1,2", "1,2", "-2,4", "-1,8"], ["0,2", "2,2", "-1,4"]]
    sm = ScoreModel(chords={}, melody=NGram(3).fit(mel), melody_sequences=mel,
                    voicings={"min7": [[0, 3, 7, 10, 14]]}, cadences=[],
                    chord_sequences={"classical": [["0", "5", "7", "0", "8", "3", "7", "0"]] * 3,
                                     "lofi": [["3", "8", "10", "0", "1", "6"]] * 3})  # 1, 6: outside the key
    sm.chords = {g: NGram(2).fit(s) for g, s in sm.chord_sequences.items()}
    return sm.fit_gru(seed=0) if sequence == "gru" else sm


def test_score_model_selects_and_stores_the_sequence_model():
    from technob_fx.blend.compose import NGram, ScoreModel, learn_score
    from technob_fx.blend.gru import ChordGRU
    from technob_fx.core.errors import ParameterError

    g = _score_model("gru")
    assert g.sequence == "gru" and isinstance(g.chord_model("lofi"), ChordGRU)
    assert isinstance(g.chord_model("other"), NGram)
    r = ScoreModel.from_dict(json.loads(json.dumps(g.to_dict())))
    assert r.sequence == "gru" and r.chord_sequences == g.chord_sequences
    assert r.chord_model("classical").distribution(["0", "5"]) == g.chord_model("classical").distribution(["0", "5"])
    assert isinstance(g.melody_model(), ChordGRU) and g.melody_model().vocab[-1] == "^"
    assert r.melody_model().distribution(["0,2", "2,2"]) == g.melody_model().distribution(["0,2", "2,2"])
    n = ScoreModel.from_dict(json.loads(json.dumps(_score_model("ngram").to_dict())))
    assert n.sequence == "ngram" and not n.gru and isinstance(n.chord_model("lofi"), NGram)
    assert n.gru_melody is None and n.melody_model() is n.melody and n.melody_sequences == g.melody_sequences
    old = _score_model("ngram").to_dict()  # a model.json written before the option
    for k in ("sequence", "chord_sequences", "melody_sequences"):
        del old[k]
    assert ScoreModel.from_dict(old).sequence == "ngram"
    with pytest.raises(ParameterError, match="sequence"):
        learn_score([], sequence="lstm")


def test_learn_rejects_an_unknown_sequence_model(tmp_path):
    from technob_fx.blend.learn import learn
    from technob_fx.core.errors import ParameterError

    with pytest.raises(ParameterError, match="ngram, gru"):
        learn(tmp_path, sequence="transformer", save=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("blend", [0.0, 0.6, 1.0])
def test_compose_with_the_gru_keeps_the_key_and_the_tonic_frame(blend):
    from technob_fx.blend.compose import MINOR, PHRASE_BARS, compose

    pats = np.zeros((1, 3, 16), np.float32)
    pats[0, 0, [0, 8]] = 1.0
    sm = _score_model("gru")
    pcs = {(9 + i) % 12 for i in MINOR}
    for seed in range(3):
        a = compose(sm, pats, [1], tonic=9, mode="minor", bars=12, blend=blend, swing=0.6,
                    rng=np.random.default_rng(seed))
        b = compose(sm, pats, [1], tonic=9, mode="minor", bars=12, blend=blend, swing=0.6,
                    rng=np.random.default_rng(seed))
        assert a.notes == b.notes and a.chords == b.chords and a.info["sequence_model"] == "gru"
        prog = a.info["progression"]
        assert all(prog[i] == "0" for i in range(0, 12, PHRASE_BARS)), prog
        assert all(prog[i] == "0" for i in range(PHRASE_BARS - 1, 12, PHRASE_BARS)), prog
        assert all(int(t) in MINOR for t in prog) and all(n[3] % 12 in pcs for n in a.notes)
