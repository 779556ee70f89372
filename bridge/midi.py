"""MIDI with mido: the one Standard MIDI File builder, and MIDI clock out and in.

SMF
---
:class:`SmfBuilder` writes a type-1 file (:data:`PPQ` ticks per quarter note) on a
:class:`technob_fx.core.tempo.TempoMap`: track 0 ``conductor`` holds the map's ``set_tempo``
events (whole microseconds per quarter note; SMF has no ramps, so the map is fitted with steps)
and ``time_signature`` events, a ``key_signature``, and any ``marker``/``text``/``cue_marker``
events added with :meth:`SmfBuilder.marker`; further tracks are created by name and take notes.
Times are given in audio seconds (placed through the map) or in project beats (exact ticks).
The DAW exporter (:func:`build_smf`), the Lo-Fi generator (``technob_fx.blend.generate``) and
anyone adding text events (chord symbols) use it.

:func:`build_smf` lays out a track: the conductor with one ``marker`` per section, track 1
``beats`` with a drum note per analysed beat on channel 10 (:data:`DOWNBEAT_NOTE` on downbeats,
:data:`BEAT_NOTE` on the others) -- every beat exactly on a quarter note, every downbeat on a bar
line -- track 2 ``pitch`` with the pitch-tracking notes on channel 1, then one track per
transcribed source (``TrackData.note_tracks``: bass, chords, lead or one per stem) on channels
2, 3, ... (10 skipped), and a ``chord names`` track with a ``text`` event naming the chord
wherever it changes (``TrackData.chords``).

MIDI clock
----------
:class:`ClockSender` sends 24 ``clock`` messages per quarter note with ``start``/``stop`` and a
``songpos`` (song position pointer, in sixteenth notes); :class:`ClockFollower` estimates the tempo
of incoming clock by a least-squares fit of tick arrival times. Ports are named by the user
(``mido.open_output(name)``); ``mido.sockets`` gives a TCP loopback port without a MIDI backend.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from technob_fx.core.errors import DependencyError, ParameterError, TechnobError
from technob_fx.core.io import atomic_path

if TYPE_CHECKING:
    from technob_fx.core.tempo import TempoMap

    from .track import TrackData

#: Ticks per quarter note (beat) of exported files.
PPQ = 960
#: General MIDI drum notes for downbeats and other beats (channel 10).
DOWNBEAT_NOTE = 36
BEAT_NOTE = 42
#: MIDI clock pulses per quarter note.
CLOCK_PPQN = 24
#: Meta events :meth:`SmfBuilder.marker` writes.
TEXT_KINDS = ("marker", "text", "cue_marker", "lyrics")

_MAJOR_FLATS = {"D#": "Eb", "G#": "Ab", "A#": "Bb"}
_MINOR_FLATS = {"Db": "C#", "Gb": "F#"}


def key_name(tonic: str, mode: str) -> str:
    """mido's key-signature name of a key (``"A", "minor"`` -> ``"Am"``; flats where SMF wants)."""
    minor = mode.lower().startswith("min")
    name = _MINOR_FLATS.get(tonic, tonic) if minor else _MAJOR_FLATS.get(tonic, tonic)
    return name + ("m" if minor else "")


class SmfBuilder:
    """Collect events on a tempo map and write them as one type-1 Standard MIDI File.

    Parameters
    ----------
    tempo_map : TempoMap
        Without ramps (``fit_tempo_map(grid)``); its points and time signatures go into the
        conductor track.
    ppq : int
        Ticks per quarter note.

    Examples
    --------
    >>> b = SmfBuilder(fit_tempo_map(grid))                       # doctest: +SKIP
    >>> b.marker("drop", seconds=60.0)                            # doctest: +SKIP
    >>> b.marker("Am7", beat=16, kind="text")                     # doctest: +SKIP
    >>> b.note("bass", 45, 60.0, 60.5, velocity=90)               # doctest: +SKIP
    >>> b.save("out.mid")                                         # doctest: +SKIP
    """

    def __init__(self, tempo_map: TempoMap, *, ppq: int = PPQ) -> None:
        self.tempo_map = tempo_map
        self.ppq = int(ppq)
        self.tempi = tempo_map.smf_tempi()  # raises on ramps
        self.conductor: list[tuple[int, int, Any]] = []
        self.tracks: dict[str, list[tuple[int, int, Any]]] = {}
        self.clamped = 0  # events moved from before the project start to tick 0

    # -- time ---------------------------------------------------------------------------------

    def tick(self, *, seconds: float | None = None, beat: float | None = None) -> int:
        """Tick of an audio time (seconds, through the tempo map) or a project beat."""
        if (seconds is None) == (beat is None):
            raise ParameterError("give exactly one of seconds= or beat=")
        q = float(self.tempo_map.audio_to_beat(seconds)) if seconds is not None else float(beat)  # type: ignore[arg-type]
        return int(round(q * self.ppq))

    def _at(self, seconds: float | None, beat: float | None) -> int:
        t = self.tick(seconds=seconds, beat=beat)
        if t < 0:
            self.clamped += 1
            return 0
        return t

    # -- events -------------------------------------------------------------------------------

    def marker(self, text: str, *, seconds: float | None = None, beat: float | None = None,
               kind: str = "marker") -> None:
        """A text meta event in the conductor: ``marker`` (sections), ``text`` (e.g. chord
        symbols), ``cue_marker`` or ``lyrics``."""
        import mido

        if kind not in TEXT_KINDS:
            raise ParameterError(f"text event kind must be one of {', '.join(TEXT_KINDS)}; got {kind!r}")
        self.conductor.append((self._at(seconds, beat), 2, mido.MetaMessage(kind, text=str(text))))

    def text(self, track: str, text: str, *, seconds: float | None = None, beat: float | None = None,
             kind: str = "text") -> None:
        """A text meta event on track ``track`` (e.g. chord names on their own track)."""
        import mido

        if kind not in TEXT_KINDS:
            raise ParameterError(f"text event kind must be one of {', '.join(TEXT_KINDS)}; got {kind!r}")
        self.track(track).append((self._at(seconds, beat), 0, mido.MetaMessage(kind, text=str(text))))

    def key_signature(self, tonic: str, mode: str) -> bool:
        """A key signature at the start; ``False`` when SMF cannot spell the key (left out)."""
        import mido

        try:
            self.conductor.append((0, 1, mido.MetaMessage("key_signature", key=key_name(tonic, mode))))
        except (ValueError, KeyError):
            return False
        return True

    def track(self, name: str) -> list[tuple[int, int, Any]]:
        """The event list of track ``name`` (created empty, in creation order)."""
        return self.tracks.setdefault(name, [])

    def note(self, track: str, pitch: int, start: float, end: float, *, velocity: int = 100,
             channel: int = 0, unit: str = "seconds") -> None:
        """A note on ``track``: ``start``/``end`` in audio seconds (``unit="seconds"``) or project
        beats (``unit="beats"``); at least one tick long."""
        import mido

        if unit == "seconds":
            on, off = self._at(start, None), self.tick(seconds=end)
        elif unit == "beats":
            on, off = self._at(None, start), self.tick(beat=end)
        else:
            raise ParameterError(f"unit must be 'seconds' or 'beats', got {unit!r}")
        off = max(off, on + 1)
        p = int(min(max(pitch, 0), 127))
        v = int(min(max(velocity, 1), 127))
        events = self.track(track)
        events.append((on, 1, mido.Message("note_on", channel=channel, note=p, velocity=v)))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=p, velocity=0)))

    # -- output -------------------------------------------------------------------------------

    def build(self, *, end_seconds: float | None = None, end_beat: float | None = None) -> Any:
        """The :class:`mido.MidiFile`; every track ends at ``end_*`` (or its last event)."""
        import mido

        conductor = list(self.conductor)
        for beat, us in self.tempi:
            conductor.append((int(round(beat * self.ppq)), 0, mido.MetaMessage("set_tempo", tempo=us)))
        for m in self.tempo_map.meters:
            conductor.append((int(round(m.beat * self.ppq)), 0, mido.MetaMessage(
                "time_signature", numerator=m.numerator, denominator=m.denominator,
                clocks_per_click=24, notated_32nd_notes_per_beat=8)))
        end = 0
        if end_seconds is not None:
            end = self.tick(seconds=end_seconds)
        elif end_beat is not None:
            end = self.tick(beat=end_beat)

        def to_track(events: list[tuple[int, int, Any]], name: str) -> Any:
            track = mido.MidiTrack()
            track.append(mido.MetaMessage("track_name", name=name, time=0))
            now = 0
            for tick, _order, msg in sorted(events, key=lambda e: (e[0], e[1])):
                track.append(msg.copy(time=tick - now))
                now = tick
            track.append(mido.MetaMessage("end_of_track", time=max(end, now) - now))
            return track

        mid = mido.MidiFile(type=1, ticks_per_beat=self.ppq)
        mid.tracks.append(to_track(conductor, "conductor"))
        for name, events in self.tracks.items():
            mid.tracks.append(to_track(events, name))
        return mid

    def save(self, path: str | Path, *, inputs: Iterable[str | Path] = (), **end: float) -> Path:
        """Write :meth:`build` to ``path`` atomically (never over one of ``inputs``)."""
        mid = self.build(**end)
        with atomic_path(path, inputs) as tmp:
            mid.save(str(tmp))
        return Path(path)


def smf_builder(data: TrackData, *, ppq: int = PPQ) -> SmfBuilder:
    """:class:`SmfBuilder` of a track: its tempo map (steps), key, a marker per section, a drum
    note per analysed beat (track ``beats``) and the pitch notes (track ``pitch``). Add further
    events (chord symbols, more tracks) before :meth:`SmfBuilder.build`."""
    tm = data.tempo_map()
    b = SmfBuilder(tm, ppq=ppq)
    if data.key is not None:
        b.key_signature(data.key.tonic, data.key.mode)
    for seg in data.segments:
        b.marker(seg.label, seconds=seg.start)
    pos = data.grid.beat_in_bar
    drums = b.track("beats")
    dur = max(ppq // 8, 1)
    import mido

    for q, p in zip(tm.beat_positions, pos, strict=True):
        if q < 0:
            continue  # before the project start (a trimmed pickup)
        tick = int(round(q * ppq))
        note, vel = (DOWNBEAT_NOTE, 120) if p == 1 else (BEAT_NOTE, 90)
        drums.append((tick, 1, mido.Message("note_on", channel=9, note=note, velocity=vel)))
        drums.append((tick + dur, 0, mido.Message("note_off", channel=9, note=note, velocity=0)))
    b.track("pitch")
    for n in data.notes:
        b.note("pitch", n.pitch, n.onset, n.offset, velocity=n.velocity)
    channels = [c for c in range(1, 16) if c != 9]
    for i, (name, notes) in enumerate(data.note_tracks.items()):
        b.track(name)
        for n in notes:
            b.note(name, n.pitch, n.onset, n.offset, velocity=n.velocity, channel=channels[i % len(channels)])
    last = None
    for start, _end, label in data.chords:
        if label != last:
            b.text("chord names", label, seconds=start)
            last = label
    return b


def build_smf(data: TrackData, *, ppq: int = PPQ) -> Any:
    """The Standard MIDI File of a track (:func:`smf_builder`) as a :class:`mido.MidiFile`."""
    return smf_builder(data, ppq=ppq).build(end_seconds=data.duration)


def write_smf(data: TrackData, path: str | Path, *, inputs: Iterable[str | Path] = (), ppq: int = PPQ) -> Path:
    """Write :func:`build_smf` to ``path`` atomically (never over one of ``inputs``)."""
    return smf_builder(data, ppq=ppq).save(path, inputs=inputs, end_seconds=data.duration)


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
