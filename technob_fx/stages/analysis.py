"""Full analysis of a track, and the ONE ``analysis.json`` schema with its writer and reader.

:func:`analyze` builds one :class:`~technob_fx.core.frontend.Frontend` and runs every stage on it, so
the mono mix, the STFT-derived features, the onset envelope and the chroma are computed once.

One document, one writer, one reader:

* :meth:`Analysis.write` stores ``analysis.json`` and the large arrays as ``.npz`` beside it
  (each file atomically; ``analysis.json`` last);
* :meth:`Analysis.to_dict` is the same document with the arrays inline (for JSON over a wire or
  :meth:`Analysis.to_json`);
* :func:`read_analysis` (a file or a folder holding ``analysis.json``) validates the document and
  gives an :class:`Analysis` back; the arrays are loaded when their ``.npz`` files are present and
  left empty when they are not. Every problem is one line naming the file and the field, e.g.
  ``out/analysis.json: tempo: expected a number, got 'fast'`` (:class:`AnalysisFileError`).

``analysis.json`` schema ``technob-analysis/2`` (times in seconds, tempi in BPM)::

    {
      "schema": "technob-analysis/2",       # /1 files are read too (same fields, fewer optional)
      "source": "../track.wav" | null,     # the input, relative to the analysis.json folder
      "duration": 52.5,                     # REQUIRED, > 0
      "sample_rate": 44100.0,               # Hz (0 = unknown)
      "channels": 2,                        # (0 = unknown)
      "tempo": 128.0,                       # REQUIRED: median local tempo (0 = no beat)
      "tempo_map": [[0.0, 128.0], ...],     # (time, BPM) of each point of the one tempo map
                                            #   (core.tempo.fit_tempo_map, steps: one point for a
                                            #   steady track); audio seconds (a pickup bar's point
                                            #   can be < 0); derived from the beats (checked, not
                                            #   read back)
      "beats_per_bar": 4,                   # 3 or 4 estimated, or forced; 4 if absent
      "beats": [...],                       # strictly increasing; absent: a constant grid at
                                            #   `tempo` from 0 s (empty when tempo is 0)
      "downbeats": [...],                   # each one of the beats
      "segments": [{"start": 0.0, "end": 7.5, "label": "intro"}, ...],   # ordered, no overlap
      "sections": {"labeller": "techno" | "repetition"},   # which labeller named the segments
                                            #   (techno: intro/build/drop/breakdown/outro;
                                            #   repetition: A, B, A'...); absent: unknown
      "key": {"label": "A minor", "tonic": "A", "mode": "minor", "confidence": 0.70} | "A minor" | null,
      "notes": [{"onset": ..., "offset": ..., "pitch": 69, "velocity": 100}, ...],   # monophonic (pitch)
      "transcription": [{"onset": ..., "offset": ..., "pitch": 45, "velocity": 96}, ...] | null,
                                            # polyphonic notes (stages.notes; null: not run)
      "chords": [{"start": 0.0, "end": 1.875, "label": "A:min", "confidence": 0.8}, ...] | null,
                                            # one per bar, Harte labels ("N": none)
      "features": {"integrated_lufs": ..., "loudness_range_lu": ..., "rms_dbfs": ...,
                   "mean_centroid_hz": ..., "mean_flatness": ..., "mean_onset_strength": ...,
                   "max_short_term_lufs": ..., "voiced_fraction": ...} | null,
      "bars": {"times": [...], "onset": [...], "rms_db": [...], "centroid": [...],
               "flatness": [...], "lufs": [...], "pitch": [...]} | null,
      "arrays": {"frames": "frames.npz", "pitch": "pitch.npz", "loudness": "loudness.npz"},
                                            # a file name beside analysis.json, or the arrays
                                            #   inline ({"times": [...], ...}; Analysis.to_dict)
      "stems": {"drums": "stems/drums.wav", ...},   # name -> audio file, relative like source
      "timings": {"beats": 0.1, ...}        # seconds per stage
    }

Only ``duration`` and ``tempo`` are required (hand-written files for ``technob export`` may hold
just those and ``segments``); ``null`` stands for NaN in number lists. A document without
``schema`` is read as the current version (and may name its input ``audio`` instead of
``source``). Unknown fields are ignored; a ``schema`` of another family or a newer version is
refused.

``frames.npz``: ``times``, ``onset_strength``, ``rms``, ``centroid``, ``flatness``, ``mfcc``
``(n, 13)``, ``f0`` (86.13 frames/s) and ``bar_mfcc``; ``pitch.npz``: ``times``, ``f0`` (NaN
unvoiced), ``voiced_prob``; ``loudness.npz``: ``momentary_lufs``, ``short_term_lufs`` (``rate``
per second, 10).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.audio import as_audio, check_sample_rate
from ..core.errors import AudioError, PathError, TechnobError
from ..core.node import Result
from ..core.progress import ProgressCallback, scaled
from ..core.results import BeatGrid, KeyEstimate, NoteEvent, Segment, Segmentation
from .features import N_MFCC, Features
from .notes import Transcription
from .pitch import PitchTrack

#: Schema written by :meth:`Analysis.write` / :meth:`Analysis.to_dict`.
SCHEMA = "technob-analysis/2"
#: Schemas :func:`read_analysis` reads.
READABLE_SCHEMAS = ("technob-analysis/1", "technob-analysis/2")
#: File name of the document inside an analysis folder.
FILE_NAME = "analysis.json"
#: ``bars`` keys of the document -> :class:`Features` attributes.
BAR_FIELDS = {"times": "bar_times", "onset": "bar_onset", "rms_db": "bar_rms_db",
              "centroid": "bar_centroid", "flatness": "bar_flatness", "lufs": "bar_lufs",
              "pitch": "bar_pitch"}
#: Arrays of each ``.npz`` (``arrays`` entry -> array names).
ARRAY_FIELDS = {
    "frames": ("times", "onset_strength", "rms", "centroid", "flatness", "mfcc", "f0", "bar_mfcc"),
    "pitch": ("times", "f0", "voiced_prob"),
    "loudness": ("momentary_lufs", "short_term_lufs"),
}


class AnalysisFileError(TechnobError, ValueError):
    """An ``analysis.json`` (or its arrays) is unreadable or breaks the schema.

    ``problems`` holds one line per problem (``file: field: what is wrong``); the message is
    those lines joined by newlines.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:20]
        if len(self.problems) > 20:
            shown.append(f"... and {len(self.problems) - 20} more problems")
        super().__init__("\n".join(shown))


def _clean(x: Any) -> Any:
    """JSON-safe floats (NaN/inf -> None), rounded to 6 decimals."""
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return round(v, 6) if np.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _inline(a: np.ndarray) -> list:
    """An array as nested lists, NaN/inf as ``None`` (exact floats: no rounding)."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        obj = a.astype(object)
        obj[~np.isfinite(a)] = None
        return obj.tolist()
    return a.tolist()


def tempo_map(grid: BeatGrid) -> list[list[float]]:
    """Tempo changes ``[[time_s, bpm], ...]`` (audio seconds) of the grid's one tempo map
    (:func:`technob_fx.core.tempo.fit_tempo_map`): one entry for a steady track."""
    from ..core.tempo import fit_tempo_map

    if grid.beats.size == 0:
        return []
    return [[p["time"], p["bpm"]] for p in fit_tempo_map(grid).to_json()]


@dataclass
class Analysis(Result):
    """Everything :func:`analyze` measures; the in-memory form of ``analysis.json``.

    Attributes
    ----------
    duration : float
        Seconds.
    sample_rate : float
        Hz of the analysed audio (0 when unknown).
    tempo : float
        Median local tempo, BPM (0 when no beat was found).
    grid : BeatGrid
        Beats and downbeats.
    segments : Segmentation
        Labelled sections.
    key : KeyEstimate or None
        None when the document has no key.
    pitch : PitchTrack
        f0, voicing and notes (the arrays are empty when ``pitch.npz`` was not read).
    features : Features or None
        Frame and bar features (frame arrays empty when ``frames.npz`` was not read); None when
        the document has none (a hand-written or bridge-made file).
    channels : int
        Channel count of the input (0 when unknown).
    source : str or None
        Input file path, when analysed from a file (written relative to the output folder).
    timings : dict
        Seconds spent per stage.
    stems : dict
        Stem name -> audio file path (written relative to the output folder).
    transcription : Transcription or None
        Polyphonic notes and chords per bar (:mod:`technob_fx.stages.notes`); None when not run.
    """

    duration: float
    sample_rate: float
    tempo: float
    grid: BeatGrid
    segments: Segmentation
    key: KeyEstimate | None
    pitch: PitchTrack
    features: Features | None
    channels: int = 1
    source: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)
    transcription: Transcription | None = None

    # -- the one writer -------------------------------------------------------------------------

    def _document(self, out_dir: str | Path | None, arrays: dict[str, Any]) -> dict[str, Any]:
        f = self.features

        def rel(path: str | Path) -> str:
            if out_dir is not None and Path(path).is_absolute():
                try:
                    return os.path.relpath(path, Path(out_dir).resolve())
                except ValueError:  # another drive (Windows)
                    pass
            return str(path)

        k = self.key
        doc = _clean({
            "schema": SCHEMA,
            "source": rel(self.source) if self.source is not None else None,
            "duration": self.duration,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "tempo": self.tempo,
            "tempo_map": tempo_map(self.grid),
            "beats_per_bar": self.grid.beats_per_bar,
            "beats": self.grid.beats,
            "downbeats": self.grid.downbeats,
            "segments": [{"start": s.start, "end": s.end, "label": s.label} for s in self.segments],
            "sections": ({"labeller": self.segments.labeller} if getattr(self.segments, "labeller", "") else None),
            "key": ({"label": k.label, "tonic": k.tonic, "mode": k.mode, "confidence": k.confidence}
                    if k is not None else None),
            "notes": [n.to_dict() for n in self.pitch.notes],
            "transcription": ([n.to_dict() for n in self.transcription.notes]
                              if self.transcription is not None else None),
            "chords": ([c.to_dict() for c in self.transcription.chords]
                       if self.transcription is not None else None),
            "features": f.summary() if f is not None else None,
            "bars": ({name: getattr(f, attr) for name, attr in BAR_FIELDS.items()}
                     if f is not None else None),
        })
        doc["arrays"] = arrays
        doc["stems"] = {str(name): rel(path) for name, path in self.stems.items()}
        doc["timings"] = {str(name): round(float(v), 4) for name, v in self.timings.items()}
        return doc

    def _arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """The ``.npz`` contents that are loaded (frames/loudness only with frame features)."""
        out: dict[str, dict[str, np.ndarray]] = {}
        f = self.features
        if f is not None and f.summary_values is None:
            out["frames"] = {k: np.asarray(getattr(f, k), dtype=np.float32) for k in ARRAY_FIELDS["frames"]}
            out["loudness"] = {"momentary_lufs": np.asarray(f.momentary_lufs),
                               "short_term_lufs": np.asarray(f.short_term_lufs),
                               "rate": np.array(f.loudness_rate)}
        p = self.pitch
        out["pitch"] = {"times": np.asarray(p.times), "f0": np.asarray(p.f0),
                        "voiced_prob": np.asarray(p.voiced_prob)}
        return {k: out[k] for k in ("frames", "pitch", "loudness") if k in out}

    def to_dict(self) -> dict[str, Any]:
        """The ``analysis.json`` document with the arrays inline (see the module docstring).

        :func:`read_analysis` / :meth:`from_dict` read it back.
        """
        arrays = {name: {k: _inline(v) for k, v in arr.items()} for name, arr in self._arrays().items()}
        return self._document(None, arrays)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = FILE_NAME) -> Analysis:
        """Validate an ``analysis.json`` document (arrays inline or absent) into an :class:`Analysis`.

        Raises
        ------
        AnalysisFileError
            One line per problem, each naming ``where`` and the field.
        """
        return _read_document(data, where=where, folder=None)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Analysis:
        """JSON text of :meth:`to_json`, or an ``analysis.json`` file / folder (:func:`read_analysis`)."""
        text = str(text_or_path)
        if isinstance(text_or_path, Path) or not text.lstrip().startswith("{"):
            return read_analysis(text_or_path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnalysisFileError([f"JSON text: not valid JSON ({exc})"]) from None
        return _read_document(data, where="JSON text", folder=None)

    def write(self, out_dir: str | Path) -> Path:
        """Write ``analysis.json`` and the ``.npz`` arrays into ``out_dir`` (created), atomically.

        Each file goes to a temporary file and is renamed into place; ``analysis.json`` is
        written last, so a reader never finds it naming arrays that are not there yet.

        Returns
        -------
        Path
            The ``analysis.json`` path.
        """
        from ..core.io import atomic_write_bytes, atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        names: dict[str, str] = {}
        for name, arrays in self._arrays().items():
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            atomic_write_bytes(out / f"{name}.npz", buf.getvalue())
            names[name] = f"{name}.npz"
        path = out / FILE_NAME
        doc = self._document(out, names)
        atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return path


# --------------------------------------------------------------------------------------------
# The one reader
# --------------------------------------------------------------------------------------------


def read_analysis(path: str | Path) -> Analysis:
    """Read and validate an ``analysis.json`` (or the folder holding one) into an :class:`Analysis`.

    Arrays are loaded from the ``.npz`` files that ``arrays`` names when they are present
    beside the document (or inline); when a file is absent its arrays stay empty
    (``features.times.size == 0``, ``pitch.f0.size == 0``) and :meth:`Features.summary` gives
    the stored ``features`` values. ``source`` and ``stems`` come back as paths resolved against
    the document's folder.

    Parameters
    ----------
    path : str or Path
        ``analysis.json`` (any name) or a folder containing ``analysis.json``.

    Returns
    -------
    Analysis

    Raises
    ------
    PathError
        No such file (or no ``analysis.json`` in the folder).
    AnalysisFileError
        Not JSON, or any field missing, of the wrong type or inconsistent: one line per
        problem, ``<file>: <field>: <problem>``.
    """
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise PathError(f"{p}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnalysisFileError([f"{p}: not valid JSON ({exc})"]) from None
    except OSError as exc:
        raise PathError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return _read_document(data, where=str(p), folder=p.parent)


def _show(value: Any) -> str:
    """How a bad value is named in an error line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Checker:
    """Collects one line per problem of a document."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def bad(self, name: str, message: str) -> None:
        self.problems.append(f"{self.where}: {name}: {message}")

    def number(self, value: Any, name: str, *, default: float | None = None, required: bool = False,
               minimum: float | None = None, above: float | None = None, integer: bool = False,
               maximum: float | None = None) -> float | None:
        if value is None:
            if required:
                self.bad(name, "missing (a number is required)")
            return default
        if not _is_number(value) or (isinstance(value, float) and not np.isfinite(value)):
            self.bad(name, f"expected {'a whole number' if integer else 'a number'}, got {_show(value)}")
            return default
        if integer and float(value) != int(value):
            self.bad(name, f"expected a whole number, got {_show(value)}")
            return default
        if minimum is not None and value < minimum:
            self.bad(name, f"must be >= {minimum:g}, got {_show(value)}")
            return default
        if above is not None and value <= above:
            self.bad(name, f"must be > {above:g}, got {_show(value)}")
            return default
        if maximum is not None and value > maximum:
            self.bad(name, f"must be <= {maximum:g}, got {_show(value)}")
            return default
        return int(value) if integer else float(value)

    def numbers(self, value: Any, name: str, *, nulls: bool = False) -> np.ndarray | None:
        """A list of numbers (``null`` as NaN when ``nulls``) -> float64 array; None if bad."""
        if value is None:
            return np.zeros(0)
        if not isinstance(value, list):
            self.bad(name, f"expected a list of numbers, got {_show(value)}")
            return None
        for i, v in enumerate(value):
            if v is None and nulls:
                continue
            if not _is_number(v) or not np.isfinite(v):
                self.bad(f"{name}[{i}]", f"expected a number, got {_show(v)}")
                return None
        return np.array([np.nan if v is None else v for v in value], dtype=np.float64)

    def text(self, value: Any, name: str, *, default: str | None = None, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.bad(name, "missing (a string is required)")
            return default
        if not isinstance(value, str):
            self.bad(name, f"expected a string, got {_show(value)}")
            return default
        return value

    def obj(self, value: Any, name: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(name, f"expected an object, got {_show(value)}")
            return None
        return value


def _increasing(c: _Checker, a: np.ndarray, name: str) -> bool:
    bad = np.flatnonzero(np.diff(a) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        c.bad(f"{name}[{i}]", f"{a[i]:g} is not after {name}[{i - 1}] = {a[i - 1]:g} "
                              "(times must be strictly increasing)")
        return False
    return True


def _read_grid(c: _Checker, d: dict[str, Any], duration: float, tempo: float) -> BeatGrid:
    bpb = c.number(d.get("beats_per_bar"), "beats_per_bar", default=4, integer=True, minimum=1, maximum=64)
    beats = c.numbers(d.get("beats"), "beats")
    downbeats = c.numbers(d.get("downbeats"), "downbeats")
    empty = BeatGrid(np.zeros(0), np.zeros(0), tempo, int(bpb))
    if beats is None or downbeats is None:
        return empty
    if not (_increasing(c, beats, "beats") and _increasing(c, downbeats, "downbeats")):
        return empty
    tol = 1e-3
    if beats.size and (beats[0] < -tol or beats[-1] > duration + tol):
        i = 0 if beats[0] < -tol else beats.size - 1
        c.bad(f"beats[{i}]", f"{beats[i]:g} s is outside the track (0 to {duration:g} s)")
        return empty
    if downbeats.size and beats.size == 0:
        c.bad("downbeats", "given without beats")
        return empty
    if downbeats.size:
        j = np.searchsorted(beats, downbeats)
        near = np.minimum(np.abs(beats[np.minimum(j, beats.size - 1)] - downbeats),
                          np.abs(beats[np.maximum(j - 1, 0)] - downbeats))
        off = np.flatnonzero(near > 1e-5)
        if off.size:
            i = int(off[0])
            c.bad(f"downbeats[{i}]", f"{downbeats[i]:g} s is not one of the beats")
            return empty
    if beats.size == 0 and "beats" not in d and tempo > 0:
        return BeatGrid.from_tempo(tempo, duration, beats_per_bar=int(bpb))  # a hand-written file
    return BeatGrid(beats, downbeats, tempo, int(bpb))


def _read_segments(c: _Checker, value: Any, duration: float) -> Segmentation:
    if value is None:
        return Segmentation()
    if not isinstance(value, list):
        c.bad("segments", f"expected a list of {{start, end, label}}, got {_show(value)}")
        return Segmentation()
    out: list[Segment] = []
    n_bad = len(c.problems)
    for i, s in enumerate(value):
        name = f"segments[{i}]"
        if not isinstance(s, dict):
            c.bad(name, f"expected an object {{start, end, label}}, got {_show(s)}")
            continue
        start = c.number(s.get("start"), f"{name}.start", required=True)
        end = c.number(s.get("end"), f"{name}.end", required=True)
        label = c.text(s.get("label"), f"{name}.label", default="")
        if start is None or end is None:
            continue
        if end <= start:
            c.bad(f"{name}.end", f"{end:g} is not after start {start:g}")
        elif out and start < out[-1].end - 1e-6:
            c.bad(f"{name}.start", f"{start:g} overlaps the previous section (ends {out[-1].end:g})")
        elif end > duration + 1e-3:
            c.bad(f"{name}.end", f"{end:g} s is after the end of the track ({duration:g} s)")
        out.append(Segment(float(start), float(end), label or ""))
    return Segmentation(out if len(c.problems) == n_bad else [])


def _read_key(c: _Checker, value: Any) -> KeyEstimate | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        tonic, _, mode = value.strip().replace(":", " ").partition(" ")
        return KeyEstimate(tonic, mode.strip() or "major", 0.0)
    if not isinstance(value, dict):
        c.bad("key", f"expected 'A minor' or {{tonic, mode, confidence}}, got {_show(value)}")
        return None
    tonic = c.text(value.get("tonic"), "key.tonic", required=True)
    mode = c.text(value.get("mode"), "key.mode", default="major")
    conf = c.number(value.get("confidence"), "key.confidence", default=0.0)
    if tonic is None or mode is None or conf is None:
        return None
    if not tonic.strip():
        c.bad("key.tonic", "is empty")
        return None
    return KeyEstimate(tonic, mode, float(conf))


def _read_notes(c: _Checker, value: Any, field: str = "notes") -> list[NoteEvent]:
    if value is None:
        return []
    if not isinstance(value, list):
        c.bad(field, f"expected a list of {{onset, offset, pitch, velocity}}, got {_show(value)}")
        return []
    out = []
    for i, n in enumerate(value):
        name = f"{field}[{i}]"
        if not isinstance(n, dict):
            c.bad(name, f"expected an object {{onset, offset, pitch, velocity}}, got {_show(n)}")
            continue
        onset = c.number(n.get("onset"), f"{name}.onset", required=True, minimum=0)
        offset = c.number(n.get("offset"), f"{name}.offset", required=True, minimum=0)
        pitch = c.number(n.get("pitch"), f"{name}.pitch", required=True, minimum=0, maximum=127)
        vel = c.number(n.get("velocity"), f"{name}.velocity", default=100, integer=True, minimum=1, maximum=127)
        if None in (onset, offset, pitch, vel):
            continue
        if offset < onset:
            c.bad(f"{name}.offset", f"{offset:g} is before onset {onset:g}")
            continue
        out.append(NoteEvent(float(onset), float(offset), int(round(pitch)), int(vel)))
    return out


def _read_chords(c: _Checker, value: Any) -> list[Any]:
    from .chords import Chord

    if value is None:
        return []
    if not isinstance(value, list):
        c.bad("chords", f"expected a list of {{start, end, label}}, got {_show(value)}")
        return []
    out = []
    for i, ch in enumerate(value):
        name = f"chords[{i}]"
        if not isinstance(ch, dict):
            c.bad(name, f"expected an object {{start, end, label, confidence}}, got {_show(ch)}")
            continue
        start = c.number(ch.get("start"), f"{name}.start", required=True)
        end = c.number(ch.get("end"), f"{name}.end", required=True)
        label = c.text(ch.get("label"), f"{name}.label", required=True)
        conf = c.number(ch.get("confidence"), f"{name}.confidence", default=0.0, minimum=0, maximum=1)
        if None in (start, end, label, conf):
            continue
        if end <= start:
            c.bad(f"{name}.end", f"{end:g} is not after start {start:g}")
            continue
        out.append(Chord(float(start), float(end), str(label), float(conf)))
    return out


def _load_arrays(c: _Checker, entry: Any, name: str, folder: Path | None) -> dict[str, np.ndarray] | None:
    """One ``arrays`` entry: a ``.npz`` beside the document, or inline lists; None when absent."""
    field_name = f"arrays.{name}"
    if entry is None:
        return None
    if isinstance(entry, dict):
        arrays = {}
        for k, v in entry.items():
            try:
                arrays[k] = np.array(v, dtype=np.float64)  # null -> NaN
            except (TypeError, ValueError):
                c.bad(f"{field_name}.{k}", "expected a (nested) list of numbers")
                return None
        where = field_name
    elif isinstance(entry, str):
        if folder is None:
            return None  # a file reference in JSON text: nowhere to look
        f = Path(entry)
        if f.is_absolute() or ".." in f.parts:
            c.bad(field_name, f"{entry!r} must be a file name beside the document")
            return None
        path = folder / f
        if not path.is_file():
            return None  # arrays not kept: fine, they stay empty
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: np.asarray(z[k]) for k in z.files}
        except Exception as exc:  # noqa: BLE001 - zip/npy errors come in many types
            c.bad(field_name, f"cannot read {entry} ({type(exc).__name__}: {exc})"[:300])
            return None
        where = f"{field_name} ({entry})"
    else:
        c.bad(field_name, f"expected a file name or an object of arrays, got {_show(entry)}")
        return None
    missing = [k for k in ARRAY_FIELDS[name] if k not in arrays]
    if missing:
        c.bad(where, f"has no {', '.join(missing)}")
        return None
    return arrays


def _read_features(c: _Checker, d: dict[str, Any], frames: dict[str, np.ndarray] | None,
                   loud: dict[str, np.ndarray] | None) -> Features | None:
    from ..core.frontend import FPS

    summary_raw = c.obj(d.get("features"), "features")
    bars_raw = c.obj(d.get("bars"), "bars")
    if summary_raw is None and bars_raw is None and frames is None:
        return None
    summary: dict[str, float] = {}
    for k, v in (summary_raw or {}).items():
        x = c.number(v, f"features.{k}")
        if x is not None:
            summary[str(k)] = x
    bars: dict[str, np.ndarray] = {}
    for k, attr in BAR_FIELDS.items():
        a = c.numbers((bars_raw or {}).get(k), f"bars.{k}", nulls=True)
        if a is not None:
            bars[attr] = a
    n_bars = bars.get("bar_times", np.zeros(0)).size
    for attr, a in bars.items():
        if a.size not in (0, n_bars):
            c.bad(f"bars.{attr[4:]}", f"has {a.size} values for {n_bars} bars")
    if frames is not None:
        n = frames["times"].size
        for k in ("onset_strength", "rms", "centroid", "flatness", "f0"):
            if frames[k].shape != (n,):
                c.bad(f"arrays.frames.{k}", f"shape {frames[k].shape}, expected ({n},)")
        if frames["mfcc"].shape != (n, N_MFCC):
            c.bad("arrays.frames.mfcc", f"shape {frames['mfcc'].shape}, expected ({n}, {N_MFCC})")
    if c.problems:
        return None
    empty = np.zeros(0)
    fr = frames or {}
    lo = loud or {}
    loaded = frames is not None and loud is not None
    out = Features(
        frame_rate=float(FPS),
        times=fr.get("times", empty), onset_strength=fr.get("onset_strength", empty), rms=fr.get("rms", empty),
        centroid=fr.get("centroid", empty), flatness=fr.get("flatness", empty),
        mfcc=fr.get("mfcc", np.zeros((0, N_MFCC))), f0=fr.get("f0", empty),
        loudness_rate=float(np.asarray(lo.get("rate", 10.0))), momentary_lufs=lo.get("momentary_lufs", empty),
        short_term_lufs=lo.get("short_term_lufs", empty),
        integrated_lufs=float(summary.get("integrated_lufs", -120.0)),
        bar_mfcc=fr.get("bar_mfcc", np.zeros((0, N_MFCC))),
        summary_values=None if loaded else summary,
        **bars,
    )
    return out


def _read_document(data: Any, *, where: str, folder: Path | None) -> Analysis:
    c = _Checker(where)
    if not isinstance(data, dict):
        raise AnalysisFileError([f"{where}: expected a JSON object, got {_show(data)}"])
    schema = data.get("schema")
    if schema is not None and schema not in READABLE_SCHEMAS:
        family = isinstance(schema, str) and schema.startswith("technob-analysis/")
        raise AnalysisFileError([f"{where}: schema: {_show(schema)} is "
                                 + ("a newer version than this technob-fx reads" if family else
                                    "not an analysis document")
                                 + f" (reads {', '.join(READABLE_SCHEMAS)})"])
    duration = c.number(data.get("duration"), "duration", required=True, above=0)
    tempo = c.number(data.get("tempo"), "tempo", required=True, minimum=0, maximum=1000)
    sample_rate = c.number(data.get("sample_rate"), "sample_rate", default=0.0, minimum=0)
    channels = c.number(data.get("channels"), "channels", default=0, integer=True, minimum=0)
    source_key = "source" if "source" in data or schema is not None else "audio"
    source = c.text(data.get(source_key), source_key)
    tm = data.get("tempo_map")
    if tm is not None and not (isinstance(tm, list) and all(
            isinstance(e, list) and len(e) == 2 and all(_is_number(x) for x in e) for e in tm)):
        c.bad("tempo_map", "expected a list of [time, bpm] pairs")
    timings: dict[str, float] = {}
    for k, v in (c.obj(data.get("timings"), "timings") or {}).items():
        x = c.number(v, f"timings.{k}")
        if x is not None:
            timings[str(k)] = x
    stems: dict[str, str] = {}
    for k, v in (c.obj(data.get("stems"), "stems") or {}).items():
        s = c.text(v, f"stems.{k}", required=True)
        if s is not None:
            stems[str(k)] = s
    arrays = c.obj(data.get("arrays"), "arrays") or {}
    loaded = {name: _load_arrays(c, arrays.get(name), name, folder) for name in ARRAY_FIELDS}
    if duration is None or tempo is None:
        raise AnalysisFileError(c.problems)
    grid = _read_grid(c, data, duration, tempo)
    segments = _read_segments(c, data.get("segments"), duration)
    sections = c.obj(data.get("sections"), "sections") or {}
    segments.labeller = c.text(sections.get("labeller"), "sections.labeller", default="") or ""
    key = _read_key(c, data.get("key"))
    notes = _read_notes(c, data.get("notes"))
    transcription = None
    if data.get("transcription") is not None or data.get("chords") is not None:
        transcription = Transcription(_read_notes(c, data.get("transcription"), "transcription"),
                                      _read_chords(c, data.get("chords")), float(duration))
    pa = loaded["pitch"]
    if pa is not None:
        n = pa["times"].size
        for k in ("f0", "voiced_prob"):
            if pa[k].shape != (n,):
                c.bad(f"arrays.pitch.{k}", f"shape {pa[k].shape}, expected ({n},)")
    features = _read_features(c, data, loaded["frames"], loaded["loudness"]) if not c.problems else None
    if c.problems:
        raise AnalysisFileError(c.problems)
    empty = np.zeros(0)
    pitch = PitchTrack(times=pa["times"] if pa else empty, f0=pa["f0"] if pa else empty,
                       voiced_prob=pa["voiced_prob"] if pa else empty, notes=notes)

    def resolve(s: str) -> str:
        q = Path(s)
        return str(q if q.is_absolute() or folder is None else (folder / q))

    return Analysis(
        duration=float(duration), sample_rate=float(sample_rate or 0.0), tempo=float(tempo), grid=grid,
        segments=segments, key=key, pitch=pitch, features=features, channels=int(channels or 0),
        source=resolve(source) if source else None, timings=timings,
        stems={k: resolve(v) for k, v in stems.items()}, transcription=transcription,
    )


#: Chain element name -> (progress fraction, progress message) of :func:`analyze`'s stages.
_STEPS = {"beats": (0.3, "beats"), "segments": (0.45, "sections"), "key": (0.55, "key"),
          "pitch": (0.65, "pitch"), "features": (0.8, "features"), "notes": (0.85, "notes")}


def analysis_chain(*, notes: bool = False, **tracker: Any) -> Any:
    """The stage nodes of :func:`analyze` as one :class:`~technob_fx.core.chain.Chain`.

    Elements, by name: ``beats`` (:class:`~technob_fx.stages.beats.BeatTracker`), ``segments``
    (:class:`~technob_fx.stages.segmentation.Segmenter`), ``key``, ``pitch``, ``features`` and,
    with ``notes``, ``notes`` (a :class:`~technob_fx.stages.notes.NoteTranscriber` naming chords).
    The chain hands the tracker's grid to the segmenter, the features and the chords, and the
    pitch track to the features, so beats are tracked once and the tracker's settings reach them all.

    Parameters
    ----------
    notes : bool
        Add the note transcriber.
    **tracker
        Parameters of the :class:`~technob_fx.stages.beats.BeatTracker` (``min_bpm``,
        ``max_bpm``, ``beats_per_bar``...).

    Returns
    -------
    Chain
    """
    from ..core.chain import Chain
    from .beats import BeatTracker
    from .features import FeatureExtractor
    from .key import KeyDetector
    from .notes import NoteTranscriber
    from .pitch import PitchTracker
    from .segmentation import Segmenter

    nodes: list[Any] = [BeatTracker(**tracker), Segmenter(), KeyDetector(), PitchTracker(), FeatureExtractor()]
    if notes:
        nodes.append(NoteTranscriber(chords=True))
    return Chain(nodes, names=list(_STEPS)[: len(nodes)])


def analyze(
    audio: np.ndarray,
    sr: float,
    *,
    progress: ProgressCallback | None = None,
    min_bpm: float | None = None,
    max_bpm: float | None = None,
    frontend: Any = None,
    notes: bool = False,
    beats_per_bar: int | None = None,
    downbeat: float | None = None,
    **tracker: Any,
) -> Analysis:
    """Run every analysis stage on one buffer, sharing one front-end.

    The stages are the nodes of :func:`analysis_chain`, run as one chain: the beats are tracked
    once, and the sections, features and chords use that grid.

    Parameters
    ----------
    audio : np.ndarray, float32, shape ``(channels, samples)`` or ``(samples,)``
        Audio (never modified); any channel count, 1 kHz to 768 kHz.
    sr : float
        Sample rate, Hz.
    progress : callable, optional
        ``progress(fraction, message)``.
    min_bpm, max_bpm : float, optional
        Tempo range of the beat tracker (defaults 55-180 BPM).
    frontend : Frontend, optional
        Shared front-end of ``audio`` (created when absent).
    notes : bool
        Also transcribe the polyphonic notes and name the chord of every bar
        (:func:`technob_fx.stages.notes.transcribe`). Off by default: it is the slowest stage
        (about 20x real time, the rest of the analysis over 100x).
    beats_per_bar : int, optional
        Force the meter (default: 3 or 4 estimated from the audio).
    downbeat : float, optional
        Force the bar phase: the beat nearest to this time (seconds) is a downbeat.
    **tracker
        Further parameters of the :class:`~technob_fx.stages.beats.BeatTracker`
        (e.g. ``prior_bpm``); they reach the sections, features and chords through its grid.

    Returns
    -------
    Analysis

    Raises
    ------
    AudioError
        Empty audio, NaN/inf samples, a bad shape or sample rate.
    ParameterError
        An unknown or out-of-range beat tracker parameter.
    """
    from ..core.frontend import Frontend

    sr = check_sample_rate(sr)
    a, _ = as_audio(audio, name="audio")
    # a given front-end is used when it holds exactly the (converted) audio analysed here
    fe = frontend if frontend is not None and frontend.matches(a, sr) else Frontend(a, sr)
    timings: dict[str, float] = {}

    def step(frac: float, name: str) -> None:
        if progress is not None:
            progress(frac, name)

    kw: dict[str, Any] = dict(tracker)
    if beats_per_bar is not None:
        kw["beats_per_bar"] = beats_per_bar
    if downbeat is not None:
        kw["downbeat"] = downbeat
    if min_bpm is not None:
        kw["min_bpm"] = min_bpm
    if max_bpm is not None:
        kw["max_bpm"] = max_bpm
    chain = analysis_chain(notes=notes, **kw)
    if notes:
        chain["notes"].progress = scaled(progress, 0.85, 1.0)
    step(0.0, "front-end")
    t0 = time.perf_counter()
    fe.spectral()
    fe.onset_bands()
    timings["frontend"] = time.perf_counter() - t0
    out = chain.run(a, sr, frontend=fe, progress=lambda _f, name: step(*_STEPS[name]))
    timings.update(out.timings)
    r = out.results
    grid = r["beats"]
    step(1.0, "done")
    return Analysis(
        duration=fe.duration, sample_rate=sr, tempo=grid.tempo, grid=grid, segments=r["segments"], key=r["key"],
        pitch=r["pitch"], features=r["features"], channels=int(a.shape[0]), timings=timings,
        transcription=r.get("notes"),
    )


def analyze_file(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    progress: ProgressCallback | None = None,
    min_bpm: float | None = None,
    max_bpm: float | None = None,
    notes: bool = False,
    beats_per_bar: int | None = None,
    downbeat: float | None = None,
    loop: bool = True,
) -> Analysis:
    """Decode an audio file, :func:`analyze` it and optionally :meth:`~Analysis.write` the results.

    Parameters
    ----------
    path : str or Path
        wav, flac, mp3, ogg or aiff file (never modified).
    out_dir : str or Path, optional
        Folder for ``analysis.json`` and the arrays.
    progress : callable, optional
        ``progress(fraction, message)``.
    min_bpm, max_bpm : float, optional
        Tempo range of the beat tracker.
    notes : bool
        Polyphonic notes and chords too (see :func:`analyze`).
    beats_per_bar, downbeat : optional
        Forced meter and downbeat time (see :func:`analyze`).
    loop : bool
        Read a clip of up to 16 s as a loop too (:func:`technob_fx.stages.beats.loop_grid`);
        False for a clip cut from a longer piece.

    Returns
    -------
    Analysis
    """
    t0 = time.perf_counter()
    fe, sr, channels = load_frontend(path)
    t_load = time.perf_counter() - t0
    res = analyze(fe.audio, fe.sample_rate, progress=progress, min_bpm=min_bpm, max_bpm=max_bpm, frontend=fe,
                  notes=notes, beats_per_bar=beats_per_bar, downbeat=downbeat, loop=loop)
    res.sample_rate = sr
    res.channels = channels
    res.timings = {"load": t_load, **res.timings}
    res.source = str(Path(path).resolve())
    if out_dir is not None:
        res.write(out_dir)
    return res


def load_frontend(path: str | Path, block_seconds: float = 10.0) -> tuple[Any, float, int]:
    """Stream a file into a :class:`~technob_fx.core.frontend.Frontend` with bounded memory.

    The file is decoded block by block: each block's channels are mixed to mono and resampled to
    the analysis rate (a streaming soxr resampler), and its K-weighted 100 ms block powers are
    measured per channel at the file's own rate for loudness. The full-rate multichannel audio is
    never held in memory (a 6-minute stereo 44.1 kHz file needs 32 MiB instead of 127 MiB).

    Returns
    -------
    frontend : Frontend
        Over the mono signal at :data:`~technob_fx.core.frontend.ANALYSIS_SR`, with ``loudness_blocks``
        and ``duration`` seeded from the original audio.
    sample_rate : float
        The file's rate, Hz.
    channels : int
        The file's channel count.

    Raises
    ------
    AudioError
        Missing, empty, corrupt or unsupported file; NaN/inf samples.
    """
    from ..core.frontend import FrontendBuilder
    from ..core.io import audio_info, stream_audio

    info = audio_info(path)
    sr = check_sample_rate(info.sample_rate)
    builder = FrontendBuilder(sr)
    lblock = max(1, int(round(sr * 0.1)))
    for block in stream_audio(path, lblock * max(1, int(block_seconds * 10))):
        builder.add(block)
    try:
        fe = builder.finish()
    except AudioError:
        raise AudioError(f"{path}: contains no audio samples") from None
    return fe, sr, int(info.channels)
