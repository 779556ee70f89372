"""The demo folder's ``index.html`` and the ``outputs`` list of ``summary.json``: every file the
demo wrote, each with one line on what it is.

:data:`DESCRIPTIONS` holds the lines, as ``(pattern, line)`` pairs matched in order against the
file's path inside the demo folder (``fnmatch`` patterns; ``*`` also crosses ``/``). A file no
pattern matches is described by the step whose summary entry names it, and otherwise marked
:data:`UNDESCRIBED` (the demo test fails on that: a step that writes a new kind of file adds its
line here).
"""

from __future__ import annotations

import html
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import quote

UNDESCRIBED = "(no description: add one to technob_fx/demo/index.py)"

#: ``(fnmatch pattern, one line)`` in order; the first match describes a file.
DESCRIPTIONS: list[tuple[str, str]] = [
    ("index.html", "this page: every file the demo wrote, with one line on each"),
    ("summary.json", "the demo's figures (scores, speeds, timings per step) and the list of every file it wrote"),
    ("track.wav", "the synthesised techno track (128 BPM, known beats, sections, key and notes) every step works on"),
    ("truth.json", "ground truth of track.wav: tempo, beats, downbeats, sections, key and notes"),
    ("track_techno_master.wav", "track.wav rendered through the shipped techno_master preset"),
    ("track_lofi.wav", "track.wav rendered through the shipped lofi preset"),
    # report (issue 13)
    ("report/report.html", "the report page: player over a zoomable waveform, bar and beat lines, sections, "
                           "click track, stems with solo/mute, tempo map, key and every figure (open this first)"),
    ("report/report.png", "the analysis at a glance: waveform with bars and beats, sections, tempo, "
                          "short-term loudness and key"),
    # analysis
    ("analysis/analysis.json", "the analysis of track.wav: tempo and tempo map, beats, downbeats, sections, key, "
                               "notes, loudness and features"),
    ("analysis/frames.npz", "per-frame arrays of the analysis: onset strength, RMS, centroid, flatness, MFCC, f0"),
    ("analysis/pitch.npz", "pitch track of the analysis: f0 (Hz, NaN unvoiced) and voicing probability"),
    ("analysis/loudness.npz", "momentary and short-term loudness of track.wav (LUFS, 10 values a second)"),
    # separation
    ("hpss/harmonic.wav", "harmonic part of track.wav from the streamed harmonic/percussive split (pads, bass, lead)"),
    ("hpss/percussive.wav", "percussive part of track.wav from the streamed harmonic/percussive split (the drums)"),
    ("track_drums_up.wav", "track.wav (its first 15 s with --quick) with drums +4 dB and synths -6 dB by one HPSS node"),
    ("track_first_*s.wav", "the first seconds of track.wav: the demucs step's input"),
    ("stems_demucs_unittest/*.wav", "a stem from demucs_unittest, an UNTRAINED test model (shows streamed separation "
                                    "only; not a meaningful separation)"),
    ("stems_*/*.wav", "a demucs stem of the track (the folder names the model)"),
    # quantization
    ("drifting.wav", "a techno track drifting from 122 to 134 BPM: the quantize step's input"),
    ("drifting_time_map.json", "time map from drifting.wav's detected beats onto a steady 128 BPM"),
    ("drifting_quantized_pedalboard.wav", "drifting.wav warped onto 128 BPM with pedalboard's time stretch"),
    ("drifting_quantized_rubberband.wav", "drifting.wav warped onto 128 BPM with Rubber Band"),
    ("drifting_quantized_drums.wav", "drifting.wav's drum stem warped with the same time map (stays on the mix)"),
    ("drifting_quantized_music.wav", "drifting.wav's music stem warped with the same time map (stays on the mix)"),
    # DAW exports
    ("daw/track_analysed.RPP", "REAPER project of the ANALYSED grid: tempo map, section markers, mix and stems"),
    ("daw/track_analysed.mid", "MIDI file of the ANALYSED grid: tempo map, section markers and notes"),
    ("daw/track_analysed.jams", "JAMS annotations of the ANALYSED beats, sections, key and notes"),
    ("daw/track_analysed_beats.txt", "Audacity label track of the ANALYSED beats"),
    ("daw/track_analysed_sections.txt", "Audacity label track of the ANALYSED sections"),
    ("daw/track.RPP", "REAPER project of the TRUE grid: tempo map, section markers, the mix and the HPSS stems"),
    ("daw/track.mid", "MIDI file of the TRUE grid: tempo map, section markers and notes"),
    ("daw/track.jams", "JAMS annotations of the TRUE beats, sections, key and notes"),
    ("daw/track_beats.txt", "Audacity label track of the TRUE beats"),
    ("daw/track_sections.txt", "Audacity label track of the TRUE sections"),
    ("daw/track_analysed.dawproject", "DAWproject file (Bitwig Studio, Studio One, Cubase...) of the ANALYSED grid"),
    ("daw/track.dawproject", "DAWproject file (Bitwig Studio, Studio One, Cubase...) of the TRUE grid"),
    ("daw/*.dawproject", "DAWproject file (Bitwig Studio, Studio One, Cubase...) of the track"),
    # Lo-Fi x Classical blend
    ("blend/genres*/lofi/*.wav", "a synthesised Lo-Fi recording: a source of the blend dataset"),
    ("blend/genres*/classical/*.wav", "a synthesised classical recording: a source of the blend dataset"),
    ("blend/dataset*/chunks/*/done.json", "marks a source recording as fully chunked (a rerun skips it)"),
    ("blend/dataset*/chunks/*.wav", "a fixed-length chunk of a source recording (the dataset's unit)"),
    ("blend/dataset*/chunks/*.npy", "mel spectrogram of a chunk (the classifier's input)"),
    ("blend/dataset*/chunks/*.json", "a chunk's metadata: source, offset, genre, tempo and key"),
    ("blend/dataset*/dataset.json", "the dataset's settings and counts"),
    ("blend/dataset*/manifest.csv", "one row per chunk: genre, split (train/val), files"),
    ("blend/dataset*/model.json", "what was learned from the dataset: Lo-Fi tempo range, swing, drum patterns, phrases"),
    ("blend/dataset*/model.npz", "the learned model's arrays (drum patterns, phrase pitches)"),
    ("blend/dataset*/classifier.pt", "weights of the Lo-Fi / classical classifier trained on the mel chunks"),
    ("blend/dataset*/classifier.json", "the classifier's settings and validation accuracy"),
    ("blend/blend_*/mix.wav", "a generated Lo-Fi x Classical piece (the folder name is the blend: 0 classical, 1 Lo-Fi)"),
    ("blend/blend_*/drums.wav", "drums stem of the generated piece"),
    ("blend/blend_*/music.wav", "music stem of the generated piece"),
    ("blend/blend_*/track.mid", "MIDI of the generated piece (notes and drums, with its tempo)"),
    ("blend/blend_*/generate.json", "the generated piece's settings: blend, tempo, key, seed"),
]


def _named_by_summary(summary: dict[str, Any]) -> dict[str, str]:
    """``{path: step}`` for every path a step's summary entry names."""
    out: dict[str, str] = {}

    def walk(node: Any, step: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in {"file", "path"} and isinstance(v, str):
                    out.setdefault(v, step)
                elif k in {"files", "paths"} and isinstance(v, (list, dict)):
                    for x in (v.values() if isinstance(v, dict) else v):
                        if isinstance(x, str):
                            out.setdefault(x, step)
                else:
                    walk(v, step)
        elif isinstance(node, list):
            for v in node:
                walk(v, step)

    for step, node in summary.items():
        if step != "outputs":
            walk(node, step)
    return out


def describe(rel: str, named: dict[str, str] | None = None) -> str:
    """One line on the demo file at ``rel`` (a path inside the demo folder, ``/``-separated)."""
    for pattern, line in DESCRIPTIONS:
        if fnmatchcase(rel, pattern):
            return line
    if named and rel in named:
        return f"written by the demo's '{named[rel]}' step (see summary.json)"
    return UNDESCRIBED


def outputs(out_dir: str | Path, summary: dict[str, Any], extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Every file under ``out_dir`` plus ``extra`` (files about to be written), described.

    Returns
    -------
    list of dict
        ``{"path": relative path, "about": one line}``, sorted by path.
    """
    root = Path(out_dir)
    named = _named_by_summary(summary)
    rels = set(extra)
    for dirpath, _, names in os.walk(root):
        for name in names:
            if ".part" in name:  # a temporary file of an atomic write in progress
                continue
            rels.add(Path(dirpath, name).relative_to(root).as_posix())
    return [{"path": rel, "about": describe(rel, named)} for rel in sorted(rels)]


def _size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def write_index(out_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``index.html`` (links to every output, one line each) and set ``summary["outputs"]``.

    Call it last, just before ``summary.json`` is written (both are listed).
    """
    from ..core.io import atomic_write_text

    root = Path(out_dir)
    items = outputs(root, summary, extra=("index.html", "summary.json"))
    summary["outputs"] = items
    groups: dict[str, list[dict[str, str]]] = {}
    for it in items:
        top = it["path"].split("/", 1)[0] if "/" in it["path"] else ""
        groups.setdefault(top, []).append(it)
    track = summary.get("track", {})
    lines = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>technob demo - outputs</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:20px 28px;color:#1d2330;max-width:1100px}"
        "h1{font-size:20px}h2{font-size:15px;margin:18px 0 4px}ul{margin:0;padding-left:18px}"
        "li{margin:2px 0}.about{color:#5b6575}.size{color:#8a93a3;font-size:12px}"
        ".first{background:#eef6ff;border:1px solid #b9d4f5;border-radius:6px;padding:8px 12px}</style>",
        "</head><body>",
        "<h1>technob demo: what it wrote</h1>",
        f"<p>{len(items)} files from one run of <code>technob demo</code> on a synthesised track "
        f"({html.escape(str(track.get('duration_s', '?')))} s, {html.escape(str(track.get('tempo_bpm', '?')))} BPM, "
        f"key {html.escape(str(track.get('key', '?')))}). Figures: <a href=\"summary.json\">summary.json</a>.</p>",
    ]
    if (root / "report" / "report.html").is_file():
        lines.append('<p class="first">Start here: <a href="report/report.html">report/report.html</a> '
                     '(the analysis of the track, to play with a click track) and '
                     '<a href="report/report.png">report/report.png</a>.</p>')
    for top in sorted(groups, key=lambda g: (g != "", g)):
        lines.append(f"<h2>{html.escape(top + '/' if top else 'top folder')}</h2><ul>")
        for it in groups[top]:
            href = quote(it["path"])
            lines.append(f'<li><a href="{href}">{html.escape(it["path"])}</a> '
                         f'<span class="size">{_size(root / it["path"])}</span> - '
                         f'<span class="about">{html.escape(it["about"])}</span></li>')
        lines.append("</ul>")
    lines.append("</body></html>")
    return atomic_write_text(root / "index.html", "\n".join(lines) + "\n")
