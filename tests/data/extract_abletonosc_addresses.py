"""Regenerate ``abletonosc_addresses.txt``: every OSC address AbletonOSC's real source registers.

AbletonOSC builds most of its addresses in loops (``"/live/song/get/%s" % prop``), so they are
taken by running its own registration code, not by reading string literals: the Remote Script's
package is imported with stand-ins for Live's modules (``Live``, ``ableton.v2...``,
``_Framework...``), its ``Manager`` is created with an OSC server that only records
``add_handler(address, ...)`` calls, and every handler class registers itself as it does in Live.

Usage (from the repository root, with a mirror of github.com/ideoforms/AbletonOSC)::

    python tests/data/extract_abletonosc_addresses.py /path/to/AbletonOSC-git-dir > tests/data/abletonosc_addresses.txt

The git directory is read with ``git archive`` at ``HEAD``; its commit is written into the header.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import types
from unittest import mock


def _stub_live_modules() -> None:
    class Component:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.song = mock.MagicMock(name="song")

    class ControlSurface:
        def __init__(self, c_instance: object) -> None:
            self.song = mock.MagicMock(name="song")

        def schedule_message(self, *args: object) -> None:
            pass

        def show_message(self, *args: object) -> None:
            pass

        def component_guard(self):  # noqa: ANN201
            import contextlib

            return contextlib.nullcontext()

    mods = {
        "Live": mock.MagicMock(name="Live"),
        "ableton": types.ModuleType("ableton"),
        "ableton.v2": types.ModuleType("ableton.v2"),
        "ableton.v2.control_surface": types.ModuleType("ableton.v2.control_surface"),
        "ableton.v2.control_surface.component": types.ModuleType("ableton.v2.control_surface.component"),
        "_Framework": types.ModuleType("_Framework"),
        "_Framework.EncoderElement": types.ModuleType("_Framework.EncoderElement"),
    }
    mods["ableton.v2.control_surface"].ControlSurface = ControlSurface
    mods["ableton.v2.control_surface.component"].Component = Component
    mods["_Framework.EncoderElement"].EncoderElement = object
    sys.modules.update(mods)


class RecordingServer:
    """Stands in for ``abletonosc.OSCServer``: records the registered addresses."""

    addresses: list[str] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._local_addr = ("0.0.0.0", 11000)

    def add_handler(self, address: str, handler: object) -> None:
        RecordingServer.addresses.append(address)

    def send(self, *args: object, **kwargs: object) -> None:
        pass

    def clear_handlers(self) -> None:
        pass


def extract(git_dir: str) -> tuple[str, list[str]]:
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    tar = subprocess.run(["git", "--git-dir", git_dir, "archive", "--prefix=AbletonOSC/", "HEAD"],
                         check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(tmp, filter="data")
        _stub_live_modules()
        sys.path.insert(0, tmp)
        pkg = importlib.import_module("AbletonOSC.abletonosc")
        pkg.OSCServer = RecordingServer
        manager = importlib.import_module("AbletonOSC.manager")
        manager.Manager.start_logging = lambda self: None
        manager.Manager(mock.MagicMock(name="c_instance"))
    return commit, sorted(set(RecordingServer.addresses))


def main() -> None:
    commit, addresses = extract(sys.argv[1])
    print("# OSC addresses registered by AbletonOSC (https://github.com/ideoforms/AbletonOSC)")
    print(f"# commit {commit}; extracted by tests/data/extract_abletonosc_addresses.py, which runs")
    print("# AbletonOSC's own Manager.init_api and handler classes with stand-ins for Live's modules.")
    print("# AbletonOSC sends these replies/notifications too: /live/error, /live/startup,")
    print("# /live/song/get/beat (listener), and /live/<object>/get/<property> for every listener.")
    for a in addresses:
        print(a)


if __name__ == "__main__":
    main()
