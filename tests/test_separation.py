"""``separation.separate`` and ``technob separate``: both engines, errors leave no files."""

from __future__ import annotations

import pytest

from technob_fx.core.errors import ModelError, ParameterError
from technob_fx.stages.separation import separate

SR = 44100


@pytest.fixture(scope="module")
def mix_file(tmp_path_factory, short_track):
    from technob_fx.core.io import write_audio

    audio, _, _ = short_track
    path = tmp_path_factory.mktemp("sep") / "mix.wav"
    return write_audio(path, audio[:, : 8 * SR], SR)


def test_separate_hpss(tmp_path, mix_file):
    from technob_fx.core.io import audio_info

    paths = separate(mix_file, tmp_path / "parts", engine="hpss")
    assert list(paths) == ["harmonic", "percussive"]
    assert all(audio_info(p).frames == audio_info(mix_file).frames for p in paths.values())


def test_separate_demucs_unittest(tmp_path, mix_file):
    from technob_fx.core.io import audio_info

    calls = []
    paths = separate(mix_file, tmp_path / "stems", model="demucs_unittest", segment=4.0, shifts=0,
                     progress=lambda f, m: calls.append(f))
    assert list(paths) == ["drums", "bass", "other", "vocals"]
    assert all(audio_info(p).frames == audio_info(mix_file).frames for p in paths.values())
    assert calls[-1] == 1.0


def test_separate_bad_engine_and_option(tmp_path, mix_file):
    with pytest.raises(ParameterError, match="engine"):
        separate(mix_file, tmp_path / "x", engine="spleeter")
    with pytest.raises(ParameterError, match="unknown parameter"):
        separate(mix_file, tmp_path / "x", engine="hpss", model="htdemucs")


def test_cli_separate_hpss_and_demucs(tmp_path, mix_file, capsys):
    from technob_fx.cli import main

    assert main(["separate", str(mix_file), "-o", str(tmp_path / "h"), "--engine", "hpss",
                 "--parts", "percussive,residual", "--margin", "2", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["percussive.wav", "residual.wav", "stems.json"]
    assert main(["separate", str(mix_file), "-o", str(tmp_path / "d"), "--model", "demucs_unittest",
                 "--segment", "4", "--shifts", "0", "--format", "flac"]) == 0
    out = capsys.readouterr().out
    assert "untrained" in out
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["bass.flac", "drums.flac", "other.flac", "stems.json", "vocals.flac"]


def test_cli_separate_missing_model_offline_writes_nothing(tmp_path, mix_file, monkeypatch, capsys):
    import technob_fx.stages.stems as stems_mod
    from technob_fx.cli import main

    monkeypatch.setattr(stems_mod, "_hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(stems_mod, "torch_hub_checkpoints", lambda: tmp_path / "cache")
    assert main(["separate", str(mix_file), "-o", str(tmp_path / "out"), "--model", "htdemucs"]) == 1
    err = capsys.readouterr().err
    assert "technob: error: demucs model 'htdemucs'" in err and "--repo DIR" in err
    assert not (tmp_path / "out").exists()
    assert main(["separate", str(mix_file), "-o", str(tmp_path / "out"), "--repo", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ModelError):
        separate(mix_file, tmp_path / "out", model="htdemucs")
