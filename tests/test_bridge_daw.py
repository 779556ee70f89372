"""Ableton Live (AbletonOSC) and REAPER message sequences, checked against fake peers: python-osc
servers that record what they receive and, for AbletonOSC, answer /live/... queries as it would."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import BlockingOSCUDPServer

from bridge.ableton import AbletonClient
from bridge.export import TrackData
from bridge.osc import OscServer
from bridge.oscmsg import build
from bridge.reaper import ReaperClient
from technob_fx.core.errors import TechnobError

WAIT = 10.0


class FakeAbletonOSC:
    """Enough of AbletonOSC: song time, cue points (toggled at the playhead), tracks, version."""

    def __init__(self, version=(12, 1), cues=None, song_time=8.0, num_tracks=2):
        self.version = version
        self.cues: list[list] = [list(c) for c in (cues or [])]  # [name, beats], sorted by time
        self.song_time = song_time
        self.tracks = [f"track {i}" for i in range(num_tracks)]
        self.tempo = 120.0
        self.clips: list[tuple] = []
        self.log: list[tuple] = []
        self.done = threading.Event()
        disp = Dispatcher()
        disp.set_default_handler(self._handle, needs_reply_address=True)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), disp)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server.server_address[1]

    def _reply(self, to, address, *args):
        self.server.socket.sendto(build(address, args), to)

    def _handle(self, client, address, *args):
        self.log.append((address, args))
        if address == "/live/application/get/version":
            self._reply(client, address, *self.version)
        elif address == "/live/song/set/tempo":
            self.tempo = args[0]
        elif address == "/live/song/get/current_song_time":
            self._reply(client, address, float(self.song_time))
        elif address == "/live/song/set/current_song_time":
            self.song_time = args[0]
        elif address == "/live/song/cue_point/add_or_delete":
            hit = [c for c in self.cues if abs(c[1] - self.song_time) < 1e-6]
            if hit:
                self.cues.remove(hit[0])
            else:
                self.cues.append(["", float(self.song_time)])
                self.cues.sort(key=lambda c: c[1])
        elif address == "/live/song/get/cue_points":
            flat = [v for name, t in self.cues for v in (name, float(t))]
            self._reply(client, address, *flat)
        elif address == "/live/song/cue_point/set/name":
            self.cues[args[0]][0] = args[1]
        elif address == "/live/song/get/num_tracks":
            self._reply(client, address, len(self.tracks))
        elif address == "/live/song/create_audio_track":
            self.tracks.append("")
        elif address == "/live/track/set/name":
            self.tracks[args[0]] = args[1]
        elif address == "/live/track/create_audio_clip":
            self.clips.append(args)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def data(short_track, tmp_path_factory):
    _, truth, _ = short_track
    folder = tmp_path_factory.mktemp("stems")
    stems = {"drums": folder / "drums.wav", "bass": folder / "bass.wav"}
    return TrackData.from_truth(truth, stems=stems, name="song")


@pytest.fixture
def live():
    fake = FakeAbletonOSC(cues=[["old", 0.0]])
    yield fake
    fake.close()


def test_ableton_sync_sets_tempo_adds_named_cues_and_stem_tracks(live, data):
    with AbletonClient("127.0.0.1", live.port, reply_port=0, timeout=WAIT) as client:
        summary = client.sync(data)
    assert live.tempo == pytest.approx(128.0)
    beats = [s.start * 128.0 / 60.0 for s in data.segments]
    assert [c[0] for c in live.cues] == [s.label for s in data.segments]
    assert [c[1] for c in live.cues] == pytest.approx(beats)
    # the existing cue at beat 0 was renamed, not toggled away; the playhead was put back
    assert summary["cues_added"] == len(data.segments) - 1
    assert live.song_time == 8.0
    addrs = [a for a, _ in live.log]
    for i, a in enumerate(addrs):
        if a == "/live/song/cue_point/add_or_delete":
            assert addrs[i - 1] == "/live/song/set/current_song_time"
    assert addrs.index("/live/song/get/current_song_time") < addrs.index("/live/song/cue_point/add_or_delete")
    # tracks appended after the two existing ones, named, holding the stem as an arrangement clip
    assert live.tracks == ["track 0", "track 1", "drums", "bass"]
    assert summary["tracks"] == {"drums": 2, "bass": 3}
    assert live.clips == [(2, str(data.stems["drums"].resolve()), 0.0),
                          (3, str(data.stems["bass"].resolve()), 0.0)]


def test_ableton_live11_gets_no_create_audio_clip(data):
    fake = FakeAbletonOSC(version=(11, 3))
    try:
        with AbletonClient("127.0.0.1", fake.port, reply_port=0, timeout=WAIT) as client:
            client.create_stem_tracks(data.stems)
        assert fake.tracks[-2:] == ["drums", "bass"] and fake.clips == []
    finally:
        fake.close()


def test_ableton_without_live_is_a_clear_error():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # a port where nobody answers
    port = s.getsockname()[1]
    try:
        with AbletonClient("127.0.0.1", port, reply_port=0, timeout=0.3) as client:
            with pytest.raises(TechnobError, match="AbletonOSC did not answer"):
                client.query("/live/song/get/tempo")
            with pytest.raises(TechnobError, match="20-999"):
                client.set_tempo(5.0)
    finally:
        s.close()


class FakeReaper:
    """Records what REAPER would receive on its OSC listen port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(WAIT)

    def take(self, n):
        out = []
        while len(out) < n:
            data, _ = self.sock.recvfrom(65535)
            out += [(m.message.address, tuple(m.message.params)) for m in OscPacket(data).messages]
        return out


def test_reaper_sync_sequence(data):
    fake = FakeReaper()
    try:
        client = ReaperClient("127.0.0.1", fake.sock.getsockname()[1])
        summary = client.sync(data)
        client.close()
        n = len(data.segments)
        got = fake.take(1 + 5 * n)
    finally:
        fake.sock.close()
    assert got[0] == ("/tempo/raw", (pytest.approx(128.0),))
    for i, seg in enumerate(data.segments):
        block = got[1 + 5 * i: 6 + 5 * i]
        k = i + 1
        assert block == [
            (f"/marker_id/{k}/time", (pytest.approx(seg.start),)),
            (f"/marker_id/{k}/name", (seg.label,)),
            (f"/region_id/{k}/time", (pytest.approx(seg.start),)),
            (f"/region_id/{k}/length", (pytest.approx(seg.duration),)),
            (f"/region_id/{k}/name", (seg.label,)),
        ]
    assert summary == {"tempo": 128.0, "markers": n, "regions": n}


def test_server_pushes_analysis_to_ableton(live, data, tmp_path):
    (tmp_path / "song.json").write_text(json.dumps(data.to_dict()))
    client = AbletonClient("127.0.0.1", live.port, reply_port=0, timeout=WAIT)
    with OscServer("127.0.0.1", 0, allow=[tmp_path], daw=client, auto_sync=True) as srv:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(WAIT)
        try:
            peer.sendto(build("/technob/analyze", ["song.json"]), srv.address)
            got = []
            while not got or got[-1][0] != "/technob/done":
                msg = OscPacket(peer.recvfrom(65535)[0]).messages[0].message
                got.append((msg.address, tuple(msg.params)))
        finally:
            peer.close()
    client.close()
    daw = [args for addr, args in got if addr == "/technob/daw"]
    assert daw and daw[0][0] == "AbletonClient" and "cues_added=" in daw[0][1]
    assert [c[0] for c in live.cues] == [s.label for s in data.segments]
