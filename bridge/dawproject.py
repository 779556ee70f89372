"""DAWproject export: the open exchange format of Bitwig Studio, Studio One and Cubase.

A ``.dawproject`` file is a ZIP holding ``project.xml`` (the project, schema ``Project.xsd`` of
https://github.com/bitwig/dawproject, format 1.0), ``metadata.xml`` (``MetaData.xsd``) and the
audio files. What :func:`write_dawproject` puts in it:

* ``Transport``: the first tempo and the time signature at the first downbeat;
* ``Arrangement``, on a beats timeline:

  - ``TempoAutomation``: one ``RealPoint`` per point of the track's tempo map
    (:func:`technob_fx.core.tempo.fit_tempo_map` with ``ramps="beats"``: the points sit on the
    beats timeline, so a ``linear`` point ramps linearly in beats; ``hold`` holds);
  - ``TimeSignatureAutomation``: a ``TimeSignaturePoint`` per time-signature change;
  - ``Markers``: one ``Marker`` at each section start;
  - one audio track per file (the mix, then each stem, all routed to a master track) holding
    one clip of the file, unwarped (``contentTimeUnit="seconds"``), placed by the tempo map so
    its first downbeat lands on a bar line (``playStart`` skips a trimmed lead-in);
  - a notes track with the pitch-tracking notes when there are any.

Audio files are copied into the ZIP under ``audio/`` (``File path="audio/<track>.<ext>"``); a file
that does not exist is referenced instead (``external="true"``, relative to the .dawproject's
folder when below it, else absolute).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from technob_fx.core.io import atomic_path

if TYPE_CHECKING:
    from technob_fx.core.tempo import TempoMap

    from .track import TrackData

#: DAWproject format version written.
FORMAT_VERSION = "1.0"


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id{self.n - 1}"


def _f(x: float) -> str:
    return f"{float(x):.9f}".rstrip("0").rstrip(".") if x == x else "0"


def _media(data: TrackData) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    if data.audio is not None:
        out.append(("mix", Path(data.audio)))
    out += [(name, Path(p)) for name, p in data.stems.items()]
    return out


def _info(path: Path, data: TrackData) -> tuple[int, int, float]:
    """(channels, sample rate, seconds) of a media file (the track's values when unreadable)."""
    try:
        from technob_fx.core.io import audio_info

        i = audio_info(path)
        return i.channels, int(round(i.sample_rate)), i.duration
    except Exception:  # noqa: BLE001 - missing or unreadable: reference it with the track's values
        return 2, int(data.sample_rate or 44100), float(data.duration)


def _zip_names(media: list[tuple[str, Path]]) -> dict[str, str]:
    """Track name -> path inside the ZIP (unique, from the track name)."""
    used: set[str] = set()
    out = {}
    for name, path in media:
        stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip() or "audio"
        arc, k = f"audio/{stem}{path.suffix.lower()}", 1
        while arc in used:
            k += 1
            arc = f"audio/{stem}-{k}{path.suffix.lower()}"
        used.add(arc)
        out[name] = arc
    return out


def project_element(data: TrackData, *, files: dict[str, tuple[str, bool]] | None = None,
                    version: str = "") -> ET.Element:
    """The ``<Project>`` element of a track.

    Parameters
    ----------
    data : TrackData
    files : dict, optional
        Track name -> ``(path written in <File>, external)``; default: ``audio/<name>.<ext>``
        inside the archive.
    version : str
        Application version written in ``<Application>``.
    """
    tm: TempoMap = data.tempo_map(ramps="beats")
    ids = _Ids()
    media = _media(data)
    if files is None:
        files = {name: (arc, False) for name, arc in _zip_names(media).items()}
    root = ET.Element("Project", version=FORMAT_VERSION)
    ET.SubElement(root, "Application", name="technob-fx", version=version or "0")
    transport = ET.SubElement(root, "Transport")
    tempo_id, sig_id = ids(), ids()
    ET.SubElement(transport, "Tempo", id=tempo_id, name="Tempo", unit="bpm", min="20", max="999",
                  value=_f(tm.points[0].bpm))
    main_meter = [m for m in tm.meters if m.beat <= tm.first_downbeat + 1e-9][-1]  # the pickup aside
    ET.SubElement(transport, "TimeSignature", id=sig_id, numerator=str(main_meter.numerator),
                  denominator=str(main_meter.denominator))

    structure = ET.SubElement(root, "Structure")

    def channel(track: ET.Element, role: str, destination: str | None, channels: int) -> str:
        cid = ids()
        attrs = {"id": cid, "role": role, "audioChannels": str(channels), "solo": "false"}
        if destination:
            attrs["destination"] = destination
        ch = ET.SubElement(track, "Channel", attrs)
        ET.SubElement(ch, "Mute", id=ids(), name="Mute", value="false")
        ET.SubElement(ch, "Pan", id=ids(), name="Pan", unit="normalized", min="0", max="1", value="0.5")
        ET.SubElement(ch, "Volume", id=ids(), name="Volume", unit="linear", min="0", max="2", value="1")
        return cid

    master = ET.SubElement(structure, "Track", id=ids(), name="Master", contentType="audio notes",
                           loaded="true")
    master_ch = channel(master, "master", None, 2)
    arrangement = ET.Element("Arrangement", id=ids())
    lanes = ET.SubElement(arrangement, "Lanes", id=ids(), timeUnit="beats")
    start_beat = float(tm.time_to_beat(tm.item_position))
    for name, path in media:
        n_ch, rate, seconds = _info(path, data)
        tid = ids()
        track = ET.SubElement(structure, "Track", id=tid, name=name, contentType="audio", loaded="true")
        channel(track, "regular", master_ch, n_ch)
        play = max(seconds - tm.item_start_offset, 0.0)
        end_beat = float(tm.time_to_beat(tm.item_position + play))
        lane = ET.SubElement(lanes, "Lanes", id=ids(), track=tid)
        clips = ET.SubElement(lane, "Clips", id=ids())
        clip = ET.SubElement(clips, "Clip", name=name, time=_f(start_beat), duration=_f(end_beat - start_beat),
                             contentTimeUnit="seconds", playStart=_f(tm.item_start_offset),
                             playStop=_f(tm.item_start_offset + play), fadeTimeUnit="seconds",
                             fadeInTime="0", fadeOutTime="0")
        audio = ET.SubElement(clip, "Audio", id=ids(), channels=str(n_ch), sampleRate=str(rate),
                              duration=_f(seconds))
        ref, external = files[name]
        file_attrs = {"path": ref}
        if external:
            file_attrs["external"] = "true"
        ET.SubElement(audio, "File", file_attrs)
    if data.notes:
        tid = ids()
        track = ET.SubElement(structure, "Track", id=tid, name="pitch", contentType="notes", loaded="true")
        channel(track, "regular", master_ch, 2)
        lane = ET.SubElement(lanes, "Lanes", id=ids(), track=tid)
        clips = ET.SubElement(lane, "Clips", id=ids())
        on = tm.audio_to_beat([n.onset for n in data.notes])
        off = tm.audio_to_beat([n.offset for n in data.notes])
        end = float(max(off.max(), 0.0))
        clip = ET.SubElement(clips, "Clip", name="pitch", time="0", duration=_f(max(end, 1.0)))
        notes = ET.SubElement(clip, "Notes", id=ids())
        for n, a, b in zip(data.notes, on, off, strict=True):
            if b <= 0:
                continue
            a = max(float(a), 0.0)
            ET.SubElement(notes, "Note", time=_f(a), duration=_f(max(float(b) - a, 1e-3)), channel="0",
                          key=str(int(min(max(n.pitch, 0), 127))),
                          vel=_f(min(max(n.velocity, 1), 127) / 127.0))
    if data.segments:
        markers = ET.SubElement(arrangement, "Markers", id=ids(), timeUnit="beats")
        for seg in data.segments:
            ET.SubElement(markers, "Marker", name=seg.label,
                          time=_f(max(float(tm.audio_to_beat(seg.start)), 0.0)))
    tempo = ET.SubElement(arrangement, "TempoAutomation", id=ids(), timeUnit="beats", unit="bpm")
    ET.SubElement(tempo, "Target", parameter=tempo_id)
    for i, p in enumerate(tm.points):
        ramp = p.ramp and i + 1 < len(tm.points)
        ET.SubElement(tempo, "RealPoint", time=_f(p.beat), value=_f(p.bpm),
                      interpolation="linear" if ramp else "hold")
    sig = ET.SubElement(arrangement, "TimeSignatureAutomation", id=ids(), timeUnit="beats")
    ET.SubElement(sig, "Target", parameter=sig_id)
    for m in tm.meters:
        ET.SubElement(sig, "TimeSignaturePoint", time=_f(m.beat), numerator=str(m.numerator),
                      denominator=str(m.denominator))
    root.append(arrangement)
    ET.SubElement(root, "Scenes")
    return root


def metadata_element(data: TrackData) -> ET.Element:
    """The ``<MetaData>`` element: title and a comment with the key and tempo."""
    root = ET.Element("MetaData")
    ET.SubElement(root, "Title").text = data.name
    comment = f"technob-fx analysis: {data.tempo:.2f} BPM"
    if data.key is not None:
        comment += f", {data.key.label}"
    ET.SubElement(root, "Comment").text = comment
    return root


def _xml(elem: ET.Element) -> bytes:
    ET.indent(elem)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(elem, encoding="utf-8") + b"\n"


def write_dawproject(data: TrackData, path: str | Path, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``path`` (a ``.dawproject`` ZIP) atomically, audio files copied in (streamed).

    Returns
    -------
    Path
        ``path``.
    """
    from technob_fx import __version__

    from .rpp import media_ref

    out = Path(path)
    media = _media(data)
    names = _zip_names(media)
    files: dict[str, tuple[str, bool]] = {}
    for name, p in media:
        if p.is_file():
            files[name] = (names[name], False)
        else:
            files[name] = (media_ref(p, out.resolve().parent), True)
    project = _xml(project_element(data, files=files, version=__version__))
    meta = _xml(metadata_element(data))
    with atomic_path(out, inputs) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("project.xml", project)
            z.writestr("metadata.xml", meta)
            for name, p in media:
                if not files[name][1]:
                    z.write(p, files[name][0], compress_type=zipfile.ZIP_STORED)
    return out
