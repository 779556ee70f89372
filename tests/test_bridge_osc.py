"""The OSC server: namespace, typed replies, chunking, errors, path safety, live parameters; with
liblo's oscsend/oscdump as a peer no one here wrote and python-osc as the second."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from bridge.export import TrackData
from bridge.osc import MAX_INCOMING, NAMESPACE, OscServer
from bridge.oscmsg import MAX_DATAGRAM, build
from bridge.paths import PathPolicy
from technob_fx.core.errors import PathError, TechnobError
from tests.conftest import require_program

WAIT = 10.0  # generous upper bound on waits (never a timing assertion)


class Peer:
    """A python-osc client with its own UDP port, collecting whatever is sent to it."""

    def __init__(self, server_addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(WAIT)
        self.server = server_addr
        self.sizes: list[int] = []

    def send(self, address, *args):
        self.sock.sendto(build(address, args), self.server)

    def send_raw(self, data: bytes):
        self.sock.sendto(data, self.server)

    def recv(self, queued=False):
        """The next message; a job's ``/technob/queued`` acknowledgement is skipped unless asked for."""
        while True:
            data, _ = self.sock.recvfrom(65535)
            self.sizes.append(len(data))
            msgs = [t.message for t in OscPacket(data).messages]
            msg = [(m.address, tuple(m.params)) for m in msgs][0]
            if queued or msg[0] != "/technob/queued":
                return msg

    def until(self, address):
        """Messages up to and including the first one at ``address``."""
        got = []
        while True:
            msg = self.recv()
            got.append(msg)
            if msg[0] == address:
                return got

    def close(self):
        self.sock.close()


@pytest.fixture
def server(tmp_path):
    srv = OscServer("127.0.0.1", 0, allow=[tmp_path]).start()
    yield srv
    srv.stop()


@pytest.fixture
def peer(server):
    p = Peer(server.address)
    yield p
    p.close()


@pytest.fixture(scope="module")
def analysis_json(tmp_path_factory, short_track):
    _, truth, _ = short_track
    folder = tmp_path_factory.mktemp("analysis")
    data = TrackData.from_truth(truth, name="song")
    path = folder / "song.json"
    path.write_text(json.dumps(data.to_dict()))
    return path, data


def test_ping_and_namespace_documented(peer):
    peer.send("/technob/ping")
    addr, args = peer.recv()
    assert addr == "/technob/pong" and args[0].startswith("technob-fx ")
    assert "/technob/param" in NAMESPACE and "/technob/analyze" in NAMESPACE


def test_analyze_json_replies_typed_and_chunked(server, peer, analysis_json, tmp_path):
    src, data = analysis_json
    local = tmp_path / "song.json"
    local.write_bytes(src.read_bytes())
    peer.send("/technob/analyze", "song.json")  # relative to the allowed folder
    got = peer.until("/technob/done")
    by = {}
    for addr, args in got:
        by.setdefault(addr, []).append(args)
    assert by["/technob/tempo"] == [(pytest.approx(128.0),)]
    beats = []
    for args in by["/technob/beats"]:
        assert args[0] == len(beats)  # offset of the first value in this chunk
        beats += args[1:]
    assert np.allclose(beats, data.grid.beats, atol=1e-4)
    assert len(by["/technob/beats"]) >= 1
    assert max(peer.sizes) <= MAX_DATAGRAM
    assert [a[2] for a in by["/technob/segment"]] == [s.label for s in data.segments]
    assert by["/technob/key"] == [("A", "minor", 1.0)]
    assert by["/technob/done"] == [("analyze", str(local.resolve()))]
    # getters on the stored result
    peer.send("/technob/get/notes")
    addr, args = peer.recv()
    assert addr == "/technob/notes" and args[0] == 0 and args[3] == data.notes[0].pitch


def test_beats_of_a_long_track_are_split_under_the_datagram_limit(server, peer):
    from technob_fx.core.results import BeatGrid

    server.data = TrackData(duration=3600.0, sample_rate=44100, grid=BeatGrid.from_tempo(128.0, 3600.0))
    peer.send("/technob/get/beats")
    n = server.data.grid.beats.size
    got = []
    while len(got) < n:
        addr, args = peer.recv()
        assert addr == "/technob/beats" and args[0] == len(got)
        got += args[1:]
    assert len(peer.sizes) > 20 and max(peer.sizes) <= MAX_DATAGRAM
    assert np.allclose(got, server.data.grid.beats, atol=1e-3)


@pytest.mark.parametrize("datagram, expect", [
    (b"garbage", "malformed OSC packet"),
    (b"", "malformed OSC packet"),
    (b"#bundle\x00abc", "malformed OSC packet"),
    (build("/technob/nope", [1]), "unknown address /technob/nope"),
    (build("/technob/param", ["gain"]), "takes 3 argument(s), got 1"),
    (build("/technob/analyze", [3.5]), "argument 1 must be a string"),
    (build("/technob/param", ["a", 2, 3]), "argument 2 must be a string"),
    (b"/technob/ping\x00\x00\x00" + b"x" * (MAX_INCOMING + 10), "exceeds the 8192-byte limit"),
])
def test_bad_input_gets_an_error_reply_and_server_survives(peer, datagram, expect):
    peer.send_raw(datagram)
    addr, args = peer.recv()
    assert addr == "/technob/error" and expect in args[0]
    peer.send("/technob/ping")
    assert peer.recv()[0] == "/technob/pong"


def test_paths_outside_allowed_folders_are_refused(server, peer, tmp_path, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(outside / "secret.json")
    (tmp_path / "linkdir").symlink_to(outside)
    cases = [
        str(outside / "secret.json"), "../secret.json", "sub/../../secret.json", "link.json",
        "linkdir/secret.json", "/etc/passwd", "",
    ]
    for path in cases:
        peer.send("/technob/analyze", path)
        addr, args = peer.recv()
        assert addr == "/technob/error", path
        assert ("outside the allowed" in args[0] or "'..'" in args[0] or "empty path" in args[0]), args
    peer.send("/technob/export", "midi", str(outside))
    addr, args = peer.recv()
    assert addr == "/technob/error"
    assert os.listdir(outside) == ["secret.json"]
    peer.send("/technob/ping")
    assert peer.recv()[0] == "/technob/pong"


def test_path_policy(tmp_path):
    pol = PathPolicy([tmp_path])
    assert pol.resolve("a.wav") == tmp_path.resolve() / "a.wav"
    with pytest.raises(PathError):
        pol.resolve("a/../b.wav")
    with pytest.raises(PathError):
        pol.resolve("x\x00y")
    with pytest.raises(PathError):
        pol.resolve("missing.wav", must_exist=True)
    (tmp_path / "l.wav").symlink_to(tmp_path / "target.wav")
    with pytest.raises(PathError, match="symlink"):
        pol.resolve("l.wav", for_write=True)


def test_refuses_public_bind_unless_asked(tmp_path):
    with pytest.raises(TechnobError, match="non-loopback"):
        OscServer("0.0.0.0", 0, allow=[tmp_path])


def test_export_over_osc(server, peer, analysis_json, tmp_path):
    server.data = analysis_json[1]
    peer.send("/technob/export", "midi,labels", "exports")
    got = peer.until("/technob/done")
    files = [a for addr, a in got if addr == "/technob/file"]
    assert [f[0] for f in files] == ["midi", "labels", "labels"]
    assert all(os.path.exists(f[1]) and f[1].startswith(str(tmp_path.resolve())) for f in files)


def test_errors_before_anything_is_loaded(peer):
    for address in ("/technob/get/tempo", "/technob/param", "/technob/daw/sync"):
        args = ("gain", "gain_db", 1.0) if address == "/technob/param" else ()
        peer.send(address, *args)
        addr, reply = peer.recv()
        assert addr == "/technob/error" and reply[1] == address


class PausingServer(OscServer):
    """Pauses the render after its first block until the test says go (between blocks)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.paused = threading.Event()
        self.resume = threading.Event()

    def _progress(self, req):
        cb = super()._progress(req)

        def wrapped(fraction, message=""):
            cb(fraction, message)
            if not self.paused.is_set():
                self.paused.set()
                self.resume.wait(WAIT)

        return wrapped


def test_param_takes_effect_on_the_next_block_of_a_render(tmp_path):
    import pedalboard

    from technob_fx.core.chain import Chain
    from technob_fx.core.io import read_audio, write_audio

    block = 4096
    src = tmp_path / "in.wav"
    write_audio(src, np.full((1, block * 6), 0.25, np.float32), 44100, bit_depth=32)
    srv = PausingServer("127.0.0.1", 0, allow=[tmp_path], chain=Chain([pedalboard.Gain(gain_db=0.0)]))
    srv.block_size = block
    with srv:
        p = Peer(srv.address)
        try:
            p.send("/technob/render", "current", "in.wav", "out.wav")
            assert srv.paused.wait(WAIT)
            p.send("/technob/param", "gain", "gain_db", -20.0)
            msgs = p.until("/technob/param")
            assert msgs[-1] == ("/technob/param", ("gain", "gain_db", pytest.approx(-20.0)))
            srv.resume.set()
            done = p.until("/technob/done")
            assert done[-1][1][0] == "render"
            assert any(m[0] == "/technob/progress" for m in msgs + done)
            # a string value (what oscsend users type) is parsed; a bad one is an error
            p.send("/technob/param", "gain", "gain_db", "-6")
            assert p.recv()[1][2] == pytest.approx(-6.0)
            p.send("/technob/param", "gain", "nope", 1.0)
            assert p.recv()[0] == "/technob/error"
            p.send("/technob/get/params")
            assert p.recv() == ("/technob/params", (1,))
            assert p.recv() == ("/technob/param", ("gain", "gain_db", pytest.approx(-6.0)))
        finally:
            p.close()
    out, _ = read_audio(tmp_path / "out.wav")
    assert np.allclose(out[0, :block], 0.25, atol=1e-4)  # first block at 0 dB
    assert np.allclose(out[0, block * 2:], 0.025, atol=1e-4)  # later blocks at -20 dB


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dump:
    """oscdump running on a free port, its lines collected by a thread."""

    def __init__(self):
        self.port = _free_udp_port()
        self.proc = subprocess.Popen([require_program("oscdump"), "-L", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, needle: str) -> list[str]:
        deadline = time.monotonic() + WAIT
        with self.cond:
            while not any(needle in ln for ln in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"oscdump never printed {needle!r}: {self.lines}")
                self.cond.wait(left)
            return list(self.lines)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def test_liblo_oscsend_to_oscdump(tmp_path, analysis_json):
    """oscsend sends our commands; replies go to oscdump (--send HOST:PORT); neither is ours."""
    oscsend = require_program("oscsend")
    require_program("oscdump")
    dump = Dump()
    (tmp_path / "song.json").write_bytes(analysis_json[0].read_bytes())
    try:
        # oscdump must be up before replies arrive: wait until a probe reaches it
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + WAIT
        while not any("/probe" in ln for ln in dump.lines) and time.monotonic() < deadline:
            probe.sendto(build("/probe", [1]), ("127.0.0.1", dump.port))
            time.sleep(0.05)
        probe.close()
        with OscServer("127.0.0.1", 0, allow=[tmp_path], reply_to=("127.0.0.1", dump.port)) as srv:
            port = str(srv.address[1])

            def send(*args):
                subprocess.run([oscsend, "localhost", port, *args], check=True, timeout=WAIT)

            send("/technob/ping")
            dump.wait_for("/technob/pong")
            send("/technob/analyze", "s", "song.json")
            lines = dump.wait_for("/technob/done")
            send("/technob/nope", "i", "3")
            lines = dump.wait_for("unknown address /technob/nope")
            send("/technob/analyze", "s", "/etc/passwd")
            lines = dump.wait_for("outside the allowed folders")
            send("/technob/analyze", "i", "7")
            lines = dump.wait_for("argument 1 must be a string")
    finally:
        dump.close()
    tempo = [ln for ln in lines if "/technob/tempo" in ln]
    assert tempo and " f " in tempo[0] and "128" in tempo[0]
    seg = [ln for ln in lines if "/technob/segment " in ln]
    assert seg and " ffs " in seg[0] and "intro" in seg[0]
    beats = [ln for ln in lines if "/technob/beats" in ln]
    assert beats and beats[0].split()[2].startswith("if")
    assert any("/technob/error" in ln and " ss " in ln for ln in lines)


def test_cli_bridge_serves_until_interrupted(tmp_path):
    import signal
    import sys

    port = _free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "technob_fx", "bridge", "--listen", f"127.0.0.1:{port}",
                             "--allow", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in line
        p = Peer(("127.0.0.1", port))
        try:
            p.send("/technob/ping")
            assert p.recv()[0] == "/technob/pong"
        finally:
            p.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run([sys.executable, "-m", "technob_fx", "bridge", "--listen", "0.0.0.0:0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "non-loopback" in bad.stderr


def test_analyze_and_separate_audio_over_osc(server, peer, short_track, tmp_path):
    pytest.importorskip("technob_fx.stages.analysis")
    pytest.importorskip("technob_fx.stages.separation")
    from technob_fx.core.io import write_audio

    audio, truth, _ = short_track
    write_audio(tmp_path / "clip.wav", audio[:, : int(12 * truth.sample_rate)], truth.sample_rate)
    peer.send("/technob/analyze", "clip.wav")
    got = peer.until("/technob/done")
    tempo = [a for addr, a in got if addr == "/technob/tempo"]
    assert tempo and tempo[0][0] == pytest.approx(128.0, rel=0.02)
    assert any(addr == "/technob/progress" for addr, _ in got)
    peer.send("/technob/separate", "clip.wav", "hpss")
    got = peer.until("/technob/done")
    stems = {a[0]: a[1] for addr, a in got if addr == "/technob/stem"}
    assert stems and all(os.path.exists(p) and p.startswith(str(tmp_path.resolve())) for p in stems.values())
    peer.send("/technob/export", "reaper", "daw")
    got = peer.until("/technob/done")
    from bridge.rpp import parse_rpp

    rpp = [a[1] for addr, a in got if addr == "/technob/file"][0]
    names = [t.values("NAME")[0][0] for t in parse_rpp(open(rpp).read()).find_all("TRACK")]
    assert names == ["mix", *stems]
    peer.send("/technob/separate", "clip.wav", "nonsense-engine")
    assert peer.until("/technob/error")[-1][0] == "/technob/error"
