"""Both directions: a producer's tempo and marker fixes in REAPER or Live come back into the
track's analysis.json (the one reader/writer), and later exports and quantize use them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bridge.export import TrackData, export
from bridge.pull import pull_into_analysis
from technob_fx.cli import main
from technob_fx.core.io import write_audio
from technob_fx.stages.analysis import read_analysis


@pytest.fixture
def track(short_track, tmp_path):
    """An analysis.json of the short track (its true grid) in an analysis folder, with the audio."""
    audio, truth, _ = short_track
    wav = write_audio(tmp_path / "song.wav", audio, truth.sample_rate)
    data = TrackData.from_truth(truth, audio=wav, name="song")
    folder = tmp_path / "analysis"
    path = data.to_analysis().write(folder)
    return path, data, truth


def _edit_rpp(path, tempo: float, marker: int, to: float) -> None:
    """What a producer does in REAPER and saves: a new tempo, a marker dragged."""
    lines = path.read_text().splitlines()
    out = []
    in_env = False
    for ln in lines:
        s = ln.strip()
        if s.startswith("<TEMPOENVEX"):
            in_env = True
        elif in_env and s == ">":
            in_env = False
        if s.startswith("TEMPO "):
            parts = s.split()
            parts[1] = f"{tempo}"
            ln = "  " + " ".join(parts)
        elif in_env and s.startswith("PT "):
            parts = s.split()
            parts[2] = f"{tempo}"
            ln = "    " + " ".join(parts)
        elif s.startswith(f"MARKER {marker} ") and s.endswith(" 0"):
            parts = s.split()
            parts[2] = f"{to}"
            ln = "  " + " ".join(parts)
        out.append(ln)
    path.write_text("\n".join(out) + "\n")


def test_pull_from_a_saved_reaper_project_into_the_analysis(track, tmp_path):
    path, data, truth = track
    rpp = export(data, "reaper", tmp_path / "daw")["reaper"][0]
    _edit_rpp(rpp, 127.0, 3, 20.0)
    assert main(["bridge", "pull", str(path), "--from-rpp", str(rpp)]) == 0
    a = read_analysis(path)
    assert a.tempo == pytest.approx(127.0)
    assert np.allclose(np.diff(a.grid.beats), 60 / 127.0)
    assert a.grid.downbeats[0] == pytest.approx(0.0, abs=1e-6)  # bar 1 stays where the .RPP put it
    assert any(abs(s.start - 20.0) < 1e-6 for s in a.segments)
    assert a.source is not None and a.source.endswith("song.wav")  # the rest of the analysis is kept
    # every later export uses the corrected grid
    out = tmp_path / "again"
    assert main(["export", str(path), "--to", "midi", "-o", str(out), "--quiet"]) == 0
    import mido

    mid = mido.MidiFile(out / "song.mid")
    assert [round(mido.tempo2bpm(m.tempo), 3) for m in mid.tracks[0] if m.type == "set_tempo"] == [127.0]
    # and so does quantize with the analysis as its grid
    q = tmp_path / "q.wav"
    assert main(["quantize", str(data.audio), str(q), "--bpm", "128", "--grid-file", str(path),
                 "--time-map", str(tmp_path / "tm.json"), "--quiet"]) == 0
    src = np.asarray(json.loads((tmp_path / "tm.json").read_text())["source"])
    assert np.allclose(np.diff(src), 60 / 127.0)


def test_pull_over_osc_from_reaper_and_live(track, tmp_path):
    from bridge.ableton import AbletonClient
    from bridge.reaper import ReaperClient
    from tests.fake_live import FakeLive, free_udp_port
    from tests.test_bridge_daw import FakeReaper

    path, data, _ = track
    port = free_udp_port()
    fake = FakeReaper(("127.0.0.1", port))
    try:
        with ReaperClient("127.0.0.1", fake.port, feedback_port=port, timeout=10.0) as c:
            c.sync(data)
            fake.settle()
            fake.tempo = 126.0
            num = sorted(fake.markers)[1]
            fake.markers[num] = [12.0, "build!"]
            written, before, after = pull_into_analysis(path, c.pull)
    finally:
        fake.close()
    a = read_analysis(written)
    assert a.tempo == pytest.approx(126.0) and "build!" in [s.label for s in a.segments]
    live = FakeLive()
    try:
        with AbletonClient("127.0.0.1", live.port, reply_port=live.reply_port, script_port=live.script_port,
                           timeout=10.0) as c:
            c.sync(TrackData.from_analysis(read_analysis(path)))
            live.set_tempo(125.0)
            written, _, _ = pull_into_analysis(path, c.pull)
        assert live.unknown == []
    finally:
        live.close()
    assert read_analysis(written).tempo == pytest.approx(125.0)


def test_pull_needs_a_source(track, capsys):
    path, _, _ = track
    assert main(["bridge", "pull", str(path)]) == 1
    assert "choose --daw" in capsys.readouterr().err


def test_osc_server_pulls_into_the_analysis_and_sends_the_tempo_map(track, tmp_path):
    import socket

    from pythonosc.osc_packet import OscPacket

    from bridge.osc import NAMESPACE, OscServer
    from bridge.oscmsg import build
    from bridge.reaper import ReaperClient
    from tests.fake_live import free_udp_port
    from tests.test_bridge_daw import FakeReaper

    path, data, _ = track
    assert "/technob/daw/pull" in NAMESPACE and "/technob/get/tempo_map" in NAMESPACE
    port = free_udp_port()
    fake = FakeReaper(("127.0.0.1", port))
    client = ReaperClient("127.0.0.1", fake.port, feedback_port=port, timeout=10.0)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(10.0)

    def until(srv, address, *args, stop="/technob/done"):
        peer.sendto(build(address, list(args)), srv.address)
        got = []
        while not got or got[-1][0] not in (stop, "/technob/error"):
            m = OscPacket(peer.recvfrom(65535)[0]).messages[0].message
            got.append((m.address, tuple(m.params)))
        return got

    try:
        with OscServer("127.0.0.1", 0, allow=[tmp_path], daw=client, auto_sync=True) as srv:
            until(srv, "/technob/analyze", str(path))
            fake.settle()
            fake.tempo = 126.5
            got = until(srv, "/technob/daw/pull")
            assert got[-1] == ("/technob/done", ("daw/pull", str(path)))
            assert ("/technob/tempo", (pytest.approx(126.5),)) in got
            tm = until(srv, "/technob/get/tempo_map", "time", stop="/technob/tempo_map")[-1][1]
            assert tm[0] == 0 and len(tm) == 1 + 4 and tm[3] == pytest.approx(126.5)
    finally:
        peer.close()
        client.close()
        fake.close()
    assert read_analysis(path).tempo == pytest.approx(126.5)
