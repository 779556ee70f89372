"""DAWproject export, validated against the official Project.xsd / MetaData.xsd (tests/data/dawproject)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bridge.export import TrackData, export
from technob_fx.cli import main
from technob_fx.core.io import write_audio
from technob_fx.core.results import BeatGrid, Segment, Segmentation
from technob_fx.core.tempo import TOLERANCE_S
from technob_fx.synth.techno import beat_times

SCHEMAS = Path(__file__).parent / "data" / "dawproject"


@pytest.fixture(scope="module")
def schemas():
    xmlschema = pytest.importorskip("xmlschema")
    return (xmlschema.XMLSchema(str(SCHEMAS / "Project.xsd")),
            xmlschema.XMLSchema(str(SCHEMAS / "MetaData.xsd")))


@pytest.fixture(scope="module")
def gliding(tmp_path_factory):
    """124 -> 130 BPM over 24 bars, first downbeat 0.3 s in; a mix and two stems (short files)."""
    folder = tmp_path_factory.mktemp("glide")
    beats = beat_times(97, 124.0, 130.0, 0.3)
    grid = BeatGrid(beats, beats[::4], 127.0, 4)
    audio = {}
    for name in ("mix", "drums", "bass"):
        audio[name] = write_audio(folder / f"{name}.wav", np.zeros((2, 22050), np.float32), 22050)
    segs = Segmentation([Segment(0.3, 15.6, "intro"), Segment(15.6, 30.0, "drop"),
                         Segment(30.0, float(beats[-1]), "outro")])
    return TrackData(duration=float(beats[-1]) + 0.5, sample_rate=22050.0, grid=grid, segmentation=segs,
                     audio=audio["mix"], stems={"drums": audio["drums"], "bass": audio["bass"]}, name="glide")


def _read(path):
    with zipfile.ZipFile(path) as z:
        return z.namelist(), z.read("project.xml"), z.read("metadata.xml")


def test_dawproject_validates_and_carries_the_tempo_map(gliding, schemas, tmp_path):
    path = export(gliding, "dawproject", tmp_path)["dawproject"][0]
    assert path.name == "glide.dawproject"
    names, project, meta = _read(path)
    assert names[:2] == ["project.xml", "metadata.xml"]
    assert sorted(names[2:]) == ["audio/bass.wav", "audio/drums.wav", "audio/mix.wav"]
    schemas[0].validate(project.decode())  # raises on any schema violation
    schemas[1].validate(meta.decode())
    root = ET.fromstring(project)
    tm = gliding.tempo_map(ramps="beats")
    pts = root.findall("./Arrangement/TempoAutomation/RealPoint")
    assert len(pts) == len(tm.points) and 2 <= len(pts) <= 4
    assert {p.get("interpolation") for p in pts} == {"linear", "hold"}
    assert root.find("./Arrangement/TempoAutomation/Target").get("parameter") == root.find("./Transport/Tempo").get("id")
    sigs = root.findall("./Arrangement/TimeSignatureAutomation/TimeSignaturePoint")
    assert [(s.get("numerator"), s.get("denominator")) for s in sigs] == [("1", "4"), ("4", "4")]
    # every analysed beat: the map (linear in beats between points) puts it within 1 ms
    assert tm.max_error <= TOLERANCE_S + 1e-9
    markers = root.findall("./Arrangement/Markers/Marker")
    assert [m.get("name") for m in markers] == ["intro", "drop", "outro"]
    assert float(markers[0].get("time")) == pytest.approx(tm.first_downbeat)
    # three audio tracks routed to the master, each clip placed so the first downbeat is on a bar line
    tracks = root.findall("./Structure/Track")
    assert [t.get("name") for t in tracks] == ["Master", "mix", "drums", "bass"]
    master = tracks[0].find("Channel").get("id")
    assert all(t.find("Channel").get("destination") == master for t in tracks[1:])
    for clip in root.findall("./Arrangement/Lanes/Lanes/Clips/Clip"):
        start = float(clip.get("time"))
        assert float(tm.beat_to_time(start)) == pytest.approx(tm.item_position, abs=1e-6)
        # the audio's first downbeat (0.3 s into the file) lands on bar 2
        assert float(tm.audio_to_beat(0.3)) == pytest.approx(tm.first_downbeat, abs=1e-3)
        assert clip.find("Audio/File").get("path").startswith("audio/")


def test_constant_and_stepped_tempo_points(schemas, tmp_path):
    beats = 60 / 128 * np.arange(64)
    const = TrackData(duration=30.0, sample_rate=44100.0, grid=BeatGrid(beats, beats[::4], 128.0))
    path = export(const, "dawproject", tmp_path / "c")["dawproject"][0]
    root = ET.fromstring(_read(path)[1])
    pts = root.findall("./Arrangement/TempoAutomation/RealPoint")
    assert [(p.get("time"), p.get("value"), p.get("interpolation")) for p in pts] == [("0", "128", "hold")]
    step = np.concatenate([beats, beats[-1] + 60 / 140 * np.arange(1, 33)])
    stepped = TrackData(duration=45.0, sample_rate=44100.0, grid=BeatGrid(step, step[::4], 130.0))
    path = export(stepped, "dawproject", tmp_path / "s")["dawproject"][0]
    _, project, _ = _read(path)
    schemas[0].validate(project.decode())
    pts = ET.fromstring(project).findall("./Arrangement/TempoAutomation/RealPoint")
    assert [(p.get("time"), p.get("value")) for p in pts] == [("0", "128"), ("63", "140")]


def test_missing_audio_is_referenced_and_cli_writes_dawproject(schemas, tmp_path, short_track):
    import json

    _, truth, _ = short_track
    data = TrackData.from_truth(truth, audio=tmp_path / "gone.wav", name="song")
    src = tmp_path / "song.json"
    src.write_text(json.dumps(data.to_dict()))
    out = tmp_path / "out"
    assert main(["export", str(src), "--to", "dawproject", "-o", str(out), "--quiet", "--name", "song"]) == 0
    names, project, _ = _read(out / "song.dawproject")
    assert names == ["project.xml", "metadata.xml"]
    schemas[0].validate(project.decode())
    f = ET.fromstring(project).find(".//Audio/File")
    assert f.get("external") == "true" and Path(f.get("path")) == (tmp_path / "gone.wav")
    notes = ET.fromstring(project).findall(".//Notes/Note")
    assert len(notes) == len(truth.notes)
