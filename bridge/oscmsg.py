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

_FLOAT32_MAX = 3.4028234663852886e38


def _pad4(n: int) -> int:
    return (n + 4) & ~3  # string + NUL, padded to 4 bytes


def osc_type(value: Any) -> str:
    """The OSC type tag we send for a Python value (``f`` float32, ``d`` float64 for finite values
    beyond float32's range, ``i`` int32, ``h`` int64 for ints beyond 32 bits, ``s``, ``T``/``F``,
    ``b`` blob).

    Raises
    ------
    TechnobError
        An int beyond 64 bits, or a type OSC cannot carry.
    """
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return "i"
        if -(2**63) <= value < 2**63:
            return "h"
        raise TechnobError(f"cannot send the integer {value} over OSC (beyond 64 bits)")
    if isinstance(value, float):
        return "d" if abs(value) > _FLOAT32_MAX and value != float("inf") and value != float("-inf") else "f"
    if isinstance(value, str):
        return "s"
    if isinstance(value, (bytes, bytearray)):
        return "b"
    raise TechnobError(f"cannot send {type(value).__name__} over OSC")


def build(address: str, args: Iterable[OscArg] = ()) -> bytes:
    """One OSC message as bytes."""
    from pythonosc.osc_message_builder import BuildError

    b = OscMessageBuilder(address=address)
    for a in args:
        t = osc_type(a)
        b.add_arg(a if t not in "TF" else bool(a), t)
    try:
        return b.build().dgram
    except (BuildError, ValueError) as exc:
        raise TechnobError(f"cannot build OSC message {address[:100]}: {exc}") from None


def _payload(a: OscArg) -> int:
    t = osc_type(a)
    if t in "if":
        return 4
    if t in "hd":
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


# --------------------------------------------------------------------------------------------
# Parsing (our own strict parser: every length is checked against the packet, bundles nest
# at most MAX_BUNDLE_DEPTH deep, and every failure is an OscParseError naming the problem)
# --------------------------------------------------------------------------------------------

#: Deepest bundle nesting accepted (a bundle inside a bundle ... inside a datagram).
MAX_BUNDLE_DEPTH = 8
#: Most messages one datagram may carry (bundles included): each one is answered.
MAX_MESSAGES = 32
#: Most messages accepted in one datagram from a DAW (REAPER sends its feedback in large bundles).
DAW_MAX_MESSAGES = 4096

_BUNDLE = b"#bundle\x00"


class OscParseError(TechnobError):
    """A datagram is not valid OSC 1.0 (the message says where and why)."""


def _read_string(data: bytes, pos: int, end: int, what: str) -> tuple[bytes, int]:
    nul = data.find(b"\x00", pos, end)
    if nul < 0:
        raise OscParseError(f"{what} at byte {pos} has no terminating NUL before the end of the packet")
    nxt = pos + _pad4(nul - pos)
    if nxt > end:
        raise OscParseError(f"{what} at byte {pos}: padding runs past the end of the packet")
    return data[pos:nul], nxt


def _read_int(data: bytes, pos: int, end: int, size: int, what: str) -> int:
    if pos + size > end:
        raise OscParseError(f"{what} at byte {pos}: needs {size} bytes, packet ends at {end}")
    return int.from_bytes(data[pos:pos + size], "big", signed=True)


def _parse_message(data: bytes, start: int, end: int) -> tuple[str, tuple[Any, ...]]:
    import struct

    raw, pos = _read_string(data, start, end, "address")
    try:
        address = raw.decode("ascii")
    except UnicodeDecodeError:
        raise OscParseError(f"address at byte {start} is not ASCII") from None
    if not address.startswith("/"):
        raise OscParseError(f"address {address[:60]!r} does not start with '/'")
    if pos == end:  # OSC 1.0 allows a message without a type tag string: no arguments
        return address, ()
    tags_raw, pos = _read_string(data, pos, end, "type tag string")
    if not tags_raw.startswith(b","):
        raise OscParseError(f"{address}: type tag string does not start with ','")
    args: list[Any] = []
    for n, tag in enumerate(tags_raw[1:].decode("latin-1"), 1):
        what = f"{address}: argument {n} ({tag!r})"
        if tag in "ic":
            v = _read_int(data, pos, end, 4, what)
            args.append(v if tag == "i" else chr(v & 0x10FFFF) if 0 <= v <= 0x10FFFF else "")
            pos += 4
        elif tag == "f":
            _read_int(data, pos, end, 4, what)
            args.append(struct.unpack(">f", data[pos:pos + 4])[0])
            pos += 4
        elif tag in "ht":
            v = _read_int(data, pos, end, 8, what)
            args.append(v if tag == "h" else v & 0xFFFFFFFFFFFFFFFF)
            pos += 8
        elif tag == "d":
            _read_int(data, pos, end, 8, what)
            args.append(struct.unpack(">d", data[pos:pos + 8])[0])
            pos += 8
        elif tag in "sS":
            raw, pos = _read_string(data, pos, end, what)
            try:
                args.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise OscParseError(f"{what} is not UTF-8") from None
        elif tag == "b":
            size = _read_int(data, pos, end, 4, what)
            pos += 4
            if size < 0 or pos + size > end:
                raise OscParseError(f"{what}: blob size {size} runs past the end of the packet")
            args.append(bytes(data[pos:pos + size]))
            pos += (size + 3) & ~3
        elif tag in "rm":
            _read_int(data, pos, end, 4, what)
            args.append(tuple(data[pos:pos + 4]))
            pos += 4
        elif tag in "TF":
            args.append(tag == "T")
        elif tag == "N":
            args.append(None)
        elif tag == "I":
            args.append(float("inf"))
        else:
            raise OscParseError(f"{what}: unsupported type tag")
    if pos > end:
        raise OscParseError(f"{address}: arguments run past the end of the packet")
    if pos != end:
        raise OscParseError(f"{address}: {end - pos} bytes left over after the arguments")
    return address, tuple(args)


def parse_packet(data: bytes, *, max_depth: int = MAX_BUNDLE_DEPTH,
                 max_messages: int = MAX_MESSAGES) -> list[tuple[str, tuple[Any, ...]]]:
    """Parse one OSC datagram (a message or a bundle) into ``[(address, args), ...]``.

    Arguments come back as Python values: ``i``/``h`` int, ``f``/``d`` float, ``s``/``S`` str,
    ``b`` bytes, ``T``/``F`` bool, ``N`` None, ``I`` inf, ``t`` int (NTP time tag), ``c`` str,
    ``r``/``m`` 4-tuples. Bundle time tags are ignored (everything runs on arrival).

    Raises
    ------
    OscParseError
        Empty or unaligned packet, a missing NUL, an element or blob size that is negative or runs
        past the end of the packet, bundles nested deeper than ``max_depth``, more than
        ``max_messages`` messages, an unknown type tag, bytes left over. Never anything else.
    """
    out: list[tuple[str, tuple[Any, ...]]] = []
    data = bytes(data)
    if not data:
        raise OscParseError("empty packet")
    if len(data) % 4:
        raise OscParseError(f"packet size {len(data)} is not a multiple of 4")
    _parse_element(data, 0, len(data), 0, max_depth, max_messages, out)
    return out


def _parse_element(data: bytes, start: int, end: int, depth: int, max_depth: int, max_messages: int,
                   out: list[tuple[str, tuple[Any, ...]]]) -> None:
    if data.startswith(_BUNDLE, start) and start + 8 <= end:
        if depth >= max_depth:
            raise OscParseError(f"bundles nested deeper than {max_depth} levels")
        pos = start + 16
        if pos > end:
            raise OscParseError(f"bundle at byte {start} is shorter than its header")
        while pos < end:
            size = _read_int(data, pos, end, 4, f"bundle element size at byte {pos}")
            pos += 4
            if size <= 0 or size % 4:
                raise OscParseError(f"bundle element at byte {pos - 4} has size {size} "
                                    "(must be a positive multiple of 4)")
            if pos + size > end:
                raise OscParseError(f"bundle element at byte {pos - 4} has size {size}, past the end "
                                    f"of its bundle ({end - pos} bytes left)")
            _parse_element(data, pos, pos + size, depth + 1, max_depth, max_messages, out)
            pos += size
        return
    if len(out) >= max_messages:
        raise OscParseError(f"more than {max_messages} messages in one packet")
    out.append(_parse_message(data, start, end))
