"""DAW files: SMF (read back with mido and pretty_midi), REAPER .RPP, JAMS, Audacity labels, and
``technob export``."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest

from bridge.export import TrackData, export, labels_text, parse_labels, read_analysis_json
from bridge.midi import BEAT_NOTE, DOWNBEAT_NOTE, PPQ, build_tempo_map, meter_changes
from bridge.rpp import parse_rpp, rpp_text, tokenize
from technob_fx.cli import main
from technob_fx.core.errors import TechnobError
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
    path = export(data, "midi", tmp_path)["midi"][0]
    mid = mido.MidiFile(path)
    assert mid.type == 1 and mid.ticks_per_beat == PPQ
    assert [t.name for t in mid.tracks] == ["conductor", "beats", "pitch"]
    seconds = _tick_times(mid)
    tick_s = 60.0 / 130.0 / PPQ
    # markers: one per section, at its start
    markers = [(seconds(t), m.text) for t, m in _abs_events(mid.tracks[0]) if m.type == "marker"]
    assert [m[1] for m in markers] == [s.label for s in data.segments]
    assert np.allclose([m[0] for m in markers], [s.start for s in data.segments], atol=tick_s)
    # one drum note per beat; downbeats get the kick
    ons = [(t, m) for t, m in _abs_events(mid.tracks[1]) if m.type == "note_on"]
    assert len(ons) == data.grid.beats.size
    assert np.allclose([seconds(t) for t, _ in ons], data.grid.beats, atol=tick_s)
    kicks = [seconds(t) for t, m in ons if m.note == DOWNBEAT_NOTE]
    assert np.allclose(kicks, data.grid.downbeats, atol=tick_s)
    assert {m.note for _, m in ons} == {DOWNBEAT_NOTE, BEAT_NOTE}
    assert all(m.channel == 9 for _, m in ons)
    # tempo map: constant track -> one tempo; drifting -> many
    n_tempi = sum(1 for m in mid.tracks[0] if m.type == "set_tempo")
    if fixture == "steady":
        assert n_tempi == 1
    else:
        assert n_tempi > 50
    # an independent reader
    pm = pretty_midi.PrettyMIDI(str(path))
    beats = pm.get_beats()
    lead = int(np.argmin(np.abs(beats - data.grid.beats[0])))
    assert np.allclose(beats[lead:lead + data.grid.beats.size], data.grid.beats, atol=tick_s)
    assert np.allclose(pm.get_downbeats()[-len(data.grid.downbeats):], data.grid.downbeats, atol=tick_s)
    times, tempi = pm.get_tempo_changes()
    assert len(times) == n_tempi
    pitch = next(i for i in pm.instruments if not i.is_drum)
    assert [n.pitch for n in pitch.notes] == [n.pitch for n in data.notes]
    assert np.allclose([n.start for n in pitch.notes], [n.onset for n in data.notes], atol=tick_s)
    assert np.allclose([n.end for n in pitch.notes], [n.offset for n in data.notes], atol=tick_s)
    assert pm.key_signature_changes[0].key_number == pretty_midi.key_name_to_key_number("A minor")


def test_tempo_map_error_stays_below_a_tick(drifting):
    tm, lead = build_tempo_map(drifting.grid.beats, drifting.grid.tempo)
    got = [tm.tick_to_seconds((lead + k) * PPQ) for k in range(drifting.grid.beats.size)]
    assert np.abs(np.array(got) - drifting.grid.beats).max() < TICK_128 / 2


def test_meter_changes_put_downbeats_on_bar_lines():
    assert meter_changes(0, 1, 4) == [(0, 4)]
    assert meter_changes(1, 1, 4) == [(0, 1), (1, 4)]
    assert meter_changes(2, 3, 4) == [(0, 4)]  # beats 3 and 4 of a bar, lead of 2
    assert meter_changes(1, 3, 4) == [(0, 3), (3, 4)]


def test_rpp_has_tempo_map_markers_regions_and_stem_tracks(drifting, tmp_path):
    stems = tmp_path / "stems"
    stems.mkdir()
    from technob_fx.core.io import write_audio

    for name in ("drums", "bass"):
        write_audio(stems / f"{name}.wav", np.zeros((2, 4410), np.float32), 44100)
    data = TrackData(**{**drifting.__dict__, "stems": {"drums": stems / "drums.wav", "bass": stems / "bass.wav"}})
    path = export(data, "reaper", tmp_path)["reaper"][0]
    assert path.suffix == ".RPP"
    root = parse_rpp(path.read_text())
    env = root.find("TEMPOENVEX")
    pts = env.values("PT")
    assert len(pts) > 50
    # the point at the first beat has the first beat's tempo; meters are encoded (4 << 16) | num
    times = [float(p[0]) for p in pts]
    assert any(abs(t - drifting.grid.beats[0]) < 1e-6 for t in times)
    meters = [int(p[3]) for p in pts if len(p) > 3]
    assert (4 << 16) | 4 in meters
    markers = root.values("MARKER")
    plain = [m for m in markers if m[3] == "0"]
    assert [m[2] for m in plain] == [s.label for s in drifting.segments]
    regions = [m for m in markers if m[3] == "1"]
    assert len(regions) == 2 * len(drifting.segments)
    for seg, (start, end) in zip(drifting.segments, zip(regions[::2], regions[1::2], strict=True), strict=True):
        assert start[0] == end[0] and start[2] == seg.label and end[2] == ""
        assert float(start[1]) == pytest.approx(seg.start) and float(end[1]) == pytest.approx(seg.end)
    tracks = root.find_all("TRACK")
    assert [t.values("NAME")[0][0] for t in tracks] == ["drums", "bass"]
    src = tracks[0].find("ITEM").find("SOURCE")
    assert src.params == ["WAVE"] and src.values("FILE")[0][0] == "stems/drums.wav"
    assert float(tracks[0].find("ITEM").values("LENGTH")[0][0]) == pytest.approx(0.1)


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
    assert jam.search(namespace="tempo")[0].data[0].value == pytest.approx(128.0)


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
    assert main(["export", str(src), "--to", "reaper", "-o", str(out), "--quiet",
                 "--stem", "drums=x/drums.wav"]) == 0
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
                                              "track_beats.txt")]
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
