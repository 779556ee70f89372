"""A minimal OSC 1.0 codec for the Remote Script (Live's Python has no python-osc).

Messages with ``i`` (int32), ``h`` (int64), ``f`` (float32), ``d`` (float64), ``s`` (string),
``T``/``F``/``N`` arguments; bundles are unpacked into their messages.
"""

from __future__ import annotations

import struct


def _pad(n: int) -> int:
    return (n + 3) & ~3


def _string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8"), pos + _pad(end - pos + 1)


#: Deepest bundle nesting decoded (deeper: ValueError, never a RecursionError).
MAX_DEPTH = 8


def decode(data: bytes, _depth: int = 0) -> list[tuple[str, tuple]]:
    """The messages of a datagram as ``[(address, args), ...]``.

    Raises
    ------
    ValueError
        A malformed datagram (also bundles nested deeper than :data:`MAX_DEPTH`).
    """
    try:
        if data.startswith(b"#bundle\0"):
            if _depth >= MAX_DEPTH:
                raise ValueError(f"bundles nested deeper than {MAX_DEPTH} levels")
            out: list[tuple[str, tuple]] = []
            pos = 16
            while pos + 4 <= len(data):
                (size,) = struct.unpack(">i", data[pos:pos + 4])
                if size <= 0 or pos + 4 + size > len(data):
                    raise ValueError("bad bundle element size")
                out += decode(data[pos + 4:pos + 4 + size], _depth + 1)
                pos += 4 + size
            return out
        address, pos = _string(data, 0)
        if not address.startswith("/"):
            raise ValueError("not an OSC address")
        if pos >= len(data):
            return [(address, ())]
        tags, pos = _string(data, pos)
        if not tags.startswith(","):
            raise ValueError("no type tags")
        args: list = []
        for t in tags[1:]:
            if t == "i":
                args.append(struct.unpack(">i", data[pos:pos + 4])[0])
                pos += 4
            elif t == "h":
                args.append(struct.unpack(">q", data[pos:pos + 8])[0])
                pos += 8
            elif t == "f":
                args.append(struct.unpack(">f", data[pos:pos + 4])[0])
                pos += 4
            elif t == "d":
                args.append(struct.unpack(">d", data[pos:pos + 8])[0])
                pos += 8
            elif t == "s":
                s, pos = _string(data, pos)
                args.append(s)
            elif t in "TFN":
                args.append({"T": True, "F": False, "N": None}[t])
            else:
                raise ValueError(f"unsupported type tag {t!r}")
        return [(address, tuple(args))]
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(str(exc)) from None


def encode(address: str, args: tuple = ()) -> bytes:
    """One OSC message: ints as ``i``, floats as ``f``, strings as ``s``, booleans as ``T``/``F``."""
    def s(text: str) -> bytes:
        b = text.encode("utf-8") + b"\0"
        return b + b"\0" * (_pad(len(b)) - len(b))

    tags, payload = ",", b""
    for a in args:
        if isinstance(a, bool):
            tags += "T" if a else "F"
        elif isinstance(a, int):
            tags += "i"
            payload += struct.pack(">i", a)
        elif isinstance(a, float):
            tags += "f"
            payload += struct.pack(">f", a)
        else:
            tags += "s"
            payload += s(str(a))
    return s(address) + s(tags) + payload
