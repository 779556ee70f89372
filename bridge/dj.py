"""Beat grids and cues for DJ software: rekordbox XML and Traktor NML collections.

Both writers take :class:`DJTrack` items (a :class:`~bridge.track.TrackData` plus file facts) and
write one collection file atomically.

rekordbox (the "rekordbox xml" import, format documented by Pioneer DJ in "rekordbox XML
format" and mirrored in pyrekordbox's docs)::

    <DJ_PLAYLISTS Version="1.0.0">
      <PRODUCT Name="technob-fx" Version="..." Company="technob-fx"/>
      <COLLECTION Entries="N">
        <TRACK TrackID="1" Name=".." Kind="WAV File" Size=".." TotalTime="52" AverageBpm="128.00"
               SampleRate="44100" Location="file://localhost/Users/me/a%20b.wav" Tonality="Am" ..>
          <TEMPO Inizio="0.000" Bpm="128.00" Metro="4/4" Battito="1"/>   (one per grid run)
          <POSITION_MARK Name="intro" Type="0" Start="0.000" Num="-1"/>  (memory cue per section)
          <POSITION_MARK Name="drop" Type="0" Start="15.000" Num="0"/>   (hot cue A, B.. at drops)
        </TRACK>
      </COLLECTION>
      <PLAYLISTS><NODE Type="0" Name="ROOT" Count="1">
        <NODE Name="technob-fx" Type="1" KeyType="0" Entries="N"><TRACK Key="1"/>..</NODE>
      </NODE></PLAYLISTS>
    </DJ_PLAYLISTS>

Times in seconds (3 decimals, as rekordbox writes them), BPM with 2 decimals. ``Location`` is
``file://localhost`` + the percent-encoded absolute path (``/Users/..`` on macOS, ``/C:/..`` on
Windows), the form rekordbox exports. A ``TEMPO`` element holds from its ``Inizio`` to the next:
:func:`grid_runs` splits the beat grid into constant-tempo runs that start on downbeats, so every
beat lies within ``tolerance`` of the grid rekordbox draws.

Traktor (``collection.nml``, as Traktor Pro writes it)::

    <NML VERSION="19"><HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"/>
      <MUSICFOLDERS/><COLLECTION ENTRIES="N">
        <ENTRY MODIFIED_DATE="2024/5/1" MODIFIED_TIME="3600" TITLE=".." ARTIST="..">
          <LOCATION DIR="/:Users/:me/:Music/:" FILE="a b.wav" VOLUME="Macintosh HD" VOLUMEID="Macintosh HD"/>
          <MODIFICATION_INFO AUTHOR_TYPE="user"/>
          <INFO PLAYTIME="52" PLAYTIME_FLOAT="52.500000" KEY="1m" IMPORT_DATE="2024/5/1" FILESIZE="9043"/>
          <TEMPO BPM="128.000000" BPM_QUALITY="100.000000"/>
          <MUSICAL_KEY VALUE="21"/>
          <CUE_V2 NAME="AutoGrid" DISPL_ORDER="0" TYPE="4" START="0.000000" LEN="0.000000" REPEATS="-1" HOTCUE="-1">
            <GRID BPM="128.000000"/></CUE_V2>                   (grid anchor per run, ms)
          <CUE_V2 NAME="drop" DISPL_ORDER="0" TYPE="0" START="15000.000000" LEN="0.000000" REPEATS="-1" HOTCUE="1"/>
        </ENTRY>
      </COLLECTION>
      <PLAYLISTS><NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="1">
        <NODE TYPE="PLAYLIST" NAME="technob-fx"><PLAYLIST ENTRIES="N" TYPE="LIST" UUID="..">
          <ENTRY><PRIMARYKEY TYPE="TRACK" KEY="Macintosh HD/:Users/:me/:Music/:a b.wav"/></ENTRY>
      </PLAYLIST></NODE></SUBNODES></NODE></PLAYLISTS>
    </NML>

``CUE_V2 START``/``LEN`` are milliseconds; ``TYPE`` 0 = cue, 4 = grid marker; ``HOTCUE`` -1 =
no pad. ``MUSICAL_KEY VALUE`` and ``INFO KEY`` (Open Key) come from :mod:`bridge.keys`.
``LOCATION``: ``DIR`` is the folder with ``/:`` separators, ``VOLUME`` the drive (``C:``) or the
macOS volume name; paths under ``/Volumes/NAME/`` use ``NAME``, other absolute paths ``volume``
(default ``Macintosh HD`` on macOS, empty elsewhere).

Hot cues go to sections labelled ``drop`` only when the sections carry techno labels
(``labeller == "techno"``); repetition labels (A/B/...) get memory cues only.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from technob_fx.core.errors import PathError, TechnobError
from technob_fx.core.io import atomic_path
from technob_fx.core.results import SECTION_LABELS, BeatGrid

from .keys import open_key, rekordbox_tonality, traktor_key_value
from .track import TrackData

#: Most hot cues rekordbox and Traktor offer (A..H, pads 1..8).
MAX_HOT_CUES = 8
#: Largest distance, seconds, between a beat and the grid a DJ program draws from the runs.
GRID_TOLERANCE = 0.010
_KINDS = {".wav": "WAV File", ".mp3": "MP3 File", ".flac": "FLAC File", ".aiff": "AIFF File",
          ".aif": "AIFF File", ".m4a": "M4A File", ".ogg": "OGG File"}


@dataclass
class DJTrack:
    """One track of a DJ collection.

    Attributes
    ----------
    data : TrackData
        Grid, sections, key, duration; ``data.audio`` is the audio file (required).
    size : int, optional
        File size, bytes (read from the file when absent).
    labeller : str, optional
        ``"techno"`` (intro/build/drop/...) or ``"repetition"`` (A/B/...); inferred from the
        labels when absent.
    artist, title : str
        Shown by the DJ program (title defaults to the file name without extension).
    comment : str
        rekordbox ``Comments`` / Traktor ``INFO COMMENT``.
    """

    data: TrackData
    size: int | None = None
    labeller: str | None = None
    artist: str = ""
    title: str = ""
    comment: str = ""

    @property
    def path(self) -> Path:
        if self.data.audio is None:
            raise TechnobError(f"track {self.data.name!r}: no audio file to point the DJ program at")
        return Path(self.data.audio)

    def hot_cue_sections(self) -> bool:
        labels = [s.label for s in self.data.segments]
        lab = self.labeller or ("techno" if labels and all(x in SECTION_LABELS for x in labels) else "repetition")
        return lab == "techno"


# --------------------------------------------------------------------------------------------
# Beat grid as constant-tempo runs
# --------------------------------------------------------------------------------------------


def grid_runs(grid: BeatGrid, tolerance: float = GRID_TOLERANCE, decimals: int = 2) -> list[tuple[float, float, int]]:
    """Split a beat grid into constant-tempo runs that DJ software can draw.

    Each run starts on a beat (a downbeat where the grid has them) and holds a constant tempo,
    rounded to ``decimals`` as the file stores it, such that every beat of the run lies within
    ``tolerance`` seconds of ``start + k * 60 / bpm``. A steady track gives one run.

    Why not :func:`technob_fx.core.tempo.fit_tempo_map` (the one tempo map, used for the
    catalogue's tempo map)? A DJ grid marker sets the bar phase, so runs must start on downbeats,
    and the fit has to hold at the BPM precision the file stores (rekordbox writes 2 decimals:
    0.005 BPM off is 9 ms after 500 beats at 128 BPM); the DAW tempo map has neither constraint.

    Parameters
    ----------
    grid : BeatGrid
    tolerance : float
        Seconds.
    decimals : int
        BPM decimals of the target format (rekordbox 2).

    Returns
    -------
    list of ``(start_s, bpm, beat_in_bar)``
        ``beat_in_bar`` is 1 for a run starting on a downbeat.
    """
    b = grid.beats
    if b.size == 0:
        return []
    if b.size == 1:
        return [(float(b[0]), round(float(grid.tempo), decimals), int(grid.beat_in_bar[0]))]
    pos = grid.beat_in_bar
    is_db = pos == 1
    start = int(np.argmax(is_db)) if is_db.any() and int(np.argmax(is_db)) < b.size - 1 else 0
    runs: list[tuple[float, float, int]] = []
    while True:
        best_j, best_bpm = start + 1, round(60.0 / (b[start + 1] - b[start]), decimals)
        j = start + 2
        while j < b.size:
            bpm = round(60.0 * (j - start) / (b[j] - b[start]), decimals)
            k = np.arange(j - start + 1)
            if np.max(np.abs(b[start:j + 1] - (b[start] + k * 60.0 / bpm))) > tolerance:
                break
            best_j, best_bpm = j, bpm
            j += 1
        runs.append((float(b[start]), float(best_bpm), int(pos[start])))
        if best_j >= b.size - 1:
            break
        later_db = np.flatnonzero(is_db[start + 1:best_j + 1])
        start = start + 1 + int(later_db[-1]) if later_db.size else best_j
    return runs


def cues(track: DJTrack) -> list[tuple[str, float, int]]:
    """``(name, start_s, hot_cue)`` for every section start; ``hot_cue`` -1 = memory cue only.

    Drops get hot cues 0, 1, ... (at most :data:`MAX_HOT_CUES`) when the labels are techno labels.
    """
    out, n_hot = [], 0
    hot = track.hot_cue_sections()
    for s in track.data.segments:
        num = -1
        if hot and s.label == "drop" and n_hot < MAX_HOT_CUES:
            num, n_hot = n_hot, n_hot + 1
        out.append((s.label, float(s.start), num))
    return out


# --------------------------------------------------------------------------------------------
# rekordbox
# --------------------------------------------------------------------------------------------


def rekordbox_location(path: str | Path) -> str:
    """``file://localhost`` URL of an absolute path, percent-encoded (UTF-8), as rekordbox writes it.

    >>> rekordbox_location("/Users/dj/My Track.wav")
    'file://localhost/Users/dj/My%20Track.wav'
    >>> rekordbox_location(r"C:\\Music\\a b.mp3")
    'file://localhost/C:/Music/a%20b.mp3'
    """
    s = str(path)
    win = PureWindowsPath(s)
    if win.drive and len(win.drive) == 2 and win.drive[1] == ":":
        posix = "/" + win.as_posix()
    else:
        posix = PurePosixPath(s).as_posix()
        if not posix.startswith("/"):
            raise PathError(f"{path}: rekordbox needs an absolute path")
    return "file://localhost" + urllib.parse.quote(posix, safe="/:")


def _f(x: float, d: int) -> str:
    return f"{x:.{d}f}"


def _file_facts(t: DJTrack) -> tuple[Path, int]:
    p = t.path
    size = t.size
    if size is None:
        try:
            size = p.stat().st_size
        except OSError:
            size = 0
    return p, int(size)


def rekordbox_xml(tracks: Iterable[DJTrack], *, playlist: str = "technob-fx") -> bytes:
    """The rekordbox XML document of ``tracks`` (UTF-8 bytes, with the XML declaration)."""
    from technob_fx import __version__

    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    ET.SubElement(root, "PRODUCT", Name="technob-fx", Version=__version__, Company="technob-fx")
    coll = ET.SubElement(root, "COLLECTION")
    ids = []
    today = time.strftime("%Y-%m-%d")
    for i, t in enumerate(tracks, start=1):
        p, size = _file_facts(t)
        d = t.data
        attrs = {
            "TrackID": str(i), "Name": t.title or p.stem, "Artist": t.artist, "Composer": "", "Album": "",
            "Grouping": "", "Genre": "", "Kind": _KINDS.get(p.suffix.lower(), "WAV File"), "Size": str(size),
            "TotalTime": str(int(round(d.duration))), "DiscNumber": "0", "TrackNumber": "0", "Year": "0",
            "AverageBpm": _f(d.tempo, 2), "DateAdded": today, "BitRate": "0",
            "SampleRate": str(int(round(d.sample_rate))) if d.sample_rate else "0", "Comments": t.comment,
            "PlayCount": "0", "Rating": "0", "Location": rekordbox_location(p), "Remixer": "",
            "Tonality": rekordbox_tonality(d.key.tonic, d.key.mode) if d.key else "", "Label": "", "Mix": "",
        }
        el = ET.SubElement(coll, "TRACK", attrs)
        metro = f"{d.grid.beats_per_bar}/4"
        for start, bpm, battito in grid_runs(d.grid, decimals=2):
            ET.SubElement(el, "TEMPO", Inizio=_f(start, 3), Bpm=_f(bpm, 2), Metro=metro, Battito=str(battito))
        for name, start, num in cues(t):
            ET.SubElement(el, "POSITION_MARK", Name=name, Type="0", Start=_f(start, 3), Num="-1")
            if num >= 0:
                ET.SubElement(el, "POSITION_MARK", Name=name, Type="0", Start=_f(start, 3), Num=str(num))
        ids.append(i)
    coll.set("Entries", str(len(ids)))
    pls = ET.SubElement(root, "PLAYLISTS")
    top = ET.SubElement(pls, "NODE", Type="0", Name="ROOT", Count="1")
    node = ET.SubElement(top, "NODE", Name=playlist, Type="1", KeyType="0", Entries=str(len(ids)))
    for i in ids:
        ET.SubElement(node, "TRACK", Key=str(i))
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


# --------------------------------------------------------------------------------------------
# Traktor
# --------------------------------------------------------------------------------------------


def traktor_location(path: str | Path, volume: str | None = None) -> tuple[str, str, str]:
    """``(VOLUME, DIR, FILE)`` of an absolute path as Traktor's ``LOCATION`` stores it.

    >>> traktor_location("/Users/dj/Music/a b.wav", volume="Macintosh HD")
    ('Macintosh HD', '/:Users/:dj/:Music/:', 'a b.wav')
    >>> traktor_location(r"D:\\Music\\a.mp3")
    ('D:', '/:Music/:', 'a.mp3')
    """
    s = str(path)
    win = PureWindowsPath(s)
    if win.drive and len(win.drive) == 2 and win.drive[1] == ":":
        vol, parts = win.drive.upper(), list(win.parts[1:])
    else:
        pp = PurePosixPath(s)
        if not pp.is_absolute():
            raise PathError(f"{path}: Traktor needs an absolute path")
        parts = list(pp.parts[1:])
        if len(parts) > 2 and parts[0] == "Volumes":
            vol, parts = parts[1], parts[2:]
        else:
            vol = volume if volume is not None else ("Macintosh HD" if sys.platform == "darwin" else "")
    if not parts:
        raise PathError(f"{path}: not a file path")
    folder = "".join(f"/:{x}" for x in parts[:-1]) + "/:"
    return vol, folder, parts[-1]


def traktor_nml(tracks: Iterable[DJTrack], *, playlist: str = "technob-fx", volume: str | None = None) -> bytes:
    """The Traktor ``collection.nml`` document of ``tracks`` (UTF-8 bytes)."""
    root = ET.Element("NML", VERSION="19")
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
    ET.SubElement(root, "MUSICFOLDERS")
    coll = ET.SubElement(root, "COLLECTION")
    now = time.localtime()
    date = f"{now.tm_year}/{now.tm_mon}/{now.tm_mday}"
    secs = str(now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
    keys = []
    for t in tracks:
        p, size = _file_facts(t)
        d = t.data
        entry = ET.SubElement(coll, "ENTRY", MODIFIED_DATE=date, MODIFIED_TIME=secs, TITLE=t.title or p.stem,
                              ARTIST=t.artist)
        vol, folder, name = traktor_location(p, volume)
        ET.SubElement(entry, "LOCATION", DIR=folder, FILE=name, VOLUME=vol, VOLUMEID=vol)
        ET.SubElement(entry, "MODIFICATION_INFO", AUTHOR_TYPE="user")
        info = {"PLAYTIME": str(int(round(d.duration))), "PLAYTIME_FLOAT": _f(d.duration, 6),
                "IMPORT_DATE": date, "FILESIZE": str(int(round(size / 1024)))}
        if t.comment:
            info["COMMENT"] = t.comment
        if d.key is not None:
            info["KEY"] = open_key(d.key.tonic, d.key.mode)
        ET.SubElement(entry, "INFO", info)
        ET.SubElement(entry, "TEMPO", BPM=_f(d.tempo, 6), BPM_QUALITY="100.000000")
        if d.key is not None:
            ET.SubElement(entry, "MUSICAL_KEY", VALUE=str(traktor_key_value(d.key.tonic, d.key.mode)))
        for start, bpm, _ in grid_runs(d.grid, decimals=6):
            cue = ET.SubElement(entry, "CUE_V2", NAME="AutoGrid", DISPL_ORDER="0", TYPE="4",
                                START=_f(start * 1000.0, 6), LEN="0.000000", REPEATS="-1", HOTCUE="-1")
            ET.SubElement(cue, "GRID", BPM=_f(bpm, 6))
        for label, start, num in cues(t):
            ET.SubElement(entry, "CUE_V2", NAME=label, DISPL_ORDER="0", TYPE="0", START=_f(start * 1000.0, 6),
                          LEN="0.000000", REPEATS="-1", HOTCUE=str(num))
        keys.append(vol + folder + name)
    coll.set("ENTRIES", str(len(keys)))
    pls = ET.SubElement(root, "PLAYLISTS")
    top = ET.SubElement(pls, "NODE", TYPE="FOLDER", NAME="$ROOT")
    sub = ET.SubElement(top, "SUBNODES", COUNT="1")
    node = ET.SubElement(sub, "NODE", TYPE="PLAYLIST", NAME=playlist)
    pl = ET.SubElement(node, "PLAYLIST", ENTRIES=str(len(keys)), TYPE="LIST", UUID=uuid.uuid4().hex)
    for k in keys:
        ET.SubElement(ET.SubElement(pl, "ENTRY"), "PRIMARYKEY", TYPE="TRACK", KEY=k)
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_rekordbox(tracks: Iterable[DJTrack], path: str | Path, **kw: str) -> Path:
    """Write :func:`rekordbox_xml` to ``path`` atomically (never over one of the tracks' files)."""
    tracks = list(tracks)
    doc = rekordbox_xml(tracks, **kw)
    with atomic_path(path, [t.path for t in tracks]) as tmp:
        tmp.write_bytes(doc)
    return Path(path)


def write_traktor(tracks: Iterable[DJTrack], path: str | Path, **kw: str | None) -> Path:
    """Write :func:`traktor_nml` to ``path`` atomically (never over one of the tracks' files)."""
    tracks = list(tracks)
    doc = traktor_nml(tracks, **kw)
    with atomic_path(path, [t.path for t in tracks]) as tmp:
        tmp.write_bytes(doc)
    return Path(path)
