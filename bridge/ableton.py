"""Ableton Live through AbletonOSC (https://github.com/ideoforms/AbletonOSC) and the TechnobFX
Remote Script shipped with technob-fx.

AbletonOSC listens on UDP 11000 and sends every reply to UDP **11001** on the sender's host,
whatever port the request came from (``abletonosc/osc_server.py``: ``response_addr =
(remote_hostname, self._response_port)``); errors it logs reach the same port as
``/live/error <message>``. :class:`AbletonClient` therefore binds 11001 (one program on a machine
can), handshakes with ``/live/test`` (answered ``/live/test ok``) and raises every ``/live/error``
that arrives while it works.

AbletonOSC addresses used, each with the AbletonOSC file that registers it
(``tests/data/abletonosc_addresses.txt`` holds every address its source registers):

==========================================  =================  ==============================
address                                     handled in         use
==========================================  =================  ==============================
``/live/test``                              ``manager.py``     handshake; reply ``ok``
``/live/application/get/version``           ``application.py`` Live's major, minor
``/live/song/set/tempo``                    ``song.py``        the tempo
``/live/song/get/tempo``                    ``song.py``        pull: the tempo
``/live/song/set/signature_numerator``      ``song.py``        the meter
``/live/song/set/signature_denominator``    ``song.py``
``/live/song/get/signature_numerator``      ``song.py``        pull: the meter
``/live/song/get/current_song_time``        ``song.py``        the playhead (beats)
``/live/song/set/current_song_time``        ``song.py``        move it to place a cue
``/live/song/cue_point/add_or_delete``      ``song.py``        toggle a cue at the playhead
``/live/song/get/cue_points``               ``song.py``        name, time, name, time...
``/live/song/cue_point/set/name``           ``song.py``        cue_index, name
``/live/song/get/track_names``              ``song.py``        pull: find the mix track
``/live/track/get/arrangement_clips/        ``track.py``       pull: where the producer moved
start_time``                                                   the mix clip
==========================================  =================  ==============================

AbletonOSC cannot put an audio file on a track. The TechnobFX Remote Script
(``bridge/live_script/TechnobFX``, installed beside AbletonOSC by
``technob bridge install-live-script``) does it with Live 12's ``Track.create_audio_clip(path,
position)`` on 127.0.0.1:11002: ``/technob/live/test`` (handshake) and ``/technob/live/add_stem
name path position`` (a new audio track holding the file as an unwarped arrangement clip).

Live holds one tempo and one meter over OSC: a set gets the track's constant tempo
(:func:`technob_fx.core.tempo.fit_tempo_map` with ``constant=True``), and the audio is placed so
its first downbeat lands on a bar line after whole count-in bars. Cue points are added at section
starts in song beats (AbletonOSC adds a cue only at the playhead, so the playhead is moved to each
start, a cue toggled there -- skipping times that already hold one -- and put back).
"""

from __future__ import annotations

import math
import os
import platform
import queue
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from technob_fx.core.errors import PathError, TechnobError

from .oscmsg import DAW_MAX_MESSAGES, OscArg, OscSender

if TYPE_CHECKING:
    from technob_fx.core.tempo import TempoMap

    from .track import TrackData

#: AbletonOSC's ports: it listens on LISTEN_PORT and always replies to REPLY_PORT.
LISTEN_PORT = 11000
REPLY_PORT = 11001
#: The TechnobFX Remote Script's port (bridge/live_script/TechnobFX/server.py).
SCRIPT_PORT = 11002
#: The Remote Script folder shipped with the package.
LIVE_SCRIPT = Path(__file__).resolve().parent / "live_script" / "TechnobFX"


@dataclass
class LiveLayout:
    """How a track sits in a Live set at one tempo.

    Attributes
    ----------
    bpm : float
        The set's tempo.
    numerator, denominator : int
        The set's meter.
    clip_position : float
        Song beats where the audio file starts (its first downbeat then falls on a bar line).
    tempo_map : TempoMap
        The constant map the layout comes from.
    offset_beats : float
        Song beats of project beat 0 of the map (whole count-in bars for a pickup).
    """

    bpm: float
    numerator: int
    denominator: int
    clip_position: float
    tempo_map: TempoMap
    offset_beats: float

    def song_beats(self, seconds: float) -> float:
        """Song beats of an audio time (seconds into the file)."""
        return float(self.tempo_map.audio_to_beat(seconds)) + self.offset_beats


def live_layout(data: TrackData) -> LiveLayout:
    """The track laid out for Live: one tempo, whole bars before the first downbeat."""
    from technob_fx.core.tempo import fit_tempo_map

    tm = fit_tempo_map(data.grid, constant=True, pickup="bar")
    num = [m for m in tm.meters if m.beat <= tm.first_downbeat + 1e-9][-1].numerator
    extra = (-tm.first_downbeat) % num  # fill the pickup bar up to a whole bar
    bpm = tm.points[0].bpm
    return LiveLayout(bpm=bpm, numerator=num, denominator=4,
                      clip_position=tm.item_position * bpm / 60.0 + extra, tempo_map=tm, offset_beats=extra)


class AbletonClient:
    """Talk to AbletonOSC (and the TechnobFX Remote Script).

    Parameters
    ----------
    host : str
        Where Live runs.
    port : int
        AbletonOSC's listen port (11000).
    reply_port : int
        Local port replies arrive on: AbletonOSC always sends them to 11001 (only tests with a
        peer that replies elsewhere change it).
    script_port : int
        The TechnobFX Remote Script's port (11002).
    timeout : float
        Seconds to wait for the answer to a query.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = LISTEN_PORT, *, reply_port: int = REPLY_PORT,
                 script_port: int = SCRIPT_PORT, timeout: float = 2.0) -> None:
        self.timeout = float(timeout)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        bind_host = "127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0"
        try:
            sock.bind((bind_host, int(reply_port)))
        except OSError as exc:
            sock.close()
            raise TechnobError(
                f"cannot receive AbletonOSC's replies: UDP port {reply_port} is taken ({exc.strerror or exc}); "
                "AbletonOSC always replies to 11001, so close the other program using it (another "
                "'technob bridge --daw ableton'?)") from None
        sock.settimeout(0.1)
        self.sender = OscSender(host, port, sock)
        self.script = (host, int(script_port))
        self.replies: queue.Queue[tuple[str, tuple]] = queue.Queue()
        self.errors: list[str] = []
        self._seen_errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="abletonosc-replies", daemon=True)
        self._thread.start()

    @property
    def reply_address(self) -> tuple[str, int]:
        """``(host, port)`` replies are received on."""
        return self.sender.sock.getsockname()

    def _receive(self) -> None:
        from .oscmsg import OscParseError, parse_packet

        while not self._stop.is_set():
            try:
                data, _ = self.sender.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:  # our strict parser: python-osc loops forever on a bundle element of size -4
                messages = parse_packet(data, max_messages=DAW_MAX_MESSAGES)
            except OscParseError:
                continue  # a malformed datagram must not stop (or hang) this thread
            for address, args in messages:
                if address in ("/live/error", "/technob/live/error"):
                    self.errors.append(" ".join(map(str, args)))
                self.replies.put((address, tuple(args)))

    def close(self) -> None:
        """Stop receiving and close the socket."""
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.sender.sock.close()

    def __enter__(self) -> AbletonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- messages -----------------------------------------------------------------------------

    def send(self, address: str, *args: OscArg) -> None:
        """Send one message to AbletonOSC."""
        self.sender.send(address, *args)

    def send_script(self, address: str, *args: OscArg) -> None:
        """Send one message to the TechnobFX Remote Script."""
        from .oscmsg import build

        self.sender.sock.sendto(build(address, args), self.script)

    def check_errors(self) -> None:
        """Raise the ``/live/error`` messages received since the last check.

        Raises
        ------
        TechnobError
            ``AbletonOSC reported: ...``.
        """
        new = self.errors[self._seen_errors:]
        self._seen_errors = len(self.errors)
        if new:
            raise TechnobError("AbletonOSC reported: " + "; ".join(new))

    def _wait(self, address: str, what: str, match: Any = None) -> tuple:
        deadline = time.monotonic() + self.timeout
        while True:
            self.check_errors()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TechnobError(f"{what} did not answer {address} within {self.timeout:g} s")
            try:
                addr, params = self.replies.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if addr == address and (match is None or match(params)):
                return params

    def _drain(self) -> None:
        while not self.replies.empty():
            self.replies.get_nowait()

    def query(self, address: str, *args: OscArg) -> tuple:
        """Send a getter to AbletonOSC and return its reply's arguments (AbletonOSC replies on the
        same address, to port 11001).

        Raises
        ------
        TechnobError
            No reply within :attr:`timeout` seconds, or a ``/live/error`` meanwhile.
        """
        self._drain()
        self.send(address, *args)
        return self._wait(address, f"AbletonOSC at {self.sender.target[0]}:{self.sender.target[1]} "
                                   f"(is Live running with AbletonOSC as a control surface?)")

    def handshake(self) -> tuple[int, int]:
        """``/live/test`` (AbletonOSC answers ``ok``), then Live's ``(major, minor)`` version."""
        self._drain()
        self.send("/live/test")
        self._wait("/live/test", f"AbletonOSC at {self.sender.target[0]}:{self.sender.target[1]} (is Live "
                   "running with AbletonOSC selected as a control surface, and is UDP 11001 free here?)")
        return self.version()

    def script_handshake(self) -> str | None:
        """The TechnobFX Remote Script's version, or ``None`` when it does not answer."""
        self._drain()
        self.send_script("/technob/live/test")
        try:
            reply = self._wait("/technob/live/test", "TechnobFX")
        except TechnobError:
            return None
        return str(reply[1]) if len(reply) > 1 else "?"

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

    def set_meter(self, numerator: int, denominator: int = 4) -> None:
        """``/live/song/set/signature_numerator`` and ``..._denominator``."""
        self.send("/live/song/set/signature_numerator", int(numerator))
        self.send("/live/song/set/signature_denominator", int(denominator))

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

    def add_stems(self, files: dict[str, Path], position_beats: float) -> dict[str, int]:
        """An audio track per file with the file as an unwarped clip at ``position_beats``, through
        the TechnobFX Remote Script; returns ``{name: track index}``.

        Raises
        ------
        TechnobError
            The script reported an error (e.g. Live older than 12, a missing file).
        """
        out: dict[str, int] = {}
        for name, path in files.items():
            self._drain()
            self.send_script("/technob/live/add_stem", name, str(Path(path).resolve()), float(position_beats))
            reply = self._wait("/technob/live/add_stem", "TechnobFX", match=lambda p, n=name: p and p[0] == n)
            out[name] = int(reply[1])
        return out

    def sync(self, data: TrackData) -> dict[str, Any]:
        """Handshake, set tempo and meter, add named cues at section starts, and put the mix and
        stems on tracks (when the TechnobFX script answers).

        Returns
        -------
        dict
            ``{"tempo", "meter", "cues_added", "tracks": {name: index}, "stems": note}``.
        """
        live = self.handshake()
        lay = live_layout(data)
        self.set_tempo(lay.bpm)
        self.set_meter(lay.numerator, lay.denominator)
        cues = [(round(lay.song_beats(s.start), 6), s.label) for s in data.segments]
        added = self.add_cue_points(cues)
        files: dict[str, Path] = {}
        if data.audio is not None:
            files["mix"] = Path(data.audio)
        files.update({k: Path(v) for k, v in data.stems.items()})
        tracks: dict[str, int] = {}
        note = "none to place"
        if files:
            script = self.script_handshake()
            if script is None:
                note = ("not placed: the TechnobFX Remote Script did not answer (run 'technob bridge "
                        "install-live-script' and pick TechnobFX as a control surface in Live)")
            elif live < (12, 0):
                note = f"not placed: Live {live[0]}.{live[1]} has no Track.create_audio_clip (Live 12 needed)"
            else:
                tracks = self.add_stems(files, lay.clip_position)
                note = f"placed at beat {lay.clip_position:.3f}"
        time.sleep(0.05)
        self.check_errors()
        return {"tempo": round(lay.bpm, 4), "meter": f"{lay.numerator}/{lay.denominator}", "cues_added": added,
                "tracks": tracks, "stems": note}

    # -- the other direction ------------------------------------------------------------------

    def pull(self, data: TrackData, *, track: str = "mix") -> TrackData:
        """The track as the producer left it in Live: tempo, meter, cue points (as sections) and
        where the ``track`` clip now starts, as a corrected :class:`TrackData`.

        Live plays the file unwarped, so its bar lines at the set's tempo are the corrected grid:
        a bar line at song beat ``k * numerator`` is audio time ``(k * numerator - clip start) *
        60 / tempo``. Cue points become section starts (their names the labels).
        """
        self.handshake()
        bpm = float(self.query("/live/song/get/tempo")[0])
        num = int(self.query("/live/song/get/signature_numerator")[0])
        names = [str(n) for n in self.query("/live/song/get/track_names")]
        start = live_layout(data).clip_position
        if track in names:
            index = names.index(track)
            starts = self.query("/live/track/get/arrangement_clips/start_time", index)[1:]
            if starts:
                start = float(starts[0])
        cues = sorted(self.cue_points(), key=lambda c: c[1])
        return corrected_from_daw(data, bpm=bpm, beats_per_bar=num, origin_beats=start,
                                  cues=[(name, (t - start) * 60.0 / bpm) for name, t in cues])


def corrected_from_daw(data: TrackData, *, bpm: float, beats_per_bar: int, origin_beats: float,
                       cues: list[tuple[str, float]]) -> TrackData:
    """A copy of ``data`` with a constant grid at ``bpm`` whose bar lines are the DAW's (song beat
    ``origin_beats`` is audio time 0) and sections starting at ``cues`` (``(name, audio s)``)."""
    import copy

    from technob_fx.core.results import BeatGrid, Segment, Segmentation

    if not (0 < bpm <= 1000 and math.isfinite(bpm)):
        raise TechnobError(f"the DAW reported a tempo of {bpm} BPM")
    period = 60.0 / bpm
    # song beat b sits at audio time (b - origin_beats) * period; bar lines at multiples of the meter
    song = np.arange(math.ceil(origin_beats - 1e-9), math.floor(origin_beats + data.duration / period + 1e-9) + 1)
    beats = (song - origin_beats) * period
    downbeats = beats[song % max(int(beats_per_bar), 1) == 0]
    out = copy.copy(data)
    out.grid = BeatGrid(np.maximum(beats, 0.0), np.maximum(downbeats, 0.0), float(bpm), int(beats_per_bar))
    starts = [(n, t) for n, t in sorted(cues, key=lambda c: c[1]) if -1e-6 <= t < data.duration]
    if starts:
        segs = [Segment(max(t, 0.0), (starts[i + 1][1] if i + 1 < len(starts) else data.duration), n)
                for i, (n, t) in enumerate(starts)]
        out.segmentation = Segmentation([s for s in segs if s.end > s.start])
    return out


# --------------------------------------------------------------------------------------------
# Installing the Remote Script
# --------------------------------------------------------------------------------------------


def remote_scripts_folder() -> Path | None:
    """Live's ``User Library/Remote Scripts`` folder for this user (macOS / Windows), or ``None``."""
    home = Path.home()
    system = platform.system()
    if system == "Darwin":
        return home / "Music" / "Ableton" / "User Library" / "Remote Scripts"
    if system == "Windows":
        return home / "Documents" / "Ableton" / "User Library" / "Remote Scripts"
    return None


def install_live_script(dest: str | Path | None = None) -> Path:
    """Copy the TechnobFX Remote Script into ``dest`` (default: Live's Remote Scripts folder).

    Returns
    -------
    Path
        The installed folder (``dest/TechnobFX``).

    Raises
    ------
    PathError
        No ``dest`` on a system without Live, or a ``dest`` that is not a folder.
    """
    folder = Path(dest) if dest is not None else remote_scripts_folder()
    if folder is None:
        raise PathError("Ableton Live runs on macOS and Windows; give the Remote Scripts folder with --dest")
    if folder.exists() and not folder.is_dir():
        raise PathError(f"{folder}: not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / LIVE_SCRIPT.name
    tmp = folder / f".{LIVE_SCRIPT.name}.part"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(LIVE_SCRIPT, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target
