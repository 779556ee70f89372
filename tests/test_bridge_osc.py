"""The OSC server: namespace, typed replies, chunking, errors, path safety, live parameters; with
liblo's oscsend/oscdump as a peer no one here wrote and python-osc as the second."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

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
            # every type liblo writes parses (h, d, S, c, m, T, F, N, I); strings and numbers are echoed
            send("/technob/ping", "ihdScmTFNIs", "1", "2", "2.5", "sym", "x", "90ff0000", "liblo-types")
            lines = dump.wait_for("liblo-types")
            send("/technob/help", "s", "/technob/cancel")
            lines = dump.wait_for("/technob/done ss \"help\" \"1\"")
    finally:
        dump.close()
    tempo = [ln for ln in lines if "/technob/tempo" in ln]
    assert tempo and " f " in tempo[0] and "128" in tempo[0]
    seg = [ln for ln in lines if "/technob/segment " in ln]
    assert seg and " ffs " in seg[0] and "intro" in seg[0]
    beats = [ln for ln in lines if "/technob/beats" in ln]
    assert beats and beats[0].split()[2].startswith("if")
    assert any("/technob/error" in ln and " ss " in ln for ln in lines)
    pong = [ln for ln in lines if "liblo-types" in ln][0]
    assert '/technob/pong siifssfs "technob-fx ' in pong and ' 1 2 2.500000 "sym" "x" inf "liblo-types"' in pong
    helped = [ln for ln in lines if "/technob/help sssii" in ln]
    assert helped and '"/technob/cancel" "[address]"' in helped[0] and helped[0].endswith(" 0 0")


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_cli_bridge_serves_until_interrupted(tmp_path, stop):
    """Ctrl-C and SIGTERM stop the server with status 0, also when the bridge was started with
    SIGINT ignored (as a shell without job control starts a background process: before, the
    server then never stopped on Ctrl-C)."""
    import signal
    import sys

    port = _free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "technob_fx", "bridge", "--listen", f"127.0.0.1:{port}",
                             "--allow", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        line = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in line
        p = Peer(("127.0.0.1", port))
        try:
            p.send("/technob/ping")
            assert p.recv()[0] == "/technob/pong"
        finally:
            p.close()
        proc.send_signal(getattr(signal, stop))
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if stop == "SIGTERM":
        return
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


# --------------------------------------------------------------------------------------------
# Issue 11: never dies from a datagram
# --------------------------------------------------------------------------------------------


def _bundle(*elements, sizes=None):
    import struct

    out = b"#bundle\x00" + bytes(8)
    for i, e in enumerate(elements):
        out += struct.pack(">i", len(e) if sizes is None else sizes[i]) + e
    return out


def _nested(depth):
    b = build("/technob/ping")
    for _ in range(depth):
        b = _bundle(b)
    return b


@pytest.mark.parametrize("datagram, expect", [
    (_nested(332), "bundles nested deeper than 8 levels"),  # the 6,660-byte killer of issue 11
    (_bundle(build("/technob/ping"), sizes=[4096]), "has size 4096, past the end of its bundle"),
    (_bundle(build("/technob/ping"), sizes=[-4]), "has size -4 (must be a positive multiple of 4)"),
    (_bundle(build("/technob/ping"), sizes=[0]), "has size 0"),
    (_bundle(*[build("/technob/ping")] * 40), "more than 32 messages in one packet"),
    (b"#bundle\x00\x00\x00\x00\x00", "shorter than its header"),
    (b"/technob/ping\x00\x00\x00,b\x00\x00\xff\xff\xff\xf0", "blob size -16 runs past the end"),
    (b"/technob/ping\x00\x00\x00,b\x00\x00\x00\x00\x10\x00", "blob size 4096 runs past the end"),
    (b"/technob/ping\x00\x00\x00,i\x00\x00", "needs 4 bytes"),
    (b"/technob/ping\x00\x00\x00,q\x00\x00", "unsupported type tag"),
    (b"/technob/ping\x00\x00\x00,s\x00\x00\xff\xfe\x00\x00", "is not UTF-8"),
    (b"/technob/ping\x00\x00", "packet size 15 is not a multiple of 4"),
    (b"\x00\x00\x00\x00", "does not start with '/'"),
    (build("/technob/clock/start", [float("nan")]), "argument 1 must be a number"),
])
def test_malformed_datagrams_are_answered_and_the_server_survives(peer, datagram, expect):
    peer.send_raw(datagram)
    addr, args = peer.recv()
    assert addr == "/technob/error" and expect in args[0], args
    assert args[0].startswith("malformed OSC packet") or "argument" in args[0]
    peer.send("/technob/ping", "still-alive")
    assert peer.recv() == ("/technob/pong", (peer_version(), "still-alive"))


def peer_version():
    from technob_fx import __version__

    return f"technob-fx {__version__}"


def test_bundles_within_the_depth_are_handled_in_order(peer):
    peer.send_raw(_bundle(_nested(7), build("/technob/ping", ["second"])))
    assert peer.recv() == ("/technob/pong", (peer_version(),))
    assert peer.recv() == ("/technob/pong", (peer_version(), "second"))


def test_an_exception_in_a_handler_is_an_error_reply(server, peer, monkeypatch):
    def boom(req):
        raise RecursionError("deep")

    monkeypatch.setattr(server, "_get_status", boom)
    peer.send("/technob/get/status")
    assert peer.recv() == ("/technob/error", ("internal error: RecursionError: deep", "/technob/get/status"))
    peer.send("/technob/ping")
    assert peer.recv()[0] == "/technob/pong"


FUZZ_PACKETS = int(os.environ.get("TECHNOB_FUZZ_PACKETS", "100000"))


def test_fuzz_mutated_datagrams_on_loopback(tmp_path):
    """A seeded mutation fuzzer sends FUZZ_PACKETS mutated and malformed datagrams (bundle bombs,
    bad sizes, noise, oversized...) to a ``technob bridge`` child process in batches, each batch
    followed by a ping whose pong must come back; afterwards it still answers, its RSS grew by less
    than 16 MiB, no reply was an internal error and nothing was written. Figures:
    ``python -m benchmarks.bench_osc_fuzz``."""
    from benchmarks.bench_osc_fuzz import ServerProcess, _client, ping, rss_kib, run_fuzz, warm_up

    srv = ServerProcess(tmp_path)
    try:
        warm_up(srv.address)
        before, _ = rss_kib(srv.pid)
        run = run_fuzz(srv.address, FUZZ_PACKETS, seed=11)
        sock = _client()
        try:
            assert ping(sock, srv.address, "after-the-fuzz")
        finally:
            sock.close()
        after, _ = rss_kib(srv.pid)
        assert srv.alive()
    finally:
        srv.close()
    assert run.sent == FUZZ_PACKETS and run.errors > FUZZ_PACKETS // 2
    assert not any(k.startswith("internal error") for k in run.error_kinds), run.error_kinds
    assert run.error_kinds.get("malformed OSC packet (", 0) > FUZZ_PACKETS // 4
    assert after - before < 16 * 1024, (before, after)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Issue 11: one path policy for every path the server touches
# --------------------------------------------------------------------------------------------


def test_bare_preset_name_is_not_resolved_against_the_working_folder(server, peer, tmp_path_factory,
                                                                     monkeypatch):
    cwd = tmp_path_factory.mktemp("cwd")
    (cwd / "evil").write_text('[[chain]]\ntype = "Gain"\ngain_db = 6.0\n')
    monkeypatch.chdir(cwd)
    peer.send("/technob/chain", "evil")
    addr, args = peer.recv()
    assert addr == "/technob/error" and args[0].startswith("no shipped preset named 'evil' (lofi, techno_master")
    assert server.chain is None
    (server.policy.root / "in.wav").write_bytes(b"RIFF")
    peer.send("/technob/render", "evil", "in.wav", "out.wav")
    addr, args = peer.recv()
    assert addr == "/technob/error" and args[0].startswith("no shipped preset named 'evil' (lofi, techno_master")
    (server.policy.root / "in.wav").unlink()
    # a shipped name and a preset file inside the allowed folder both work
    peer.send("/technob/chain", "lofi")
    assert peer.recv()[0] == "/technob/chain"
    server_root = server.policy.root
    (server_root / "mine.toml").write_text('[[chain]]\ntype = "Gain"\nname = "g"\ngain_db = -3.0\n')
    peer.send("/technob/chain", "mine.toml")
    assert peer.recv() == ("/technob/chain", ("mine.toml", "g"))


def test_preset_cannot_load_a_plugin_or_impulse_from_outside(server, peer, tmp_path, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "Evil.vst3").write_bytes(b"not a plugin")
    (outside / "ir.wav").write_bytes(b"RIFF")
    (tmp_path / "plug.toml").write_text(f'[[chain]]\ntype = "plugin"\npath = "{outside}/Evil.vst3"\n')
    (tmp_path / "rel.toml").write_text('[[chain]]\ntype = "plugin"\npath = "../outside0/Evil.vst3"\n')
    (tmp_path / "conv.toml").write_text(f'[[chain]]\ntype = "Convolution"\n'
                                         f'impulse_response_filename = "{outside}/ir.wav"\n')
    (tmp_path / "link.wav").symlink_to(outside / "ir.wav")
    (tmp_path / "conv_link.toml").write_text('[[chain]]\ntype = "Convolution"\nimpulse_response_filename = "link.wav"\n')
    expect = {
        "plug.toml": f"plug.toml: chain[0].path {outside}/Evil.vst3: outside the allowed folders",
        "rel.toml": "rel.toml: chain[0].path ",
        "conv.toml": f"conv.toml: chain[0] (type 'Convolution').impulse_response_filename {outside}/ir.wav: "
                     "outside the allowed folders",
        "conv_link.toml": "conv_link.toml: chain[0] (type 'Convolution').impulse_response_filename "
                          f"{tmp_path.resolve()}/link.wav: outside the allowed folders",
    }
    for name, text in expect.items():
        peer.send("/technob/chain", name)
        addr, args = peer.recv()
        assert addr == "/technob/error" and text in args[0], (name, args)
        assert "outside the allowed folders" in args[0]
    assert server.chain is None


def test_analysis_json_pointing_outside_is_refused_and_export_never_opens_it(server, peer, tmp_path,
                                                                             analysis_json):
    _, data = analysis_json
    doc = data.to_dict()
    doc["source"] = "/etc/shadow"
    (tmp_path / "evil.json").write_text(json.dumps(doc))
    peer.send("/technob/analyze", "evil.json")
    addr, args = peer.recv()
    assert addr == "/technob/error" and args == (
        f"evil.json: source /etc/shadow: outside the allowed folders ({tmp_path.resolve()})", "/technob/analyze")
    doc["source"] = None
    doc["stems"] = {"drums": "../../../../../../etc/shadow"}
    (tmp_path / "stems.json").write_text(json.dumps(doc))
    peer.send("/technob/analyze", "stems.json")
    addr, args = peer.recv()
    assert addr == "/technob/error" and args[0].startswith("stems.json: stems.drums ") and \
        args[0].endswith(f"etc/shadow: outside the allowed folders ({tmp_path.resolve()})")
    assert server.data is None
    # data that reached the server some other way is checked again before export opens anything
    server.data = TrackData(duration=data.duration, sample_rate=44100, grid=data.grid, audio="/etc/shadow",
                            name="x")
    peer.send("/technob/export", "reaper", "out")
    addr, args = peer.recv()
    assert addr == "/technob/error" and args[0].startswith("the analysis: source /etc/shadow: outside the allowed")
    assert not (tmp_path / "out").exists()


def test_export_before_any_analysis_creates_no_folder(peer, tmp_path):
    peer.send("/technob/export", "midi", "exports")
    assert peer.recv() == ("/technob/error", ("nothing analysed yet; send /technob/analyze <path> first",
                                              "/technob/export"))
    assert not (tmp_path / "exports").exists()


def test_analysing_a_folder_is_a_clear_error(peer, tmp_path, analysis_json):
    (tmp_path / "folder").mkdir()
    peer.send("/technob/analyze", "folder")
    assert peer.recv() == ("/technob/error", ("folder: is a folder without an analysis.json; give an audio file "
                                              "or an analysis .json", "/technob/analyze"))
    (tmp_path / "folder" / "analysis.json").write_bytes(analysis_json[0].read_bytes())
    peer.send("/technob/analyze", "folder")
    assert peer.until("/technob/done")[-1] == (
        "/technob/done", ("analyze", str((tmp_path / "folder" / "analysis.json").resolve())))
    peer.send("/technob/render", "lofi", "folder", "out.wav")
    assert peer.recv() == ("/technob/error", ("folder: is a folder; give a file", "/technob/render"))


# --------------------------------------------------------------------------------------------
# Issue 11: beyond loopback -- sender allowlist and shared secret
# --------------------------------------------------------------------------------------------

SECRET = "correct-horse-battery-staple"


def test_public_listening_needs_an_allowlist_and_a_secret(tmp_path):
    with pytest.raises(TechnobError, match="non-loopback address 0.0.0.0; pass allow_public"):
        OscServer("0.0.0.0", 0, allow=[tmp_path])
    with pytest.raises(TechnobError, match=r"needs a sender allowlist \(CLI: --allow-from CIDR\)"):
        OscServer("0.0.0.0", 0, allow=[tmp_path], allow_public=True, secret=SECRET)
    with pytest.raises(TechnobError, match="needs a shared secret"):
        OscServer("0.0.0.0", 0, allow=[tmp_path], allow_public=True, allow_from=["127.0.0.0/8"])
    with pytest.raises(TechnobError, match="at least 16 characters"):
        OscServer("0.0.0.0", 0, allow=[tmp_path], allow_public=True, allow_from=["127.0.0.0/8"], secret="short")
    with pytest.raises(TechnobError, match="not a network in CIDR form"):
        OscServer("127.0.0.1", 0, allow=[tmp_path], allow_from=["10.0.0.0/33"])
    srv = OscServer("0.0.0.0", 0, allow=[tmp_path], allow_public=True, allow_from=["127.0.0.0/8"], secret=SECRET)
    try:
        srv.start()
        p = Peer(("127.0.0.1", srv.address[1]))
        try:
            p.send("/technob/ping")
            assert p.recv()[0] == "/technob/pong"
        finally:
            p.close()
    finally:
        srv.stop()


def test_ipv6_loopback_counts_as_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = OscServer("::1", 0, allow=[tmp_path])
    except TechnobError as exc:
        if "cannot listen" in str(exc):
            pytest.skip(f"no IPv6 loopback here: {exc}")
        raise
    with srv:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(build("/technob/ping", ["v6"]), srv.address)
            msg = OscPacket(s.recvfrom(65535)[0]).messages[0].message
            assert (msg.address, msg.params[1]) == ("/technob/pong", "v6")
        finally:
            s.close()


def test_senders_outside_the_allowlist_are_dropped_unanswered(tmp_path):
    from bridge.osctransport import SenderPolicy

    pol = SenderPolicy(["192.168.1.0/24", "::1/128"])
    assert pol.allows("192.168.1.20") and pol.allows("::1") and pol.allows("::ffff:192.168.1.3")
    assert not pol.allows("192.168.2.1") and not pol.allows("10.0.0.1") and not pol.allows("not-an-ip")
    with OscServer("127.0.0.1", 0, allow=[tmp_path], allow_from=["127.0.0.2/32"]) as srv:
        stranger = Peer(srv.address)  # 127.0.0.1: not allowed
        friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            friend.bind(("127.0.0.2", 0))
        except OSError:
            stranger.close()
            pytest.skip("127.0.0.2 is not a loopback address here")
        friend.settimeout(WAIT)
        try:
            stranger.send("/technob/ping")
            stranger.send_raw(_nested(332))
            friend.sendto(build("/technob/get/status", []), srv.address)
            msg = OscPacket(friend.recvfrom(65535)[0]).messages[0].message
            # handled in order: the stranger's two datagrams were dropped before the status was sent
            assert msg.address == "/technob/status" and msg.params[:3] == [3, 0, 2]
            stranger.sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                stranger.sock.recvfrom(65535)
        finally:
            friend.close()
            stranger.close()


def test_state_changing_messages_without_the_secret_do_nothing(tmp_path):
    import pedalboard

    from bridge.osc import HANDLERS
    from technob_fx.core.chain import Chain
    from technob_fx.core.io import write_audio

    write_audio(tmp_path / "in.wav", np.zeros((1, 4410), np.float32), 44100)
    chain = Chain([pedalboard.Gain(gain_db=0.0)])
    with OscServer("127.0.0.1", 0, allow=[tmp_path], chain=chain, secret=SECRET) as srv:
        p = Peer(srv.address)
        try:
            for address, args in [("/technob/param", ("gain", "gain_db", -12.0)),
                                  ("/technob/render", ("current", "in.wav", "out.wav")),
                                  ("/technob/chain", ("lofi",)), ("/technob/analyze", ("in.wav",)),
                                  ("/technob/cancel", ()), ("/technob/param", ("wrong-secret-wrong", "gain", "gain_db", 1.0))]:
                p.send(address, *args)
                assert p.recv(queued=True) == ("/technob/error", (
                    f"{address} changes the server's state: send the shared secret as its first argument", address))
            assert chain.get_parameter("gain.gain_db") == 0.0 and srv.chain is chain and srv.data is None
            assert sorted(os.listdir(tmp_path)) == ["in.wav"]
            # read-only messages need no secret; with it, the same messages work
            p.send("/technob/get/param", "gain", "gain_db")
            assert p.recv() == ("/technob/param", ("gain", "gain_db", 0.0))
            p.send("/technob/param", SECRET, "gain", "gain_db", -12.0)
            assert p.recv() == ("/technob/param", ("gain", "gain_db", -12.0))
            p.send("/technob/render", SECRET, "current", "in.wav", "out.wav")
            assert p.until("/technob/done")[-1][1][:2] == ("render", str(tmp_path.resolve() / "out.wav"))
        finally:
            p.close()
    needs = {a for a, h in HANDLERS.items() if not h.read_only}
    assert {"/technob/render", "/technob/param", "/technob/chain", "/technob/analyze", "/technob/separate",
            "/technob/export", "/technob/daw/sync", "/technob/daw/pull", "/technob/cancel",
            "/technob/clock/start", "/technob/clock/stop"} == needs


def test_cli_public_needs_allowlist_and_secret(tmp_path):
    import sys

    base = [sys.executable, "-m", "technob_fx", "bridge", "--listen", "0.0.0.0:0", "--public",
            "--allow", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "TECHNOB_OSC_SECRET"}
    bad = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 1 and "needs a sender allowlist (CLI: --allow-from CIDR)" in bad.stderr
    bad = subprocess.run(base + ["--allow-from", "127.0.0.1/32"], capture_output=True, text=True, timeout=60,
                         env=env)
    assert bad.returncode == 1 and "needs a shared secret (CLI: TECHNOB_OSC_SECRET or --secret-file FILE)" \
        in bad.stderr
    proc = subprocess.Popen(base + ["--allow-from", "127.0.0.1/32"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**env, "TECHNOB_OSC_SECRET": SECRET})
    try:
        line = proc.stdout.readline()
        assert "senders: 127.0.0.1/32; secret: required" in line, line
        port = int(line.split("listening on ")[1].split(";")[0].rsplit(":", 1)[1])
        p = Peer(("127.0.0.1", port))
        try:
            p.send("/technob/chain", "lofi")
            assert "send the shared secret" in p.recv()[1][0]
            p.send("/technob/chain", SECRET, "lofi")
            assert p.recv()[0] == "/technob/chain"
        finally:
            p.close()
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT)


# --------------------------------------------------------------------------------------------
# Issue 11: jobs, replies to everything, help; issue 17: the handler table
# --------------------------------------------------------------------------------------------


def test_handler_table_says_which_handlers_are_jobs():
    from bridge.osc import HANDLERS, Handler, OscServer, handles

    jobs = {a for a, h in HANDLERS.items() if h.job}
    assert jobs == {"/technob/analyze", "/technob/separate", "/technob/render", "/technob/export",
                    "/technob/daw/sync", "/technob/daw/pull"}
    for address in ("/technob/daw/pull", "/technob/get/tempo_map", "/technob/get/stems", "/technob/help",
                    "/technob/cancel"):
        assert address in HANDLERS and address in NAMESPACE
    assert HANDLERS["/technob/render"] == Handler(
        "/technob/render", "sss", "_render", True, False, "preset in out", NAMESPACE["/technob/render"][1])
    assert all(callable(getattr(OscServer, h.method)) for h in HANDLERS.values())

    class Mine(OscServer):
        @handles("/technob/x", "s", job=True, read_only=True)
        def _x(self, req):
            pass

    from bridge.osc import handler_table

    assert handler_table(Mine)["/technob/x"].job and "/technob/x" not in HANDLERS


def test_help_lists_the_namespace(peer):
    from bridge.osc import HANDLERS

    peer.send("/technob/help")
    got = peer.until("/technob/done")
    entries = {a[0]: a for addr, a in got if addr == "/technob/help"}
    assert list(entries) == list(HANDLERS) and got[-1] == ("/technob/done", ("help", str(len(HANDLERS))))
    assert entries["/technob/render"][1:] == ("preset in out", NAMESPACE["/technob/render"][1], 1, 0)
    assert max(peer.sizes) <= MAX_DATAGRAM
    peer.send("/technob/help", "/technob/nope")
    assert peer.recv() == ("/technob/error", ("unknown address /technob/nope", "/technob/help"))


def test_every_request_gets_a_reply_before_any_data(peer):
    from bridge.osc import HANDLERS

    for address, h in HANDLERS.items():
        args = {"/technob/get/param": ("a", "b"), "/technob/param": ("a", "b", 1.0)}.get(address, ())
        if h.spec.split("|")[0] and not args:
            args = tuple("x" for _ in h.spec.split("|")[0])
        peer.send(address, *args)
        got = peer.recv(queued=True)
        assert got[0] != "/technob/error" or got[1][1] == address, got
        if got[0] == "/technob/queued":
            assert got[1] == (address, 0)
            got = peer.recv()
            assert got[0] == "/technob/error" and got[1][1] == address, got
        if address == "/technob/get/stems":
            assert got == ("/technob/stems", (0,))
        elif address.startswith("/technob/get/") and address not in ("/technob/get/status",):
            assert got[0] == "/technob/error"


def test_get_stems_and_segments_say_how_many(server, peer, analysis_json):
    server.data = analysis_json[1]
    peer.send("/technob/get/stems")
    assert peer.recv() == ("/technob/stems", (0,))
    peer.send("/technob/get/segments")
    n = len(analysis_json[1].segments)
    assert peer.recv() == ("/technob/segments", (n,))
    assert [peer.recv()[0] for _ in range(n)] == ["/technob/segment"] * n


def test_job_queue_is_bounded_and_cancel_stops_a_running_render(tmp_path):
    import pedalboard

    from technob_fx.core.chain import Chain
    from technob_fx.core.io import write_audio

    block = 4096
    write_audio(tmp_path / "in.wav", np.full((1, block * 6), 0.25, np.float32), 44100, bit_depth=32)
    srv = PausingServer("127.0.0.1", 0, allow=[tmp_path], chain=Chain([pedalboard.Gain(gain_db=0.0)]), max_jobs=2)
    srv.block_size = block
    with srv:
        p = Peer(srv.address)

        def nxt():  # the next reply that is not the render's progress
            while (msg := p.recv(queued=True))[0] == "/technob/progress":
                pass
            return msg

        try:
            p.send("/technob/render", "current", "in.wav", "out.wav")
            assert nxt() == ("/technob/queued", ("/technob/render", 0))
            assert srv.paused.wait(WAIT)  # the render is running, between two blocks
            p.send("/technob/export", "midi", "e1")
            assert nxt() == ("/technob/queued", ("/technob/export", 1))
            p.send("/technob/render", "current", "in.wav", "out2.wav")
            assert nxt() == ("/technob/queued", ("/technob/render", 2))
            p.send("/technob/export", "midi", "e2")
            assert nxt() == ("/technob/error", (
                "job queue full (2 jobs waiting); wait for /technob/done or send /technob/cancel", "/technob/export"))
            p.send("/technob/get/status")
            assert nxt()[1][3:] == (2, "/technob/render")
            p.send("/technob/cancel", "/technob/render")  # the running render and the waiting one
            got = [nxt() for _ in range(2)]
            assert got == [("/technob/error", ("cancelled", "/technob/render")), ("/technob/cancel", (2,))]
            srv.resume.set()
            got = p.until("/technob/error")
            assert got[-1] == ("/technob/error", ("cancelled", "/technob/render"))
            got = p.until("/technob/error")  # the export was not cancelled: it runs (and finds no data)
            assert got[-1][1] == ("nothing analysed yet; send /technob/analyze <path> first", "/technob/export")
            p.send("/technob/cancel", "/technob/get/tempo")
            assert p.recv()[1][0] == "/technob/get/tempo is not a job address"
        finally:
            p.close()
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]  # no output, no .part file left behind


def test_separate_into_a_chosen_folder(server, peer, short_track, tmp_path, tmp_path_factory):
    from technob_fx.core.io import write_audio

    audio, truth, _ = short_track
    write_audio(tmp_path / "clip.wav", audio[:, : int(4 * truth.sample_rate)], truth.sample_rate)
    outside = tmp_path_factory.mktemp("elsewhere")
    peer.send("/technob/separate", "clip.wav", "hpss", str(outside / "stems"))
    assert peer.recv() == ("/technob/error", (f"{outside}/stems: outside the allowed folders ({tmp_path.resolve()})",
                                              "/technob/separate"))
    (tmp_path / "file").write_text("x")
    peer.send("/technob/separate", "clip.wav", "hpss", "file")
    assert peer.recv() == ("/technob/error", ("file: not a folder", "/technob/separate"))
    peer.send("/technob/separate", "clip.wav", "hpss", "chosen")
    got = peer.until("/technob/done")
    stems = {a[0]: a[1] for addr, a in got if addr == "/technob/stem"}
    assert set(stems) == {"harmonic", "percussive"}
    assert all(Path(p).parent == tmp_path.resolve() / "chosen" and Path(p).is_file() for p in stems.values())
    assert sorted(os.listdir(tmp_path)) == ["chosen", "clip.wav", "file"]
