"""The catalogue (schema, migration, queries), key notations and the DJ-software exports.

rekordbox XML is read back with pyrekordbox (a third-party reader); Traktor NML is parsed with
ElementTree and checked against the structure Traktor writes (see bridge/dj.py for the sources).
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bridge.dj import DJTrack, grid_runs, rekordbox_location, traktor_location, write_rekordbox, write_traktor
from bridge.keys import camelot, compatible, open_key, parse_key, rekordbox_tonality, traktor_key_value
from bridge.track import TrackData
from technob_fx.catalog.db import MIGRATIONS, SCHEMA_VERSION, Catalog
from technob_fx.cli import main
from technob_fx.core.errors import ParameterError, TechnobError
from technob_fx.core.results import BeatGrid, KeyEstimate, Segment, Segmentation

# -- key notations ------------------------------------------------------------------------------


def test_camelot_wheel_and_neighbours():
    # Mixed In Key's wheel: 8A = A minor, 8B = C major, 1A = A-flat minor, 12B = E major
    assert camelot("A", "minor") == "8A" and camelot("C", "major") == "8B"
    assert camelot("G#", "minor") == "1A" and camelot("Ab", "minor") == "1A"
    assert camelot("E", "major") == "12B" and camelot("F#", "minor") == "11A"
    codes = {camelot(t, m) for t in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
             for m in ("major", "minor")}
    assert len(codes) == 24
    assert compatible("8A") == ["8A", "7A", "9A", "8B"]
    assert compatible("12B") == ["12B", "11B", "1B", "12A"] and compatible("1A")[1] == "12A"
    assert parse_key("Am") == parse_key("a minor") == parse_key("8a") == "8A"
    assert parse_key("F#m") == parse_key("Gbm") == "11A" and parse_key("Bb major") == "6B"
    with pytest.raises(ParameterError):
        parse_key("H minor")
    with pytest.raises(ParameterError):
        compatible("13A")


def test_dj_software_key_spellings():
    # rekordbox classic names; Traktor: Open Key text and MUSICAL_KEY VALUE (pc + 12 * minor),
    # as in Traktor collections: VALUE 7 with KEY 2d (G major), VALUE 12 with KEY 10m (C minor)
    assert rekordbox_tonality("A", "minor") == "Am" and rekordbox_tonality("A#", "minor") == "Bbm"
    assert rekordbox_tonality("F#", "major") == "F#" and rekordbox_tonality("C#", "minor") == "Dbm"
    assert open_key("G", "major") == "2d" and traktor_key_value("G", "major") == 7
    assert open_key("C", "minor") == "10m" and traktor_key_value("C", "minor") == 12
    assert open_key("A", "minor") == "1m" and traktor_key_value("A", "minor") == 21


# -- catalogue schema ------------------------------------------------------------------------------


def _row(path: str, tempo: float, code: str, labels: list[str]) -> dict:
    secs = [{"start": 8.0 * i, "end": 8.0 * (i + 1), "label": lab, "energy_lufs": -12.0 - i}
            for i, lab in enumerate(labels)]
    return {"path": path, "size": 10, "mtime_ns": 1, "hash": "ab" * 20, "settings": "s1", "status": "ok",
            "analysis_dir": "analyses/ab/x", "duration": 8.0 * len(labels), "tempo": tempo, "camelot": code,
            "key_name": "A minor", "lufs": -9.0, "lra": 4.0, "meter": "4/4", "tempo_map": [[0.0, tempo]],
            "sections": secs, "labeller": "techno"}


def test_migration_from_v1_keeps_rows_and_fills_sections(tmp_path):
    folder = tmp_path / "cat"
    folder.mkdir()
    conn = sqlite3.connect(folder / "catalog.sqlite")
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    secs = json.dumps([{"start": 0.0, "end": 30.0, "label": "intro", "energy_lufs": -14.0},
                       {"start": 30.0, "end": 60.0, "label": "drop", "energy_lufs": -8.0}])
    conn.execute("INSERT INTO tracks (path, status, tempo, camelot, sections) VALUES (?, 'ok', 126.0, '8A', ?)",
                 ("/music/a.wav", secs))
    conn.commit()
    conn.close()
    with Catalog(folder) as cat:
        assert cat.migrated_from == 1
        assert cat.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        rows = cat.conn.execute('SELECT idx, start, "end", label, energy_lufs FROM sections ORDER BY idx').fetchall()
        assert [tuple(r) for r in rows] == [(0, 0.0, 30.0, "intro", -14.0), (1, 30.0, 60.0, "drop", -8.0)]
        assert [r["path"] for r in cat.query(label="drop")] == ["/music/a.wav"]
        assert cat.get("/music/a.wav")["sections"][1]["label"] == "drop"


def test_newer_or_foreign_database_is_refused(tmp_path):
    folder = tmp_path / "cat"
    folder.mkdir()
    conn = sqlite3.connect(folder / "catalog.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(TechnobError, match="newer than this technob-fx"):
        Catalog(folder)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "catalog.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(TechnobError, match="not a usable catalogue"):
        Catalog(tmp_path / "junk")
    with pytest.raises(TechnobError, match="no catalogue here"):
        Catalog(tmp_path / "nothing")


@pytest.fixture
def filled(tmp_path) -> Path:
    folder = tmp_path / "cat"
    with Catalog(folder, create=True) as cat:
        cat.put_track(_row("/m/a.wav", 126.0, "8A", ["intro", "drop", "outro"]))
        cat.put_track(_row("/m/b.wav", 124.5, "9A", ["A", "B", "A"]))
        cat.put_track(_row("/m/c.wav", 63.5, "8B", ["intro", "breakdown"]))
        cat.put_track(_row("/m/d.wav", 140.0, "8A", ["drop"]))
        cat.put_track(_row("/m/e.wav", 125.0, "3B", ["drop"]))
        cat.put_track({"path": "/m/bad.wav", "status": "failed", "error": "/m/bad.wav: cannot decode audio",
                       "settings": "s1"})
        cat.put_track(_row("/m/a.wav", 126.0, "8A", ["intro", "drop", "outro"]))  # replaced, not doubled
    return folder


def test_query_tempo_key_label_half_double(filled):
    with Catalog(filled) as cat:
        names = lambda rows: [Path(r["path"]).name for r in rows]  # noqa: E731
        assert names(cat.query(bpm=(124, 128))) == ["b.wav", "e.wav", "a.wav"]
        assert names(cat.query(bpm=(124, 128), camelot=compatible("8A"))) == ["b.wav", "a.wav"]
        assert names(cat.query(bpm=(124, 128), half_double=True, camelot=compatible("8A"))) == ["c.wav", "b.wav",
                                                                                                 "a.wav"]
        assert names(cat.query(label="drop")) == ["e.wav", "a.wav", "d.wav"]
        assert cat.conn.execute("SELECT COUNT(*) FROM sections").fetchone()[0] == 3 + 3 + 2 + 1 + 1
        st = cat.stats()
    assert (st["tracks"], st["failed"]) == (5, 1)
    assert st["keys"]["8A"] == 2 and st["labels"]["drop"] == 3


def test_catalog_cli_query_stats(filled, capsys):
    assert main(["catalog", "query", str(filled), "--bpm", "124-128", "--key", "Am", "--compatible",
                 "--label", "drop", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in rows] == ["/m/a.wav"] and rows[0]["camelot"] == "8A"
    assert main(["catalog", "query", str(filled), "--bpm", "90-100"]) == 0
    assert "no matching tracks" in capsys.readouterr().out
    assert main(["catalog", "query", str(filled), "--bpm", "124-128", "--half-double"]) == 0
    out = capsys.readouterr().out
    assert "c.wav" in out and out.strip().endswith("4 tracks")
    assert main(["catalog", "stats", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "5 tracks" in out and "1 failed" in out and "failed: /m/bad.wav: cannot decode audio" in out
    for bad in (["--bpm", "fast"], ["--key", "Q"], ["--compatible"]):
        assert main(["catalog", "query", str(filled), *bad]) == 1
        err = capsys.readouterr().err
        assert err.startswith("technob: error:") and len(err.strip().splitlines()) == 1


# -- beat grids and DJ exports ---------------------------------------------------------------------


def test_grid_runs_steady_drifting_and_tolerance():
    steady = BeatGrid.from_tempo(128.0, 60.0, first_beat=0.3, first_downbeat_index=1)
    runs = grid_runs(steady)
    assert len(runs) == 1
    start, bpm, battito = runs[0]
    assert start == pytest.approx(0.3 + 60 / 128) and bpm == 128.0 and battito == 1  # on the first downbeat
    # a tempo glide 120 -> 132 BPM over 256 beats: several runs, every beat within 10 ms of its run
    from technob_fx.synth.techno import beat_times

    b = beat_times(257, 120.0, 132.0)
    glide = BeatGrid(b, b[::4], 126.0)
    runs = grid_runs(glide)
    assert 2 <= len(runs) < 64 and all(r[2] == 1 for r in runs)
    starts = np.array([r[0] for r in runs] + [np.inf])
    for t in b[b >= runs[0][0]]:
        i = int(np.searchsorted(starts, t, side="right")) - 1
        s, bpm, _ = runs[i]
        k = round((t - s) * bpm / 60)
        assert abs(t - (s + k * 60 / bpm)) <= 0.010 + 1e-9


@pytest.fixture
def dj_tracks(tmp_path) -> list[DJTrack]:
    out = []
    for name, labels in (("Tech One (Mix) & Co é.wav", ["intro", "build", "drop", "breakdown", "drop", "outro"]),
                         ("rep.wav", ["A", "B", "A"])):
        audio = tmp_path / "music dir" / name
        audio.parent.mkdir(exist_ok=True)
        audio.write_bytes(b"RIFF" + bytes(1000))
        grid = BeatGrid.from_tempo(126.0, 90.0, first_beat=0.12)
        segs = Segmentation([Segment(15.0 * i, 15.0 * (i + 1), lab) for i, lab in enumerate(labels)])
        data = TrackData(duration=90.0, sample_rate=44100.0, grid=grid, segmentation=segs,
                         key=KeyEstimate("A", "minor", 0.8), audio=audio, name=audio.stem)
        out.append(DJTrack(data))
    return out


def test_rekordbox_xml_read_back_with_pyrekordbox(dj_tracks, tmp_path):
    from pyrekordbox.rbxml import RekordboxXml

    path = write_rekordbox(dj_tracks, tmp_path / "collection.xml")
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    xml = RekordboxXml(path)
    assert xml.num_tracks == 2
    techno, rep = xml.get_tracks()
    assert techno["AverageBpm"] == 126.0 and techno["Tonality"] == "Am" and techno["TotalTime"] == 90
    assert techno["Kind"] == "WAV File" and techno["Size"] == 1004
    # Location: file://localhost + the percent-encoded absolute path (pyrekordbox's decoder drops the
    # leading "/" of a POSIX path, it expects "C:/..."); raw attribute checked too
    raw = techno._element.get("Location")
    assert raw == rekordbox_location(dj_tracks[0].path) and raw.startswith("file://localhost/")
    assert "/" + techno["Location"].lstrip("/") == str(dj_tracks[0].path)
    (tempo,) = techno.tempos
    assert (tempo["Bpm"], tempo["Metro"], tempo["Battito"]) == (126.0, "4/4", 1)
    assert tempo["Inizio"] == pytest.approx(0.12, abs=1e-3)
    memory = [(m["Name"], m["Start"]) for m in techno.marks if m["Num"] == -1]
    hot = [(m["Name"], m["Start"], m["Num"]) for m in techno.marks if m["Num"] >= 0]
    assert memory == [(lab, 15.0 * i) for i, lab in enumerate(["intro", "build", "drop", "breakdown", "drop",
                                                                "outro"])]
    assert hot == [("drop", 30.0, 0), ("drop", 60.0, 1)]
    assert all(m["Type"] == "cue" for m in techno.marks)
    # repetition labels: memory cues only, no hot cue at an "A"
    assert [m["Num"] for m in rep.marks] == [-1, -1, -1]
    assert xml.get_playlist("technob-fx").get_tracks() == [1, 2]


def test_traktor_nml_structure(dj_tracks, tmp_path):
    path = write_traktor(dj_tracks, tmp_path / "collection.nml", volume="Macintosh HD")
    root = ET.parse(path).getroot()
    assert root.tag == "NML" and root.get("VERSION") == "19"
    assert root.find("HEAD").get("PROGRAM") == "Traktor"
    coll = root.find("COLLECTION")
    assert coll.get("ENTRIES") == "2"
    entry = coll.findall("ENTRY")[0]
    assert [c.tag for c in entry][:6] == ["LOCATION", "MODIFICATION_INFO", "INFO", "TEMPO", "MUSICAL_KEY", "CUE_V2"]
    loc = entry.find("LOCATION")
    vol, folder, name = traktor_location(dj_tracks[0].path, "Macintosh HD")
    assert (loc.get("VOLUME"), loc.get("DIR"), loc.get("FILE")) == (vol, folder, name)
    assert vol + loc.get("DIR").replace("/:", "/") + loc.get("FILE") == "Macintosh HD" + str(dj_tracks[0].path)
    assert entry.find("MUSICAL_KEY").get("VALUE") == "21" and entry.find("INFO").get("KEY") == "1m"
    assert float(entry.find("TEMPO").get("BPM")) == pytest.approx(126.0)
    cues = entry.findall("CUE_V2")
    grid = [c for c in cues if c.get("TYPE") == "4"]
    assert len(grid) == 1 and float(grid[0].get("START")) == pytest.approx(120.0)  # milliseconds
    assert float(grid[0].find("GRID").get("BPM")) == pytest.approx(126.0)
    marks = [(c.get("NAME"), float(c.get("START")) / 1000, int(c.get("HOTCUE"))) for c in cues if c.get("TYPE") == "0"]
    assert [m[1] for m in marks] == [15.0 * i for i in range(6)]
    assert [m[2] for m in marks] == [-1, -1, 0, -1, 1, -1]
    keys = [e.get("KEY") for e in root.iter("PRIMARYKEY")]
    assert keys == [e.find("LOCATION").get("VOLUME") + e.find("LOCATION").get("DIR") + e.find("LOCATION").get("FILE")
                    for e in coll.findall("ENTRY")]
    assert traktor_location(r"D:\Music\a b.mp3") == ("D:", "/:Music/:", "a b.mp3")
    assert traktor_location("/Volumes/USB/crate/x.wav")[:2] == ("USB", "/:crate/:")


def test_export_refuses_to_overwrite_an_input(dj_tracks):
    with pytest.raises(TechnobError, match="refusing to overwrite"):
        write_rekordbox(dj_tracks, dj_tracks[0].path)
    assert dj_tracks[0].path.read_bytes().startswith(b"RIFF")


def test_single_track_export_and_catalogue_export(short_track_file, tmp_path, capsys):
    """``technob export FILE --to rekordbox,traktor`` and ``technob catalog export`` of a one-track catalogue."""
    from pyrekordbox.rbxml import RekordboxXml

    from technob_fx.catalog.rows import row_from_analysis
    from technob_fx.stages.analysis import analyze_file

    assert main(["export", str(short_track_file), "--to", "rekordbox,traktor", "-o", str(tmp_path / "out"),
                 "--quiet"]) == 0
    xml = RekordboxXml(tmp_path / "out" / "short_track.xml")
    (t,) = xml.get_tracks()
    assert t["AverageBpm"] == pytest.approx(128.0, abs=0.5) and t.tempos and t.marks
    assert [m["Num"] for m in t.marks if m["Num"] >= 0] == [0, 1]  # the fixture's two drops
    assert (tmp_path / "out" / "short_track.nml").is_file()

    cat = tmp_path / "cat"
    rel = "analyses/x/short"
    analysis = analyze_file(short_track_file, cat / rel)
    st = short_track_file.stat()
    with Catalog(cat, create=True) as c:
        c.put_track(row_from_analysis(analysis, path=short_track_file, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                      hash_="00" * 20, skey="s", analysis_dir=rel))
    assert main(["catalog", "export", str(cat), "--to", "rekordbox", str(tmp_path / "lib.xml")]) == 0
    assert "1 tracks, rekordbox" in capsys.readouterr().out
    (t2,) = RekordboxXml(tmp_path / "lib.xml").get_tracks()
    assert [(m["Start"], m["Num"]) for m in t2.marks] == [(m["Start"], m["Num"]) for m in t.marks]
    assert main(["catalog", "export", str(cat), "--to", "traktor", str(tmp_path / "lib.nml"), "--label",
                 "nothing-like-this"]) == 1
    assert "no analysed tracks to export" in capsys.readouterr().err
