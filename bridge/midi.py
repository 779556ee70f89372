"""MIDI with mido: Standard MIDI File export with a tempo map, and MIDI clock out and in.

SMF layout (type 1, :data:`PPQ` ticks per quarter note)
-------------------------------------------------------
* track 0 ``conductor``: ``set_tempo`` events following the beat grid (a new tempo wherever the
  grid drifts from the current tempo by more than :data:`TEMPO_TOLERANCE_S`, at most one per
  beat), ``time_signature``, ``key_signature``, and one ``marker`` per section at its start;
* track 1 ``beats``: a drum note per beat on channel 10 -- :data:`DOWNBEAT_NOTE` (kick) on
  downbeats, :data:`BEAT_NOTE` (closed hi-hat) on the others;
* track 2 ``pitch``: the pitch-tracking notes on channel 1;
* then one track per transcribed source (``TrackData.note_tracks``: bass, chords, lead or one
  per stem) on channels 2, 3, ... (10 skipped), and a ``chord names`` track with a ``text`` event
  naming the chord wherever it changes (``TrackData.chords``).

Every beat of the grid sits exactly on a quarter-note tick and every downbeat on a bar line, so a
DAW's bar grid matches the music: the time before the first beat becomes a lead-in of whole
quarter notes (its tempo makes it last exactly that long), followed by a short pickup bar when
needed (:func:`meter_changes`).

MIDI clock
----------
:class:`ClockSender` sends 24 ``clock`` messages per quarter note with ``start``/``stop`` and a
``songpos`` (song position pointer, in sixteenth notes); :class:`ClockFollower` estimates the tempo
of incoming clock by a least-squares fit of tick arrival times. Ports are named by the user
(``mido.open_output(name)``); ``mido.sockets`` gives a TCP loopback port without a MIDI backend.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from technob_fx.core.errors import DependencyError, TechnobError
from technob_fx.core.io import atomic_path

if TYPE_CHECKING:
    from technob_fx.core.results import BeatGrid

    from .track import TrackData

#: Ticks per quarter note (beat) of exported files.
PPQ = 960
#: A new set_tempo is written where the current tempo would misplace the next beat by more (s).
TEMPO_TOLERANCE_S = 1e-4
#: General MIDI drum notes for downbeats and other beats (channel 10).
DOWNBEAT_NOTE = 36
BEAT_NOTE = 42
#: MIDI clock pulses per quarter note.
CLOCK_PPQN = 24

_MAJOR_FLATS = {"D#": "Eb", "G#": "Ab", "A#": "Bb"}
_MINOR_FLATS = {"Db": "C#", "Gb": "F#"}


@dataclass
class TempoMap:
    """Piecewise-constant tempo: seconds <-> ticks.

    Attributes
    ----------
    ticks : list of int
        Tick at which each tempo starts (first is 0).
    times : list of float
        Seconds at which each tempo starts (first is 0).
    us_per_beat : list of int
        Microseconds per quarter note of each segment.
    ppq : int
        Ticks per quarter note.
    """

    ticks: list[int]
    times: list[float]
    us_per_beat: list[int]
    ppq: int = PPQ

    def add(self, tick: int, us: int) -> None:
        """Start tempo ``us`` (microseconds per quarter) at ``tick`` (>= the last start)."""
        us = int(min(max(us, 1), 0xFFFFFF))
        t = self.tick_to_seconds(tick)
        if tick == self.ticks[-1]:
            self.us_per_beat[-1] = us
            return
        self.ticks.append(int(tick))
        self.times.append(t)
        self.us_per_beat.append(us)

    def tick_to_seconds(self, tick: float) -> float:
        """Seconds at ``tick``."""
        i = max(bisect.bisect_right(self.ticks, tick) - 1, 0)
        return self.times[i] + (tick - self.ticks[i]) * self.us_per_beat[i] / 1e6 / self.ppq

    def seconds_to_tick(self, seconds: float) -> int:
        """Nearest tick to ``seconds``."""
        i = max(bisect.bisect_right(self.times, seconds) - 1, 0)
        return int(round(self.ticks[i] + (seconds - self.times[i]) * 1e6 / self.us_per_beat[i] * self.ppq))


def _lead_in_beats(first_beat: float, first_tempo: float) -> int:
    """Whole quarter notes before the first beat: the nearest to the first tempo, at least 1."""
    if first_beat <= 1e-9:
        return 0
    return max(1, int(round(first_beat * first_tempo / 60.0)))


def meter_changes(lead: int, pos_in_bar: int, beats_per_bar: int) -> list[tuple[int, int]]:
    """Time signatures as ``[(quarter_note, numerator), ...]`` (denominator 4).

    With a lead-in of ``lead`` quarters before a first beat at 1-based position ``pos_in_bar``,
    the first downbeat falls on quarter ``q = lead + (1 - pos_in_bar) % beats_per_bar``; when
    ``q`` is not a whole number of bars, a short pickup bar of ``q % beats_per_bar`` quarters
    comes first so that every later downbeat starts a bar.
    """
    q = lead + (1 - pos_in_bar) % beats_per_bar
    pickup = q % beats_per_bar
    if pickup == 0:
        return [(0, beats_per_bar)]
    return [(0, pickup), (pickup, beats_per_bar)]


def build_tempo_map(beats: np.ndarray, tempo: float, *, ppq: int = PPQ, tolerance_s: float = TEMPO_TOLERANCE_S) -> tuple[TempoMap, int]:
    """A tempo map putting beat ``k`` exactly on tick ``(lead + k) * ppq``.

    Parameters
    ----------
    beats : np.ndarray
        Beat times, seconds, strictly increasing.
    tempo : float
        BPM to use without beats, and after the last beat when there is only one.
    tolerance_s : float
        Keep the current tempo while it places the next beat within this many seconds.

    Returns
    -------
    (TempoMap, lead)
        ``lead`` is the number of quarter notes before the first beat.
    """
    beats = np.asarray(beats, dtype=np.float64)
    default_us = int(round(60e6 / tempo))
    if beats.size == 0:
        return TempoMap([0], [0.0], [default_us], ppq), 0
    first_tempo = 60.0 / (beats[1] - beats[0]) if beats.size > 1 else tempo
    lead = _lead_in_beats(float(beats[0]), first_tempo)
    tm = TempoMap([0], [0.0], [int(round(float(beats[0]) * 1e6 / lead)) if lead else default_us], ppq)
    # rec: where the map currently puts each beat (s); error feedback keeps |rec - beat| small.
    cur = None
    rec = float(beats[0]) if lead else 0.0
    for k in range(beats.size - 1):
        nxt = float(beats[k + 1])
        if cur is None or abs(rec + cur / 1e6 - nxt) > tolerance_s:
            cur = int(round((nxt - rec) * 1e6))
            tm.add((lead + k) * ppq, cur)
            rec = tm.tick_to_seconds((lead + k) * ppq)
        rec += cur / 1e6
    if beats.size == 1:
        tm.add(lead * ppq, default_us)
    return tm, lead


def bar_layout(grid: BeatGrid, *, ppq: int = PPQ) -> tuple[TempoMap, int, list[tuple[int, int]]]:
    """How the MIDI file and the REAPER project lay out ``grid``: :func:`build_tempo_map` (beats on
    quarter notes) and :func:`meter_changes` (downbeats on bar lines).

    Returns
    -------
    (TempoMap, lead, meters)
        ``meters`` is ``[(quarter_note, numerator), ...]``.
    """
    tm, lead = build_tempo_map(grid.beats, grid.tempo, ppq=ppq)
    pos = grid.beat_in_bar
    meters = meter_changes(lead, int(pos[0]) if pos.size else 1, max(int(grid.beats_per_bar), 1))
    return tm, lead, meters


def _key_name(tonic: str, mode: str) -> str | None:
    minor = mode.lower().startswith("min")
    name = _MINOR_FLATS.get(tonic, tonic) if minor else _MAJOR_FLATS.get(tonic, tonic)
    return name + ("m" if minor else "")


def build_smf(data: TrackData, *, ppq: int = PPQ) -> Any:
    """The Standard MIDI File of :mod:`bridge.midi`'s layout as a :class:`mido.MidiFile`."""
    import mido

    pos = data.grid.beat_in_bar
    tm, lead, meters = bar_layout(data.grid, ppq=ppq)

    def to_track(events: list[tuple[int, int, Any]], name: str) -> Any:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        events.sort(key=lambda e: (e[0], e[1]))
        now = 0
        for tick, _order, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        end = max(now, tm.seconds_to_tick(data.duration))
        track.append(mido.MetaMessage("end_of_track", time=end - now))
        return track

    # conductor: order 0 tempo/meter/key, 1 markers
    conductor: list[tuple[int, int, Any]] = []
    for tick, us in zip(tm.ticks, tm.us_per_beat, strict=True):
        conductor.append((tick, 0, mido.MetaMessage("set_tempo", tempo=int(us))))
    for quarter, num in meters:
        conductor.append((quarter * ppq, 0, mido.MetaMessage(
            "time_signature", numerator=num, denominator=4, clocks_per_click=24,
            notated_32nd_notes_per_beat=8)))
    if data.key is not None:
        name = _key_name(data.key.tonic, data.key.mode)
        try:
            conductor.append((0, 0, mido.MetaMessage("key_signature", key=name)))
        except (ValueError, KeyError):
            pass  # a key mido cannot spell (theoretical keys): leave it out
    for seg in data.segments:
        conductor.append((tm.seconds_to_tick(seg.start), 1, mido.MetaMessage("marker", text=seg.label)))

    drums: list[tuple[int, int, Any]] = []
    dur = max(ppq // 8, 1)
    for k, p in enumerate(pos):
        tick = (lead + k) * ppq
        note = DOWNBEAT_NOTE if p == 1 else BEAT_NOTE
        vel = 120 if p == 1 else 90
        drums.append((tick, 1, mido.Message("note_on", channel=9, note=note, velocity=vel)))
        drums.append((tick + dur, 0, mido.Message("note_off", channel=9, note=note, velocity=0)))

    def note_events(notes: Iterable[Any], channel: int) -> list[tuple[int, int, Any]]:
        out: list[tuple[int, int, Any]] = []
        for n in notes:
            on, off = tm.seconds_to_tick(n.onset), tm.seconds_to_tick(n.offset)
            off = max(off, on + 1)
            note = int(min(max(n.pitch, 0), 127))
            vel = int(min(max(n.velocity, 1), 127))
            out.append((on, 1, mido.Message("note_on", channel=channel, note=note, velocity=vel)))
            out.append((off, 0, mido.Message("note_off", channel=channel, note=note, velocity=0)))
        return out

    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    mid.tracks.append(to_track(conductor, "conductor"))
    mid.tracks.append(to_track(drums, "beats"))
    mid.tracks.append(to_track(note_events(data.notes, 0), "pitch"))
    channels = [c for c in range(1, 16) if c != 9]
    for i, (name, notes) in enumerate(getattr(data, "note_tracks", {}).items()):
        mid.tracks.append(to_track(note_events(notes, channels[i % len(channels)]), name))
    chord_ev: list[tuple[int, int, Any]] = []
    last = None
    for start, _end, label in getattr(data, "chords", []):
        if label != last:
            chord_ev.append((tm.seconds_to_tick(start), 0, mido.MetaMessage("text", text=label)))
            last = label
    if chord_ev:
        mid.tracks.append(to_track(chord_ev, "chord names"))
    return mid


def write_smf(data: TrackData, path: str | Path, *, inputs: Iterable[str | Path] = (), ppq: int = PPQ) -> Path:
    """Write :func:`build_smf` to ``path`` atomically (never over one of ``inputs``)."""
    mid = build_smf(data, ppq=ppq)
    with atomic_path(path, inputs) as tmp:
        mid.save(str(tmp))
    return Path(path)


# --------------------------------------------------------------------------------------------
# MIDI clock
# --------------------------------------------------------------------------------------------


def _socket_address(name: str) -> tuple[str, int] | None:
    host, sep, port = name.rpartition(":")
    return (host or "127.0.0.1", int(port)) if sep and port.isdigit() else None


def _nodelay(port: Any) -> Any:
    """Turn off Nagle's algorithm on a mido socket port (clock pulses must not be batched)."""
    import socket

    sock = getattr(port, "_socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return port


@contextlib.contextmanager
def _port_errors(name: str) -> Iterator[None]:
    """Turn a failure to open MIDI port ``name`` into a one-line technob error."""
    try:
        yield
    except ImportError as exc:
        raise DependencyError(f"MIDI port {name!r}: no MIDI backend ({exc}); "
                              "install python-rtmidi or use a host:port socket port") from None
    except OSError as exc:
        raise TechnobError(f"MIDI port {name!r}: cannot open ({exc})") from None


def open_output(name: str) -> Any:
    """Open the MIDI output port ``name``: ``host:port`` connects to a ``mido.sockets`` port
    server (TCP, no MIDI backend needed), anything else is a port of mido's backend (rtmidi).

    Raises
    ------
    DependencyError
        No MIDI backend installed.
    TechnobError
        The port cannot be opened.
    """
    import mido

    addr = _socket_address(name)
    with _port_errors(name):
        if addr is not None:
            from mido.sockets import connect

            return _nodelay(connect(*addr))
        return mido.open_output(name)


def open_input(name: str) -> Any:
    """Open the MIDI input port ``name``: ``host:port`` listens as a ``mido.sockets`` port server
    that clock sources connect to; anything else is a port of mido's backend."""
    import mido

    addr = _socket_address(name)
    with _port_errors(name):
        if addr is not None:
            return SocketInput(*addr)
        return mido.open_input(name)


class SocketInput:
    """A MIDI input listening on TCP (``mido.sockets`` wire format) for any number of senders.

    (``mido.sockets.PortServer`` cannot be polled: its receive blocks while no client is
    connected.) ``address`` is the bound ``(host, port)``; port 0 picks a free one.
    """

    def __init__(self, host: str, port: int) -> None:
        from mido.sockets import PortServer

        self.server = PortServer(host, int(port))
        self.address: tuple[str, int] = self.server._socket.getsockname()
        self.ports: list[Any] = []
        self.closed = False

    def iter_pending(self) -> Iterable[Any]:
        """Messages received so far, without blocking (accepts new connections first)."""
        while True:
            conn = self.server.accept(block=False)
            if conn is None:
                break
            self.ports.append(conn)
        for port in list(self.ports):
            if port.closed:
                self.ports.remove(port)
                continue
            try:
                yield from port.iter_pending()
            except OSError:
                port.close()

    def close(self) -> None:
        """Close every connection and the listening socket."""
        for port in self.ports:
            port.close()
        self.server.close()
        self.closed = True


class ClockSender:
    """Send MIDI clock at a tempo on an output port, from a background thread.

    Parameters
    ----------
    port : mido output port
        Anything with ``send(msg)``.
    bpm : float
        Tempo, BPM (quarter notes per minute).
    song_position : int
        Song position pointer sent before ``start``, in sixteenth notes (0 = the top).
    """

    def __init__(self, port: Any, bpm: float, *, song_position: int = 0) -> None:
        self.set_tempo(bpm)
        self.port = port
        self.song_position = int(song_position)
        self.pulses = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_tempo(self, bpm: float) -> None:
        """Change the tempo (BPM) from the next pulse."""
        if not 1.0 <= bpm <= 1000.0:
            raise TechnobError(f"clock tempo {bpm} BPM is out of range [1, 1000]")
        self.bpm = float(bpm)

    def start(self) -> None:
        """Send ``songpos`` and ``start``, then clock pulses until :meth:`stop`."""
        import mido

        if self._thread is not None:
            return
        self.port.send(mido.Message("songpos", pos=min(max(self.song_position, 0), 16383)))
        self.port.send(mido.Message("start"))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="midi-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import mido

        clock = mido.Message("clock")
        next_t = time.perf_counter()
        while not self._stop.is_set():
            self.port.send(clock)
            self.pulses += 1
            next_t += 60.0 / (self.bpm * CLOCK_PPQN)
            delay = next_t - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -0.5:  # fell far behind (suspended): resynchronise, don't burst
                next_t = time.perf_counter()

    def stop(self) -> None:
        """Stop the pulses and send ``stop``."""
        import mido

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
            self.port.send(mido.Message("stop"))

    def __enter__(self) -> ClockSender:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ClockFollower:
    """Follow incoming MIDI clock: tempo, running state and song position.

    Feed it messages with :meth:`feed` (or let :meth:`run` read a port in a thread). The tempo is
    the least-squares slope of the arrival times of the last ``window`` pulses.

    Parameters
    ----------
    window : int
        Pulses in the estimate (default 96 = 4 beats).
    """

    def __init__(self, window: int = 96) -> None:
        self.window = int(window)
        self.times: deque[float] = deque(maxlen=self.window)
        self.running = False
        self.song_position = 0  # sixteenth notes at the last songpos
        self.pulses = 0  # pulses since start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def feed(self, msg: Any, t: float | None = None) -> None:
        """Handle one message received at ``t`` (seconds, ``time.perf_counter()`` by default)."""
        t = time.perf_counter() if t is None else t
        with self.lock:
            if msg.type == "clock":
                self.times.append(t)
                self.pulses += 1
            elif msg.type == "start":
                self.running, self.pulses = True, 0
                self.times.clear()
            elif msg.type == "continue":
                self.running = True
            elif msg.type == "stop":
                self.running = False
            elif msg.type == "songpos":
                self.song_position = int(msg.pos)

    @property
    def tempo(self) -> float | None:
        """Estimated tempo, BPM, or ``None`` before 3 pulses."""
        with self.lock:
            ts = np.array(self.times)
        if ts.size < 3:
            return None
        n = np.arange(ts.size, dtype=np.float64)
        slope = np.polyfit(n, ts - ts[0], 1)[0]  # seconds per pulse
        return 60.0 / (slope * CLOCK_PPQN) if slope > 0 else None

    @property
    def position_beats(self) -> float:
        """Quarter notes since the song position pointer: ``songpos / 4 + pulses / 24``."""
        return self.song_position / 4.0 + self.pulses / CLOCK_PPQN

    def run(self, port: Any) -> None:
        """Read ``port`` in a background thread until :meth:`stop`."""
        def loop() -> None:
            while not self._stop.is_set():
                for msg in port.iter_pending():
                    self.feed(msg)
                self._stop.wait(0.0005)

        self._thread = threading.Thread(target=loop, name="midi-clock-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the reading thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
