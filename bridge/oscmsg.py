"""Building OSC datagrams with explicit types, and splitting long lists under a size limit."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from technob_fx.core.errors import TechnobError

#: Largest datagram we send (bytes): fits one Ethernet frame (1500 - 20 IP - 8 UDP) with room to
#: spare, so replies are never IP-fragmented (a lost fragment loses the whole datagram).
MAX_DATAGRAM = 1400

OscArg = float | int | str | bool | bytes


def _pad4(n: int) -> int:
    return (n + 4) & ~3  # string + NUL, padded to 4 bytes


def osc_type(value: Any) -> str:
    """The OSC type tag we send for a Python value (``f`` float32, ``i`` int32, ``s``, ``T``/``F``,
    ``b`` blob, ``h`` int64 for ints beyond 32 bits)."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return "i" if -(2**31) <= value < 2**31 else "h"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "s"
    if isinstance(value, (bytes, bytearray)):
        return "b"
    raise TechnobError(f"cannot send {type(value).__name__} over OSC")


def build(address: str, args: Iterable[OscArg] = ()) -> bytes:
    """One OSC message as bytes."""
    b = OscMessageBuilder(address=address)
    for a in args:
        t = osc_type(a)
        b.add_arg(a if t not in "TF" else bool(a), t)
    return b.build().dgram


def _payload(a: OscArg) -> int:
    t = osc_type(a)
    if t in "if":
        return 4
    if t == "h":
        return 8
    if t == "s":
        return _pad4(len(str(a).encode()))
    if t == "b":
        return 4 + ((len(a) + 3) & ~3)  # type: ignore[arg-type]
    return 0  # T, F


def message_size(address: str, args: Sequence[OscArg]) -> int:
    """Bytes of the message :func:`build` makes (without building it)."""
    return _pad4(len(address.encode())) + _pad4(1 + len(args)) + sum(_payload(a) for a in args)


def chunked(address: str, prefix: Sequence[OscArg], values: Sequence[OscArg],
            limit: int = MAX_DATAGRAM) -> Iterator[list[OscArg]]:
    """Split ``values`` into argument lists ``[*prefix, offset, *values[offset:offset+n]]``, each
    message at most ``limit`` bytes; ``offset`` (int) is the index of the first value sent.

    An empty ``values`` yields one message with the prefix and offset 0.
    """
    head = _pad4(len(address.encode()))
    i, n = 0, len(values)
    while True:
        args: list[OscArg] = [*prefix, i]
        payload = sum(_payload(a) for a in args)
        j = i
        while j < n:
            p = _payload(values[j])
            if head + _pad4(1 + len(args) + (j - i) + 1) + payload + p > limit:
                break
            payload += p
            j += 1
        if j == i and i < n:
            raise TechnobError(f"{address}: one value does not fit in {limit} bytes")
        yield args + list(values[i:j])
        i = j
        if i >= n:
            return


class OscSender:
    """Send OSC messages to one address from one UDP socket (optionally a bound one, so that a
    peer replying to the source port reaches :attr:`sock`)."""

    def __init__(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        self.target = (host, int(port))
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, address: str, *args: OscArg) -> None:
        """Send one message."""
        self.sock.sendto(build(address, args), self.target)
