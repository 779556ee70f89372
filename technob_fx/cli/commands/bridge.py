"""``technob bridge [serve] --daw ableton|reaper|generic``: the OSC server (see bridge.osc);
``technob bridge pull ANALYSIS --daw reaper|ableton`` (or ``--from-rpp FILE``): the producer's
tempo and markers back into the analysis; ``technob bridge install-live-script``: copy the
TechnobFX Remote Script into Ableton Live."""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    p.add_argument("action", nargs="?", choices=("serve", "pull", "install-live-script"), default="serve",
                   help="serve (default): run the OSC server; pull: read the DAW's tempo and markers "
                   "back into ANALYSIS; install-live-script: copy the TechnobFX Remote Script (puts "
                   "stems on Live tracks) into Live's User Library/Remote Scripts")
    p.add_argument("analysis", nargs="?", type=Path, default=None,
                   help="pull: the track's analysis.json (or its folder); rewritten with the corrected grid")
    p.add_argument("--from-rpp", type=Path, default=None, metavar="FILE",
                   help="pull: read a saved REAPER project (its whole tempo map) instead of asking over OSC")
    p.add_argument("-o", "--out-dir", type=Path, default=None,
                   help="pull: write the corrected analysis here instead of beside ANALYSIS")
    p.add_argument("--dest", type=Path, default=None,
                   help="install-live-script: the Remote Scripts folder (default: Live's, on macOS/Windows)")
    p.add_argument("--daw", choices=("ableton", "reaper", "generic"), default="generic",
                   help="which DAW to drive: ableton (AbletonOSC on 11000), reaper (its default OSC "
                   "pattern set at --send) or generic (only our /technob namespace; default)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN}; loopback unless --public)")
    p.add_argument("--send", default=None, metavar="HOST:PORT",
                   help="the DAW's OSC address (ableton: 127.0.0.1:11000, reaper: 127.0.0.1:8000); "
                   "with --daw generic, where every reply goes instead of the sender")
    p.add_argument("--reaper-feedback", default="127.0.0.1:9001", metavar="HOST:PORT",
                   help="reaper: where REAPER sends OSC feedback (its Device IP/port; default 127.0.0.1:9001); "
                   "'off' to not listen")
    p.add_argument("--reaper-state", type=Path, default=None, metavar="FILE",
                   help="reaper: remember the markers/regions written here, so a later session removes them")
    p.add_argument("--allow", action="append", type=Path, default=None, metavar="DIR",
                   help="folder network paths may be under (repeatable; default: the working folder)")
    p.add_argument("--public", action="store_true",
                   help="allow listening on a non-loopback address (needs --allow-from and a shared secret)")
    p.add_argument("--allow-from", action="append", default=None, metavar="CIDR",
                   help="sender allowlist (repeatable, e.g. 192.168.1.0/24); datagrams from other senders are "
                   "dropped unanswered. Required with a non-loopback --listen")
    p.add_argument("--secret-file", type=Path, default=None, metavar="FILE",
                   help="file holding the shared secret (>= 16 characters; default: $TECHNOB_OSC_SECRET) that "
                   "every state-changing message must carry as its first argument. Required with a "
                   "non-loopback --listen")
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
    if args.action == "install-live-script":
        from bridge.ableton import install_live_script

        target = install_live_script(args.dest)
        print(f"installed {target}\nRestart Live, then in Preferences > Link, Tempo & MIDI pick 'TechnobFX' as a "
              "Control Surface (beside AbletonOSC in another slot). It listens on 127.0.0.1:11002.")
        return 0
    if args.action == "pull":
        return _pull(args)
    from bridge.osc import OscServer

    host, port = _host_port(args.listen, "--listen")
    daw = None
    reply_to = None
    if args.daw == "ableton":
        from bridge.ableton import AbletonClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["ableton"], "--send")
        daw = AbletonClient(h, p)
    elif args.daw == "reaper":
        from bridge.reaper import ReaperClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["reaper"], "--send")
        fb = None if args.reaper_feedback == "off" else _host_port(args.reaper_feedback, "--reaper-feedback")[1]
        daw = ReaperClient(h, p, feedback_port=fb, state=args.reaper_state)
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
                       allow_from=args.allow_from, secret=_secret(args), clock_out=clock_out, clock_in=clock_in)
    if args.preset:
        from technob_fx.core.chain import Chain

        server.chain = Chain.from_preset(args.preset)
    h, p = server.address
    print(f"technob bridge ({args.daw}) listening on {h}:{p}; allowed: "
          f"{', '.join(map(str, server.policy.allowed))}; senders: {server.transport.senders}; secret: "
          f"{'required' if server.secret else 'none'}; Ctrl-C stops", flush=True)
    restore = _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        restore()
        if daw is not None:
            daw.close()
        if clock_in is not None:
            clock_in.stop()
            in_port.close()
        if clock_out is not None:
            clock_out.close()
    return 0


def _stop_on_signals() -> Callable[[], None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the server cleanly, even where SIGINT was inherited as
    ignored (a process started in the background by a shell without job control); returns the
    function that puts the previous handlers back. Only the main thread may set handlers."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, frame: object) -> None:  # noqa: ARG001
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _secret(args: argparse.Namespace) -> str | None:
    """The shared secret: --secret-file's first line, else $TECHNOB_OSC_SECRET, else None."""
    import os

    from technob_fx.core.errors import PathError

    if args.secret_file is not None:
        try:
            text = args.secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise PathError(f"--secret-file {args.secret_file}: cannot read ({exc})") from None
        return text.splitlines()[0].strip() if text else ""
    return os.environ.get("TECHNOB_OSC_SECRET") or None


def _pull(args: argparse.Namespace) -> int:
    from bridge.pull import describe, pull_into_analysis
    from technob_fx.core.errors import TechnobError

    if args.analysis is None:
        raise TechnobError("technob bridge pull: give the track's analysis.json (or its folder)")
    client = None
    if args.from_rpp is not None:
        from bridge.reaper import pull_rpp

        def pull(data):  # noqa: ANN001, ANN202
            return pull_rpp(data, args.from_rpp)
    elif args.daw == "reaper":
        from bridge.reaper import ReaperClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["reaper"], "--send")
        fb = _host_port(args.reaper_feedback, "--reaper-feedback")[1] if args.reaper_feedback != "off" else None
        client = ReaperClient(h, p, feedback_port=fb, state=args.reaper_state)
        pull = client.pull
    elif args.daw == "ableton":
        from bridge.ableton import AbletonClient

        h, p = _host_port(args.send or DAW_DEFAULT_SEND["ableton"], "--send")
        client = AbletonClient(h, p)
        pull = client.pull
    else:
        raise TechnobError("technob bridge pull: choose --daw reaper|ableton, or --from-rpp FILE")
    try:
        written, before, after = pull_into_analysis(args.analysis, pull, out_dir=args.out_dir)
    finally:
        if client is not None:
            client.close()
    print(f"wrote {written}: {describe(before, after)}")
    return 0
