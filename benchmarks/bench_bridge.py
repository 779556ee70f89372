"""OSC bridge on loopback: ``/technob/param`` round-trip latency and a 10,000-message flood.

1. Latency: a client sends ``/technob/param stereo_width width <v>`` and waits for the server's
   ``/technob/param`` reply, one at a time; p50/p99 over ``--n`` round trips (goal p99 < 2 ms).
   Baselines in the same run, same client: a bare python-osc echo server
   (``BlockingOSCUDPServer`` + ``Dispatcher``, replying with the message it got) and a raw UDP
   socket echo (the floor: kernel + Python socket calls only).
2. Flood: 10,000 ``/technob/param`` messages sent back to back at full speed, each value encoding
   its sequence number; the replies are collected and counted: lost (never answered) and
   reordered (answered before a lower sequence number). The same flood goes to the python-osc
   echo baseline.

Each server runs in its own child process (as a DAW would be a separate process), so the client
and the server do not share a GIL. The machine's load average is recorded beside the figures:
tail latency on a shared 2-core machine depends on it.

Usage: ``python -m benchmarks.bench_bridge [--n 3000] [--flood 10000]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import threading
import time

import numpy as np

from benchmarks._util import save

STEP = 1.0 / 8192.0  # width value per sequence number: exact in float32 up to 16384 steps


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    return s


class PythonOscEcho:
    """The baseline: python-osc's own UDP server echoing every message to its sender."""

    def __init__(self) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        from bridge.oscmsg import build

        disp = Dispatcher()

        def echo(client, address, *args):  # noqa: ANN001, ANN002, ANN202
            self.server.socket.sendto(build(address, args), client)

        disp.set_default_handler(echo, needs_reply_address=True)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), disp)
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        self.address = self.server.server_address

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawEcho:
    """The floor: a plain UDP socket echoing datagrams."""

    def __init__(self) -> None:
        self.sock = _sock()
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.sock.sendto(data, addr)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


def _serve(kind: str, conn: object) -> None:
    """Child process: run one server, send its address, stay up until told to stop."""
    if kind == "technob":
        from bridge.osc import OscServer
        from technob_fx.core.chain import Chain
        from technob_fx.stages.effects import StereoWidth

        srv = OscServer("127.0.0.1", 0, chain=Chain([StereoWidth()])).start()
        conn.send(srv.address)  # type: ignore[attr-defined]
        conn.recv()  # type: ignore[attr-defined]
        conn.send(srv.errors)  # type: ignore[attr-defined]
        srv.stop()
        return
    srv = PythonOscEcho() if kind == "python_osc_echo" else RawEcho()
    conn.send(srv.address)  # type: ignore[attr-defined]
    conn.recv()  # type: ignore[attr-defined]
    conn.send(0)  # type: ignore[attr-defined]
    srv.stop()


class Child:
    """A server of ``kind`` in a child process."""

    def __init__(self, kind: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(kind, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(120):
            self.proc.kill()
            raise RuntimeError(f"{kind} server did not start")
        self.address = tuple(self.conn.recv())

    def stop(self) -> int:
        self.conn.send("stop")
        errors = self.conn.recv() if self.conn.poll(30) else -1
        self.proc.join(timeout=10)
        return int(errors)


def latency(address: tuple[str, int], n: int, warmup: int = 200) -> dict:
    """Round trips of /technob/param, one at a time; milliseconds."""
    from bridge.oscmsg import build

    s = _sock()
    out = []
    try:
        for i in range(n + warmup):
            msg = build("/technob/param", ["stereo_width", "width", (i % 8192) * STEP])
            t0 = time.perf_counter()
            s.sendto(msg, address)
            s.recvfrom(65535)
            if i >= warmup:
                out.append((time.perf_counter() - t0) * 1000.0)
    finally:
        s.close()
    a = np.array(out)
    return {"n": n, "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "mean_ms": float(a.mean())}


def flood(address: tuple[str, int], n: int) -> dict:
    """Send ``n`` messages back to back; count replies lost and out of order."""
    from pythonosc.osc_message import OscMessage

    from bridge.oscmsg import build

    s = _sock()
    got: list[int] = []
    done = threading.Event()

    def receive() -> None:
        s.settimeout(2.0)
        while len(got) < n:
            try:
                data, _ = s.recvfrom(65535)
            except (TimeoutError, OSError):
                break  # 2 s of silence: the rest are lost
            msg = OscMessage(data)
            got.append(int(round(msg.params[-1] / STEP)))
        done.set()

    rx = threading.Thread(target=receive, daemon=True)
    rx.start()
    msgs = [build("/technob/param", ["stereo_width", "width", i * STEP]) for i in range(n)]
    t0 = time.perf_counter()
    for m in msgs:
        s.sendto(m, address)
    send_s = time.perf_counter() - t0
    done.wait()
    total_s = time.perf_counter() - t0
    rx.join()
    s.close()
    reordered = sum(1 for a, b in zip(got, got[1:], strict=False) if b < a)
    lost = n - len(set(got))
    return {"sent": n, "received": len(got), "lost": lost, "reordered": reordered,
            "duplicates": len(got) - len(set(got)), "send_seconds": send_s,
            "all_replies_seconds": total_s, "messages_per_second": len(got) / total_s if total_s else 0.0}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="round trips per latency measurement")
    parser.add_argument("--flood", type=int, default=10000, help="messages in the flood")
    args = parser.parse_args(argv)
    if args.flood > 8192 * 2:
        parser.error("--flood at most 16384 (sequence numbers are encoded in a 0-2 width)")

    load_before = os.getloadavg()[0]
    server, echo, raw = Child("technob"), Child("python_osc_echo"), Child("raw_udp_echo")
    errors = -1
    try:
        # alternate to share any drift in machine load
        runs: dict[str, list[dict]] = {"technob": [], "python_osc_echo": [], "raw_udp_echo": []}
        for _ in range(3):
            runs["technob"].append(latency(server.address, args.n // 3))
            runs["python_osc_echo"].append(latency(echo.address, args.n // 3))
            runs["raw_udp_echo"].append(latency(raw.address, args.n // 3))
        lat = {k: {"p50_ms": statistics.median(r["p50_ms"] for r in v),
                   "p99_ms": statistics.median(r["p99_ms"] for r in v),
                   "max_ms": max(r["max_ms"] for r in v), "n": sum(r["n"] for r in v)}
               for k, v in runs.items()}
        fl = {"technob": flood(server.address, args.flood),
              "python_osc_echo": flood(echo.address, args.flood)}
    finally:
        errors = server.stop()
        echo.stop()
        raw.stop()
    t, b = lat["technob"], lat["python_osc_echo"]
    res = {
        "latency": lat,
        "latency_ratio_p50_vs_python_osc": t["p50_ms"] / b["p50_ms"],
        "latency_ratio_p99_vs_python_osc": t["p99_ms"] / b["p99_ms"],
        "goal_p99_ms": 2.0,
        "flood": fl,
        "server_error_replies": errors,
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
    }
    print(f"/technob/param round trip over loopback ({t['n']} each, median of 3 alternating runs):")
    print(f"{'server':18s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for k, v in lat.items():
        print(f"{k:18s} {v['p50_ms']:8.3f} {v['p99_ms']:8.3f} {v['max_ms']:8.3f}")
    print(f"technob vs python-osc echo: p50 x{res['latency_ratio_p50_vs_python_osc']:.2f}, "
          f"p99 x{res['latency_ratio_p99_vs_python_osc']:.2f} (goal: technob p99 < 2 ms)")
    print(f"flood of {args.flood} messages at full speed:")
    for k, v in fl.items():
        print(f"{k:18s} received {v['received']:6d}  lost {v['lost']:5d}  reordered {v['reordered']:5d}  "
              f"{v['messages_per_second']:8.0f} replies/s")
    print(f"1-min load average before/after: {load_before:.2f}/{res['load_average_1min'][1]:.2f} "
          f"on {os.cpu_count()} CPUs")
    save("bridge", res)
    return res


if __name__ == "__main__":
    main()
