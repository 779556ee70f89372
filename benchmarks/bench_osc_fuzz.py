"""Fuzzing the OSC server on loopback: mutated and malformed datagrams, then a ping and its RSS.

A seeded mutation fuzzer (:class:`Fuzzer`) starts from valid requests for every address of the
namespace (with paths that do not exist, so no job does real work), typed variants, bundles, the
332-deep bundle bomb of issue 11 and bundles whose element sizes are negative or run past the end,
and mutates them: bit flips, interesting bytes and int32s written over aligned words (sizes
``-1``, ``-4``, ``2**31-1``, the packet length...), truncation, insertion, deletion, duplication,
splicing of two seeds, wrapping in bundles with right or wrong sizes, type tags swapped, plus pure
noise. Some packets exceed the 8 KiB limit on purpose.

:func:`run_fuzz` sends them from one UDP socket to a ``technob bridge`` running in a child process
(as in use: its own interpreter, its own memory), in batches; after each batch it sends
``/technob/ping <token>`` and reads replies until the pong echoing that token arrives (the server
handles datagrams in order, so the batch has been handled by then: no sleeps, no guessing). The
server's RSS (``/proc/PID/status``) is read after a warm-up round of the seeds and at the end.

Baseline in the same run: the same number of valid ``/technob/ping`` datagrams, sent the same way
(fuzzed packets/s as a ratio of it). ``tests/test_bridge_osc.py::test_fuzz_mutated_datagrams_on_loopback``
runs the same 100,000 packets (``TECHNOB_FUZZ_PACKETS`` to change) with assertions and no
figures; this benchmark prints and saves the figures.

Usage: ``python -m benchmarks.bench_osc_fuzz [--packets 100000] [--seed 11]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Interesting 32-bit values written over aligned words (sizes, lengths, signs).
INTERESTING_INTS = (0, 1, -1, -4, 3, 4, 7, 8, 16, 255, 4096, 8192, 65535, 2**31 - 1, -(2**31), 2**30)
INTERESTING_BYTES = (0, 0xFF, 0x7F, 0x80, ord(","), ord("/"), ord("#"), ord("s"), ord("b"), ord("["))
TYPE_TAGS = b"ifsbhdtTFNIcrmS[]X,\x00"


def _bundle(*elements: bytes, sizes: list[int] | None = None) -> bytes:
    out = b"#bundle\x00" + bytes(8)
    for i, e in enumerate(elements):
        size = len(e) if sizes is None else sizes[i]
        out += struct.pack(">i", size) + e
    return out


def seed_packets() -> list[bytes]:
    """Valid requests for every address (with missing files), typed variants and bundles, plus
    the known killers (deep nesting, bad element sizes)."""
    from bridge.osc import HANDLERS
    from bridge.oscmsg import build

    args = {
        "/technob/analyze": ["missing.wav"], "/technob/separate": ["missing.wav", "hpss", "out"],
        "/technob/render": ["lofi", "missing.wav", "out.wav"], "/technob/chain": ["lofi"],
        "/technob/param": ["lowpass", "cutoff_frequency_hz", 5000.0], "/technob/get/param": ["a", "b"],
        "/technob/export": ["midi,labels", "exports"], "/technob/get/tempo_map": ["time"],
        "/technob/clock/start": [120.0], "/technob/cancel": ["/technob/render"], "/technob/help": [],
        "/technob/ping": ["token", 7, 1.5],
    }
    seeds = [build(a, args.get(a, [])) for a in HANDLERS]
    seeds += [
        build("/technob/ping", [b"\x01\x02\x03", True, False, 2**40, "é"]),
        build("/technob/param", ["a", "b", "-6"]),
        build("/technob/analyze", ["sub/../../etc/passwd"]),
        build("/technob/analyze", ["/etc/shadow"]),
        _bundle(build("/technob/ping"), build("/technob/get/tempo")),
        _bundle(_bundle(build("/technob/ping")), build("/technob/help", ["/technob/ping"])),
        _bundle(build("/technob/ping"), sizes=[-4]),
        _bundle(build("/technob/ping"), sizes=[4096]),
    ]
    bomb = build("/technob/ping")
    for _ in range(332):
        bomb = _bundle(bomb)
    seeds.append(bomb)
    return seeds


class Fuzzer:
    """Seeded mutations of :func:`seed_packets` (deterministic for one ``seed``)."""

    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.seeds = seed_packets()

    def _mutate_once(self, data: bytearray) -> bytearray:
        rng = self.rng
        op = rng.randrange(12)
        n = len(data)
        if op == 0 and n:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # interesting byte
            data[rng.randrange(n)] = rng.choice(INTERESTING_BYTES)
        elif op == 2 and n >= 4:  # interesting int32 over an aligned word
            i = rng.randrange(n // 4) * 4
            data[i:i + 4] = struct.pack(">i", rng.choice(INTERESTING_INTS + (n, n + 4, -n)))
        elif op == 3 and n:  # truncate
            del data[rng.randrange(n):]
        elif op == 4:  # insert random bytes
            i = rng.randint(0, n)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 4, 8, 16))))
        elif op == 5 and n:  # delete a chunk
            i = rng.randrange(n)
            del data[i:i + rng.choice((1, 2, 4, 8, 16))]
        elif op == 6 and n:  # duplicate a chunk
            i = rng.randrange(n)
            data[i:i] = data[i:i + rng.choice((4, 8, 16, 64))]
        elif op == 7:  # splice with another seed
            other = rng.choice(self.seeds)
            data = data[: rng.randint(0, n)] + bytearray(other[rng.randint(0, len(other)):])
        elif op == 8:  # wrap in a bundle, sometimes with a wrong size
            size = len(data) if rng.random() < 0.5 else rng.choice(INTERESTING_INTS + (len(data) + 4,))
            data = bytearray(_bundle(bytes(data), sizes=[size]))
        elif op == 9 and b"," in data:  # swap a type tag
            i = data.index(b",") + 1
            j = rng.randrange(i, min(i + 8, len(data)) + 1) if i < len(data) else i
            data[j:j + 1] = bytes([rng.choice(TYPE_TAGS)])
        elif op == 10:  # pure noise
            data = bytearray(rng.randbytes(rng.choice((0, 1, 4, 16, 64, 512, 9000))))
        elif op == 11 and n:  # grow past the size limit sometimes
            data += bytes(rng.choice((4, 100, 8200)))
        return data

    def packet(self) -> bytes:
        """One mutated packet (1-3 mutations of a random seed)."""
        data = bytearray(self.rng.choice(self.seeds))
        for _ in range(self.rng.randint(1, 3)):
            data = self._mutate_once(data)
        return bytes(data[:9000])


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    get = lambda key: int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1))  # noqa: E731
    return get("VmRSS"), get("VmHWM")


class ServerProcess:
    """``technob bridge`` on a free loopback port in a child process."""

    def __init__(self, allow: Path) -> None:
        env = dict(os.environ)
        env.pop("TECHNOB_OSC_SECRET", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "technob_fx", "bridge", "--listen", "127.0.0.1:0", "--allow", str(allow)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"listening on ([\d.]+):(\d+)", line)
        if not m:
            self.close()
            raise RuntimeError(f"technob bridge did not start: {line!r}")
        self.address = (m.group(1), int(m.group(2)))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class FuzzRun:
    """What one run sent and got back."""

    sent: int = 0
    replies: int = 0
    errors: int = 0
    seconds: float = 0.0
    pings: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def packets_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def _client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind(("127.0.0.1", 0))
    return s


def ping(sock: socket.socket, server: tuple[str, int], token: str, run: FuzzRun | None = None,
         timeout: float = 10.0, tries: int = 3) -> bool:
    """Send ``/technob/ping <token>`` until the pong echoing it arrives (counting the replies read
    on the way into ``run``); False when none came in ``tries`` x ``timeout`` seconds."""
    from pythonosc.osc_packet import OscPacket

    from bridge.oscmsg import build

    sock.settimeout(timeout)
    for _ in range(tries):
        sock.sendto(build("/technob/ping", [token]), server)
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                break
            msg = OscPacket(data).messages[0].message
            if msg.address == "/technob/pong" and token in msg.params:
                return True
            if run is not None:
                run.replies += 1
                if msg.address == "/technob/error":
                    run.errors += 1
                    kind = re.sub(r"[\d/].*", "", str(msg.params[0]))[:40].strip()
                    run.error_kinds[kind] = run.error_kinds.get(kind, 0) + 1
    return False


def run_fuzz(server: tuple[str, int], packets: int, *, seed: int = 11, batch: int = 64,
             valid_only: bool = False) -> FuzzRun:
    """Send ``packets`` datagrams (mutated, or plain pings when ``valid_only``) in batches, each
    batch followed by a ping whose pong must come back.

    Raises
    ------
    AssertionError
        The server stopped answering pings.
    """
    from bridge.oscmsg import build

    fuzzer = Fuzzer(seed)
    plain = build("/technob/ping")
    run = FuzzRun()
    sock = _client()
    try:
        t0 = time.perf_counter()
        while run.sent < packets:
            n = min(batch, packets - run.sent)
            for _ in range(n):
                sock.sendto(plain if valid_only else fuzzer.packet(), server)
            run.sent += n
            run.pings += 1
            if not ping(sock, server, f"batch-{run.pings}", run):
                raise AssertionError(f"the server stopped answering after {run.sent} packets")
        run.seconds = time.perf_counter() - t0
    finally:
        sock.close()
    return run


def warm_up(server: tuple[str, int]) -> None:
    """Send every seed once (lazy imports happen here, before the RSS baseline)."""
    sock = _client()
    try:
        for p in Fuzzer().seeds:
            sock.sendto(p, server)
        if not ping(sock, server, "warm-up", FuzzRun()):
            raise AssertionError("the server did not answer after the warm-up")
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    from benchmarks._util import save

    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(Path(tmp))
        try:
            warm_up(srv.address)
            base = run_fuzz(srv.address, min(args.packets, 20_000), valid_only=True)
            rss0, _ = rss_kib(srv.pid)
            run = run_fuzz(srv.address, args.packets, seed=args.seed)
            alive = ping(_client(), srv.address, "final")
            rss1, hwm = rss_kib(srv.pid)
            left = sorted(os.listdir(tmp))
        finally:
            srv.close()
    rows = [
        ("valid pings (baseline)", base.sent, base.packets_per_s, "", ""),
        ("mutated packets", run.sent, run.packets_per_s, run.replies, run.errors),
    ]
    print(f"{'':24} {'sent':>8} {'packets/s':>10} {'replies':>8} {'errors':>8}")
    for name, sent, pps, rep, err in rows:
        print(f"{name:24} {sent:>8} {pps:>10.0f} {rep!s:>8} {err!s:>8}")
    print(f"fuzz/baseline speed ratio {run.packets_per_s / base.packets_per_s:.2f}; server answers a ping "
          f"afterwards: {alive}; RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB (peak {hwm / 1024:.1f}); "
          f"files left in the allowed folder: {left}")
    print("error replies by kind:", dict(sorted(run.error_kinds.items(), key=lambda kv: -kv[1])[:12]))
    save("osc_fuzz", {
        "packets": run.sent, "seed": args.seed, "fuzz_packets_per_s": run.packets_per_s,
        "baseline_pings_per_s": base.packets_per_s, "ratio": run.packets_per_s / base.packets_per_s,
        "replies": run.replies, "error_replies": run.errors, "pong_after": alive,
        "rss_before_mib": rss0 / 1024, "rss_after_mib": rss1 / 1024, "rss_peak_mib": hwm / 1024,
        "load_average": os.getloadavg()[0],
    })
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
