"""REAPER over OSC against a fake REAPER that knows only the patterns of its Default.ReaperOSC
(tests/data/reaper_default_osc.txt) and answers with its feedback messages; and pulling a saved
.RPP back."""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from bridge.export import TrackData, export
from bridge.oscmsg import build
from bridge.reaper import ACTION_DELETE_MARKER, ACTION_DELETE_REGION, ACTION_REFRESH, ReaperClient, pull_rpp
from technob_fx.core.errors import TechnobError
from tests.fake_live import free_udp_port

WAIT = 10.0
PATTERN_FILE = Path(__file__).parent / "data" / "reaper_default_osc.txt"


def reaper_patterns() -> list[re.Pattern]:
    out = []
    for line in PATTERN_FILE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        for tok in line.split()[1:]:
            if re.match(r"^[nfbtrsi]/", tok):
                out.append(re.compile("^" + re.escape(tok[1:]).replace("@", "[0-9,]+") + "$"))
    return out


PATTERNS = reaper_patterns()


class FakeReaper:
    """REAPER's OSC surface: it acts on messages matching a default pattern, ignores the rest
    (recorded in ``unknown``), and sends feedback to its configured device address."""

    def __init__(self, device: tuple[str, int]):
        self.device = device
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.tempo, self.cursor = 120.0, 0.0
        self.markers: dict[int, list] = {}  # number -> [time, name]
        self.regions: dict[int, list] = {}  # number -> [start, length, name]
        self.counts = {"marker": 0, "region": 0}
        self.log: list[tuple] = []
        self.unknown: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            for m in OscPacket(data).messages:
                self.handle(m.message.address, tuple(m.message.params))

    def _fb(self, address, *args):
        self.sock.sendto(build(address, args), self.device)

    def feedback(self):
        self._fb("/tempo/raw", float(self.tempo))
        for kind, table in (("marker", self.markers), ("region", self.regions)):
            ordered = sorted(table.items(), key=lambda kv: kv[1][0])
            for slot in range(1, self.counts[kind] + 1):
                if slot <= len(ordered):
                    num, entry = ordered[slot - 1]
                    self._fb(f"/{kind}/{slot}/number/str", str(num))
                    self._fb(f"/{kind}/{slot}/time", float(entry[0]))
                    if kind == "region":
                        self._fb(f"/{kind}/{slot}/length", float(entry[1]))
                    self._fb(f"/{kind}/{slot}/name", entry[-1])
                elif slot <= len(ordered) + 2:  # empty slots are reported empty
                    self._fb(f"/{kind}/{slot}/number/str", "")
                    self._fb(f"/{kind}/{slot}/name", "")

    def handle(self, addr, args):
        self.log.append((addr, args))
        if not any(p.match(addr) for p in PATTERNS):
            self.unknown.append(addr)
            return
        parts = addr.strip("/").split("/")
        if addr == "/tempo/raw":
            self.tempo = float(args[0])
        elif parts[0] == "marker_id":
            entry = self.markers.setdefault(int(parts[1]), [0.0, ""])
            entry[0 if parts[2] == "time" else 1] = args[0]
        elif parts[0] == "region_id":
            entry = self.regions.setdefault(int(parts[1]), [0.0, 0.0, ""])
            entry[{"time": 0, "length": 1, "name": 2}[parts[2]]] = args[0]
        elif addr == "/time":
            self.cursor = float(args[0])
        elif addr == "/action":
            if args[0] == ACTION_DELETE_MARKER and self.markers:
                num = min(self.markers, key=lambda n: abs(self.markers[n][0] - self.cursor))
                if abs(self.markers[num][0] - self.cursor) < 0.05:
                    del self.markers[num]
            elif args[0] == ACTION_DELETE_REGION and self.regions:
                num = min(self.regions, key=lambda n: abs(self.regions[n][0] - self.cursor))
                if abs(self.regions[num][0] - self.cursor) < 0.05:
                    del self.regions[num]
            elif args[0] == ACTION_REFRESH:
                self.feedback()
        elif parts[:2] == ["device", "marker"] or parts[:2] == ["device", "region"]:
            self.counts[parts[1]] = int(args[0])

    def settle(self):
        """Wait until every message sent so far was handled (no new one for 0.1 s)."""
        import time

        deadline, n = time.monotonic() + WAIT, -1
        while n != len(self.log) and time.monotonic() < deadline:
            n = len(self.log)
            time.sleep(0.1)

    def close(self):
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def data(short_track):
    _, truth, _ = short_track
    return TrackData.from_truth(truth, name="song")


@pytest.fixture
def reaper():
    port = free_udp_port()
    fake = FakeReaper(("127.0.0.1", port))
    client = ReaperClient("127.0.0.1", fake.port, feedback_port=port, timeout=WAIT)
    yield fake, client
    client.close()
    fake.close()


def test_every_pattern_we_send_is_in_reapers_default_file():
    src = (Path(__file__).resolve().parent.parent / "bridge" / "reaper.py").read_text()
    sent = re.findall(r'send\(f?"(/[^"]+)"', src)
    assert sent
    for addr in sent:
        concrete = re.sub(r"\{[^}]+\}", "3", addr)
        assert any(p.match(concrete) for p in PATTERNS), addr


def test_sync_writes_numbered_markers_and_regions_and_resync_removes_old_ones(reaper, data):
    fake, client = reaper
    fake.markers[1] = [2.0, "my own"]  # the producer's marker keeps its number
    summary = client.sync(data)
    fake.settle()
    assert fake.unknown == []
    tm = data.tempo_map(ramps="time")
    n = len(data.segments)
    assert summary == {"tempo": 128.0, "markers": n, "regions": n, "removed": 0}
    assert fake.tempo == pytest.approx(128.0)
    ours = {k: v for k, v in fake.markers.items() if k != 1}
    assert sorted(ours) == list(range(2, n + 2))  # the lowest free numbers, in timeline order
    assert [v[1] for _, v in sorted(ours.items())] == [s.label for s in data.segments]
    assert [v[0] for _, v in sorted(ours.items())] == pytest.approx([s.start + tm.audio_offset for s in data.segments])
    assert sorted(fake.regions) == list(range(1, n + 1))
    for (start, length, name), seg in zip((fake.regions[k] for k in sorted(fake.regions)), data.segments, strict=True):
        assert name == seg.label and start == pytest.approx(seg.start + tm.audio_offset)
        assert length == pytest.approx(seg.duration)
    # the producer moves one of our markers; a re-sync with fewer sections removes the extra ones
    fake.markers[n + 1][0] += 1.0
    import copy

    fewer = copy.deepcopy(data)
    fewer.segmentation.segments = fewer.segmentation.segments[:2]
    summary = client.sync(fewer)
    fake.settle()
    assert summary["removed"] == 2 * (n - 2)
    assert sorted(fake.markers) == [1, 2, 3] and fake.markers[1] == [2.0, "my own"]
    assert sorted(fake.regions) == [1, 2]
    assert fake.unknown == []


def test_state_file_lets_a_later_session_remove_markers(tmp_path, data):
    port = free_udp_port()
    fake = FakeReaper(("127.0.0.1", port))
    state = tmp_path / "reaper-sync.json"
    try:
        with ReaperClient("127.0.0.1", fake.port, feedback_port=port, state=state, timeout=WAIT) as c:
            c.sync(data)
        assert json.loads(state.read_text())["markers"]
        import copy

        one = copy.deepcopy(data)
        one.segmentation.segments = one.segmentation.segments[:1]
        with ReaperClient("127.0.0.1", fake.port, feedback_port=port, state=state, timeout=WAIT) as c:
            assert c.sync(one)["removed"] == 2 * (len(data.segments) - 1)
        fake.settle()
        assert list(fake.markers) == [1] and list(fake.regions) == [1]
    finally:
        fake.close()


def test_pull_markers_and_tempo_back_from_reaper(reaper, data):
    fake, client = reaper
    client.sync(data)
    fake.settle()
    tm = data.tempo_map(ramps="time")
    fake.tempo = 127.0  # the producer fixes the tempo and moves a marker
    fake.markers[2][0] = 20.0
    fake.markers[2][1] = "drop!"
    back = client.pull(data)
    assert back.grid.tempo == pytest.approx(127.0)
    assert np.allclose(np.diff(back.grid.beats), 60 / 127.0)
    assert "drop!" in [s.label for s in back.segments]
    drop = next(s for s in back.segments if s.label == "drop!")
    assert drop.start == pytest.approx(20.0 - tm.audio_offset)
    # REAPER's bar lines (project time 0, then every 4 beats at 127 BPM) are the new downbeats
    project = back.grid.downbeats + tm.audio_offset
    assert np.allclose((project * 127 / 60) % 4, 0, atol=1e-6) or np.allclose((project * 127 / 60) % 4, 4, atol=1e-6)


def test_no_feedback_is_a_clear_error(data):
    with ReaperClient("127.0.0.1", free_udp_port(), feedback_port=0, timeout=0.3) as c:
        with pytest.raises(TechnobError, match="no feedback"):
            c.pull(data)
    with ReaperClient("127.0.0.1", free_udp_port()) as c, pytest.raises(TechnobError, match="feedback"):
        c.read_state()


def test_pull_rpp_reads_the_tempo_map_markers_and_item_back(tmp_path, short_track):
    from technob_fx.core.results import BeatGrid
    from technob_fx.synth.techno import beat_times

    _, truth, _ = short_track
    beats = beat_times(97, 124.0, 130.0, 0.3)
    data = TrackData.from_truth(truth, name="glide")
    data.grid = BeatGrid(beats, beats[::4], 127.0, 4)
    data.duration = float(beats[-1]) + 0.2
    data.audio = tmp_path / "glide.wav"
    path = export(data, "reaper", tmp_path)["reaper"][0]
    back = pull_rpp(data, path)
    # REAPER's grid read back is the analysed grid (within the map's 1 ms)
    n = min(back.grid.beats.size, beats.size)
    assert abs(back.grid.beats.size - beats.size) <= 1
    assert np.abs(back.grid.beats[:n] - beats[:n]).max() <= 1.1e-3
    assert np.allclose(back.grid.downbeats[:5], beats[::4][:5], atol=1.1e-3)
    assert [s.label for s in back.segments] == [s.label for s in data.segments if s.start < data.duration]
    # the producer drags a marker and saves: it comes back
    lines = path.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("MARKER 2 ") and ln.rstrip().endswith(" 0"))
    parts = lines[i].split()
    parts[2] = "10.000000000000"
    lines[i] = "  " + " ".join(parts)
    path.write_text("\n".join(lines) + "\n")
    moved = pull_rpp(data, path)
    tm = data.tempo_map(ramps="time")
    assert any(abs(s.start - (10.0 - tm.audio_offset)) < 1e-6 for s in moved.segments)


def test_feedback_thread_survives_malformed_datagrams(reaper, data):
    """A bundle nested 332 deep (RecursionError in python-osc) on the feedback port must not stop
    the thread that reads REAPER's feedback: a pull afterwards still works."""
    import struct

    fake, client = reaper
    bomb = build("/tempo/raw", [120.0])
    for _ in range(332):
        bomb = b"#bundle\x00" + bytes(8) + struct.pack(">i", len(bomb)) + bomb
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(bomb, client.feedback_address)
        s.sendto(b"garbage", client.feedback_address)
    finally:
        s.close()
    client.sync(data)
    fake.settle()
    fake.tempo = 127.0
    assert client.pull(data).grid.tempo == pytest.approx(127.0)
    assert client._thread.is_alive()
