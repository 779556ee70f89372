"""Lo-Fi x Classical dataset: chunking, manifest, resume, corrupt files, split by recording."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from technob_fx.blend.dataset import (
    MANIFEST_COLUMNS,
    DatasetConfig,
    assign_splits,
    build_dataset,
    read_manifest,
)
from technob_fx.blend.genres import make_genre_folders, synth_classical
from technob_fx.core.io import read_audio, write_audio

SR = 22050
CFG = DatasetConfig(chunk_seconds=5.0, sample_rate=SR, n_mels=64)


@pytest.fixture(scope="module")
def genre_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("genres")
    dirs = make_genre_folders(root, files=3, seconds=12.0, sr=SR, seed=1)
    # one classical file at 44.1 kHz, 7 s: resampled on the fly, 2 chunks
    write_audio(dirs["classical"] / "hi_rate.flac", synth_classical(7.0, 44100, seed=9), 44100)
    return {g: [d] for g, d in dirs.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, genre_dirs):
    out = tmp_path_factory.mktemp("ds") / "ds"
    report = build_dataset(genre_dirs, out, config=CFG, jobs=2)
    return out, report


def _files(out):
    return {p: p.stat().st_mtime_ns for p in (out / "chunks").rglob("*") if p.is_file()}


def test_chunk_count_padding_and_mel_shape(built, genre_dirs):
    out, report = built
    rows = read_manifest(out)
    assert report.errors == {}
    assert report.chunks_written == len(rows) == 6 * 3 + 2
    n = CFG.chunk_samples
    src = [r for r in rows if r["source"] == "classical_00.wav"]
    assert [r["index"] for r in src] == [0, 1, 2]
    assert [r["real_samples"] for r in src] == [n, n, 12 * SR - 2 * n]
    last, sr = read_audio(out / src[-1]["wav"])
    assert sr == SR and last.shape == (2, n)
    assert np.all(last[:, src[-1]["real_samples"]:] == 0.0)
    # chunk 1 holds seconds 5..10 of the source (16-bit WAV)
    whole, _ = read_audio(genre_dirs["classical"][0] / "classical_00.wav")
    mid, _ = read_audio(out / src[1]["wav"])
    np.testing.assert_allclose(mid, whole[:, n:2 * n], atol=1e-4)
    mel = np.load(out / src[0]["mel"])
    assert mel.shape == (CFG.n_mels, 1 + n // CFG.hop_length) and mel.dtype == np.float32
    hi = [r for r in rows if r["source"] == "hi_rate.flac"]
    assert len(hi) == 2 and hi[0]["sample_rate"] == SR
    assert abs(sum(r["real_samples"] for r in hi) - 7 * SR) <= 2


def test_manifest_rows(built):
    out, _ = built
    header = (out / "manifest.csv").read_text().splitlines()[0].split(",")
    assert tuple(header) == MANIFEST_COLUMNS
    rows = read_manifest(out)
    assert {r["genre"] for r in rows} == {"lofi", "classical"}
    for r in rows:
        assert r["offset"] == pytest.approx(r["index"] * 5.0)
        assert (out / r["wav"]).exists() and (out / r["mel"]).exists()
        assert np.isfinite(r["loudness"]) and r["loudness"] < 0
        assert r["split"] in ("train", "val")
    lofi = [r for r in rows if r["genre"] == "lofi" and r["real_samples"] == CFG.chunk_samples]
    assert all(r["tempo"] > 0 for r in lofi)
    assert all(r["key"] for r in rows if r["real_samples"] >= SR)


def test_rows_say_what_technob_analyze_says(built):
    """Tempo, key and loudness of a chunk are those of ``technob analyze`` on the same audio (one
    beat tracker, one key estimator, one BS.1770 loudness; tempo 0 where no beat is found)."""
    from technob_fx.stages.analysis import analyze

    out, _ = built
    rows = [r for r in read_manifest(out) if r["real_samples"] >= SR]
    assert len({r["key"] for r in rows}) >= 3  # the synthetic recordings are in several keys
    for r in rows[::3]:
        audio, sr = read_audio(out / r["wav"])
        res = analyze(audio[:, : r["real_samples"]], sr)
        assert r["key"] == res.key.label, r["chunk_id"]
        assert r["tempo"] == pytest.approx(round(res.tempo, 2), abs=0.011), r["chunk_id"]
        assert r["loudness"] == pytest.approx(max(res.features.integrated_lufs, -70.0), abs=0.011), r["chunk_id"]


def test_dataset_json_names_its_format_and_old_formats_are_refused(built, tmp_path, genre_dirs):
    import json

    from technob_fx.blend.dataset import CONFIG, FORMAT
    from technob_fx.core.errors import PathError

    out, _ = built
    assert FORMAT == 2 and json.loads((out / CONFIG).read_text())["format"] == FORMAT
    old = tmp_path / "old"
    old.mkdir()
    (old / CONFIG).write_text(json.dumps({"config": json.loads((out / CONFIG).read_text())["config"]}))
    with pytest.raises(PathError, match="dataset format 1, this technob-fx writes format 2"):
        build_dataset(genre_dirs, old, config=CFG, jobs=1)


def test_split_by_recording(built):
    out, _ = built
    rows = read_manifest(out)
    train = {r["source_id"] for r in rows if r["split"] == "train"}
    val = {r["source_id"] for r in rows if r["split"] == "val"}
    assert train and val and not train & val
    for g in ("lofi", "classical"):
        assert {r["split"] for r in rows if r["genre"] == g} == {"train", "val"}
    ids = {"a": [f"s{i}" for i in range(20)]}
    assert assign_splits(ids, 0.2) == assign_splits(ids, 0.2)


def test_resume_does_no_work_and_redoes_only_missing(tmp_path, built, genre_dirs):
    src, _ = built
    out = tmp_path / "ds"
    shutil.copytree(src, out)
    before = _files(out)
    rep = build_dataset(genre_dirs, out, config=CFG, jobs=1)
    assert rep.chunks_written == 0 and rep.skipped_sources == rep.sources == 7
    assert rep.audio_seconds == 0.0
    assert _files(out) == before
    rows = read_manifest(out)
    victim = out / rows[4]["mel"]
    victim.unlink()
    rep = build_dataset(genre_dirs, out, config=CFG, jobs=1)
    assert rep.chunks_written == 1 and rep.skipped_sources == 6
    after = _files(out)
    changed = {p for p in after if before.get(p) != after[p]}
    stem = victim.with_suffix("")
    assert changed <= {victim, stem.with_suffix(".wav"), stem.with_suffix(".json"), victim.parent / "done.json"}
    assert victim.exists() and len(read_manifest(out)) == len(rows)


def test_interrupted_source_keeps_written_chunks(tmp_path, built, genre_dirs):
    src, _ = built
    out = tmp_path / "ds"
    shutil.copytree(src, out)
    rows = read_manifest(out)
    d = (out / rows[0]["wav"]).parent
    (d / "done.json").unlink()  # as if killed before the source finished
    (d / "c00002.json").unlink()  # ... and before the last chunk's row was written
    rep = build_dataset(genre_dirs, out, config=CFG, jobs=1)
    assert rep.chunks_written == 1 and (d / "done.json").exists()
    assert len(read_manifest(out)) == len(rows)


def test_corrupt_files_reported_and_skipped(tmp_path, genre_dirs):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.mp3").write_bytes(b"definitely not audio" * 50)
    (bad / "empty.wav").write_bytes(b"")
    shutil.copy(genre_dirs["lofi"][0] / "lofi_00.wav", bad / "ok.wav")
    out = tmp_path / "ds"
    rep = build_dataset({"lofi": [bad]}, out, config=CFG)
    assert set(rep.errors) == {str(bad / "garbage.mp3"), str(bad / "empty.wav")}
    assert rep.chunks_written == 3 and (out / "errors.json").exists()
    assert {r["source"] for r in read_manifest(out)} == {"ok.wav"}


def test_other_settings_refused(tmp_path, genre_dirs):
    from technob_fx.core.errors import PathError

    out = tmp_path / "ds"
    build_dataset({"lofi": [genre_dirs["lofi"][0] / "lofi_00.wav"]}, out, config=CFG)
    with pytest.raises(PathError, match="chunk=5"):
        build_dataset({"lofi": genre_dirs["lofi"]}, out, config=DatasetConfig(chunk_seconds=4.0))


def test_cli_build(tmp_path, genre_dirs, capsys):
    from technob_fx.cli import main

    out = tmp_path / "cli"
    rc = main(["dataset", "build", "--genre", "lofi", str(genre_dirs["lofi"][0]), "--genre", "classical",
               str(genre_dirs["classical"][0] / "classical_00.wav"), "-o", str(out), "--chunk", "6",
               "--n-mels", "32", "--jobs", "1", "--quiet"])
    assert rc == 0 and len(read_manifest(out)) == 3 * 2 + 2
    assert main(["dataset", "build", "--genre", "lofi", str(tmp_path / "nope"), "-o", str(out)]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_streams_never_loads_whole_file_and_cleans_stale_temp_files(tmp_path, genre_dirs, monkeypatch):
    import technob_fx.core.io
    from technob_fx.blend.dataset import Source, _source_dir, process_source

    path = genre_dirs["lofi"][0] / "lofi_01.wav"
    read_audio = technob_fx.core.io.read_audio

    def refuse(file, *args, **kwargs):
        # reading back a chunk it has just written is fine; a whole source file is not
        if Path(file).resolve() == path.resolve():
            raise AssertionError("the dataset builder must stream, not read whole files")
        return read_audio(file, *args, **kwargs)

    monkeypatch.setattr(technob_fx.core.io, "read_audio", refuse)
    st = path.stat()
    src = Source("lofi", path, st.st_size, st.st_mtime_ns)
    d = _source_dir(tmp_path, src)
    d.mkdir(parents=True)
    (d / ".c00001.abc.part.wav").write_bytes(b"half a chunk")  # as left by a killed run
    res = process_source(tmp_path, src, CFG, block_size=1000)
    assert res == {"written": 3, "chunks": 3, "seconds": 12.0, "error": None}
    assert not list(d.glob(".*part*"))
