"""REAPER over OSC with its default pattern set (``Default.ReaperOSC``), both directions.

In REAPER add an OSC control surface (Preferences > Control/OSC/web > Add > OSC): Pattern config
"Default", Local listen port 8000 (what we send to), Device IP 127.0.0.1 and Device port 9001
(where REAPER sends feedback, which :class:`ReaperClient` reads). Patterns used (all in the default
file, ``tests/data/reaper_default_osc.txt``):

=====================================  ===================================================
``/tempo/raw f``                       set the tempo; REAPER reports it back the same way
``/marker_id/N/time f``, ``/name s``   write marker number N (created if missing)
``/region_id/N/time f``, ``/length f``,  write region number N
``/name s``
``/time f``                            move the edit cursor (to remove a marker near it)
``/action i``                          40613 "Markers: Delete marker near cursor", 40615
                                       "Markers: Delete region near cursor", 41743
                                       "Control surface: Refresh all surfaces"
``/device/marker/count i``,            ask for feedback of that many markers / regions:
``/device/region/count i``             ``/marker/@/number/str``, ``/marker/@/time``,
                                       ``/marker/@/name`` (``@`` a feedback slot; the
                                       marker's own number is in ``number/str``), and the
                                       same under ``/region/@/...`` with ``length``
=====================================  ===================================================

The ``*_id`` forms address markers and regions by their number, so writing a time does not
renumber the others (the pattern file's advice). Numbers follow REAPER's: markers and regions are
two sequences; ours are the numbers this client wrote before (reused in order), then the lowest
numbers no other marker uses (known from feedback). A re-sync removes the markers and regions it
wrote before and no longer needs. Over OSC REAPER holds one tempo: a drifting track's full tempo
map goes through the ``.RPP`` (:mod:`bridge.rpp`), which :func:`pull_rpp` also reads back.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from technob_fx.core.errors import TechnobError

from .oscmsg import DAW_MAX_MESSAGES, OscSender

if TYPE_CHECKING:
    from .track import TrackData

#: Port REAPER is usually told to listen on, and the device port we ask it to send feedback to.
DEFAULT_PORT = 8000
FEEDBACK_PORT = 9001
#: REAPER action command IDs.
ACTION_DELETE_MARKER = 40613  # Markers: Delete marker near cursor
ACTION_DELETE_REGION = 40615  # Markers: Delete region near cursor
ACTION_REFRESH = 41743  # Control surface: Refresh all surfaces
#: Markers / regions we ask feedback for.
FEEDBACK_COUNT = 256


@dataclass
class ReaperState:
    """What REAPER reported: ``markers`` / ``regions`` number -> ``{"time", "name"[, "length"]}``,
    and the tempo (BPM, or 0 before any report)."""

    markers: dict[int, dict[str, Any]] = field(default_factory=dict)
    regions: dict[int, dict[str, Any]] = field(default_factory=dict)
    tempo: float = 0.0


class ReaperClient:
    """Push tempo, section markers and regions to REAPER, and read them back.

    Parameters
    ----------
    host, port : str, int
        REAPER's OSC listen address.
    feedback_port : int or None
        Local UDP port REAPER's "Device port" sends feedback to (``None``: don't listen; marker
        numbers then start at ``first_id`` and nothing can be read back). 0 picks a free port.
    first_id : int
        Lowest marker/region number used.
    state : path, optional
        JSON file remembering which markers/regions this client wrote (so a later session can
        remove them); default: remembered for this client's life only.
    timeout : float
        Seconds to wait for feedback to settle.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, feedback_port: int | None = None,
                 first_id: int = 1, state: str | Path | None = None, timeout: float = 2.0) -> None:
        self.sender = OscSender(host, port)
        self.first_id = int(first_id)
        self.timeout = float(timeout)
        self.state_path = Path(state) if state is not None else None
        self.written: dict[str, dict[int, float]] = {"markers": {}, "regions": {}}
        if self.state_path is not None and self.state_path.is_file():
            try:
                raw = json.loads(self.state_path.read_text())
                self.written = {k: {int(n): float(t) for n, t in raw.get(k, {}).items()} for k in ("markers", "regions")}
            except (ValueError, AttributeError, TypeError):
                pass  # a damaged state file: start afresh
        self.feedback: socket.socket | None = None
        self._msgs: queue.Queue[tuple[str, tuple]] = queue.Queue()
        self._stop = threading.Event()
        if feedback_port is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0", int(feedback_port)))
            except OSError as exc:
                sock.close()
                raise TechnobError(f"cannot listen for REAPER's feedback on UDP {feedback_port}: "
                                   f"{exc.strerror or exc}") from None
            sock.settimeout(0.05)
            self.feedback = sock
            self._thread = threading.Thread(target=self._receive, name="reaper-feedback", daemon=True)
            self._thread.start()

    @property
    def feedback_address(self) -> tuple[str, int] | None:
        """Where we read REAPER's feedback (REAPER's "Device IP/port")."""
        return self.feedback.getsockname() if self.feedback is not None else None

    def _receive(self) -> None:
        from .oscmsg import OscParseError, parse_packet

        while not self._stop.is_set():
            try:
                data, _ = self.feedback.recvfrom(65535)  # type: ignore[union-attr]
            except TimeoutError:
                continue
            except OSError:
                return
            try:  # our strict parser: python-osc loops forever on a bundle element of size -4
                messages = parse_packet(data, max_messages=DAW_MAX_MESSAGES)
            except OscParseError:
                continue  # a malformed datagram must not stop (or hang) this thread
            for address, args in messages:
                self._msgs.put((address, tuple(args)))

    def close(self) -> None:
        """Close the sockets."""
        self._stop.set()
        if self.feedback is not None:
            self._thread.join(timeout=1.0)
            self.feedback.close()
        self.sender.sock.close()

    def __enter__(self) -> ReaperClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- feedback -----------------------------------------------------------------------------

    def read_state(self, settle: float = 0.25) -> ReaperState:
        """Ask REAPER for marker, region and tempo feedback and collect it until it goes quiet.

        Raises
        ------
        TechnobError
            No feedback socket, or nothing arrived within :attr:`timeout`.
        """
        if self.feedback is None:
            raise TechnobError("reading from REAPER needs its feedback: set REAPER's OSC Device port and "
                               "pass feedback_port (CLI: --reaper-feedback HOST:PORT)")
        while not self._msgs.empty():
            self._msgs.get_nowait()
        self.sender.send("/device/marker/count", FEEDBACK_COUNT)
        self.sender.send("/device/region/count", FEEDBACK_COUNT)
        self.sender.send("/action", ACTION_REFRESH)
        slots: dict[str, dict[int, dict[str, Any]]] = {"marker": {}, "region": {}}
        st = ReaperState()
        got_any = False
        deadline = time.monotonic() + self.timeout
        quiet_until = None
        while True:
            now = time.monotonic()
            if quiet_until is not None and now >= quiet_until:
                break
            if now >= deadline:
                if not got_any:
                    raise TechnobError(f"REAPER sent no feedback to {self.feedback_address} within {self.timeout:g} s "
                                       "(is its OSC Device port set to it?)")
                break
            try:
                addr, args = self._msgs.get(timeout=0.02)
            except queue.Empty:
                continue
            got_any = True
            quiet_until = time.monotonic() + settle
            parts = addr.strip("/").split("/")
            if addr == "/tempo/raw" and args:
                st.tempo = float(args[0])
            elif len(parts) >= 3 and parts[0] in slots and parts[1].isdigit():
                slot = slots[parts[0]].setdefault(int(parts[1]), {})
                key = "/".join(parts[2:])
                if args:
                    slot[key] = args[0]
        for kind, target in (("marker", st.markers), ("region", st.regions)):
            for slot in slots[kind].values():
                num = str(slot.get("number/str", "")).strip()
                if not num.isdigit() or "time" not in slot:
                    continue  # an empty feedback slot
                entry = {"time": float(slot["time"]), "name": str(slot.get("name", ""))}
                if kind == "region":
                    entry["length"] = float(slot.get("length", 0.0))
                target[int(num)] = entry
        return st

    # -- writing ------------------------------------------------------------------------------

    def set_tempo(self, bpm: float) -> None:
        """``/tempo/raw bpm``."""
        self.sender.send("/tempo/raw", float(bpm))

    def _numbers(self, kind: str, n: int, taken: set[int]) -> list[int]:
        ours = sorted(self.written[kind])
        out = ours[:n]
        k = self.first_id
        while len(out) < n:
            if k not in taken and k not in out and k not in ours:
                out.append(k)
            k += 1
        return out

    def sync(self, data: TrackData) -> dict:
        """Send the tempo, a marker at each section start and a region per section (project times of
        the track's ``.RPP`` layout), and remove markers/regions written before and no longer used.

        Returns
        -------
        dict
            ``{"tempo", "markers", "regions", "removed"}``.
        """
        tm = data.tempo_map(ramps="time")
        segs = sorted(data.segments, key=lambda s: s.start)
        before = None
        if self.feedback is not None:
            try:
                before = self.read_state()
            except TechnobError:
                before = None  # REAPER sends no feedback: numbers from first_id, removal from memory
        taken_m = set(before.markers) - set(self.written["markers"]) if before else set()
        taken_r = set(before.regions) - set(self.written["regions"]) if before else set()
        m_ids = self._numbers("markers", len(segs), taken_m)
        r_ids = self._numbers("regions", len(segs), taken_r)
        self.set_tempo(tm.bpm)
        new = {"markers": {}, "regions": {}}
        for seg, m, r in zip(segs, m_ids, r_ids, strict=True):
            start = max(seg.start + tm.audio_offset, 0.0)
            self.sender.send(f"/marker_id/{m}/time", float(start))
            self.sender.send(f"/marker_id/{m}/name", seg.label)
            self.sender.send(f"/region_id/{r}/time", float(start))
            self.sender.send(f"/region_id/{r}/length", float(max(seg.end + tm.audio_offset - start, 0.0)))
            self.sender.send(f"/region_id/{r}/name", seg.label)
            new["markers"][m], new["regions"][r] = start, start
        stale: dict[str, list[int]] = {"markers": [], "regions": []}
        for kind, action in (("markers", ACTION_DELETE_MARKER), ("regions", ACTION_DELETE_REGION)):
            now = getattr(before, kind) if before else {}
            for num, t in sorted(self.written[kind].items()):
                if num in new[kind]:
                    continue
                if before is not None and num not in now:
                    continue  # already gone (the producer deleted it)
                at = float(now[num]["time"]) if num in now else t
                self.sender.send("/time", at)
                self.sender.send("/action", action)
                stale[kind].append(num)
        removed = sum(len(v) for v in stale.values())
        if removed and self.feedback is not None:  # REAPER works in order: read back to confirm
            after = self.read_state()
            left = [n for n in stale["markers"] if n in after.markers] + [n for n in stale["regions"] if n in after.regions]
            removed -= len(left)
        self.written = new
        self._save()
        return {"tempo": round(tm.bpm, 4), "markers": len(segs), "regions": len(segs), "removed": removed}

    def _save(self) -> None:
        if self.state_path is None:
            return
        from technob_fx.core.io import atomic_write_text

        atomic_write_text(self.state_path, json.dumps(
            {k: {str(n): t for n, t in v.items()} for k, v in self.written.items()}, indent=1) + "\n")

    # -- the other direction ------------------------------------------------------------------

    def pull(self, data: TrackData) -> TrackData:
        """The track as the producer left it in REAPER: its tempo (one, over OSC) with bar 1 where
        the ``.RPP`` layout put it, and its markers (sorted by time) as section starts.

        For a tempo map with changes, save the project and use :func:`pull_rpp`.
        """
        from .ableton import corrected_from_daw

        st = self.read_state()
        tm = data.tempo_map(ramps="time")
        bpm = st.tempo or tm.bpm
        chords = {label for _, _, label in data.chords} - {s.label for s in data.segments}
        cues = [(m["name"], m["time"] - tm.audio_offset) for _, m in sorted(st.markers.items(), key=lambda kv: kv[1]["time"])
                if m["name"] not in chords]
        bpb = tm.meters[-1].numerator
        # bar lines of REAPER's constant tempo: project 0 is bar 1; audio 0 is at tm.audio_offset
        return corrected_from_daw(data, bpm=bpm, beats_per_bar=bpb, origin_beats=tm.audio_offset * bpm / 60.0,
                                  cues=cues)


def pull_rpp(data: TrackData, path: str | Path, *, track: str = "mix") -> TrackData:
    """The track as saved in a REAPER project: its tempo envelope (steps and linear ramps), time
    signatures, where the ``track`` item now sits, and its markers as section starts.

    Beats are REAPER's: every whole beat of its tempo map from the item's start to its end.
    """
    import copy
    import math

    import numpy as np

    from technob_fx.core.results import BeatGrid, Segment, Segmentation
    from technob_fx.core.tempo import MeterChange, TempoMap, TempoPoint

    from .rpp import parse_rpp

    p = Path(path)
    try:
        root = parse_rpp(p.read_text())
    except OSError as exc:
        raise TechnobError(f"{p}: cannot read ({exc.strerror or exc})") from None
    tempo_line = root.values("TEMPO")
    bpm0 = float(tempo_line[0][0]) if tempo_line else 120.0
    num0 = int(tempo_line[0][1]) if tempo_line and len(tempo_line[0]) > 1 else 4
    env = root.find("TEMPOENVEX")
    raw = [(float(v[0]), float(v[1]), int(v[2]) if len(v) > 2 else 1, int(v[3]) if len(v) > 3 else None)
           for v in (env.values("PT") if env is not None else [])]
    if not raw or raw[0][0] > 1e-9:
        raw.insert(0, (0.0, bpm0, 1, (4 << 16) | num0))
    # beats of each point: integrate the envelope (linear shape = linear in time)
    points: list[TempoPoint] = []
    meters: list[MeterChange] = []
    beat = 0.0
    bar, meter_beat, num = 1, 0.0, num0
    for i, (t, bpm, shape, sig) in enumerate(raw):
        if i:
            pt, pb, pshape, _ = raw[i - 1]
            nb = bpm if pshape == 0 else pb
            beat += (t - pt) * (pb + nb) / 2.0 / 60.0
        ramp = shape == 0 and i + 1 < len(raw)
        points.append(TempoPoint(round(beat, 6), t, bpm, ramp))
        if sig is not None and sig & 0xFFFF:
            if meters:
                bar += int(round((beat - meter_beat) / num))
            num, meter_beat = sig & 0xFFFF, round(beat, 6)
            meters.append(MeterChange(meter_beat, num, max(sig >> 16, 1), bar))
    if not meters:
        meters = [MeterChange(0.0, num0, 4, 1)]
    tm = TempoMap(points, meters, ramp_domain="time")
    # where the track's item sits
    offset = None
    for tr in root.find_all("TRACK"):
        names = tr.values("NAME")
        item = tr.find("ITEM")
        if item is None or not names or (names[0][0] != track and offset is not None):
            continue
        pos = float(item.values("POSITION")[0][0]) if item.values("POSITION") else 0.0
        soffs = float(item.values("SOFFS")[0][0]) if item.values("SOFFS") else 0.0
        offset = pos - soffs
        if names[0][0] == track:
            break
    offset = tm.audio_offset if offset is None else offset
    tm.audio_offset = offset
    first = math.ceil(float(tm.time_to_beat(max(offset, 0.0))) - 1e-9)
    last = math.floor(float(tm.time_to_beat(offset + data.duration)) + 1e-9)
    qs = np.arange(first, last + 1, dtype=np.float64)
    beats = tm.beat_to_time(qs) - offset
    keep = (beats >= -1e-9) & (beats <= data.duration + 1e-9)
    qs, beats = qs[keep], np.maximum(beats[keep], 0.0)
    down = np.array([abs(tm.bar_of(q)[1] - 1.0) < 1e-6 for q in qs], dtype=bool)
    out = copy.copy(data)
    local = 60.0 / np.diff(beats) if beats.size > 1 else np.array([bpm0])
    out.grid = BeatGrid(beats, beats[down], float(np.median(local)), int(meters[-1].numerator))
    chords = {label for _, _, label in data.chords} - {s.label for s in data.segments}
    markers = sorted((float(v[1]), str(v[2])) for v in root.values("MARKER")
                     if len(v) > 3 and v[3] == "0" and str(v[2]) not in chords)  # chord markers are not sections
    starts = [(t - offset, name) for t, name in markers if 0 <= t - offset < data.duration]
    if starts:
        segs = [Segment(t, starts[i + 1][0] if i + 1 < len(starts) else data.duration, name)
                for i, (t, name) in enumerate(starts)]
        out.segmentation = Segmentation([s for s in segs if s.end > s.start])
    return out
