"""What the TechnobFX Remote Script does for each OSC address, on Live's ``Song`` object.

Kept apart from Live's control-surface framework so it runs (and is tested) outside Live with any
object that has Live's ``Song``/``Track``/``Clip`` attributes used here.
"""

from __future__ import annotations

import os

#: Version of this script (answered to /technob/live/test).
VERSION = "1"
#: Every OSC address the script answers.
ADDRESSES = ("/technob/live/test", "/technob/live/add_stem")
#: Addresses it sends.
REPLIES = ("/technob/live/test", "/technob/live/add_stem", "/technob/live/error")


class Handlers:
    """Dispatch OSC messages to the Live set.

    Parameters
    ----------
    get_song : callable
        Returns Live's ``Song`` (the current document).
    live_version : str
        ``"major.minor"`` of the running Live.
    """

    def __init__(self, get_song, live_version: str = "") -> None:  # noqa: ANN001
        self.get_song = get_song
        self.live_version = live_version

    def handle(self, address: str, args: tuple) -> list[tuple[str, tuple]]:
        """The replies to one message (an error reply instead of raising)."""
        try:
            if address == "/technob/live/test":
                return [("/technob/live/test", ("ok", VERSION, self.live_version))]
            if address == "/technob/live/add_stem":
                return [("/technob/live/add_stem", self.add_stem(*args))]
            return [("/technob/live/error", (address, "unknown address"))]
        except Exception as exc:  # noqa: BLE001 - never let a message break Live's script
            return [("/technob/live/error", (address, f"{type(exc).__name__}: {exc}"))]

    def add_stem(self, name: str, path: str, position: float) -> tuple:
        """A new audio track named ``name`` at the end of the set with ``path`` as an unwarped
        arrangement clip at ``position`` beats; returns ``(name, track index)``."""
        if not isinstance(name, str) or not isinstance(path, str) or not isinstance(position, (int, float)):
            raise ValueError("arguments are <name> <path> <position beats>")
        if not os.path.isabs(path) or not os.path.isfile(path):
            raise ValueError(f"no such file on this machine: {path}")
        song = self.get_song()
        song.create_audio_track(-1)
        index = len(song.tracks) - 1
        track = song.tracks[index]
        track.name = name
        if not hasattr(track, "create_audio_clip"):
            raise RuntimeError("this Live has no Track.create_audio_clip (Live 12 or later needed)")
        clip = track.create_audio_clip(path, float(position))
        if clip is None:  # find it among the arrangement clips
            clips = [c for c in track.arrangement_clips if abs(c.start_time - float(position)) < 1e-6]
            clip = clips[0] if clips else None
        if clip is not None and getattr(clip, "is_audio_clip", True):
            clip.warping = False  # play the file as it is: the set's tempo follows the analysis
        return (name, index)
