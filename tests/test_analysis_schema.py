"""The one analysis.json schema: one writer (Analysis.write / to_dict), one reader (read_analysis),
validation with one line per problem, /1 files still read, arrays optional."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bridge.track import TrackData, read_analysis_json
from technob_fx.cli import main
from technob_fx.core.errors import PathError
from technob_fx.stages.analysis import SCHEMA, Analysis, AnalysisFileError, analyze, read_analysis


@pytest.fixture(scope="module")
def written(tmp_path_factory, short_track):
    """``(analysis, folder)``: 12 s of the short track analysed and written (source set)."""
    audio, truth, _ = short_track
    res = analyze(audio[:, : int(12 * truth.sample_rate)], truth.sample_rate)
    folder = tmp_path_factory.mktemp("schema") / "song.analysis"
    res.source = str(folder.parent / "song.wav")
    res.write(folder)
    return res, folder


def _doc(folder):
    return json.loads((folder / "analysis.json").read_text())


def test_write_then_read_gives_the_same_analysis(written):
    res, folder = written
    doc = _doc(folder)
    assert doc["schema"] == SCHEMA == "technob-analysis/2"
    assert doc["source"] == "../song.wav"
    back = read_analysis(folder)  # a folder or the file itself
    assert read_analysis(folder / "analysis.json").duration == back.duration == pytest.approx(res.duration)
    assert back.source == str(folder / "../song.wav")
    assert np.allclose(back.grid.beats, res.grid.beats, atol=1e-6) and back.grid.beats.size > 10
    assert np.allclose(back.grid.downbeats, res.grid.downbeats, atol=1e-6)
    assert back.tempo == pytest.approx(res.tempo, abs=1e-6)
    assert [(s.label, round(s.start, 4)) for s in back.segments] == [(s.label, round(s.start, 4)) for s in res.segments]
    assert doc["sections"] == {"labeller": res.segments.labeller} and back.segments.labeller == res.segments.labeller
    assert back.key.label == res.key.label
    assert [(n.pitch, n.velocity) for n in back.pitch.notes] == [(n.pitch, n.velocity) for n in res.pitch.notes]
    assert np.array_equal(np.isnan(back.pitch.f0), np.isnan(res.pitch.f0))
    assert np.allclose(back.features.mfcc, res.features.mfcc.astype(np.float32))
    assert np.allclose(back.features.bar_pitch, res.features.bar_pitch, atol=1e-6, equal_nan=True)
    assert back.features.summary() == res.features.summary()
    assert set(back.timings) == set(res.timings)


def test_arrays_are_optional(written, tmp_path):
    _, folder = written
    only_json = tmp_path / "only"
    only_json.mkdir()
    shutil.copy(folder / "analysis.json", only_json / "analysis.json")
    back = read_analysis(only_json)
    assert back.features.times.size == 0 and back.pitch.f0.size == 0
    assert back.features.summary() == _doc(folder)["features"]  # kept from the document
    assert len(back.pitch.notes) == len(_doc(folder)["notes"])
    # written again: same document, minus the frame arrays it does not have
    back.write(tmp_path / "again")
    a, b = _doc(folder), _doc(tmp_path / "again")
    assert sorted(b["arrays"]) == ["pitch"]
    for key in ("duration", "tempo", "beats", "downbeats", "segments", "key", "notes", "features", "bars"):
        assert a[key] == b[key], key
    # derived again from the 6-decimal beats
    assert np.allclose(a["tempo_map"], b["tempo_map"], atol=1e-3)


def test_inline_document_round_trips_exactly(written):
    res, _ = written
    back = Analysis.from_json(res.to_json())
    assert np.array_equal(back.pitch.f0, res.pitch.f0, equal_nan=True)
    assert np.array_equal(back.features.momentary_lufs, res.features.momentary_lufs)
    assert back.features.summary_values is None and back.features.summary() == res.features.summary()


def test_schema_1_files_are_read(written, tmp_path):
    _, folder = written
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    doc = _doc(old)
    doc["schema"] = "technob-analysis/1"
    del doc["stems"]
    (old / "analysis.json").write_text(json.dumps(doc))
    assert read_analysis(old).grid.beats.size == len(doc["beats"])


def test_bridge_reads_through_the_one_reader(written):
    res, folder = written
    data = read_analysis_json(folder)
    assert data.name == "song" and data.audio == folder / "../song.wav"
    assert np.allclose(data.grid.beats, res.grid.beats, atol=1e-6)
    doc = TrackData.from_analysis(res).to_dict()  # the bridge writes the same document
    assert doc["schema"] == SCHEMA and doc["features"] is None and doc["notes"] == _doc(folder)["notes"]


def _mutate(doc, change):
    doc = json.loads(json.dumps(doc))
    change(doc)
    return doc


def _set(key, value):
    def change(doc):
        doc[key] = value
    return change


CASES = [
    (_set("tempo", "fast"), ["tempo: expected a number, got 'fast'"]),
    (lambda d: d.pop("duration"), ["duration: missing (a number is required)"]),
    (_set("duration", -1), ["duration: must be > 0, got -1"]),
    (lambda d: d["beats"].__setitem__(3, d["beats"][1]), ["beats[3]: ", "is not after beats[2]"]),
    (lambda d: d["downbeats"].__setitem__(1, d["downbeats"][1] + 0.01), ["downbeats[1]: ", "is not one of the beats"]),
    (lambda d: d["segments"][0].__setitem__("end", "soon"), ["segments[0].end: expected a number, got 'soon'"]),
    (lambda d: d["segments"][0].pop("start"), ["segments[0].start: missing"]),
    (_set("key", 5), ["key: expected 'A minor' or {tonic, mode, confidence}, got 5"]),
    (lambda d: d["notes"].append({"onset": 1.0, "offset": 0.5, "pitch": 60}), ["offset: 0.5 is before onset 1"]),
    (lambda d: d["notes"].append({"onset": 1.0, "offset": 1.5, "pitch": 200}), ["pitch: must be <= 127, got 200"]),
    (_set("beats_per_bar", 3.5), ["beats_per_bar: expected a whole number, got 3.5"]),
    (_set("schema", "technob-analysis/9"), ["schema: 'technob-analysis/9' is a newer version"]),
    (_set("schema", "jams"), ["schema: 'jams' is not an analysis document"]),
    (lambda d: d["bars"].__setitem__("lufs", [1.0]), ["bars.lufs: has 1 values for"]),
    (_set("stems", ["drums.wav"]), ["stems: expected an object, got a list of 1"]),
]


@pytest.mark.parametrize(("change", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_bad_fields_are_named_one_line_each(written, tmp_path, change, expected):
    _, folder = written
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps(_mutate(_doc(folder), change)))
    with pytest.raises(AnalysisFileError) as info:
        read_analysis(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 1 == len(info.value.problems)
    assert lines[0].startswith(f"{path}: ")
    for part in expected:
        assert part in lines[0]


def test_every_problem_gets_its_line_and_the_cli_prints_each(written, tmp_path, capsys):
    _, folder = written
    doc = _mutate(_doc(folder), lambda d: d.update(tempo="fast", sample_rate=None, channels=-2,
                                                    key={"mode": "minor"}))
    doc["segments"][1]["label"] = 7
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(AnalysisFileError) as info:
        read_analysis(path)
    assert [p.split(": ")[1] for p in info.value.problems] == ["tempo", "channels"]  # tempo stops the rest
    doc["tempo"] = 128.0
    path.write_text(json.dumps(doc))
    with pytest.raises(AnalysisFileError) as info:
        read_analysis(path)
    assert [p.split(": ")[1] for p in info.value.problems] == ["channels", "segments[1].label", "key.tonic"]
    assert main(["export", str(path), "--to", "midi", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"technob: error: {p}" for p in info.value.problems]


def test_unreadable_files(written, tmp_path):
    _, folder = written
    with pytest.raises(PathError, match="no such file"):
        read_analysis(tmp_path)  # a folder without analysis.json
    bad = tmp_path / "analysis.json"
    bad.write_text("{not json")
    with pytest.raises(AnalysisFileError, match="not valid JSON"):
        read_analysis(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(AnalysisFileError, match="expected a JSON object, got a list of 2"):
        read_analysis(bad)
    corrupt = tmp_path / "c"
    shutil.copytree(folder, corrupt)
    (corrupt / "frames.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(AnalysisFileError, match=r"arrays\.frames: cannot read frames\.npz"):
        read_analysis(corrupt)
    np.savez(corrupt / "frames.npz", times=np.zeros(3))
    with pytest.raises(AnalysisFileError, match=r"arrays\.frames \(frames\.npz\): has no onset_strength"):
        read_analysis(corrupt)


def test_hand_written_minimal_file(tmp_path):
    p = tmp_path / "min.json"
    p.write_text(json.dumps({"duration": 10.0, "tempo": 120.0, "key": "F# minor", "audio": "mix.wav"}))
    res = read_analysis(p)
    assert res.grid.beats.size == 21 and res.key.label == "F# minor" and res.features is None
    assert res.source == str(tmp_path / "mix.wav")
