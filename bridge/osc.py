"""The technob OSC server: our ``/technob/...`` namespace over UDP.

Three parts:

* the **transport** (:class:`bridge.osctransport.OscTransport`): one UDP socket, strict datagram
  parsing (bounded bundle nesting and sizes), the sender allowlist and typed replies; it never
  dies from a datagram;
* the **handler table** (:data:`HANDLERS`), built from the methods of :class:`OscServer` marked
  with :func:`handles`: each entry says its address, argument types, whether it is a *job* (runs
  on the worker thread) and whether it only reads (otherwise, with a secret set, the message must
  carry it). :data:`NAMESPACE` and ``/technob/help`` come from it;
* the **job queue** (:class:`JobQueue`): bounded, one job at a time, ``/technob/cancel``.

One receiving thread parses and dispatches datagrams in arrival order (so replies keep the order
of requests); jobs (analyse, separate, render, export, DAW sync and pull) run one at a time on a
worker thread, so ``/technob/param`` keeps working while a render streams -- a parameter set
between two blocks takes effect from the next block (:meth:`technob_fx.core.chain.Chain.set_parameter`
takes the chain's lock, which each block holds while it is processed).

Replies go to the sender's address (or to a fixed ``reply_to`` address), as typed OSC messages.
Every request is answered: a job at once with ``/technob/queued <address> <jobs ahead>``, then
with its results and ``/technob/done`` or ``/technob/error``; everything else at once. Every
error -- malformed datagram, unknown address, wrong arguments, oversized packet, a path outside the
allowed folders, a missing secret, a full queue, a failed or cancelled job -- is answered with
``/technob/error <message> <address>``; the server keeps running.

Security model (README, "OSC server"): on loopback anyone on the machine may talk to the server.
Listening on any other address needs ``allow_public``, a sender allowlist (``allow_from``: CIDR
networks; datagrams from anyone else are dropped without a reply, so the server cannot be used
to reflect traffic) and a shared ``secret`` that every state-changing message carries as its first
argument (compared in constant time and stripped before the arguments are checked). Every path a
request names, and every file a preset or an analysis JSON names, must lie inside the allowed
folders (:class:`bridge.paths.PathPolicy`).
"""

from __future__ import annotations

import collections
import hmac
import itertools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from technob_fx.core.errors import PathError, TechnobError

from .oscmsg import OscArg
from .osctransport import MAX_INCOMING, OscTransport, SenderPolicy, is_loopback
from .paths import PathPolicy
from .track import AUDIO_SUFFIXES, TrackData

__all__ = ["HANDLERS", "MAX_INCOMING", "NAMESPACE", "Handler", "JobQueue", "OscServer", "Request",
           "handles"]

#: Jobs that may wait behind the running one; one more is refused with an error reply.
MAX_QUEUED_JOBS = 8
#: Shortest shared secret accepted (characters).
MIN_SECRET = 16


class AuthError(TechnobError):
    """A state-changing message without the shared secret."""


class JobCancelled(TechnobError):
    """The running job was cancelled by ``/technob/cancel``."""


# --------------------------------------------------------------------------------------------
# The handler table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    """One entry of the handler table.

    Attributes
    ----------
    address : str
        The OSC address.
    spec : str
        Argument types: ``s`` str, ``f`` number, ``i`` int, ``v`` any scalar, ``*`` anything;
        after ``|`` the rest are optional.
    method : str
        Name of the :class:`OscServer` method that handles it (looked up on the instance, so a
        subclass may override it).
    job : bool
        Runs on the job thread (queued; may be cancelled); otherwise answered at once.
    read_only : bool
        Changes nothing on the server or on disk: needs no secret.
    args, help : str
        Documentation (``/technob/help``, :data:`NAMESPACE`, the README).
    """

    address: str
    spec: str
    method: str
    job: bool
    read_only: bool
    args: str
    help: str


def handles(address: str, spec: str = "", *, job: bool = False, read_only: bool = False,
            args: str = "", help: str = "") -> Callable[[Callable], Callable]:  # noqa: A002
    """Mark an :class:`OscServer` method as the handler of ``address`` (stackable).

    Parameters
    ----------
    address : str
        OSC address, e.g. ``"/technob/render"``.
    spec : str
        Argument types (see :class:`Handler`).
    job : bool
        Queue it on the job thread instead of answering at once.
    read_only : bool
        It changes no state, so it needs no secret (default False: new handlers need it).
    args, help : str
        Documentation.
    """

    def mark(func: Callable) -> Callable:
        entries = func.__dict__.setdefault("_technob_handles", [])
        entries.append(Handler(address, spec, func.__name__, job, read_only, args, help))
        return func

    return mark


def handler_table(cls: type) -> dict[str, Handler]:
    """Address -> :class:`Handler` for every method of ``cls`` marked with :func:`handles`."""
    table: dict[str, Handler] = {}
    for name in dir(cls):
        for h in getattr(getattr(cls, name, None), "_technob_handles", ()):
            if h.address in table:
                raise TypeError(f"{h.address} is handled twice ({table[h.address].method}, {name})")
            table[h.address] = h
    return dict(sorted(table.items()))


# --------------------------------------------------------------------------------------------
# Requests and jobs
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One received message: its address, arguments (without the secret) and where it came from;
    ``job`` is set while it runs as a job."""

    address: str
    args: tuple
    sender: tuple
    job: Job | None = None


class Job:
    """A queued or running job: its request, handler and cancel flag."""

    def __init__(self, number: int, req: Request, handler: Handler) -> None:
        self.number = number
        self.req = req
        self.handler = handler
        self.cancelled = threading.Event()
        req.job = self


class JobQueue:
    """A bounded FIFO of jobs with one running at a time, and cancelling.

    Parameters
    ----------
    maxsize : int
        Jobs that may wait (not counting the running one).
    """

    def __init__(self, maxsize: int = MAX_QUEUED_JOBS) -> None:
        self.maxsize = int(maxsize)
        self._waiting: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.running: Job | None = None

    def put(self, job: Job, accepted: Callable[[int], None] | None = None) -> int:
        """Queue ``job``; returns how many jobs are ahead of it (the running one included).

        ``accepted(ahead)`` is called before the job can start (so an acknowledgement sent from
        it precedes whatever the job sends).

        Raises
        ------
        TechnobError
            The queue is full.
        """
        with self._cond:
            if len(self._waiting) >= self.maxsize:
                raise TechnobError(f"job queue full ({self.maxsize} jobs waiting); wait for /technob/done "
                                   "or send /technob/cancel")
            ahead = len(self._waiting) + (self.running is not None)
            if accepted is not None:
                accepted(ahead)
            self._waiting.append(job)
            self._cond.notify()
            return ahead

    def get(self) -> Job | None:
        """The next job (marked running), blocking; None once closed."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            self.running = self._waiting.popleft()
            return self.running

    def done(self, job: Job) -> None:
        """Mark ``job`` finished."""
        with self._cond:
            if self.running is job:
                self.running = None

    def cancel(self, address: str | None = None) -> tuple[list[Job], Job | None]:
        """Cancel the waiting jobs (those for ``address`` only, when given) and flag the running
        one; returns (the removed waiting jobs, the flagged running job or None)."""
        with self._cond:
            removed = [j for j in self._waiting if address is None or j.req.address == address]
            for j in removed:
                j.cancelled.set()
                self._waiting.remove(j)
            running = self.running
            if running is not None and (address is None or running.req.address == address):
                running.cancelled.set()
            else:
                running = None
            return removed, running

    def __len__(self) -> int:
        with self._cond:
            return len(self._waiting)

    def close(self) -> list[Job]:
        """Stop handing out jobs; returns the ones still waiting."""
        with self._cond:
            self._closed = True
            left = list(self._waiting)
            self._waiting.clear()
            if self.running is not None:
                self.running.cancelled.set()
            self._cond.notify_all()
            return left


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class OscServer:
    """The technob OSC server.

    Parameters
    ----------
    host, port : str, int
        Address to bind (IPv4 or IPv6; ``::1`` is loopback); port 0 picks a free one (see
        :attr:`address`). A non-loopback host is refused unless ``allow_public`` *and*
        ``allow_from`` *and* ``secret`` are given.
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
    allow_public : bool
        Allow a non-loopback ``host``.
    allow_from : list of str, optional
        Sender allowlist (CIDR networks); required beyond loopback. Others are dropped unanswered.
    secret : str, optional
        Shared secret (at least 16 characters) that every state-changing message must carry as its
        first argument; required beyond loopback, optional on loopback.
    max_jobs : int
        Jobs that may wait in the queue (:data:`MAX_QUEUED_JOBS`).
    clock_out : mido output port, optional
        Where ``/technob/clock/start`` sends MIDI clock (:func:`bridge.midi.open_output`).
    clock_in : bridge.midi.ClockFollower, optional
        A running follower of incoming MIDI clock, reported by ``/technob/get/clock``.

    Raises
    ------
    TechnobError
        A non-loopback host without the three above, a short secret, a bad network, a port in use.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, *, allow: list[str | Path] | None = None,
                 reply_to: tuple[str, int] | None = None, daw: Any = None, auto_sync: bool = False,
                 chain: Any = None, allow_public: bool = False, allow_from: list[str] | None = None,
                 secret: str | None = None, max_jobs: int = MAX_QUEUED_JOBS, clock_out: Any = None,
                 clock_in: Any = None) -> None:
        if not is_loopback(host):
            if not allow_public:
                raise TechnobError(f"refusing to listen on non-loopback address {host}; pass allow_public "
                                   "(CLI: --public) with a sender allowlist and a shared secret")
            if not allow_from:
                raise TechnobError(f"listening on non-loopback address {host} needs a sender allowlist "
                                   "(CLI: --allow-from CIDR)")
            if not secret:
                raise TechnobError(f"listening on non-loopback address {host} needs a shared secret "
                                   "(CLI: TECHNOB_OSC_SECRET or --secret-file FILE)")
        if secret is not None and len(secret) < MIN_SECRET:
            raise TechnobError(f"the shared secret must have at least {MIN_SECRET} characters")
        self.policy = PathPolicy(allow)
        self.secret = secret.encode() if secret else None
        self.daw = daw
        self.auto_sync = auto_sync
        self.chain = chain
        self.data: TrackData | None = None
        self.analysis_path: Path | None = None
        self.clock_out = clock_out
        self.clock_in = clock_in
        self._clock: Any = None  # the running bridge.midi.ClockSender
        self.jobs = JobQueue(max_jobs)
        self._numbers = itertools.count(1)
        self._threads: list[threading.Thread] = []
        senders = SenderPolicy(allow_from) if allow_from else SenderPolicy()
        self.transport = OscTransport(host, port, self.dispatch, senders=senders, reply_to=reply_to)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on."""
        return self.transport.address

    @property
    def sock(self) -> Any:
        """The UDP socket."""
        return self.transport.sock

    @property
    def received(self) -> int:
        """Datagrams received."""
        return self.transport.received

    @property
    def errors(self) -> int:
        """Error replies sent."""
        return self.transport.errors

    def start(self) -> OscServer:
        """Serve in background threads; returns ``self``."""
        for target, name in ((self.transport.serve, "technob-osc"), (self._work, "technob-osc-jobs")):
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
            self.transport.serve()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving (the running job is cancelled at its next step), wait for the threads,
        close the socket."""
        self.transport.stop()
        for job in self.jobs.close():
            self.error(job.req.sender, "cancelled: the server is stopping", job.req.address)
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)
        self._threads.clear()
        self.transport.close()

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sending ------------------------------------------------------------------------------

    def send(self, to: tuple, address: str, *args: OscArg) -> None:
        """Send one reply (to the transport's ``reply_to`` when set)."""
        self.transport.send(to, address, *args)

    def error(self, to: tuple, message: str, address: str = "") -> None:
        """``/technob/error <message> <address>``."""
        self.transport.error(to, message, address)

    def send_chunked(self, to: tuple, address: str, prefix: list[OscArg], values: list[OscArg]) -> None:
        """Send ``values`` as ``address *prefix offset v...`` messages of at most MAX_DATAGRAM bytes."""
        self.transport.send_chunked(to, address, prefix, values)

    # -- dispatching --------------------------------------------------------------------------

    def handle_datagram(self, data: bytes, sender: tuple) -> None:
        """Handle one datagram as if received (never raises)."""
        self.transport.handle_datagram(data, sender)

    def dispatch(self, address: str, args: tuple, sender: tuple) -> None:
        """Check one message (address, secret, argument types), then answer it or queue its job.

        Raises
        ------
        TechnobError
            Unknown address, missing secret, wrong arguments, full queue, or the handler's own
            error (the transport turns it into ``/technob/error``).
        """
        handler = HANDLERS.get(address)
        if handler is None:
            raise TechnobError(f"unknown address {address[:200]}; /technob/help lists the namespace")
        args = tuple(args)
        authed = False
        if self.secret is not None and args and isinstance(args[0], str):
            authed = hmac.compare_digest(args[0].encode("utf-8", "surrogatepass"), self.secret)
            if authed:
                args = args[1:]
        if self.secret is not None and not handler.read_only and not authed:
            raise AuthError(f"{address} changes the server's state: send the shared secret as its first "
                            "argument")
        req = Request(address, args, sender)
        _check_args(req, handler.spec)
        if handler.job:
            job = Job(next(self._numbers), req, handler)
            self.jobs.put(job, lambda ahead: self.send(sender, "/technob/queued", address, ahead))
        else:
            getattr(self, handler.method)(req)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            req = job.req
            try:
                if job.cancelled.is_set():
                    raise JobCancelled("cancelled")
                getattr(self, job.handler.method)(req)
            except TechnobError as exc:
                self.error(req.sender, str(exc), req.address)
            except Exception as exc:  # noqa: BLE001 - a failed job never stops the worker
                self.error(req.sender, f"{type(exc).__name__}: {exc}", req.address)
                traceback.print_exc()
            finally:
                self.jobs.done(job)

    def _progress(self, req: Request) -> Callable[[float, str], None]:
        """A progress callback for a job: sends ``/technob/progress`` (at most every 1 %) and
        raises :class:`JobCancelled` once the job is cancelled (work stops at its next step)."""
        last = [-1.0]

        def cb(fraction: float, message: str = "") -> None:
            if req.job is not None and req.job.cancelled.is_set():
                raise JobCancelled("cancelled")
            if fraction - last[0] >= 0.01 or fraction >= 1.0:
                last[0] = fraction
                self.send(req.sender, "/technob/progress", req.address, float(fraction), str(message))

        return cb

    # -- server handlers ----------------------------------------------------------------------

    @handles("/technob/ping", "*", read_only=True, args="[token...]",
             help="replies /technob/pong <version> followed by the string and number arguments sent")
    def _ping(self, req: Request) -> None:
        from technob_fx import __version__

        echo = [a if not isinstance(a, str) else a[:200] for a in req.args
                if isinstance(a, (str, float)) or (isinstance(a, int) and not isinstance(a, bool)
                                                   and -(2**63) <= a < 2**63)][:8]
        self.send(req.sender, "/technob/pong", f"technob-fx {__version__}", *echo)

    @handles("/technob/help", "|s", read_only=True, args="[address]",
             help="replies /technob/help <address> <arguments> <description> <job 0|1> <needs secret 0|1> "
                  "per address (or the one asked for), then /technob/done help <count>")
    def _help(self, req: Request) -> None:
        entries = list(HANDLERS.values())
        if req.args:
            entries = [h for h in entries if h.address == req.args[0]]
            if not entries:
                raise TechnobError(f"unknown address {req.args[0][:200]}")
        for h in entries:
            self.send(req.sender, "/technob/help", h.address, h.args, h.help[:900], int(h.job),
                      int(not h.read_only and self.secret is not None))
        self.send(req.sender, "/technob/done", "help", str(len(entries)))

    @handles("/technob/get/status", read_only=True,
             help="replies /technob/status <datagrams received> <error replies> <datagrams dropped "
                  "(sender not allowed)> <jobs waiting> <running job's address or ''>")
    def _get_status(self, req: Request) -> None:
        t = self.transport
        running = self.jobs.running
        self.send(req.sender, "/technob/status", t.received, t.errors, t.dropped, len(self.jobs),
                  running.req.address if running is not None else "")

    @handles("/technob/cancel", "|s", args="[address]",
             help="cancel the waiting jobs and the running one (only those for <address> when given); "
                  "each gets /technob/error cancelled; replies /technob/cancel <count>")
    def _cancel(self, req: Request) -> None:
        only = req.args[0] if req.args else None
        if only is not None and (only not in HANDLERS or not HANDLERS[only].job):
            raise TechnobError(f"{only[:200]} is not a job address")
        removed, running = self.jobs.cancel(only)
        for job in removed:
            self.error(job.req.sender, "cancelled", job.req.address)
        self.send(req.sender, "/technob/cancel", len(removed) + (running is not None))

    # -- analysis -----------------------------------------------------------------------------

    def _need_data(self) -> TrackData:
        if self.data is None:
            raise TechnobError("nothing analysed yet; send /technob/analyze <path> first")
        return self.data

    def _check_track_paths(self, data: TrackData, where: str) -> None:
        """Refuse an analysis whose audio or stems lie outside the allowed folders."""
        if data.audio is not None:
            data.audio = self.policy.check(data.audio, f"{where}: source")
        data.stems = {k: self.policy.check(v, f"{where}: stems.{k}") for k, v in data.stems.items()}

    @handles("/technob/analyze", "s", job=True, args="path",
             help="analyse an audio file (or read an analysis .json, or a folder holding analysis.json); "
                  "replies tempo, beats, downbeats, segments, key, then /technob/done analyze <path>")
    def _analyze(self, req: Request) -> None:
        from .track import load_track_data

        path = self.policy.resolve(req.args[0], must_exist=True)
        if path.is_dir():
            from technob_fx.stages.analysis import FILE_NAME

            if not (path / FILE_NAME).is_file():
                raise PathError(f"{req.args[0]}: is a folder without an {FILE_NAME}; give an audio file "
                                "or an analysis .json")
            path = self.policy.resolve(path / FILE_NAME, file=True)
        data = load_track_data(path, progress=self._progress(req))
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            self._check_track_paths(data, path.name)
        self.data = data
        # where a pull writes corrections back: the analysis.json the data came from
        self.analysis_path = None if path.suffix.lower() in AUDIO_SUFFIXES else path
        self.send_result(req.sender, data)
        if self.auto_sync and self.daw is not None:
            self._sync(req)
        self.send(req.sender, "/technob/done", "analyze", str(path))

    @handles("/technob/separate", "s|ss", job=True, args="path [engine] [out_dir]",
             help="separate into stems (engine demucs or hpss) under <out_dir> (default <stem>_stems/ beside "
                  "the input; inside the allowed folders); replies /technob/stem <name> <path> per stem, "
                  "then /technob/done")
    def _separate(self, req: Request) -> None:
        path = self.policy.resolve(req.args[0], file=True)
        engine = req.args[1] if len(req.args) > 1 and req.args[1] else "demucs"
        out = req.args[2] if len(req.args) > 2 else path.parent / f"{path.stem}_stems"
        out_dir = self.policy.resolve_dir(out, create=True)
        from technob_fx.stages.separation import separate

        stems = separate(path, out_dir, engine=engine, progress=self._progress(req))
        for name, p in stems.items():
            self.send(req.sender, "/technob/stem", name, str(p))
        if self.data is not None and (self.data.audio is None or Path(self.data.audio).resolve() == path):
            self.data.stems = {k: Path(v) for k, v in stems.items()}
        self.send(req.sender, "/technob/done", "separate", str(path))

    # -- the live chain -----------------------------------------------------------------------

    def _chain_from(self, preset: str) -> Any:
        """A shipped preset by name, or a preset file inside the allowed folders (never one found
        through the server's working folder); its plugin and impulse files go through the policy."""
        from technob_fx.core.chain import Chain
        from technob_fx.core.presets import list_presets

        shipped = list_presets()
        if preset in shipped:
            path = shipped[preset]
        else:
            try:
                path = self.policy.resolve(preset, file=True)
            except PathError as exc:
                if "/" in preset or "." in preset:
                    raise
                raise PathError(f"no shipped preset named {preset!r} ({', '.join(shipped)}) and no file "
                                f"{preset!r} in {self.policy.root}") from exc
        return Chain.from_preset(path, check_path=self.policy.check)

    @handles("/technob/chain", "s", args="preset",
             help="load a preset chain (a shipped name, or a .toml inside the allowed folders) as the live "
                  "chain for /technob/param; replies /technob/chain <preset> <elements>")
    def _load_chain(self, req: Request) -> None:
        self.chain = self._chain_from(req.args[0])
        self.send(req.sender, "/technob/chain", req.args[0], ",".join(self.chain.names))

    #: Samples per block of renders started over OSC (parameters change between blocks).
    block_size = 16384

    @handles("/technob/render", "sss", job=True, args="preset in out",
             help="stream <in> through a preset chain to <out>; preset 'current' uses the loaded chain; "
                  "/technob/progress during, /technob/done render <out> <seconds>")
    def _render(self, req: Request) -> None:
        preset, src, dst = req.args
        src_p = self.policy.resolve(src, file=True)
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

    def _param_value(self, element: str, param: str) -> OscArg:
        value = self.chain.get_parameter(f"{element}.{param}")
        if isinstance(value, (bool, int, float, str)):
            return value
        return str(value)

    @handles("/technob/param", "ssv", args="element param value",
             help="set a live chain parameter; replies /technob/param <element> <param> <value now>")
    def _param(self, req: Request) -> None:
        element, param, value = req.args
        if self.chain is None:
            raise TechnobError("no chain loaded; send /technob/chain <preset> or /technob/render first")
        if isinstance(value, str):
            from technob_fx.core.node import parse_value

            value = parse_value(value)
        self.chain.set_parameter(f"{element}.{param}", value)
        self.send(req.sender, "/technob/param", element, param, self._param_value(element, param))

    @handles("/technob/get/param", "ss", read_only=True, args="element param",
             help="replies /technob/param <element> <param> <value>")
    def _get_param(self, req: Request) -> None:
        if self.chain is None:
            raise TechnobError("no chain loaded")
        element, param = req.args
        self.send(req.sender, "/technob/param", element, param, self._param_value(element, param))

    @handles("/technob/get/params", read_only=True,
             help="replies /technob/params <count>, then /technob/param ... for every parameter of the "
                  "live chain")
    def _get_params(self, req: Request) -> None:
        if self.chain is None:
            raise TechnobError("no chain loaded")
        values = []
        for key in self.chain.parameters:
            element, param = key.split(".", 1)
            try:
                values.append((element, param, self._param_value(element, param)))
            except TechnobError:
                continue
        self.send(req.sender, "/technob/params", len(values))
        for v in values:
            self.send(req.sender, "/technob/param", *v)

    # -- getters of the last analysis ---------------------------------------------------------

    @handles("/technob/get/tempo", read_only=True, help="replies /technob/tempo <bpm>")
    @handles("/technob/get/beats", read_only=True, help="replies /technob/beats <offset> <s>... (chunked)")
    @handles("/technob/get/downbeats", read_only=True, help="replies /technob/downbeats <offset> <s>... (chunked)")
    @handles("/technob/get/segments", read_only=True,
             help="replies /technob/segments <count>, then /technob/segment <start> <end> <label> per section")
    @handles("/technob/get/key", read_only=True, help="replies /technob/key <tonic> <mode> <confidence>")
    @handles("/technob/get/notes", read_only=True,
             help="replies /technob/notes <offset> <onset> <offset_s> <pitch>... (chunked)")
    def _get(self, req: Request) -> None:
        self.send_result(req.sender, self._need_data(), (req.address.rsplit("/", 1)[1],))

    @handles("/technob/get/stems", read_only=True,
             help="replies /technob/stems <count> (0 before any separation), then /technob/stem <name> <path> "
                  "per stem")
    def _get_stems(self, req: Request) -> None:
        stems = self.data.stems if self.data is not None else {}
        self.send(req.sender, "/technob/stems", len(stems))
        for name, path in stems.items():
            self.send(req.sender, "/technob/stem", name, str(path))

    def send_result(self, to: tuple, data: TrackData,
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
                self.send(to, "/technob/segments", len(data.segments))
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

    @handles("/technob/get/tempo_map", "|s", read_only=True, args="[steps|time|beats]",
             help="replies /technob/tempo_map <offset> (<audio s> <beat> <bpm> <ramp 0|1>)... (chunked): the one "
                  "tempo map, steps (SMF) or ramps linear in time (REAPER) or beats (DAWproject)")
    def _get_tempo_map(self, req: Request) -> None:
        kind = req.args[0] if req.args else "steps"
        if kind not in ("steps", "time", "beats"):
            raise TechnobError(f"tempo map kind must be steps, time or beats, got {kind[:50]!r}")
        tm = self._need_data().tempo_map(None if kind == "steps" else kind)
        flat: list[OscArg] = []
        for p in tm.points:
            flat += [float(p.time - tm.audio_offset), float(p.beat), float(p.bpm), int(p.ramp)]
        self.send_chunked(req.sender, "/technob/tempo_map", [], flat)

    # -- files and the DAW --------------------------------------------------------------------

    @handles("/technob/export", "ss", job=True, args="targets out_dir",
             help="write reaper,midi,jams,labels,dawproject files of the last analysis into <out_dir> "
                  "(inside the allowed folders); replies /technob/file <target> <path> per file")
    def _export(self, req: Request) -> None:
        from .export import export, parse_targets

        targets = parse_targets(req.args[0])
        data = self._need_data()  # before the folder is made: nothing analysed -> nothing created
        self._check_track_paths(data, "the analysis")
        out_dir = self.policy.resolve_dir(req.args[1], create=True)
        written = export(data, targets, out_dir)
        for target, files in written.items():
            for f in files:
                self.send(req.sender, "/technob/file", target, str(f))
        self.send(req.sender, "/technob/done", "export", str(out_dir))

    def _sync(self, req: Request) -> None:
        if self.daw is None:
            raise TechnobError("no DAW configured (technob bridge --daw ableton|reaper)")
        data = self._need_data()
        self._check_track_paths(data, "the analysis")
        summary = self.daw.sync(data)
        self.send(req.sender, "/technob/daw", type(self.daw).__name__,
                  ", ".join(f"{k}={v}" for k, v in summary.items()))

    @handles("/technob/daw/sync", job=True,
             help="push tempo, markers/cues and stems of the last analysis to the DAW; replies /technob/daw "
                  "<client> <summary>, /technob/done daw/sync")
    def _daw_sync(self, req: Request) -> None:
        self._sync(req)
        self.send(req.sender, "/technob/done", "daw/sync", "")

    @handles("/technob/daw/pull", job=True,
             help="read the DAW's tempo and markers back into the last analysis (and its analysis.json when "
                  "it came from one); replies /technob/daw, the corrected tempo, beats, downbeats and "
                  "segments, then /technob/done daw/pull")
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

    # -- MIDI clock ---------------------------------------------------------------------------

    @handles("/technob/clock/start", "|f", args="[bpm]",
             help="start MIDI clock out (24 ppqn, song position 0, start) at bpm or the analysed tempo; "
                  "replies /technob/clock <bpm> 1 0")
    def _clock_start(self, req: Request) -> None:
        from .midi import ClockSender

        if self.clock_out is None:
            raise TechnobError("no MIDI clock output (technob bridge --clock-out PORT)")
        bpm = float(req.args[0]) if req.args else (self.data.tempo if self.data else 120.0)
        if not 1.0 <= bpm <= 1000.0:
            raise TechnobError(f"clock tempo must be 1-1000 BPM, got {bpm}")
        if self._clock is not None:
            self._clock.set_tempo(bpm)
        else:
            self._clock = ClockSender(self.clock_out, bpm)
            self._clock.start()
        self.send(req.sender, "/technob/clock", float(bpm), 1, 0.0)

    @handles("/technob/clock/stop", help="send MIDI stop; replies /technob/clock <bpm> 0 <beats sent>")
    def _clock_stop(self, req: Request) -> None:
        from .midi import CLOCK_PPQN

        if self._clock is None:
            raise TechnobError("MIDI clock is not running")
        clock, self._clock = self._clock, None
        clock.stop()
        self.send(req.sender, "/technob/clock", float(clock.bpm), 0, clock.pulses / CLOCK_PPQN)

    @handles("/technob/get/clock", read_only=True,
             help="replies /technob/clock <bpm> <running 0|1> <position beats> of the followed MIDI clock in "
                  "(bpm 0 before 3 pulses)")
    def _get_clock(self, req: Request) -> None:
        if self.clock_in is None:
            raise TechnobError("no MIDI clock input (technob bridge --clock-in PORT)")
        tempo = self.clock_in.tempo
        self.send(req.sender, "/technob/clock", float(tempo or 0.0), int(self.clock_in.running),
                  float(self.clock_in.position_beats))


#: The handler table: address -> :class:`Handler` (which handlers are jobs, which need the secret).
HANDLERS: dict[str, Handler] = handler_table(OscServer)

#: The namespace: address -> (arguments, what it does and replies). Documented in the README.
NAMESPACE: dict[str, tuple[str, str]] = {h.address: (h.args, h.help) for h in HANDLERS.values()}


_TYPE_NAMES = {"s": "a string", "f": "a number", "i": "an integer", "v": "a value"}


def _check_args(req: Request, spec: str) -> None:
    """Check ``req.args`` against ``spec``: ``s`` str, ``f`` finite number, ``i`` int, ``v`` any
    scalar, ``*`` anything; after ``|`` the rest is optional."""
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
            or (t == "f" and isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a) < float("inf")
                and a == a)
            or (t == "i" and isinstance(a, int) and not isinstance(a, bool))
            or (t == "v" and isinstance(a, (int, float, str, bool)))
        )
        if not ok:
            raise TechnobError(f"{req.address}: argument {i + 1} must be {_TYPE_NAMES[t]}, "
                               f"got {type(a).__name__} {a!r}"[:300])
