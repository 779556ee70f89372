"""Ableton Live through AbletonOSC (https://github.com/ideoforms/AbletonOSC).

AbletonOSC listens on UDP 11000 and replies on 11001. We send from a socket bound to the reply
port, so answers to queries come back to us. Addresses used (AbletonOSC README, Song/Track APIs):

=======================================  =========================  ===========================
address                                  arguments                  reply
=======================================  =========================  ===========================
``/live/application/get/version``        --                         major, minor
``/live/song/set/tempo``                 tempo_bpm
``/live/song/get/current_song_time``     --                         beats
``/live/song/set/current_song_time``     beats
``/live/song/get/cue_points``            --                         name, time, name, time...
``/live/song/cue_point/add_or_delete``   --  (toggles a cue at the playhead)
``/live/song/cue_point/set/name``        cue_index, name
``/live/song/get/num_tracks``            --                         num_tracks
``/live/song/create_audio_track``        index (-1 = at the end)
``/live/track/set/name``                 track_index, name
``/live/track/create_audio_clip``        track_index, path, beats   (Live 12: Track.create_audio_clip)
=======================================  =========================  ===========================

Cue points: AbletonOSC adds a cue only at the playhead, so :meth:`AbletonClient.add_cue_points`
reads the playhead, moves it to each section start, toggles a cue there (skipping times that
already hold one, which the toggle would delete), puts the playhead back, then reads the cue list
and names each new cue by its index. Song time is in beats: a section starting at ``t`` seconds
is placed at ``t * tempo / 60`` beats, the position of that audio in an unwarped clip at the top
of the arrangement at the set's tempo.
"""

from __future__ import annotations

import queue
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from technob_fx.core.errors import TechnobError

from .oscmsg import OscArg, OscSender

if TYPE_CHECKING:
    from .track import TrackData

#: AbletonOSC's ports.
LISTEN_PORT = 11000
REPLY_PORT = 11001


class AbletonClient:
    """Talk to AbletonOSC.

    Parameters
    ----------
    host : str
        Where Live runs.
    port : int
        AbletonOSC's listen port (11000).
    reply_port : int
        Local port to receive replies on (AbletonOSC answers on 11001); 0 picks a free one
        (tests whose fake peer replies to the source port).
    timeout : float
        Seconds to wait for the answer to a query.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = LISTEN_PORT, *, reply_port: int = REPLY_PORT,
                 timeout: float = 2.0) -> None:
        self.timeout = float(timeout)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        bind_host = "127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0"
        try:
            sock.bind((bind_host, int(reply_port)))
        except OSError as exc:
            sock.close()
            raise TechnobError(f"cannot listen for AbletonOSC replies on port {reply_port}: {exc}") from None
        sock.settimeout(0.1)
        self.sender = OscSender(host, port, sock)
        self.replies: queue.Queue[tuple[str, tuple]] = queue.Queue()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="abletonosc-replies", daemon=True)
        self._thread.start()

    @property
    def reply_address(self) -> tuple[str, int]:
        """``(host, port)`` replies are received on."""
        return self.sender.sock.getsockname()

    def _receive(self) -> None:
        from pythonosc.osc_packet import OscPacket, ParseError

        while not self._stop.is_set():
            try:
                data, _ = self.sender.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                packet = OscPacket(data)
            except ParseError:
                continue
            for timed in packet.messages:
                msg = timed.message
                if msg.address == "/live/error":
                    self.errors.append(" ".join(map(str, msg.params)))
                self.replies.put((msg.address, tuple(msg.params)))

    def close(self) -> None:
        """Stop receiving and close the socket."""
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.sender.sock.close()

    def __enter__(self) -> AbletonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, address: str, *args: OscArg) -> None:
        """Send one message to AbletonOSC."""
        self.sender.send(address, *args)

    def query(self, address: str, *args: OscArg) -> tuple:
        """Send a getter and return its reply's arguments (AbletonOSC replies on the same address).

        Raises
        ------
        TechnobError
            No reply within :attr:`timeout` seconds.
        """
        import time

        while not self.replies.empty():  # drop stale replies
            self.replies.get_nowait()
        self.send(address, *args)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TechnobError(
                    f"AbletonOSC did not answer {address} within {self.timeout:g} s "
                    f"(is Live running with the AbletonOSC control surface on {self.sender.target[1]}?)"
                )
            try:
                addr, params = self.replies.get(timeout=left)
            except queue.Empty:
                continue
            if addr == address:
                return params

    # -- operations ---------------------------------------------------------------------------

    def version(self) -> tuple[int, int]:
        """Live's ``(major, minor)`` version."""
        reply = self.query("/live/application/get/version")
        return int(reply[0]), int(reply[1]) if len(reply) > 1 else 0

    def set_tempo(self, bpm: float) -> None:
        """``/live/song/set/tempo``."""
        if not 20.0 <= bpm <= 999.0:
            raise TechnobError(f"Live accepts tempi of 20-999 BPM, not {bpm:g}")
        self.send("/live/song/set/tempo", float(bpm))

    def cue_points(self) -> list[tuple[str, float]]:
        """The set's cue points as ``[(name, beats), ...]`` in Live's order."""
        flat = self.query("/live/song/get/cue_points")
        return [(str(flat[i]), float(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]

    def add_cue_points(self, cues: list[tuple[float, str]], *, tolerance: float = 1e-3) -> int:
        """Add a named cue at each ``(beats, name)``; returns how many were added.

        Existing cues at the same time (within ``tolerance`` beats) are renamed, not toggled off.
        """
        if not cues:
            return 0
        original = float(self.query("/live/song/get/current_song_time")[0])
        existing = [t for _, t in self.cue_points()]
        added = 0
        try:
            for beats, _name in cues:
                if any(abs(beats - t) <= tolerance for t in existing):
                    continue
                self.send("/live/song/set/current_song_time", float(beats))
                self.send("/live/song/cue_point/add_or_delete")
                existing.append(beats)
                added += 1
        finally:
            self.send("/live/song/set/current_song_time", original)
        now = self.cue_points()
        for beats, name in cues:
            for index, (_, t) in enumerate(now):
                if abs(t - beats) <= tolerance:
                    self.send("/live/song/cue_point/set/name", index, name)
                    break
        return added

    def create_stem_tracks(self, stems: dict[str, Path], *, position_beats: float = 0.0) -> dict[str, int]:
        """An audio track per stem, named after it, holding the stem's file as an arrangement
        clip at ``position_beats`` where Live supports it (Live 12: ``/live/track/create_audio_clip``).

        Returns
        -------
        dict
            Stem name -> track index.
        """
        if not stems:
            return {}
        first = int(self.query("/live/song/get/num_tracks")[0])
        try:
            clips = self.version() >= (12, 0)
        except TechnobError:
            clips = False
        out = {}
        for i, (name, path) in enumerate(stems.items()):
            index = first + i
            self.send("/live/song/create_audio_track", -1)
            self.send("/live/track/set/name", index, name)
            if clips:
                self.send("/live/track/create_audio_clip", index, str(Path(path).resolve()), float(position_beats))
            out[name] = index
        return out

    def sync(self, data: TrackData) -> dict[str, Any]:
        """Set the tempo, add named cues at section starts and create stem tracks.

        Returns
        -------
        dict
            ``{"tempo": bpm, "cues_added": n, "tracks": {stem: index}}``.
        """
        self.set_tempo(data.tempo)
        per_second = data.tempo / 60.0
        cues = [(round(s.start * per_second, 6), s.label) for s in data.segments]
        added = self.add_cue_points(cues)
        tracks = self.create_stem_tracks(data.stems)
        return {"tempo": data.tempo, "cues_added": added, "tracks": tracks}
