"""REAPER over OSC with its default pattern set (``Default.ReaperOSC``).

REAPER listens on the "Local listen port" of an OSC control surface (Preferences >
Control/OSC/web; no default, 8000 is customary). Addresses used, from the default pattern file:

===============================  ====  =====================================================
``/tempo/raw``                   f     tempo in BPM (``TEMPO f/tempo/raw``)
``/marker_id/N/time``            f     seconds; creates marker number N if it does not exist
``/marker_id/N/name``            s     marker name
``/region_id/N/time``            f     region start, seconds; creates region N if missing
``/region_id/N/length``          f     region length, seconds
``/region_id/N/name``            s     region name
===============================  ====  =====================================================

The ``*_id`` forms address markers and regions by their number rather than their index, so
writing a time does not renumber the others (the pattern file's advice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .oscmsg import OscSender

if TYPE_CHECKING:
    from .track import TrackData

#: Port REAPER is usually told to listen on.
DEFAULT_PORT = 8000


class ReaperClient:
    """Push tempo, section markers and regions to REAPER.

    Parameters
    ----------
    host, port : str, int
        REAPER's OSC listen address.
    first_id : int
        Number of the first marker/region written (later ones count up).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, first_id: int = 1) -> None:
        self.sender = OscSender(host, port)
        self.first_id = int(first_id)

    def close(self) -> None:
        """Close the socket."""
        self.sender.sock.close()

    def set_tempo(self, bpm: float) -> None:
        """``/tempo/raw bpm``."""
        self.sender.send("/tempo/raw", float(bpm))

    def sync(self, data: TrackData) -> dict:
        """Send the tempo, a marker at each section start and a region per section.

        Returns
        -------
        dict
            ``{"tempo": bpm, "markers": n, "regions": n}``.
        """
        self.set_tempo(data.tempo)
        for i, seg in enumerate(data.segments):
            n = self.first_id + i
            self.sender.send(f"/marker_id/{n}/time", float(seg.start))
            self.sender.send(f"/marker_id/{n}/name", seg.label)
            self.sender.send(f"/region_id/{n}/time", float(seg.start))
            self.sender.send(f"/region_id/{n}/length", float(seg.duration))
            self.sender.send(f"/region_id/{n}/name", seg.label)
        return {"tempo": data.tempo, "markers": len(data.segments), "regions": len(data.segments)}
