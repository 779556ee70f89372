"""The OSC server's transport: one UDP socket, datagram parsing, replies and the sender policy.

:class:`OscTransport` knows nothing of the ``/technob`` namespace. It receives datagrams, drops
those from senders outside the allowlist (:class:`SenderPolicy`), refuses oversized ones, parses
the rest with :func:`bridge.oscmsg.parse_packet` (bounded nesting and sizes) and hands each
message to a ``dispatch(address, args, sender)`` callback. Anything that goes wrong while handling
one datagram -- a parse error, a :class:`TechnobError` from the callback, any other exception --
is answered with ``/technob/error <message> <address>``; the receiving loop never dies from a
datagram.

Senders outside the allowlist get no reply at all: answering them would let anyone who can forge
a source address use the server to send traffic to a third party (UDP reflection).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from technob_fx.core.errors import TechnobError

from .oscmsg import MAX_DATAGRAM, OscArg, OscParseError, build, chunked, parse_packet

#: Largest datagram accepted (bytes); larger ones are refused with an error reply.
MAX_INCOMING = 8192

Address = tuple[Any, ...]  # (host, port) or IPv6's (host, port, flowinfo, scope_id)
Dispatch = Callable[[str, tuple, Address], None]


def resolve_host(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...], list[str]]:
    """``host`` -> (socket family, address to bind, every IP it resolves to).

    IPv4 is preferred when a name resolves to both (``localhost`` stays reachable at 127.0.0.1);
    an IPv6 literal such as ``::1`` binds an IPv6 socket.

    Raises
    ------
    TechnobError
        The name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise TechnobError(f"cannot resolve listen address {host!r}: {exc}") from None
    if not infos:
        raise TechnobError(f"cannot resolve listen address {host!r}")
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr, [i[4][0] for i in infos]


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback one (``127.0.0.0/8``, ``::1``)."""
    try:
        _, _, ips = resolve_host(host, 0)
        return all(_ip(a).is_loopback for a in ips)
    except (TechnobError, ValueError):
        return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a v4 peer on a dual-stack socket
    return ip


class SenderPolicy:
    """Which senders the server listens to.

    Parameters
    ----------
    allow_from : iterable of str, optional
        Networks in CIDR form (``192.168.1.0/24``, ``10.0.0.7``, ``::1/128``); ``None`` allows every
        sender (only sensible on loopback).

    Raises
    ------
    TechnobError
        A network that does not parse.
    """

    def __init__(self, allow_from: Iterable[str] | None = None) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None
        if allow_from is not None:
            self.networks = []
            for text in allow_from:
                try:
                    self.networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
                except ValueError as exc:
                    raise TechnobError(f"--allow-from {text!r}: not a network in CIDR form ({exc})") from None

    def allows(self, host: str) -> bool:
        """Whether a datagram from ``host`` (an IP address) is handled."""
        if self.networks is None:
            return True
        try:
            ip = _ip(host)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __str__(self) -> str:
        return "any sender" if self.networks is None else ", ".join(map(str, self.networks)) or "nobody"


class OscTransport:
    """A bound UDP socket that receives OSC datagrams and sends typed replies.

    Parameters
    ----------
    host, port : str, int
        Address to bind (port 0 picks a free one, see :attr:`address`); IPv4 or IPv6.
    dispatch : callable
        ``dispatch(address, args, sender)`` for each message of an accepted datagram, in order;
        a :class:`TechnobError` it raises becomes the error reply's message.
    senders : SenderPolicy, optional
        Who is listened to (default: everyone).
    reply_to : (host, port), optional
        Send every reply there instead of to the sender.
    """

    def __init__(self, host: str, port: int, dispatch: Dispatch, *, senders: SenderPolicy | None = None,
                 reply_to: tuple[str, int] | None = None) -> None:
        family, sockaddr, _ = resolve_host(host, port)
        self.dispatch = dispatch
        self.senders = senders or SenderPolicy()
        self.reply_to = reply_to
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            self.sock.bind(sockaddr)
        except OSError as exc:
            self.sock.close()
            raise TechnobError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        #: Counters: datagrams received, handled (from allowed senders), dropped (other
        #: senders), error replies sent.
        self.received = 0
        self.dropped = 0
        self.errors = 0

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the socket is bound to."""
        return self.sock.getsockname()[:2]

    # -- sending --------------------------------------------------------------------------

    def send(self, to: Address, address: str, *args: OscArg) -> None:
        """Send one message (to :attr:`reply_to` when set); a vanished peer is ignored."""
        dest = self.reply_to or to
        try:
            self.sock.sendto(build(address, args), dest)
        except OSError:
            pass  # the peer went away, or its buffer is full: nothing to tell

    def error(self, to: Address, message: str, address: str = "") -> None:
        """``/technob/error <message> <address>``."""
        self.errors += 1
        self.send(to, "/technob/error", str(message)[: MAX_DATAGRAM - 200], str(address)[:200])

    def send_chunked(self, to: Address, address: str, prefix: list[OscArg], values: list[OscArg]) -> None:
        """Send ``values`` as ``address *prefix offset v...`` messages of at most MAX_DATAGRAM bytes."""
        for args in chunked(address, prefix, values):
            self.send(to, address, *args)

    # -- receiving ------------------------------------------------------------------------

    def serve(self) -> None:
        """Receive and handle datagrams until :meth:`stop`."""
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

    def handle_datagram(self, data: bytes, sender: Address) -> None:
        """Handle one datagram; never raises."""
        self.received += 1
        try:
            if not self.senders.allows(str(sender[0])):
                self.dropped += 1
                return
            self._handle(data, sender)
        except Exception as exc:  # noqa: BLE001 - the catch-all: nothing a datagram does may stop us
            try:
                self.error(sender, f"internal error: {type(exc).__name__}: {exc}")
                print(f"technob bridge: internal error on a datagram from {sender[0]}:", file=sys.stderr)
                traceback.print_exc()
            except Exception:  # noqa: BLE001, S110 - even reporting failed (e.g. stderr closed)
                pass

    def _handle(self, data: bytes, sender: Address) -> None:
        if len(data) > MAX_INCOMING:
            self.error(sender, f"packet of {len(data)} bytes exceeds the {MAX_INCOMING}-byte limit")
            return
        try:
            messages = parse_packet(data)
        except OscParseError as exc:
            self.error(sender, f"malformed OSC packet ({len(data)} bytes): {exc}")
            return
        for address, args in messages:
            try:
                self.dispatch(address, args, sender)
            except TechnobError as exc:
                self.error(sender, str(exc), address)
            except Exception as exc:  # noqa: BLE001 - never let a request kill the server
                self.error(sender, f"internal error: {type(exc).__name__}: {exc}", address)
                traceback.print_exc()

    def stop(self) -> None:
        """Make :meth:`serve` return (within 0.2 s)."""
        self._stop.set()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
