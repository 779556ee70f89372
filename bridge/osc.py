"""The technob OSC server: our ``/technob/...`` namespace over UDP.

One receiving thread parses and dispatches datagrams in arrival order (so replies keep the order
of requests); long jobs (analyse, separate, render, export, DAW sync) run one at a time on a worker
thread, so ``/technob/param`` keeps working while a render streams -- a parameter set between two
blocks takes effect from the next block (:meth:`technob_fx.core.chain.Chain.set_parameter` takes the
chain's lock, which each block holds while it is processed).

Replies go to the sender's address (or to a fixed ``reply_to`` address), as typed OSC messages
(see :data:`NAMESPACE`). Every error -- malformed datagram, unknown address, wrong arguments,
oversized packet, a path outside the allowed folders, a failed job -- is answered with
``/technob/error <message> <address>``; the server keeps running.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from technob_fx.core.errors import TechnobError

from .oscmsg import MAX_DATAGRAM, OscArg, build, chunked
from .paths import PathPolicy
from .track import AUDIO_SUFFIXES, TrackData

#: Largest datagram accepted (bytes); larger ones are refused with an error reply.
MAX_INCOMING = 8192

#: The namespace: address -> (arguments, what it does and replies). Documented in the README.
NAMESPACE: dict[str, tuple[str, str]] = {
    "/technob/ping": ("", "replies /technob/pong <version>"),
    "/technob/analyze": ("path", "analyse an audio file (or read an analysis .json); replies tempo, "
                         "beats, downbeats, segments, key, then /technob/done analyze <path>"),
    "/technob/separate": ("path [engine]", "separate into stems under <stem>_stems/; replies "
                          "/technob/stem <name> <path> per stem, then /technob/done"),
    "/technob/render": ("preset in out", "stream <in> through a preset chain to <out>; preset "
                        "'current' uses the loaded chain; /technob/progress during, /technob/done"),
    "/technob/chain": ("preset", "load a preset chain as the live chain for /technob/param"),
    "/technob/param": ("element param value", "set a live chain parameter; replies /technob/param "
                       "<element> <param> <value now>"),
    "/technob/export": ("targets out_dir", "write reaper,midi,jams,labels files of the last analysis; "
                        "replies /technob/file <target> <path> per file"),
    "/technob/daw/sync": ("", "push tempo, markers/cues and stems of the last analysis to the DAW"),
    "/technob/daw/pull": ("", "read the DAW's tempo and markers back into the last analysis (and its "
                          "analysis.json when it came from one); replies /technob/daw, the corrected "
                          "tempo, beats, downbeats and segments, then /technob/done daw/pull"),
    "/technob/get/tempo_map": ("[steps|time|beats]", "replies /technob/tempo_map <offset> (<audio s> <beat> "
                               "<bpm> <ramp 0|1>)... (chunked): the one tempo map, steps (SMF) or ramps "
                               "linear in time (REAPER) or beats (DAWproject)"),
    "/technob/get/param": ("element param", "replies /technob/param <element> <param> <value>"),
    "/technob/get/params": ("", "replies /technob/param ... for every parameter of the live chain"),
    "/technob/get/tempo": ("", "replies /technob/tempo <bpm>"),
    "/technob/get/beats": ("", "replies /technob/beats <offset> <s>... (chunked)"),
    "/technob/get/downbeats": ("", "replies /technob/downbeats <offset> <s>... (chunked)"),
    "/technob/get/segments": ("", "replies /technob/segment <start> <end> <label> per section"),
    "/technob/get/key": ("", "replies /technob/key <tonic> <mode> <confidence>"),
    "/technob/get/notes": ("", "replies /technob/notes <offset> <onset> <offset_s> <pitch>... (chunked)"),
    "/technob/get/stems": ("", "replies /technob/stem <name> <path> per stem"),
    "/technob/clock/start": ("[bpm]", "start MIDI clock out (24 ppqn, song position 0, start) at bpm "
                             "or the analysed tempo; replies /technob/clock <bpm> 1 0"),
    "/technob/clock/stop": ("", "send MIDI stop; replies /technob/clock <bpm> 0 <beats sent>"),
    "/technob/get/clock": ("", "replies /technob/clock <bpm> <running 0|1> <position beats> of the "
                           "followed MIDI clock in (bpm 0 before 3 pulses)"),
}


@dataclass
class Request:
    """One received message: its address, arguments and where it came from."""

    address: str
    args: tuple
    sender: tuple[str, int]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


class OscServer:
    """The technob OSC server.

    Parameters
    ----------
    host, port : str, int
        Address to bind; port 0 picks a free one (see :attr:`address`). A non-loopback host is
        refused unless ``allow_public``.
    allow : list of paths, optional
        Folders network-supplied paths may be under (default: the working folder).
    reply_to : (host, port), optional
        Send every reply there instead of to the sender.
    daw : object, optional
        A DAW client with ``sync(TrackData) -> dict`` (:class:`bridge.ableton.AbletonClient`,
        :class:`bridge.reaper.ReaperClient`), used by ``/technob/daw/sync`` and after each
        analysis when ``auto_sync``.
    chain : technob_fx.core.chain.Chain, optional
        The live chain ``/technob/param`` acts on.
    clock_out : mido output port, optional
        Where ``/technob/clock/start`` sends MIDI clock (:func:`bridge.midi.open_output`).
    clock_in : bridge.midi.ClockFollower, optional
        A running follower of incoming MIDI clock, reported by ``/technob/get/clock``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, *, allow: list[str | Path] | None = None,
                 reply_to: tuple[str, int] | None = None, daw: Any = None, auto_sync: bool = False,
                 chain: Any = None, allow_public: bool = False, clock_out: Any = None,
                 clock_in: Any = None) -> None:
        if not allow_public and not _is_loopback(host):
            raise TechnobError(f"refusing to listen on non-loopback address {host}; "
                               "pass allow_public (CLI: --public) to expose the server")
        self.policy = PathPolicy(allow)
        self.reply_to = reply_to
        self.daw = daw
        self.auto_sync = auto_sync
        self.chain = chain
        self.data: TrackData | None = None
        self.analysis_path: Path | None = None
        self.clock_out = clock_out
        self.clock_in = clock_in
        self._clock: Any = None  # the running bridge.midi.ClockSender
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        try:
            self.sock.bind((host, int(port)))
        except OSError as exc:
            self.sock.close()
            raise TechnobError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.sock.settimeout(0.2)
        self.handlers: dict[str, tuple[str, Callable[[Request], None]]] = {}
        self._register()
        self._stop = threading.Event()
        self._jobs: queue.Queue[tuple[Request, Callable[[Request], None]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.received = 0
        self.errors = 0

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on."""
        return self.sock.getsockname()

    def start(self) -> OscServer:
        """Serve in background threads; returns ``self``."""
        for target, name in ((self._serve, "technob-osc"), (self._work, "technob-osc-jobs")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (or Ctrl-C) in the calling thread."""
        worker = threading.Thread(target=self._work, name="technob-osc-jobs", daemon=True)
        worker.start()
        self._threads.append(worker)
        try:
            self._serve()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, wait for the threads, close the socket."""
        self._stop.set()
        self._jobs.put(None)
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)
        self._threads.clear()
        self.sock.close()

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sending ------------------------------------------------------------------------------

    def send(self, to: tuple[str, int], address: str, *args: OscArg) -> None:
        """Send one reply (to :attr:`reply_to` when set)."""
        dest = self.reply_to or to
        try:
            self.sock.sendto(build(address, args), dest)
        except OSError:
            pass  # the peer went away; nothing to tell

    def error(self, to: tuple[str, int], message: str, address: str = "") -> None:
        """``/technob/error <message> <address>``."""
        self.errors += 1
        self.send(to, "/technob/error", str(message)[: MAX_DATAGRAM - 200], address)

    def send_chunked(self, to: tuple[str, int], address: str, prefix: list[OscArg], values: list[OscArg]) -> None:
        """Send ``values`` as ``address *prefix offset v...`` messages of at most MAX_DATAGRAM bytes."""
        for args in chunked(address, prefix, values):
            self.send(to, address, *args)

    # -- receiving ----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle_datagram(data, sender)

    def handle_datagram(self, data: bytes, sender: tuple[str, int]) -> None:
        """Parse one datagram and dispatch its messages; errors become ``/technob/error``."""
        self.received += 1
        if len(data) > MAX_INCOMING:
            self.error(sender, f"packet of {len(data)} bytes exceeds the {MAX_INCOMING}-byte limit")
            return
        try:
            messages = [t.message for t in OscPacket(data).messages]
        except (ParseError, ValueError, IndexError, UnicodeDecodeError) as exc:
            self.error(sender, f"malformed OSC packet ({len(data)} bytes): {exc}")
            return
        for msg in messages:
            req = Request(msg.address, tuple(msg.params), sender)
            try:
                self.dispatch(req)
            except TechnobError as exc:
                self.error(sender, str(exc), req.address)
            except Exception as exc:  # noqa: BLE001 - never let a request kill the server
                self.error(sender, f"internal error: {type(exc).__name__}: {exc}", req.address)
                traceback.print_exc()

    def dispatch(self, req: Request) -> None:
        """Check a request's address and arguments, then run (or queue) its handler."""
        entry = self.handlers.get(req.address)
        if entry is None:
            raise TechnobError(f"unknown address {req.address}")
        spec, func = entry
        _check_args(req, spec)
        if func.__name__ in _JOBS:
            self._jobs.put((req, func))
        else:
            func(req)

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None or self._stop.is_set():
                return
            req, func = item
            try:
                func(req)
            except TechnobError as exc:
                self.error(req.sender, str(exc), req.address)
            except Exception as exc:  # noqa: BLE001
                self.error(req.sender, f"{type(exc).__name__}: {exc}", req.address)
                traceback.print_exc()

    # -- handlers -----------------------------------------------------------------------------

    def _register(self) -> None:
        h = self.handlers
        h["/technob/ping"] = ("*", self._ping)
        h["/technob/analyze"] = ("s", self._analyze)
        h["/technob/separate"] = ("s|s", self._separate)
        h["/technob/render"] = ("sss", self._render)
        h["/technob/chain"] = ("s", self._load_chain)
        h["/technob/param"] = ("ssv", self._param)
        h["/technob/get/param"] = ("ss", self._get_param)
        h["/technob/get/params"] = ("", self._get_params)
        h["/technob/export"] = ("ss", self._export)
        h["/technob/daw/sync"] = ("", self._daw_sync)
        h["/technob/daw/pull"] = ("", self._daw_pull)
        h["/technob/get/tempo_map"] = ("|s", self._get_tempo_map)
        h["/technob/clock/start"] = ("|f", self._clock_start)
        h["/technob/clock/stop"] = ("", self._clock_stop)
        h["/technob/get/clock"] = ("", self._get_clock)
        for what in ("tempo", "beats", "downbeats", "segments", "key", "notes", "stems"):
            h[f"/technob/get/{what}"] = ("", self._getter(what))

    def _ping(self, req: Request) -> None:
        from technob_fx import __version__

        self.send(req.sender, "/technob/pong", f"technob-fx {__version__}")

    def _need_data(self) -> TrackData:
        if self.data is None:
            raise TechnobError("nothing analysed yet; send /technob/analyze <path> first")
        return self.data

    def _getter(self, what: str) -> Callable[[Request], None]:
        def get(req: Request) -> None:
            self.send_result(req.sender, self._need_data(), (what,))

        get.__name__ = f"_get_{what}"
        return get

    def send_result(self, to: tuple[str, int], data: TrackData,
                    what: tuple[str, ...] = ("tempo", "beats", "downbeats", "segments", "key")) -> None:
        """Send parts of an analysis as typed messages."""
        for w in what:
            if w == "tempo":
                self.send(to, "/technob/tempo", float(data.tempo))
            elif w == "beats":
                self.send_chunked(to, "/technob/beats", [], [float(b) for b in data.grid.beats])
            elif w == "downbeats":
                self.send_chunked(to, "/technob/downbeats", [], [float(b) for b in data.grid.downbeats])
            elif w == "segments":
                for s in data.segments:
                    self.send(to, "/technob/segment", float(s.start), float(s.end), s.label)
            elif w == "key":
                if data.key is None:
                    self.send(to, "/technob/key", "", "", 0.0)
                else:
                    self.send(to, "/technob/key", data.key.tonic, data.key.mode, float(data.key.confidence))
            elif w == "notes":
                flat: list[OscArg] = []
                for n in data.notes:
                    flat += [float(n.onset), float(n.offset), int(n.pitch)]
                self.send_chunked(to, "/technob/notes", [], flat)
            elif w == "stems":
                for name, path in data.stems.items():
                    self.send(to, "/technob/stem", name, str(path))

    def _progress(self, req: Request) -> Callable[[float, str], None]:
        last = [-1.0]

        def cb(fraction: float, message: str = "") -> None:
            if fraction - last[0] >= 0.01 or fraction >= 1.0:
                last[0] = fraction
                self.send(req.sender, "/technob/progress", req.address, float(fraction), str(message))

        return cb

    def _analyze(self, req: Request) -> None:
        from .track import load_track_data

        path = self.policy.resolve(req.args[0], must_exist=True)
        data = load_track_data(path, progress=self._progress(req))
        self.data = data
        # where a pull writes corrections back: the analysis.json the data came from
        self.analysis_path = None if path.suffix.lower() in AUDIO_SUFFIXES else path
        self.send_result(req.sender, data)
        if self.auto_sync and self.daw is not None:
            self._sync(req)
        self.send(req.sender, "/technob/done", "analyze", str(path))

    def _separate(self, req: Request) -> None:
        path = self.policy.resolve(req.args[0], must_exist=True)
        engine = req.args[1] if len(req.args) > 1 else "demucs"
        out_dir = self.policy.resolve_dir(path.parent / f"{path.stem}_stems", create=True)
        from technob_fx.stages.separation import separate

        stems = separate(path, out_dir, engine=engine, progress=self._progress(req))
        for name, p in stems.items():
            self.send(req.sender, "/technob/stem", name, str(p))
        if self.data is not None and (self.data.audio is None or Path(self.data.audio).resolve() == path):
            self.data.stems = {k: Path(v) for k, v in stems.items()}
        self.send(req.sender, "/technob/done", "separate", str(path))

    def _chain_from(self, preset: str) -> Any:
        from technob_fx.core.chain import Chain

        if "/" in preset or preset.endswith(".toml"):
            preset = str(self.policy.resolve(preset, must_exist=True))
        return Chain.from_preset(preset)

    def _load_chain(self, req: Request) -> None:
        self.chain = self._chain_from(req.args[0])
        self.send(req.sender, "/technob/chain", req.args[0], ",".join(self.chain.names))

    def _render(self, req: Request) -> None:
        preset, src, dst = req.args
        src_p = self.policy.resolve(src, must_exist=True)
        dst_p = self.policy.resolve(dst, for_write=True)
        if preset == "current":
            if self.chain is None:
                raise TechnobError("no chain loaded; send /technob/chain <preset> first")
            chain = self.chain
        else:
            chain = self._chain_from(preset)
            self.chain = chain
        out = chain.process_file(src_p, dst_p, progress=self._progress(req), block_size=self.block_size)
        self.send(req.sender, "/technob/done", "render", str(dst_p), float(out.duration))

    #: Samples per block of renders started over OSC (parameters change between blocks).
    block_size = 16384

    def _param_value(self, element: str, param: str) -> OscArg:
        value = self.chain.get_parameter(f"{element}.{param}")
        if isinstance(value, (bool, int, float, str)):
            return value
        return str(value)

    def _param(self, req: Request) -> None:
        element, param, value = req.args
        if self.chain is None:
            raise TechnobError("no chain loaded; send /technob/chain <preset> or /technob/render first")
        if isinstance(value, str):
            from technob_fx.core.node import parse_value

            value = parse_value(value)
        self.chain.set_parameter(f"{element}.{param}", value)
        self.send(req.sender, "/technob/param", element, param, self._param_value(element, param))

    def _get_param(self, req: Request) -> None:
        if self.chain is None:
            raise TechnobError("no chain loaded")
        element, param = req.args
        self.send(req.sender, "/technob/param", element, param, self._param_value(element, param))

    def _get_params(self, req: Request) -> None:
        if self.chain is None:
            raise TechnobError("no chain loaded")
        for key in self.chain.parameters:
            element, param = key.split(".", 1)
            try:
                value = self._param_value(element, param)
            except TechnobError:
                continue
            self.send(req.sender, "/technob/param", element, param, value)

    def _export(self, req: Request) -> None:
        from .export import export, parse_targets

        targets = parse_targets(req.args[0])
        out_dir = self.policy.resolve_dir(req.args[1], create=True)
        written = export(self._need_data(), targets, out_dir)
        for target, files in written.items():
            for f in files:
                self.send(req.sender, "/technob/file", target, str(f))
        self.send(req.sender, "/technob/done", "export", str(out_dir))

    def _sync(self, req: Request) -> None:
        if self.daw is None:
            raise TechnobError("no DAW configured (technob bridge --daw ableton|reaper)")
        summary = self.daw.sync(self._need_data())
        self.send(req.sender, "/technob/daw", type(self.daw).__name__,
                  ", ".join(f"{k}={v}" for k, v in summary.items()))

    def _clock_start(self, req: Request) -> None:
        from .midi import ClockSender

        if self.clock_out is None:
            raise TechnobError("no MIDI clock output (technob bridge --clock-out PORT)")
        bpm = float(req.args[0]) if req.args else (self.data.tempo if self.data else 120.0)
        if self._clock is not None:
            self._clock.set_tempo(bpm)
        else:
            self._clock = ClockSender(self.clock_out, bpm)
            self._clock.start()
        self.send(req.sender, "/technob/clock", float(bpm), 1, 0.0)

    def _clock_stop(self, req: Request) -> None:
        from .midi import CLOCK_PPQN

        if self._clock is None:
            raise TechnobError("MIDI clock is not running")
        clock, self._clock = self._clock, None
        clock.stop()
        self.send(req.sender, "/technob/clock", float(clock.bpm), 0, clock.pulses / CLOCK_PPQN)

    def _get_clock(self, req: Request) -> None:
        if self.clock_in is None:
            raise TechnobError("no MIDI clock input (technob bridge --clock-in PORT)")
        tempo = self.clock_in.tempo
        self.send(req.sender, "/technob/clock", float(tempo or 0.0), int(self.clock_in.running),
                  float(self.clock_in.position_beats))

    def _daw_sync(self, req: Request) -> None:
        self._sync(req)
        self.send(req.sender, "/technob/done", "daw/sync", "")

    def _daw_pull(self, req: Request) -> None:
        if self.daw is None or not hasattr(self.daw, "pull"):
            raise TechnobError("no DAW to pull from (technob bridge --daw ableton|reaper)")
        before = self._need_data()
        after = self.daw.pull(before)
        written = ""
        if self.analysis_path is not None:
            from technob_fx.stages.analysis import read_analysis

            from .pull import apply_corrections

            folder = self.analysis_path if self.analysis_path.is_dir() else self.analysis_path.parent
            written = str(apply_corrections(read_analysis(self.analysis_path), after).write(folder))
        self.data = after
        from .pull import describe

        self.send(req.sender, "/technob/daw", type(self.daw).__name__, describe(before, after))
        self.send_result(req.sender, after, ("tempo", "beats", "downbeats", "segments"))
        self.send(req.sender, "/technob/done", "daw/pull", written)

    def _get_tempo_map(self, req: Request) -> None:
        kind = req.args[0] if req.args else "steps"
        if kind not in ("steps", "time", "beats"):
            raise TechnobError(f"tempo map kind must be steps, time or beats, got {kind!r}")
        tm = self._need_data().tempo_map(None if kind == "steps" else kind)
        flat: list[OscArg] = []
        for p in tm.points:
            flat += [float(p.time - tm.audio_offset), float(p.beat), float(p.bpm), int(p.ramp)]
        self.send_chunked(req.sender, "/technob/tempo_map", [], flat)


#: Handlers that run on the job thread (everything else answers at once, in order).
_JOBS = {"_analyze", "_separate", "_render", "_export", "_daw_sync", "_daw_pull"}


_TYPE_NAMES = {"s": "a string", "f": "a number", "i": "an integer", "v": "a value"}


def _check_args(req: Request, spec: str) -> None:
    """Check ``req.args`` against ``spec``: ``s`` str, ``f`` number, ``i`` int, ``v`` any scalar,
    ``*`` anything; after ``|`` the rest is optional."""
    if spec == "*":
        return
    required, _, optional = spec.partition("|")
    n_min, n_max = len(required), len(required) + len(optional)
    if not n_min <= len(req.args) <= n_max:
        want = str(n_min) if n_min == n_max else f"{n_min}-{n_max}"
        raise TechnobError(f"{req.address} takes {want} argument(s), got {len(req.args)}")
    for i, (t, a) in enumerate(zip(required + optional, req.args, strict=False)):
        ok = (
            (t == "s" and isinstance(a, str))
            or (t == "f" and isinstance(a, (int, float)) and not isinstance(a, bool))
            or (t == "i" and isinstance(a, int) and not isinstance(a, bool))
            or (t == "v" and isinstance(a, (int, float, str, bool)))
        )
        if not ok:
            raise TechnobError(f"{req.address}: argument {i + 1} must be {_TYPE_NAMES[t]}, "
                               f"got {type(a).__name__} {a!r}"[:300])
