"""A fake Ableton Live for tests: an AbletonOSC peer that accepts only the addresses AbletonOSC's
source registers (tests/data/abletonosc_addresses.txt, extracted from its code) and answers as its
source does, plus the real TechnobFX Remote Script code (bridge/live_script/TechnobFX) running
against the same fake set.

AbletonOSC behaviours reproduced (abletonosc/osc_server.py, handler.py, song.py, track.py,
manager.py): replies go to the sender's host on a FIXED reply port (11001 in Live; a free port
here), never to the request's source port; getters reply ``(value, *params)`` on the request's
address; track getters reply ``(track_index, *values)``; ``/live/test`` answers ``ok`` to the
most recent client; an unknown address is logged as an error, which AbletonOSC relays as
``/live/error "Unknown OSC address: <address>"``; ``start_listen/<prop>`` sends the value at
once and on every change to ``/live/song/get/<prop>``.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from bridge.oscmsg import build

DATA = Path(__file__).parent / "data" / "abletonosc_addresses.txt"
ABLETONOSC_ADDRESSES = frozenset(
    line.strip() for line in DATA.read_text().splitlines() if line.strip() and not line.startswith("#"))


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Clip:
    def __init__(self, path: str, start: float) -> None:
        self.file_path, self.start_time = path, float(start)
        self.warping = True
        self.is_audio_clip = True


class Track:
    def __init__(self, name: str) -> None:
        self.name = name
        self.arrangement_clips: list[Clip] = []

    def create_audio_clip(self, path: str, position: float) -> Clip:  # Live 12 Track API
        clip = Clip(path, position)
        self.arrangement_clips.append(clip)
        return clip


class Song:
    def __init__(self, num_tracks: int = 2) -> None:
        self.tracks = [Track(f"track {i}") for i in range(num_tracks)]
        self.tempo = 120.0
        self.signature_numerator, self.signature_denominator = 4, 4
        self.current_song_time = 8.0
        self.cues: list[list] = []  # [name, beats], sorted by time

    def create_audio_track(self, index: int) -> None:
        t = Track("")
        if index == -1:
            self.tracks.append(t)
        else:
            self.tracks.insert(index, t)


class FakeLive:
    """Fake Live: ``port`` is AbletonOSC's listen port, ``reply_port`` where it sends replies,
    ``script_port`` the TechnobFX script's port."""

    def __init__(self, version=(12, 1), cues=None, num_tracks: int = 2, script: bool = True) -> None:
        from bridge.live_script.TechnobFX.handlers import Handlers
        from bridge.live_script.TechnobFX.server import LiveServer

        self.version = version
        self.song = Song(num_tracks)
        self.song.cues = [list(c) for c in (cues or [])]
        self.log: list[tuple] = []
        self.unknown: list[str] = []
        self.listeners: set[str] = set()
        self.reply_port = free_udp_port()
        self.client_host = "127.0.0.1"
        disp = Dispatcher()
        disp.set_default_handler(self._handle, needs_reply_address=True)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), disp)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()
        self.script = None
        self._stop = threading.Event()
        if script:
            self.script = LiveServer(Handlers(lambda: self.song, f"{version[0]}.{version[1]}"), port=0)
            self.script_thread = threading.Thread(target=self._tick, daemon=True)
            self.script_thread.start()

    def _tick(self) -> None:  # Live calls the script's tick every ~100 ms; faster here
        while not self._stop.is_set():
            self.script.process()
            self._stop.wait(0.005)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def script_port(self) -> int:
        return self.script.address[1] if self.script else free_udp_port()

    def _reply(self, address, *args) -> None:
        self.server.socket.sendto(build(address, args), (self.client_host, self.reply_port))

    def set_tempo(self, bpm: float) -> None:
        self.song.tempo = float(bpm)
        if "tempo" in self.listeners:
            self._reply("/live/song/get/tempo", self.song.tempo)

    def _handle(self, client, address, *args) -> None:
        self.log.append((address, args))
        self.client_host = client[0]  # AbletonOSC: replies go to the latest client's host, port 11001
        if address not in ABLETONOSC_ADDRESSES:
            self.unknown.append(address)
            self._reply("/live/error", f"Unknown OSC address: {address}")
            return
        s = self.song
        if address == "/live/test":
            self._reply("/live/test", "ok")
        elif address == "/live/application/get/version":
            self._reply(address, *self.version)
        elif address == "/live/song/set/tempo":
            self.set_tempo(args[0])
        elif address in ("/live/song/get/tempo", "/live/song/get/signature_numerator",
                         "/live/song/get/signature_denominator", "/live/song/get/current_song_time"):
            self._reply(address, getattr(s, address.rsplit("/", 1)[1]))
        elif address in ("/live/song/set/signature_numerator", "/live/song/set/signature_denominator",
                         "/live/song/set/current_song_time"):
            setattr(s, address.rsplit("/", 1)[1], args[0])
        elif address == "/live/song/start_listen/tempo":
            self.listeners.add("tempo")
            self._reply("/live/song/get/tempo", s.tempo)
        elif address == "/live/song/cue_point/add_or_delete":
            hit = [c for c in s.cues if abs(c[1] - s.current_song_time) < 1e-6]
            if hit:
                s.cues.remove(hit[0])
            else:
                s.cues.append(["", float(s.current_song_time)])
                s.cues.sort(key=lambda c: c[1])
        elif address == "/live/song/get/cue_points":
            self._reply(address, *[v for name, t in s.cues for v in (name, float(t))])
        elif address == "/live/song/cue_point/set/name":
            s.cues[args[0]][0] = args[1]
        elif address == "/live/song/get/num_tracks":
            self._reply(address, len(s.tracks))
        elif address == "/live/song/get/track_names":
            self._reply(address, *[t.name for t in s.tracks])
        elif address == "/live/track/get/arrangement_clips/start_time":
            self._reply(address, args[0], *[c.start_time for c in s.tracks[args[0]].arrangement_clips])
        elif address == "/live/song/create_audio_track":
            s.create_audio_track(args[0])
        elif address == "/live/track/set/name":
            s.tracks[args[0]].name = args[1]

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        if self.script is not None:
            self.script_thread.join(timeout=5)
            self.script.close()
