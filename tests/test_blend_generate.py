"""Lo-Fi x Classical: learning, generation (files, SMF, determinism), classifier, blend curve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from technob_fx.blend.dataset import DatasetConfig, build_dataset
from technob_fx.blend.genres import make_genre_folders

SR = 22050


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("blend")
    dirs = make_genre_folders(root / "in", files=4, seconds=16.0, sr=SR, seed=2)
    out = root / "ds"
    build_dataset({g: [d] for g, d in dirs.items()}, out,
                  config=DatasetConfig(chunk_seconds=8.0, sample_rate=SR, n_mels=64, val_fraction=0.25), jobs=2)
    return out


@pytest.fixture(scope="module")
def model(dataset):
    from technob_fx.blend.learn import learn

    return learn(dataset)


@pytest.fixture(scope="module")
def classifier(dataset):
    from technob_fx.blend.classifier import train_classifier

    return train_classifier(dataset, epochs=12, crop=96, seed=0)


def test_learned_groove_and_phrases(dataset, model):
    from technob_fx.blend.learn import Model

    assert 70 <= model.tempo["p50"] <= 95  # synth Lo-Fi is 72-90 BPM
    assert model.swing == pytest.approx(0.62, abs=0.03), model.swing  # synth_lofi swings at 0.62
    assert model.patterns.ndim == 3 and model.patterns.shape[1:] == (3, 16)
    assert sum(model.pattern_counts) >= 1
    for band in ("low", "mid", "high"):
        assert model.hits[band] and all(h.ndim == 1 and np.abs(h).max() > 0.1 for h in model.hits[band])
    assert model.phrases and {"tonic", "mode", "chords", "beats", "wav"} <= set(model.phrases[0])
    curve = model.eq_curve()
    assert curve.shape == model.tone_freqs.shape and np.isfinite(curve).all()
    assert np.abs(curve).max() <= 18.0 and abs(np.interp(500.0, model.tone_freqs, curve)) < 1e-3
    assert set(model.tone_db) == {"lofi", "classical"}
    loaded = Model.load(dataset)
    assert loaded.phrases == json.loads(json.dumps(model.phrases))
    np.testing.assert_array_equal(loaded.patterns, model.patterns)


def test_learned_score_and_samples(model):
    """The generative side learns from the transcriptions: chords of both genres, melody, voicings, samples."""
    from technob_fx.blend.compose import ScoreModel

    sm = ScoreModel.from_dict(model.score)
    assert set(sm.chords) == {"classical", "lofi"} and all(len(m) >= 2 for m in sm.chords.values())
    assert len(sm.melody) >= 3 and sm.counts["phrases"] >= 1
    assert sm.voicings and all(len(v) >= 3 for vs in sm.voicings.values() for v in vs)
    for genre in ("classical", "lofi"):
        assert model.samples[genre], genre
        for pitch, x in model.samples[genre]:
            assert 36 <= pitch <= 96 and x.ndim == 1 and x.size <= 1.6 * SR + 1 and np.abs(x).max() > 0.5
    assert 0 < model.hf_ratio["lofi"] < model.hf_ratio["classical"]  # synth_lofi is low-passed at 3.2 kHz


def test_generate_outputs_and_midi(tmp_path, dataset, model):
    import mido

    from technob_fx.blend.generate import generate
    from technob_fx.core.io import read_audio

    g = generate(dataset, tmp_path / "g", blend=0.6, bars=8, seed=5)
    n = int(round(8 * 4 * 60.0 / g.tempo * 44100))
    for name in ("mix", "drums", "music"):
        audio, sr = read_audio(g.files[name])
        assert sr == 44100 and audio.shape == (2, n)
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    mid = mido.MidiFile(g.files["midi"])
    assert mid.type == 1 and [t.name for t in mid.tracks[1:]] == ["drums", "chords", "bass", "lead"]
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert len(tempos) == 1 and mido.tempo2bpm(tempos[0]) == pytest.approx(g.tempo, abs=0.01)
    markers = [m.text for m in mid.tracks[0] if m.type == "marker"]
    assert markers == [s[2] for s in g.sections] == ["intro", "A", "B", "outro"]
    texts = [m.text for m in mid.tracks[0] if m.type == "text"]
    assert texts[0] == f"key: {g.key}" and len([t for t in texts if t.startswith("chord: ")]) == 8
    notes = {m.note for m in mid.tracks[1] if m.type == "note_on"}
    assert notes and notes <= {36, 38, 42}
    assert mid.length == pytest.approx(8 * 4 * 60.0 / g.tempo, abs=0.05)
    info = json.loads(g.files["info"].read_text())
    assert info["bars"] == 8 and info["mode"] == "generative" and len(info["chords"]) == 8
    assert info["longest_sample_s"] <= 1.6  # nothing longer than one note sample is copied


def _scale_pcs(key: str) -> set[int]:
    from technob_fx.blend.compose import scale_of
    from technob_fx.stages.key import PITCH_CLASSES

    tonic, mode = key.split()
    t = PITCH_CLASSES.index(tonic)
    return {(t + s) % 12 for s in scale_of(mode)}


def test_one_key_and_blend_moves_the_music(dataset, model):
    """Every note is in the declared key; the blend changes harmony colour, drums, swing, instruments."""
    from technob_fx.blend.generate import render

    r = {b: render(model, dataset, blend=b, bars=8, seed=3) for b in (0.0, 1.0)}
    for b, x in r.items():
        pcs = _scale_pcs(x["key"])
        assert x["notes"] and all(n[3] % 12 in pcs for n in x["notes"]), b
        assert {n[0] for n in x["notes"]} == {"lead", "chords", "bass"}
    assert r[0.0]["key"] == r[1.0]["key"] and r[0.0]["tempo"] == r[1.0]["tempo"]
    assert r[0.0]["info"]["colour"] == "triads" and r[1.0]["info"]["colour"] == "ninths"
    assert all(c.split(":")[1] in ("maj", "min", "dim") for c in r[0.0]["chords"])
    assert any("7" in c for c in r[1.0]["chords"])
    assert not r[0.0]["hits"] and len(r[1.0]["hits"]) > 8
    assert r[0.0]["info"]["swing"] == 0.5 and r[1.0]["info"]["swing"] == pytest.approx(model.swing, abs=1e-4)
    lead = {b: [n for n in x["notes"] if n[0] == "lead"] for b, x in r.items()}
    assert len(lead[1.0]) < len(lead[0.0])  # Lo-Fi melodies are sparser
    assert r[0.0]["info"]["instruments"]["lead"] == "classical" and r[1.0]["info"]["instruments"]["lead"] == "lofi"


def test_lofi_sound_true_peak_and_rate(tmp_path, dataset, model):
    """True peak <= -1 dBTP, no brighter than the Lo-Fi inputs at blend 1, 44.1 or 48 kHz out."""
    from technob_fx.blend.generate import generate
    from technob_fx.blend.learn import hf_ratio
    from technob_fx.core.io import read_audio
    from technob_fx.stages.effects import true_peak

    hf = {}
    for b in (0.0, 0.5, 1.0):
        g = generate(dataset, tmp_path / f"b{b}", blend=b, bars=4, seed=2, sample_rate=48000)
        audio, sr = read_audio(g.files["mix"])
        assert sr == 48000 and audio.shape[1] == int(round(16 * 60.0 / g.tempo * 48000))
        assert 20 * np.log10(true_peak(audio)) <= -1.0 + 0.05  # 24-bit rounding and dither
        hf[b] = hf_ratio(audio.mean(axis=0), sr)
    assert hf[1.0] <= model.hf_ratio["lofi"] * 1.05, (hf, model.hf_ratio)
    assert hf[0.5] < model.hf_ratio["classical"], (hf, model.hf_ratio)


def test_slice_mode_joins(tmp_path, dataset, model):
    """Slice mode: two-bar phrases chosen by chroma/level compatibility, equal-power crossfades."""
    from technob_fx.blend.generate import generate

    g = generate(dataset, tmp_path / "s", blend=0.5, bars=8, seed=4, mode="slice")
    info = json.loads(g.files["info"].read_text())
    assert info["mode"] == "slice" and info["join_xfade_s"] == pytest.approx(0.1)
    joins = info["phrases"][1:]
    assert joins and all(j["join_cost"] is not None and abs(j["gain_db"]) <= 6.0 for j in joins)
    assert sum(p["beats"] for p in info["phrases"]) >= 32


def test_same_seed_same_bytes(tmp_path, dataset, model):
    from technob_fx.blend.generate import generate

    a = generate(dataset, tmp_path / "a", blend=0.8, bars=4, seed=11)
    b = generate(dataset, tmp_path / "b", blend=0.8, bars=4, seed=11)
    c = generate(dataset, tmp_path / "c", blend=0.8, bars=4, seed=12)
    for k in ("mix", "drums", "music", "midi"):
        assert a.files[k].read_bytes() == b.files[k].read_bytes(), k
    assert a.files["mix"].read_bytes() != c.files["mix"].read_bytes()


def test_gru_sequence_model_same_seed_same_bytes(dataset, model):
    """The GRU chord model (``learn(sequence="gru")``): trained from the stored chord sequences, the
    same seed writes the same audio; every note stays in the declared key."""
    import dataclasses

    from technob_fx.blend.compose import ScoreModel
    from technob_fx.blend.generate import render

    sm = ScoreModel.from_dict(model.score)
    assert sm.sequence == "ngram" and set(sm.chord_sequences) == {"classical", "lofi"}
    runs = []
    for _ in range(2):  # trained and rendered twice from scratch
        score = ScoreModel.from_dict(json.loads(json.dumps(sm.to_dict()))).fit_gru(seed=0).to_dict()
        runs.append(render(dataclasses.replace(model, score=json.loads(json.dumps(score))), dataset,
                           blend=0.6, bars=8, seed=5))
    a, b = runs
    assert a["info"]["sequence_model"] == "gru" and a["info"]["progression"] == b["info"]["progression"]
    assert a["mix"].tobytes() == b["mix"].tobytes()
    pcs = _scale_pcs(a["key"])
    assert a["notes"] and all(n[3] % 12 in pcs for n in a["notes"])
    prog = a["info"]["progression"]
    assert prog[0] == prog[3] == prog[4] == prog[7] == "0", prog


def test_bad_arguments(tmp_path, dataset, model):
    from technob_fx.blend.generate import generate
    from technob_fx.core.errors import ParameterError, PathError

    with pytest.raises(ParameterError, match="blend"):
        generate(dataset, tmp_path / "x", blend=1.5)
    with pytest.raises(ParameterError, match="bars"):
        generate(dataset, tmp_path / "x", bars=0)
    with pytest.raises(PathError, match="not a dataset"):
        generate(tmp_path, tmp_path / "x")
    with pytest.raises(ParameterError, match="sample-rate"):
        generate(dataset, tmp_path / "x", sample_rate=22050)
    with pytest.raises(ParameterError, match="mode"):
        generate(dataset, tmp_path / "x", mode="remix")
    assert not (tmp_path / "x").exists()


def test_classifier_beats_chance(classifier):
    _, report = classifier
    assert report.val_chunks > 0 and report.train_chunks > 0
    assert report.val_accuracy is not None and report.val_accuracy > 0.5


def test_cross_validation_by_recording(dataset):
    from technob_fx.blend.classifier import cross_validate

    cv = cross_validate(dataset, folds=2, epochs=2, crop=64)
    assert cv["recordings"] == 8 and cv["chunks"] == 16  # every recording held out once
    # networks that never heard a recording still name its genre: well above chance (0.5)
    assert cv["accuracy"] >= 0.75 and cv["recording_accuracy"] >= 0.75
    per = cv["per_recording"]
    assert len(per) == 8 and all(genre == source.split("_")[0] for source, (genre, _) in per.items())
    assert float(np.mean([p for _, p in per.values()])) > 0.5  # mean probability of the true genre
    conf = np.asarray(cv["confusion"])  # held-out recordings, [true][predicted]
    assert cv["classes"] == ["classical", "lofi"] and conf.sum(axis=1).tolist() == [4, 4]
    assert np.trace(conf) / conf.sum() == pytest.approx(cv["recording_accuracy"])
    assert np.asarray(cv["chunk_confusion"]).sum() == cv["chunks"]


def test_lofi_probability_rises_with_blend(tmp_path, dataset, model, classifier):
    from technob_fx.blend.classifier import GenreClassifier
    from technob_fx.blend.generate import render

    clf = GenreClassifier.load(dataset)
    assert clf.classes == classifier[0].classes
    p = {}
    for blend in (0.0, 1.0):
        probs = []
        for seed in (0, 1):
            r = render(model, dataset, blend=blend, bars=6, seed=seed)
            probs.append(clf.predict_proba(r["mix"], r["sample_rate"])["lofi"])
        p[blend] = float(np.mean(probs))
    assert p[1.0] > p[0.0] + 0.2, p


def test_cli_generate(tmp_path, dataset, model, capsys):
    from technob_fx.cli import main

    rc = main(["generate", "--dataset", str(dataset), "--blend", "0.3", "--bars", "4", "--seed", "1",
               "-o", str(tmp_path / "cli"), "--quiet"])
    assert rc == 0 and (tmp_path / "cli" / "track.mid").exists()
    rc = main(["generate", "--dataset", str(dataset), "--bars", "2", "--mode", "slice", "--sample-rate", "48000",
               "-o", str(tmp_path / "cli2"), "--quiet"])
    info = json.loads((tmp_path / "cli2" / "generate.json").read_text())
    assert rc == 0 and info["mode"] == "slice" and info["sample_rate"] == 48000
    assert main(["generate", "--dataset", str(dataset), "--blend", "2", "-o", str(tmp_path / "x")]) == 1
    assert "blend" in capsys.readouterr().err


def test_embeddings_and_frechet_distance(classifier):
    from technob_fx.blend.classifier import frechet_distance
    from technob_fx.blend.genres import synth_lofi

    clf, _ = classifier
    e = clf.embed(synth_lofi(6.0, SR, seed=9), SR)
    assert e.ndim == 2 and e.shape[1] == 64 and np.isfinite(e).all()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + 1.0) == pytest.approx(8.0, rel=1e-3)  # |mean shift|^2


@pytest.mark.parametrize("seed,bpm", [(4, 74.0), (5, 88.0)])
def test_swing_within_002_of_the_fixture(seed, bpm):
    """The grid is moved onto the kick/snare beat (a tracker on the swung "ands" read 0.38 before)."""
    from technob_fx.blend import _analysis
    from technob_fx.blend import learn as lr
    from technob_fx.blend.genres import synth_lofi

    mono = synth_lofi(16.0, SR, seed=seed, bpm=bpm, swing=0.62).mean(axis=0)
    tempo, beats = lr._folded_beats(*_analysis.beat_times(mono, SR))
    assert tempo == pytest.approx(bpm, rel=0.02)
    ons = lr.band_onsets(lr.percussive(mono, SR), SR)
    all_on = np.concatenate([ons[b][0] for b in lr.BANDS])
    grid = lr.align_grid(all_on, beats, np.concatenate([ons["low"][0], ons["mid"][0]]),
                         np.concatenate([ons["low"][1], ons["mid"][1]]))
    assert float(np.median(lr.swing_ratio(all_on, grid))) == pytest.approx(0.62, abs=0.02)


def test_cli_learn_chooses_the_sequence_model(dataset, tmp_path):
    import shutil

    from technob_fx.cli import main

    ds = tmp_path / "ds"
    shutil.copytree(dataset, ds)  # the module's other tests keep their n-gram model.json
    assert main(["dataset", "learn", str(ds), "--sequence", "gru", "--quiet"]) == 0
    saved = json.loads((ds / "model.json").read_text())
    assert saved["score"]["sequence"] == "gru" and saved["score"]["gru"]
    assert main(["dataset", "learn", str(ds), "--sequence", "ngram", "--quiet"]) == 0
    saved = json.loads((ds / "model.json").read_text())
    assert saved["score"]["sequence"] == "ngram"
