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
    assert 0.5 <= model.swing <= 0.72, model.swing  # synth_lofi swings at 0.62; short chunks blur it
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


def test_generate_outputs_and_midi(tmp_path, dataset, model):
    import mido

    from technob_fx.blend.generate import generate
    from technob_fx.core.io import read_audio

    g = generate(dataset, tmp_path / "g", blend=0.6, bars=8, seed=5)
    n = int(round(8 * 4 * 60.0 / g.tempo * SR))
    for name in ("mix", "drums", "music"):
        audio, sr = read_audio(g.files[name])
        assert sr == SR and audio.shape == (2, n)
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    mid = mido.MidiFile(g.files["midi"])
    assert mid.type == 1 and len(mid.tracks) == 3
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert len(tempos) == 1 and mido.tempo2bpm(tempos[0]) == pytest.approx(g.tempo, abs=0.01)
    markers = [m.text for m in mid.tracks[0] if m.type == "marker"]
    assert markers == [s[2] for s in g.sections] == ["intro", "A", "B", "outro"]
    notes = {m.note for m in mid.tracks[1] if m.type == "note_on"}
    assert notes and notes <= {36, 38, 42}
    assert mid.length == pytest.approx(8 * 4 * 60.0 / g.tempo, abs=0.05)
    info = json.loads(g.files["info"].read_text())
    assert info["bars"] == 8 and info["phrases"]


def test_same_seed_same_bytes(tmp_path, dataset, model):
    from technob_fx.blend.generate import generate

    a = generate(dataset, tmp_path / "a", blend=0.8, bars=4, seed=11)
    b = generate(dataset, tmp_path / "b", blend=0.8, bars=4, seed=11)
    c = generate(dataset, tmp_path / "c", blend=0.8, bars=4, seed=12)
    for k in ("mix", "drums", "music", "midi"):
        assert a.files[k].read_bytes() == b.files[k].read_bytes(), k
    assert a.files["mix"].read_bytes() != c.files["mix"].read_bytes()


def test_bad_arguments(tmp_path, dataset, model):
    from technob_fx.blend.generate import generate
    from technob_fx.core.errors import ParameterError, PathError

    with pytest.raises(ParameterError, match="blend"):
        generate(dataset, tmp_path / "x", blend=1.5)
    with pytest.raises(ParameterError, match="bars"):
        generate(dataset, tmp_path / "x", bars=0)
    with pytest.raises(PathError, match="not a dataset"):
        generate(tmp_path, tmp_path / "x")


def test_classifier_beats_chance(classifier):
    _, report = classifier
    assert report.val_chunks > 0 and report.train_chunks > 0
    assert report.val_accuracy is not None and report.val_accuracy > 0.5


def test_cross_validation_by_recording(dataset):
    from technob_fx.blend.classifier import cross_validate

    cv = cross_validate(dataset, folds=2, epochs=2, crop=64)
    assert cv["recordings"] == 8 and cv["chunks"] == 16  # every recording held out once
    assert 0.0 <= cv["accuracy"] <= 1.0


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
    assert main(["generate", "--dataset", str(dataset), "--blend", "2", "-o", str(tmp_path / "x")]) == 1
    assert "blend" in capsys.readouterr().err
