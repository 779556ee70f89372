"""MIDI clock out and clock following through a loopback port (mido.sockets, no MIDI backend)."""

from __future__ import annotations

import time

import mido
import pytest

from bridge.midi import CLOCK_PPQN, ClockFollower, ClockSender, open_input, open_output
from technob_fx.core.errors import TechnobError

WAIT = 20.0


def _wait(cond, what):
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def loopback():
    server = open_input("127.0.0.1:0")
    port = server.address[1]
    out = open_output(f"127.0.0.1:{port}")
    yield out, server
    out.close()
    server.close()


def test_clock_is_followed_within_one_percent(loopback):
    out, server = loopback
    follower = ClockFollower(window=96)
    follower.run(server)
    sender = ClockSender(out, 128.0, song_position=16)
    try:
        sender.start()
        _wait(lambda: follower.pulses >= 2 * 96, "192 clock pulses")
        assert follower.running and follower.song_position == 16
        assert follower.tempo == pytest.approx(128.0, rel=0.01)
        sender.set_tempo(140.0)
        mark = follower.pulses
        _wait(lambda: follower.pulses >= mark + 2 * 96, "pulses at the new tempo")
        assert follower.tempo == pytest.approx(140.0, rel=0.01)
        assert follower.position_beats == pytest.approx(4 + follower.pulses / CLOCK_PPQN)
    finally:
        sender.stop()
        _wait(lambda: not follower.running, "stop")
        follower.stop()


def test_follower_from_timestamps_and_bad_tempo():
    f = ClockFollower(window=48)
    assert f.tempo is None
    f.feed(mido.Message("start"), 0.0)
    for i in range(100):
        f.feed(mido.Message("clock"), i * 60.0 / (120.0 * CLOCK_PPQN))
    assert f.tempo == pytest.approx(120.0, rel=1e-9)
    with pytest.raises(TechnobError):
        ClockSender(None, 0.5)


def test_clock_over_osc(loopback, tmp_path):
    """/technob/clock/start sends clock that a follower (here, behind /technob/get/clock) tracks."""
    import socket

    from pythonosc.osc_packet import OscPacket

    from bridge.osc import OscServer
    from bridge.oscmsg import build

    out, server_in = loopback
    follower = ClockFollower()
    follower.run(server_in)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(WAIT)

    def ask(address, *args):
        peer.sendto(build(address, args), srv.address)
        msg = OscPacket(peer.recvfrom(65535)[0]).messages[0].message
        return msg.address, tuple(msg.params)

    try:
        with OscServer("127.0.0.1", 0, allow=[tmp_path], clock_out=out, clock_in=follower) as srv:
            assert ask("/technob/clock/start", 125.0) == ("/technob/clock", (125.0, 1, 0.0))
            _wait(lambda: follower.pulses >= 2 * 96, "clock pulses")
            addr, (bpm, running, _pos) = ask("/technob/get/clock")
            assert addr == "/technob/clock" and running == 1
            assert bpm == pytest.approx(125.0, rel=0.01)
            addr, args = ask("/technob/clock/stop")
            assert args[1] == 0 and args[2] > 0
            assert ask("/technob/clock/stop")[0] == "/technob/error"
    finally:
        peer.close()
        follower.stop()
