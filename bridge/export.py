"""What the bridge exports, and the simple file formats.

What is exported is a :class:`bridge.track.TrackData`. :func:`export` writes any of ``reaper``
(``.RPP``), ``midi`` (``.mid``), ``jams`` (``.jams``), ``labels`` (Audacity label tracks) and
``dawproject`` (``.dawproject``) into a folder, atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from technob_fx.core.errors import PathError, TechnobError
from technob_fx.core.io import atomic_path
from technob_fx.core.results import BeatGrid, Segment

from .track import TrackData, load_track_data, read_analysis_json  # noqa: F401 - re-exported

#: Export targets of ``technob export --to``.
TARGETS = ("reaper", "midi", "jams", "labels", "dawproject")
#: DJ-software collections (:mod:`bridge.dj`), written only when named (they need the audio file).
DJ_TARGETS = ("rekordbox", "traktor")

# --------------------------------------------------------------------------------------------
# Labels and JAMS
# --------------------------------------------------------------------------------------------


def labels_text(segments: Iterable[Segment]) -> str:
    """Audacity label track text: one ``start<TAB>end<TAB>label`` line per section (seconds)."""
    return "".join(f"{s.start:.6f}\t{s.end:.6f}\t{s.label}\n" for s in segments)


def beat_labels_text(grid: BeatGrid) -> str:
    """Audacity point labels, one per beat, labelled with the beat's position in its bar."""
    pos = grid.beat_in_bar
    return "".join(f"{t:.6f}\t{t:.6f}\t{int(k)}\n" for t, k in zip(grid.beats, pos, strict=True))


def parse_labels(text: str) -> list[tuple[float, float, str]]:
    """Read Audacity label text back as ``[(start_s, end_s, label), ...]``."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("\\"):  # "\" lines carry frequency ranges
            continue
        start, end, *rest = line.split("\t")
        out.append((float(start), float(end), rest[0] if rest else ""))
    return out


def build_jams(data: TrackData) -> Any:
    """A validated :class:`jams.JAMS` with beat, segment_open, tempo, key_mode and note_midi."""
    import jams

    jam = jams.JAMS()
    jam.file_metadata.duration = float(data.duration)
    jam.file_metadata.title = data.name
    meta = {"annotation_tools": "technob-fx"}
    beat = jams.Annotation(namespace="beat", duration=data.duration, annotation_metadata=meta)
    for t, k in zip(data.grid.beats, data.grid.beat_in_bar, strict=True):
        beat.append(time=float(t), duration=0.0, value=int(k), confidence=1.0)
    jam.annotations.append(beat)
    seg = jams.Annotation(namespace="segment_open", duration=data.duration, annotation_metadata=meta)
    for s in data.segments:
        seg.append(time=float(s.start), duration=float(s.duration), value=s.label, confidence=1.0)
    jam.annotations.append(seg)
    # one observation per tempo of the track's tempo map (steps), in audio seconds
    tempo = jams.Annotation(namespace="tempo", duration=data.duration, annotation_metadata=meta)
    tm = data.tempo_map()
    starts = [max(float(tm.beat_to_audio(p.beat)), 0.0) for p in tm.points]
    for i, p in enumerate(tm.points):
        if starts[i] >= data.duration and i:
            break
        end = starts[i + 1] if i + 1 < len(starts) else float(data.duration)
        tempo.append(time=starts[i], duration=max(min(end, data.duration) - starts[i], 0.0),
                     value=float(p.bpm), confidence=1.0)
    jam.annotations.append(tempo)
    if data.key is not None:
        key = jams.Annotation(namespace="key_mode", duration=data.duration, annotation_metadata=meta)
        mode = data.key.mode.lower()
        value = f"{data.key.tonic}:{mode}" if mode in ("major", "minor") else data.key.tonic
        key.append(time=0.0, duration=float(data.duration), value=value,
                   confidence=float(max(0.0, min(1.0, data.key.confidence))))
        jam.annotations.append(key)
    if data.notes:
        notes = jams.Annotation(namespace="note_midi", duration=data.duration, annotation_metadata=meta)
        for n in data.notes:
            notes.append(time=float(n.onset), duration=float(max(n.offset - n.onset, 0.0)),
                         value=float(n.pitch), confidence=float(n.velocity) / 127.0)
        jam.annotations.append(notes)
    try:
        jam.validate()
    except Exception as exc:  # noqa: BLE001 - jams raises SchemaError/ParameterError
        raise TechnobError(f"JAMS does not validate: {exc}") from None
    return jam


def jams_text(data: TrackData) -> str:
    """JAMS JSON text of :func:`build_jams`."""
    jam = build_jams(data)
    return json.dumps(jam.__json__, indent=1, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def parse_targets(items: Iterable[str] | str | None) -> list[str]:
    """``["reaper,midi", "jams"]`` -> ``["reaper", "midi", "jams"]``; ``None``/``"all"`` -> all."""
    if items is None:
        return list(TARGETS)
    if isinstance(items, str):
        items = [items]
    out: list[str] = []
    for item in items:
        for t in str(item).split(","):
            t = t.strip().lower()
            if not t:
                continue
            if t == "all":
                out.extend(x for x in TARGETS if x not in out)
                continue
            if t not in TARGETS + DJ_TARGETS:
                raise TechnobError(f"unknown export target {t!r}; choose from {', '.join(TARGETS + DJ_TARGETS)}")
            if t not in out:
                out.append(t)
    return out or list(TARGETS)


def export(data: TrackData, targets: Iterable[str] | str | None, out_dir: str | Path) -> dict[str, list[Path]]:
    """Write the chosen formats into ``out_dir`` (created if missing), each file atomically.

    Returns
    -------
    dict
        Target -> written files: ``reaper``: ``NAME.RPP``; ``midi``: ``NAME.mid``; ``jams``:
        ``NAME.jams``; ``labels``: ``NAME_sections.txt`` and ``NAME_beats.txt``; ``dawproject``:
        ``NAME.dawproject``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PathError(f"{out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    inputs = [p for p in [data.audio, *data.stems.values()] if p is not None]
    written: dict[str, list[Path]] = {}
    for target in parse_targets(targets):
        if target == "reaper":
            from .rpp import write_rpp

            written[target] = [write_rpp(data, out / f"{data.name}.RPP")]
        elif target == "midi":
            from .midi import write_smf

            written[target] = [write_smf(data, out / f"{data.name}.mid", inputs=inputs)]
        elif target == "jams":
            written[target] = [_write(out / f"{data.name}.jams", jams_text(data), inputs)]
        elif target == "dawproject":
            from .dawproject import write_dawproject

            written[target] = [write_dawproject(data, out / f"{data.name}.dawproject", inputs=inputs)]
        elif target == "labels":
            written[target] = [
                _write(out / f"{data.name}_sections.txt", labels_text(data.segments), inputs),
                _write(out / f"{data.name}_beats.txt", beat_labels_text(data.grid), inputs),
            ]
        elif target in DJ_TARGETS:
            from .dj import DJTrack, write_rekordbox, write_traktor

            dj = [DJTrack(data)]
            written[target] = [write_rekordbox(dj, out / f"{data.name}.xml") if target == "rekordbox"
                               else write_traktor(dj, out / f"{data.name}.nml")]
    return written


def _write(path: Path, text: str, inputs: list[Path]) -> Path:
    with atomic_path(path, inputs) as tmp:
        tmp.write_text(text)
    return path
