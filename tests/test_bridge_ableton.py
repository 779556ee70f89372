"""Ableton Live: AbletonOSC (only addresses its source registers, replies on its fixed port) and
the TechnobFX Remote Script (its real code) against a fake set; both directions."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from bridge.ableton import AbletonClient, install_live_script, live_layout
from bridge.export import TrackData
from bridge.live_script.TechnobFX import handlers as live_handlers
from bridge.live_script.TechnobFX import osc as live_osc
from bridge.osc import OscServer
from bridge.oscmsg import build
from technob_fx.cli import main
from technob_fx.core.errors import TechnobError
from technob_fx.core.io import write_audio
from tests.fake_live import ABLETONOSC_ADDRESSES, FakeLive, free_udp_port

WAIT = 10.0


@pytest.fixture(scope="module")
def data(short_track, tmp_path_factory):
    _, truth, _ = short_track
    folder = tmp_path_factory.mktemp("stems")
    files = {n: write_audio(folder / f"{n}.wav", np.zeros((2, 441), np.float32), 44100) for n in ("mix", "drums", "bass")}
    return TrackData.from_truth(truth, audio=files["mix"], stems={"drums": files["drums"], "bass": files["bass"]},
                                name="song")


@pytest.fixture
def live():
    fake = FakeLive(cues=[["old", 0.0]])
    yield fake
    fake.close()


def client_for(fake: FakeLive, timeout: float = WAIT) -> AbletonClient:
    return AbletonClient("127.0.0.1", fake.port, reply_port=fake.reply_port, script_port=fake.script_port,
                         timeout=timeout)


def test_every_address_we_send_exists_in_abletonosc_or_our_script():
    src = Path(__file__).resolve().parent.parent / "bridge" / "ableton.py"
    import re

    sent = set(re.findall(r'"(/live/[a-z_/]+)"', src.read_text()))
    assert sent and sent <= ABLETONOSC_ADDRESSES | {"/live/error"}
    assert "/live/track/create_audio_clip" not in ABLETONOSC_ADDRESSES  # what the old code sent
    assert set(re.findall(r'"(/technob/live/[a-z_/]+)"', src.read_text())) <= set(live_handlers.ADDRESSES) | set(
        live_handlers.REPLIES)


def test_sync_sets_tempo_meter_named_cues_and_places_stems(live, data):
    with client_for(live) as client:
        summary = client.sync(data)
    assert live.unknown == []  # nothing AbletonOSC does not have
    lay = live_layout(data)
    assert live.song.tempo == pytest.approx(128.0) and summary["tempo"] == pytest.approx(128.0)
    assert (live.song.signature_numerator, live.song.signature_denominator) == (4, 4)
    # cues at section starts, in song beats: the first downbeat lands on a bar line
    beats = [lay.song_beats(s.start) for s in data.segments]
    assert [c[0] for c in live.song.cues] == [s.label for s in data.segments]
    assert [c[1] for c in live.song.cues] == pytest.approx(beats)
    assert all(abs(b / 4 - round(b / 4)) < 1e-6 for b in beats)  # sections start on bar lines
    assert summary["cues_added"] == len(data.segments) - 1  # the cue at beat 0 was renamed
    assert live.song.current_song_time == 8.0  # the playhead was put back
    addrs = [a for a, _ in live.log]
    for i, a in enumerate(addrs):
        if a == "/live/song/cue_point/add_or_delete":
            assert addrs[i - 1] == "/live/song/set/current_song_time"
    assert addrs[0] == "/live/test"
    # the mix and stems on new tracks, unwarped clips at the layout's position (Remote Script)
    assert [t.name for t in live.song.tracks] == ["track 0", "track 1", "mix", "drums", "bass"]
    assert summary["tracks"] == {"mix": 2, "drums": 3, "bass": 4}
    for t, name in zip(live.song.tracks[2:], ("mix", "drums", "bass"), strict=True):
        (clip,) = t.arrangement_clips
        assert clip.file_path == str(Path(data.stems.get(name, data.audio)).resolve())
        assert clip.start_time == pytest.approx(lay.clip_position) and clip.warping is False


def test_live_11_or_no_script_places_no_stems_and_says_why(data):
    for fake, why in ((FakeLive(version=(11, 3)), "Live 11.3"), (FakeLive(script=False), "install-live-script")):
        try:
            with client_for(fake, timeout=1.0) as client:
                summary = client.sync(data)
            assert why in summary["stems"] and summary["tracks"] == {}
            assert len(fake.song.tracks) == 2 and fake.unknown == []
        finally:
            fake.close()


def test_handshake_and_replies_on_the_fixed_port_only():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # a port where nobody answers
    try:
        with AbletonClient("127.0.0.1", s.getsockname()[1], reply_port=free_udp_port(), timeout=0.3) as client:
            with pytest.raises(TechnobError, match="did not answer /live/test"):
                client.handshake()
            with pytest.raises(TechnobError, match="20-999"):
                client.set_tempo(5.0)
    finally:
        s.close()
    # replies go to the fixed port: a client listening elsewhere hears nothing
    fake = FakeLive()
    try:
        with AbletonClient("127.0.0.1", fake.port, reply_port=free_udp_port(), timeout=0.3) as client:
            with pytest.raises(TechnobError, match="did not answer"):
                client.handshake()
        with client_for(fake) as client:
            assert client.handshake() == (12, 1)
        # the port is taken: a clear error, not a hang
        with client_for(fake) as client, pytest.raises(TechnobError, match="port .* is taken"):
            AbletonClient("127.0.0.1", fake.port, reply_port=fake.reply_port)
    finally:
        fake.close()


def test_live_error_is_reported(live):
    with client_for(live) as client:
        client.handshake()
        client.send("/live/song/create_audio_clip")  # not an AbletonOSC address
        with pytest.raises(TechnobError, match="AbletonOSC reported: Unknown OSC address: /live/song/create_audio_clip"):
            client.query("/live/song/get/tempo")


def test_pull_tempo_and_cue_points_back_from_live(live, data):
    with client_for(live) as client:
        client.sync(data)
        lay = live_layout(data)
        # the producer fixes the tempo, moves the mix clip half a beat and a cue to bar 7
        live.set_tempo(127.5)
        mix = live.song.tracks[2].arrangement_clips[0]
        mix.start_time += 0.5
        live.song.cues[1][1] = 24.0
        live.song.cues[1][0] = "drop!"
        back = client.pull(data)
    assert live.unknown == []
    g = back.grid
    assert g.tempo == pytest.approx(127.5)
    assert np.allclose(np.diff(g.beats), 60 / 127.5)
    # a downbeat (bar line) sits where the audio now meets Live's bar lines
    start = lay.clip_position + 0.5
    k = np.ceil(start / 4) * 4
    assert g.downbeats[0] == pytest.approx((k - start) * 60 / 127.5)
    drop = next(s for s in back.segments if s.label == "drop!")
    assert drop.start == pytest.approx((24.0 - start) * 60 / 127.5)
    assert [s.start for s in back.segments] == sorted(s.start for s in back.segments)


def test_server_pushes_analysis_to_ableton(live, data, tmp_path):
    (tmp_path / "song.json").write_text(json.dumps(data.to_dict()))
    client = client_for(live)
    # the stems live in another folder: it must be allowed too (the analysis' paths obey --allow)
    with OscServer("127.0.0.1", 0, allow=[tmp_path, data.audio.parent], daw=client, auto_sync=True) as srv:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(WAIT)
        try:
            peer.sendto(build("/technob/analyze", ["song.json"]), srv.address)
            got = []
            while not got or got[-1][0] not in ("/technob/done", "/technob/error"):
                msg = OscPacket(peer.recvfrom(65535)[0]).messages[0].message
                got.append((msg.address, tuple(msg.params)))
        finally:
            peer.close()
    client.close()
    daw = [args for addr, args in got if addr == "/technob/daw"]
    assert daw and daw[0][0] == "AbletonClient" and "cues_added=" in daw[0][1]
    assert [c[0] for c in live.song.cues] == [s.label for s in data.segments]


def test_remote_script_codec_and_errors():
    msg = live_osc.encode("/technob/live/add_stem", ("drums", "/x.wav", 4.0, 3, True))
    assert live_osc.decode(msg) == [("/technob/live/add_stem", ("drums", "/x.wav", 4.0, 3, True))]
    assert OscPacket(msg).messages[0].message.params == ["drums", "/x.wav", 4.0, 3, True]  # python-osc agrees
    assert live_osc.decode(build("/a", [1.5, "s", 2])) == [("/a", (1.5, "s", 2))]
    import struct

    bomb = build("/a")
    for _ in range(332):  # nested 332 deep: a ValueError, not a RecursionError inside Live
        bomb = b"#bundle\x00" + bytes(8) + struct.pack(">i", len(bomb)) + bomb
    for bad in (b"", b"nonsense", b"/a\0\0,q\0\0", bomb):
        with pytest.raises(ValueError):
            live_osc.decode(bad)
    h = live_handlers.Handlers(lambda: None)
    assert h.handle("/nope", ())[0] == ("/technob/live/error", ("/nope", "unknown address"))
    err = h.handle("/technob/live/add_stem", ("a", "relative.wav", 0.0))[0]
    assert err[0] == "/technob/live/error" and "no such file" in err[1][1]


def test_install_live_script(tmp_path):
    target = install_live_script(tmp_path / "Remote Scripts")
    assert sorted(p.name for p in target.iterdir() if p.suffix == ".py") == [
        "__init__.py", "handlers.py", "osc.py", "server.py", "surface.py"]
    again = install_live_script(tmp_path / "Remote Scripts")  # reinstall replaces it
    assert again == target
    assert main(["bridge", "install-live-script", "--dest", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "TechnobFX" / "__init__.py").is_file()


def test_client_survives_malformed_datagrams_on_its_reply_port(live):
    """A bundle nested 332 deep (RecursionError in python-osc), a bundle element of size -4 (python-osc
    loops forever on it) or garbage on the reply port must not stop or hang the receiving thread: a
    query afterwards still gets its answer."""
    import struct

    bomb = build("/live/song/get/tempo", [1.0])
    for _ in range(332):
        bomb = b"#bundle\x00" + bytes(8) + struct.pack(">i", len(bomb)) + bomb
    with client_for(live) as client:
        client.handshake()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for junk in (bomb, b"garbage", b"#bundle\x00" + bytes(8) + struct.pack(">i", -4)):
                s.sendto(junk, client.reply_address)
        finally:
            s.close()
        live.set_tempo(126.0)
        assert client.query("/live/song/get/tempo") == (pytest.approx(126.0),)
        assert client._thread.is_alive()
