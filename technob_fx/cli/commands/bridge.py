"""``technob bridge --daw ableton|reaper|generic``: the OSC server (see bridge.osc)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:9000"
DAW_DEFAULT_SEND = {"ableton": "127.0.0.1:11000", "reaper": "127.0.0.1:8000"}


def _host_port(text: str, what: str) -> tuple[str, int]:
    from technob_fx.core.errors import TechnobError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise TechnobError(f"{what} {text!r}: expected HOST:PORT (e.g. 127.0.0.1:9000)")
    return host or "127.0.0.1", int(port)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bridge", help="run the OSC server that talks to Ableton Live, REAPER or any OSC client",
        description="Serve the /technob/... OSC namespace (see the README). Replies go to the sender. "
        "With --daw ableton (AbletonOSC) or reaper, analyses are also pushed to the DAW at --send. "
        "File paths from the network must lie under --allow folders (default: the working folder).",
    )
    p.add_argument("--daw", choices=("ableton", "reaper", "generic"), default="generic",
                   help="which DAW to drive: ableton (AbletonOSC on 11000), reaper (its default OSC "
                   "pattern set at --send) or generic (only our /technob namespace; default)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN}; loopback unless --public)")
    p.add_argument("--send", default=None, metavar="HOST:PORT",
                   help="the DAW's OSC address (ableton: 127.0.0.1:11000, reaper: 127.0.0.1:8000); "
                   "with --daw generic, where every reply goes instead of the sender")
    p.add_argument("--reply-port", type=int, default=11001,
                   help="local port AbletonOSC replies to (default 11001)")
    p.add_argument("--allow", action="append", type=Path, default=None, metavar="DIR",
                   help="folder network paths may be under (repeatable; default: the working folder)")
    p.add_argument("--public", action="store_true", help="allow listening on a non-loopback address")
    p.add_argument("--no-sync", action="store_true", help="don't push analyses to the DAW automatically")
    p.add_argument("--clock-out", default=None, metavar="PORT",
                   help="MIDI output for clock (/technob/clock/start): a port name, or HOST:PORT of a "
                   "mido.sockets port server")
    p.add_argument("--clock-in", default=None, metavar="PORT",
                   help="MIDI input whose clock to follow (/technob/get/clock): a port name, or HOST:PORT "
                   "to listen on for mido.sockets senders")
    p.add_argument("--preset", default=None, help="preset chain to load as the live chain for /technob/param")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bridge.osc import OscServer

    host, port = _host_port(args.listen, "--listen")
    daw = None
    reply_to = None
    if args.daw == "ableton":
        from bridge.ableton import AbletonClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["ableton"], "--send")
        daw = AbletonClient(h, p, reply_port=args.reply_port)
    elif args.daw == "reaper":
        from bridge.reaper import ReaperClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["reaper"], "--send")
        daw = ReaperClient(h, p)
    elif args.send:
        reply_to = _host_port(args.send, "--send")
    clock_out = clock_in = in_port = None
    if args.clock_out:
        from bridge.midi import open_output

        clock_out = open_output(args.clock_out)
    if args.clock_in:
        from bridge.midi import ClockFollower, open_input

        in_port = open_input(args.clock_in)
        clock_in = ClockFollower()
        clock_in.run(in_port)
    server = OscServer(host, port, allow=args.allow, reply_to=reply_to, daw=daw,
                       auto_sync=daw is not None and not args.no_sync, allow_public=args.public,
                       clock_out=clock_out, clock_in=clock_in)
    if args.preset:
        from technob_fx.core.chain import Chain

        server.chain = Chain.from_preset(args.preset)
    h, p = server.address
    print(f"technob bridge ({args.daw}) listening on {h}:{p}; allowed: "
          f"{', '.join(map(str, server.policy.allowed))}; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if daw is not None:
            daw.close()
        if clock_in is not None:
            clock_in.stop()
            in_port.close()
        if clock_out is not None:
            clock_out.close()
    return 0
