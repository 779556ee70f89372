"""DAW files: SMF (read back with mido and pretty_midi), REAPER .RPP, JAMS, Audacity labels, and
``technob export``."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest
import soundfile as sf

from bridge.export import TrackData, export, labels_text, parse_labels, read_analysis_json
from bridge.midi import BEAT_NOTE, DOWNBEAT_NOTE, PPQ
from bridge.rpp import parse_rpp, rpp_text, tokenize
from technob_fx.cli import main
from technob_fx.core.errors import TechnobError
from technob_fx.core.tempo import TOLERANCE_S
from technob_fx.synth import SHORT_STRUCTURE, synth_techno

TICK_128 = 60.0 / 128.0 / PPQ  # seconds per tick at 128 BPM


@pytest.fixture(scope="module")
def drifting():
    """A track whose tempo drifts 124 -> 130 BPM and whose first beat is 0.3 s in."""
    _, truth = synth_techno(SHORT_STRUCTURE, bpm=124.0, bpm_end=130.0, offset=0.3, seed=4)
    return TrackData.from_truth(truth, name="drift")


@pytest.fixture(scope="module")
def steady(short_track):
    _, truth, _ = short_track
    return TrackData.from_truth(truth, name="steady")


def _abs_events(track):
    t = 0
    for msg in track:
        t += msg.time
        yield t, msg


def _tick_times(mid: mido.MidiFile):
    """Seconds of every tick event in the conductor, via mido's own tempo handling."""
    tempos = [(t, m.tempo) for t, m in _abs_events(mid.tracks[0]) if m.type == "set_tempo"]

    def seconds(tick):
        s, last_t, last_us = 0.0, 0, 500000
        for t, us in tempos:
            if t > tick:
                break
            s += mido.tick2second(t - last_t, mid.ticks_per_beat, last_us)
            last_t, last_us = t, us
        return s + mido.tick2second(tick - last_t, mid.ticks_per_beat, last_us)

    return seconds


@pytest.mark.parametrize("fixture", ["steady", "drifting"])
def test_smf_reads_back_with_mido_and_pretty_midi(fixture, request, tmp_path):
    import pretty_midi

    data: TrackData = request.getfixturevalue(fixture)
    tm = data.tempo_map()
    path = export(data, "midi", tmp_path)["midi"][0]
    mid = mido.MidiFile(path)
    assert mid.type == 1 and mid.ticks_per_beat == PPQ
    assert [t.name for t in mid.tracks] == ["conductor", "beats", "pitch"]
    seconds = _tick_times(mid)
    # MIDI time 0 is the project start; the audio sits at tm.audio_offset
    tol = TOLERANCE_S + tm.smf_drift() + 60.0 / 130.0 / PPQ
    project = data.grid.beats + tm.audio_offset
    markers = [(seconds(t), m.text) for t, m in _abs_events(mid.tracks[0]) if m.type == "marker"]
    assert [m[1] for m in markers] == [s.label for s in data.segments]
    assert np.allclose([m[0] for m in markers], [s.start + tm.audio_offset for s in data.segments], atol=tol)
    # one drum note per beat, exactly on a quarter note; downbeats get the kick, on bar lines
    ons = [(t, m) for t, m in _abs_events(mid.tracks[1]) if m.type == "note_on"]
    assert len(ons) == data.grid.beats.size
    assert all(t % PPQ == 0 for t, _ in ons)
    assert np.allclose([seconds(t) for t, _ in ons], project, atol=tol)
    kicks = [seconds(t) for t, m in ons if m.note == DOWNBEAT_NOTE]
    assert np.allclose(kicks, data.grid.downbeats + tm.audio_offset, atol=tol)
    assert {m.note for _, m in ons} == {DOWNBEAT_NOTE, BEAT_NOTE}
    assert all(m.channel == 9 for _, m in ons)
    # tempo map: constant track -> exactly one tempo; drifting -> a few steps, not one per beat
    n_tempi = sum(1 for m in mid.tracks[0] if m.type == "set_tempo")
    assert n_tempi == len(tm.points)
    if fixture == "steady":
        assert n_tempi == 1
    else:
        assert 2 <= n_tempi <= 20
    # an independent reader: its beats and downbeats are ours
    pm = pretty_midi.PrettyMIDI(str(path))
    beats = pm.get_beats()
    first = int(round(tm.beat_positions[0]))
    assert np.allclose(beats[first:first + data.grid.beats.size], project, atol=tol)
    assert np.allclose(pm.get_downbeats()[-len(data.grid.downbeats):], data.grid.downbeats + tm.audio_offset,
                       atol=tol)
    times, tempi = pm.get_tempo_changes()
    assert len(times) == n_tempi
    pitch = next(i for i in pm.instruments if not i.is_drum)
    assert [n.pitch for n in pitch.notes] == [n.pitch for n in data.notes]
    assert np.allclose([n.start for n in pitch.notes], [n.onset + tm.audio_offset for n in data.notes], atol=tol)
    assert np.allclose([n.end for n in pitch.notes], [n.offset + tm.audio_offset for n in data.notes], atol=tol)
    assert pm.key_signature_changes[0].key_number == pretty_midi.key_name_to_key_number("A minor")


def test_drifting_track_has_no_fake_bar_and_a_real_pickup(drifting):
    # the drifting fixture's first beat (a downbeat) is 0.3 s in: more than half a beat, so a
    # one-beat pickup bar at the track's tempo comes first, then bar 2 on the first downbeat
    tm = drifting.tempo_map()
    assert tm.pickup == "bar" and tm.first_downbeat == 1.0
    assert [(m.numerator, m.bar) for m in tm.meters] == [(1, 1), (4, 2)]
    assert tm.points[0].bpm == pytest.approx(124.0, abs=0.5)
    assert all(120 < p.bpm < 135 for p in tm.points)
    assert tm.max_error <= TOLERANCE_S + 1e-9
    assert tm.item_position == pytest.approx(60 / tm.points[0].bpm - 0.3, abs=2e-3)


def _rpp_tree(path):
    """The project parsed by the third-party ``rpp`` package (and by ours)."""
    import rpp

    text = path.read_text()
    return rpp.loads(text), parse_rpp(text)


def test_rpp_has_tempo_map_markers_regions_and_stem_tracks(drifting, tmp_path):
    stems = tmp_path / "stems"
    stems.mkdir()
    from technob_fx.core.io import write_audio

    for name in ("drums", "bass"):
        write_audio(stems / f"{name}.wav", np.zeros((2, 4410), np.float32), 44100)
    data = TrackData(**{**drifting.__dict__, "stems": {"drums": stems / "drums.wav", "bass": stems / "bass.wav"}})
    path = export(data, "reaper", tmp_path)["reaper"][0]
    assert path.suffix == ".RPP"
    tree, root = _rpp_tree(path)
    tm = data.tempo_map(ramps="time")
    env = tree.find("TEMPOENVEX")
    pts = [list(map(str, c)) for c in env.children if isinstance(c, list) and c[0] == "PT"]
    assert len(pts) == len({p.beat for p in tm.points} | {m.beat for m in tm.meters})
    assert 2 <= len(pts) <= 12
    assert all(20 < float(p[2]) < 960 for p in pts)  # REAPER's tempo range; no absurd lead-in
    assert any(p[3] == "0" for p in pts)  # linear ramps where the tempo glides
    assert [int(p[4]) & 0xFFFF for p in pts if len(p) > 4] == [1, 4]
    assert {int(p[4]) >> 16 for p in pts if len(p) > 4} == {4}
    tempo = tree.find("TEMPO")
    assert float(tempo[1]) == pytest.approx(tm.points[0].bpm) and tempo[2:] == ["1", "4"]
    markers = [list(map(str, m)) for m in tree.findall("MARKER")]
    # markers and regions: two sequences numbered 1..n in timeline order, like REAPER numbers them
    plain = [m for m in markers if m[4] == "0"]
    assert [m[3] for m in plain] == [s.label for s in drifting.segments]
    assert [int(m[1]) for m in plain] == list(range(1, len(drifting.segments) + 1))
    regions = [m for m in markers if m[4] == "1"]
    assert len(regions) == 2 * len(drifting.segments)
    for n, (seg, (start, end)) in enumerate(zip(drifting.segments, zip(regions[::2], regions[1::2], strict=True),
                                                strict=True), start=1):
        assert start[1] == end[1] == str(n) and start[3] == seg.label and end[3] == ""
        assert float(start[2]) == pytest.approx(seg.start + tm.audio_offset)
        assert float(end[2]) == pytest.approx(seg.end + tm.audio_offset)
    tracks = root.find_all("TRACK")
    assert [t.values("NAME")[0][0] for t in tracks] == ["drums", "bass"]
    item = tree.find("TRACK").find("ITEM")
    assert float(item.find("POSITION")[1]) == pytest.approx(tm.item_position)
    assert float(item.find("LENGTH")[1]) == pytest.approx(0.1)
    src = item.find("SOURCE")
    assert src.attrib == ["WAVE"] and src.find("FILE")[1] == "stems/drums.wav"


def test_every_rpp_media_file_resolves_against_the_project_folder(steady, short_track_file, tmp_path, monkeypatch):
    """FILE lines name media relative to the .RPP's folder when below it, else absolutely; read
    from an analysis.json in another folder, or given relative to the working folder."""
    import rpp

    from technob_fx.core.io import write_audio

    work = tmp_path / "work"
    (work / "an" / "x").mkdir(parents=True)
    stem = write_audio(work / "daw" / "stems" / "drums.wav" if (work / "daw" / "stems").mkdir(parents=True) is None
                       else None, np.zeros((2, 441), np.float32), 44100)
    other = write_audio(tmp_path / "elsewhere.wav", np.zeros((2, 441), np.float32), 44100)
    doc = {**steady.to_dict(), "source": str(short_track_file), "stems": {"drums": "../../daw/stems/drums.wav",
                                                                        "pad": str(other)}}
    src = work / "an" / "x" / "song.json"
    src.write_text(json.dumps(doc))
    monkeypatch.chdir(work)
    assert main(["export", "an/x/song.json", "--to", "reaper", "-o", "daw", "--quiet", "--name", "song",
                 "--stem", "kick=daw/stems/drums.wav"]) == 0
    project = work / "daw" / "song.RPP"
    files = [f[1] for f in rpp.loads(project.read_text()).findall(".//FILE")]
    assert len(files) == 4
    assert files[1] == "stems/drums.wav" and files[3] == "stems/drums.wav"
    assert files[0] == str(short_track_file.resolve()) and files[2] == str(other.resolve())
    for f in files:
        assert (project.parent / f).resolve().is_file()  # REAPER's lookup: relative to the .RPP
    assert stem.is_file()


def test_rpp_tokenizer_and_quotes(steady):
    assert tokenize('NAME "a b" \'c"d\' x') == ["NAME", "a b", 'c"d', "x"]
    import copy

    data = copy.deepcopy(steady)
    data.segmentation.segments[0].label = 'say "hi"'
    text = rpp_text(data)
    assert parse_rpp(text).values("MARKER")[0][2] == 'say "hi"'
    with pytest.raises(TechnobError):
        parse_rpp("<REAPER_PROJECT\n  <TRACK\n>")


def test_jams_validates_and_has_every_namespace(steady, tmp_path):
    import jams

    path = export(steady, "jams", tmp_path)["jams"][0]
    jam = jams.load(str(path), validate=True)
    spaces = {a.namespace for a in jam.annotations}
    assert spaces == {"beat", "segment_open", "tempo", "key_mode", "note_midi"}
    beats = jam.search(namespace="beat")[0]
    assert np.allclose([o.time for o in beats.data], steady.grid.beats)
    assert jam.search(namespace="key_mode")[0].data[0].value == "A:minor"
    tempo = jam.search(namespace="tempo")[0].data
    assert len(tempo) == 1 and tempo[0].value == pytest.approx(128.0)


def test_labels_round_trip(steady, tmp_path):
    files = export(steady, "labels", tmp_path)["labels"]
    sections = parse_labels(files[0].read_text())
    assert [s[2] for s in sections] == [s.label for s in steady.segments]
    assert np.allclose([s[0] for s in sections], [s.start for s in steady.segments], atol=1e-6)
    beats = parse_labels(files[1].read_text())
    assert len(beats) == steady.grid.beats.size and beats[0][2] == "1"
    assert labels_text([]) == ""


def test_analysis_json_round_trip_and_cli(steady, tmp_path):
    src = tmp_path / "song.analysis.json"
    src.write_text(json.dumps(steady.to_dict()))
    before = src.read_bytes()
    back = read_analysis_json(src)
    assert np.allclose(back.grid.beats, steady.grid.beats)
    assert [s.label for s in back.segments] == [s.label for s in steady.segments]
    assert back.key.label == "A minor" and len(back.notes) == len(steady.notes)
    out = tmp_path / "out"
    assert main(["export", str(src), "--to", "midi,labels", "--to", "jams", "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "song.jams", "song.mid", "song_beats.txt", "song_sections.txt"]
    assert src.read_bytes() == before
    drums = tmp_path / "x" / "drums.wav"  # a stem given on the command line must exist
    drums.parent.mkdir()
    sf.write(drums, np.zeros((441, 2), np.float32), 44100)
    assert main(["export", str(src), "--to", "reaper", "-o", str(out), "--quiet",
                 "--stem", f"drums={drums}"]) == 0
    assert parse_rpp((out / "song.RPP").read_text()).find("TRACK").values("NAME")[0][0] == "drums"


def test_cli_export_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["export", str(bad), "-o", str(tmp_path / "o")]) == 1
    assert main(["export", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o")]) == 1
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"duration": 10, "tempo": 120}))
    assert main(["export", str(ok), "--to", "vst", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("technob: error:") for line in err)
    assert "unknown export target 'vst'" in err[2]


def test_minimal_json_gets_a_constant_grid(tmp_path):
    p = tmp_path / "min.json"
    p.write_text(json.dumps({"duration": 10.0, "tempo": 120.0, "segments": [{"start": 0, "end": 10, "label": "x"}]}))
    data = read_analysis_json(p)
    assert data.grid.beats.size == 21 and data.grid.tempo == 120.0
    mid = mido.MidiFile(export(data, "midi", tmp_path)["midi"][0])
    assert sum(1 for m in mid.tracks[1] if m.type == "note_on") == 21


def test_demo_step_exports_every_format(short_track, tmp_path):
    from types import SimpleNamespace

    from technob_fx.core.io import write_audio
    from technob_fx.demo.bridge import demo_step

    audio, truth, _ = short_track
    track = write_audio(tmp_path / "track.wav", audio, truth.sample_rate)
    (tmp_path / "hpss").mkdir()
    write_audio(tmp_path / "hpss" / "percussive.wav", audio[:, :4410], truth.sample_rate)
    lines: list[str] = []
    ctx = SimpleNamespace(out_dir=tmp_path, truth=truth, track_path=track, summary={}, log=lines.append)
    demo_step(ctx)
    s = ctx.summary["daw_exports"]
    assert s["files"] == [f"daw/{n}" for n in ("track.RPP", "track.mid", "track.jams", "track_sections.txt",
                                              "track_beats.txt", "track.dawproject")]
    assert s["stems_in_rpp"] == ["percussive"]
    names = [t.values("NAME")[0][0] for t in parse_rpp((tmp_path / "daw" / "track.RPP").read_text()).find_all("TRACK")]
    assert names == ["mix", "percussive"]
    assert lines and "track.mid" in lines[0]


def test_cli_export_of_an_audio_file_runs_the_analysis(short_track_file, tmp_path):
    pytest.importorskip("technob_fx.stages.analysis")
    out = tmp_path / "o"
    assert main(["export", str(short_track_file), "--to", "midi,reaper", "-o", str(out), "--quiet"]) == 0
    mid = mido.MidiFile(out / "short_track.mid")
    tempi = [mido.tempo2bpm(m.tempo) for m in mid.tracks[0] if m.type == "set_tempo"]
    assert np.median(tempi[1:] or tempi) == pytest.approx(128.0, rel=0.01)
    assert sum(1 for m in mid.tracks[0] if m.type == "marker") >= 2
    tracks = parse_rpp((out / "short_track.RPP").read_text()).find_all("TRACK")
    assert tracks[0].values("NAME")[0][0] == "mix"


def test_separate_then_export_puts_every_stem_on_a_track(short_track, tmp_path):
    """`technob separate` leaves stems.json; `technob export` finds the stems without --stem."""
    import rpp

    from technob_fx.core.io import write_audio

    audio, truth, _ = short_track
    track = write_audio(tmp_path / "loop.wav", audio[:, : int(6 * truth.sample_rate)], truth.sample_rate)
    assert main(["separate", str(track), "--engine", "hpss", "--quiet"]) == 0
    assert (tmp_path / "loop_stems" / "stems.json").is_file()
    data = TrackData.from_truth(truth, audio=track, name="loop")
    src = tmp_path / "loop.json"
    src.write_text(json.dumps({**data.to_dict(), "stems": {}}))
    out = tmp_path / "daw"
    assert main(["export", str(src), "--to", "reaper,dawproject", "-o", str(out), "--quiet"]) == 0
    project = rpp.loads((out / "loop.RPP").read_text())
    names = [t.find("NAME")[1] for t in project.findall("TRACK")]
    assert names == ["mix", "harmonic", "percussive"]
    files = [f[1] for f in project.findall(".//FILE")]
    assert all((out / f).resolve().is_file() for f in files)
    positions = {float(i.find("POSITION")[1]) for i in project.findall(".//ITEM")}
    assert len(positions) == 1  # stems aligned with the mix
    import zipfile

    assert sorted(zipfile.ZipFile(out / "loop.dawproject").namelist()) == [
        "audio/harmonic.wav", "audio/mix.wav", "audio/percussive.wav", "metadata.xml", "project.xml"]
    # --no-stems leaves them out
    assert main(["export", str(src), "--to", "reaper", "-o", str(tmp_path / "bare"), "--quiet", "--no-stems"]) == 0
    assert len(rpp.loads((tmp_path / "bare" / "loop.RPP").read_text()).findall("TRACK")) == 1


def test_grid_corrections_flow_into_every_export(steady, tmp_path):
    import rpp

    src = tmp_path / "song.json"
    src.write_text(json.dumps(steady.to_dict()))
    out = tmp_path / "o"
    second = float(steady.grid.beats[1])
    assert main(["export", str(src), "--to", "midi,reaper", "-o", str(out), "--quiet", "--bpm", "126",
                 "--downbeat", str(second), "--beats-per-bar", "3"]) == 0
    mid = mido.MidiFile(out / "song.mid")
    tempi = [mido.tempo2bpm(m.tempo) for m in mid.tracks[0] if m.type == "set_tempo"]
    sigs = [(m.numerator, m.denominator) for m in mid.tracks[0] if m.type == "time_signature"]
    assert tempi == [pytest.approx(126.0, abs=1e-3)] and sigs[-1] == (3, 4)
    pts = [p for p in rpp.loads((out / "song.RPP").read_text()).find("TEMPOENVEX").children if p[0] == "PT"]
    assert {round(float(p[2]), 6) for p in pts} == {126.0}
    assert int(pts[-1][4]) & 0xFFFF == 3


def test_chord_markers_join_reapers_numbering_and_are_not_sections_when_pulled(steady, tmp_path):
    import copy

    import rpp

    from bridge.reaper import pull_rpp

    data = copy.deepcopy(steady)
    bar = 4 * 60 / 128
    data.chords = [(0.0, bar, "A:min"), (bar, 2 * bar, "A:min"), (2 * bar, 3 * bar, "F:maj")]
    path = export(data, "reaper", tmp_path)["reaper"][0]
    markers = [list(map(str, m)) for m in rpp.loads(path.read_text()).findall("MARKER") if str(m[4]) == "0"]
    assert [int(m[1]) for m in markers] == list(range(1, len(markers) + 1))  # one sequence, timeline order
    assert [float(m[2]) for m in markers] == sorted(float(m[2]) for m in markers)
    assert [m[3] for m in markers].count("A:min") == 1 and "F:maj" in [m[3] for m in markers]
    back = pull_rpp(data, path)
    assert [s.label for s in back.segments] == [s.label for s in data.segments]
    mid = mido.MidiFile(export(data, "midi", tmp_path)["midi"][0])
    names = [t.name for t in mid.tracks]
    assert [m.text for m in mid.tracks[names.index("chord names")] if m.type == "text"] == ["A:min", "F:maj"]
