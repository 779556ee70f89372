"""The Remote Script's OSC socket: non-blocking UDP on 127.0.0.1, polled from Live's tick."""

from __future__ import annotations

import socket

from . import osc

#: Port the script listens on (AbletonOSC has 11000 and replies on 11001).
LISTEN_PORT = 11002
#: Largest datagram handled.
MAX_DATAGRAM = 8192


class LiveServer:
    """Receive OSC datagrams, run :class:`~.handlers.Handlers`, reply to the sender.

    Parameters
    ----------
    handlers : Handlers
    host, port : str, int
        Where to listen (loopback only: the paths it receives are opened by Live).
    """

    def __init__(self, handlers, host: str = "127.0.0.1", port: int = LISTEN_PORT) -> None:  # noqa: ANN001
        self.handlers = handlers
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.setblocking(False)

    @property
    def address(self) -> tuple:
        return self.sock.getsockname()

    def process(self) -> int:
        """Handle every queued datagram; returns how many were read."""
        n = 0
        while True:
            try:
                data, sender = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return n
            except OSError:
                return n
            n += 1
            if len(data) > MAX_DATAGRAM:
                continue
            try:
                messages = osc.decode(data)
            except ValueError:
                continue
            for address, args in messages:
                for reply, reply_args in self.handlers.handle(address, args):
                    try:
                        self.sock.sendto(osc.encode(reply, reply_args), sender)
                    except OSError:
                        pass

    def close(self) -> None:
        self.sock.close()
