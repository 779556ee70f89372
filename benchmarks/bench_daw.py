"""DAW hand-off: tempo events per format, beat error of the exported maps, MP3 vs WAV beat times.

1. **Tempo maps.** For each grid -- our fixtures (a constant 138 BPM grid with a 28 ms lead-in, the
   synth's drifting 124 -> 130 BPM grid, a stepped 128 -> 140 BPM grid) and the grids the beat
   tracker finds on the real recordings of ``../shared/data/music`` (not tuned on) and on our
   synthesised tracks -- the tempo events written to the ``.mid`` (``set_tempo``), the ``.RPP``
   (``PT`` points) and the ``.dawproject`` (``RealPoint``), the largest distance between an analysed
   beat and the beat the map puts there (SMF: including its whole-microsecond rounding), and the
   same counts for the code this replaced, run in the same process from git history (the per-beat
   0.1 ms SMF/RPP map of ``bridge/midi.py`` and the per-bar 1 BPM ``analysis.json`` map at commit
   ``fd979e0``). Every ``project.xml`` is validated against the official ``Project.xsd``.
2. **MP3 vs WAV.** The same audio written as WAV and as a LAME MP3 (pedalboard's encoder, V2),
   beats tracked on both: median and largest |difference| of the beat times with our gapless
   decoding, and with pedalboard's own decoder (the baseline: what reading MP3 did before).

Usage: ``python -m benchmarks.bench_daw [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from benchmarks._util import save

REPO = Path(__file__).resolve().parent.parent
#: Real recordings: ``../shared/data/music`` of the repository (or of a worktree's parent folder).
MUSIC = next((p for p in (REPO.parent / "shared" / "data" / "music", REPO.parent.parent / "shared" / "data" / "music")
              if p.is_dir()), REPO.parent / "shared" / "data" / "music")
XSD = REPO / "tests" / "data" / "dawproject" / "Project.xsd"
OLD_COMMIT = "fd979e0"


_OLD: dict[str, types.ModuleType | None] = {}


def _old_module(path: str) -> types.ModuleType | None:
    """A module of this repository as it was at :data:`OLD_COMMIT` (None outside a git checkout)."""
    import sys

    if path in _OLD:
        return _OLD[path]
    try:
        src = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:{path}"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType(f"old_{Path(path).stem}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src.replace("from .track import TrackData", "TrackData = None"), path, "exec"), mod.__dict__)  # noqa: S102
    _OLD[path] = mod
    return mod


def _old_counts(grid) -> dict:  # noqa: ANN001
    old_midi = _old_module("bridge/midi.py")
    if old_midi is None:
        return {}
    tm, lead, meters = old_midi.bar_layout(grid)
    first_bpm = 60e6 / tm.us_per_beat[0]
    # old analysis.json tempo_map: bar tempo, new entry where it moves > 1 BPM
    db = grid.downbeats
    n_json = 1
    if db.size >= 2:
        bpm = 60.0 * grid.beats_per_bar / np.diff(db)
        cur = bpm[0]
        for b in bpm[1:]:
            if abs(b - cur) > 1.0:
                n_json, cur = n_json + 1, b
    return {"old_smf_rpp_events": len(tm.ticks), "old_first_bpm": round(first_bpm, 2), "old_lead_in_beats": lead,
            "old_json_entries": n_json}


def _fixtures() -> list[tuple[str, str, object]]:
    from technob_fx.core.results import BeatGrid
    from technob_fx.synth.techno import beat_times

    const = 0.028 + 60 / 138 * np.arange(600)
    drift = beat_times(193, 124.0, 130.0, 0.3)
    a = 0.01 + 60 / 128 * np.arange(65)
    step = np.concatenate([a, a[-1] + 60 / 140 * np.arange(1, 64)])
    return [("fixture", name, BeatGrid(b, b[::4], float(np.median(60 / np.diff(b))), 4))
            for name, b in (("constant 138", const), ("ramp 124->130", drift), ("step 128/140", step))]


def _detected(quick: bool) -> list[tuple[str, str, object, Path | None]]:
    from technob_fx.core.io import read_audio
    from technob_fx.stages.beats import track_beats
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    out = []
    for name, kw in (("synth 128", dict(bpm=128.0)), ("synth 124->130", dict(bpm=124.0, bpm_end=130.0, offset=0.3))):
        audio, truth = synth_techno(SHORT_STRUCTURE, seed=4, **kw)
        out.append(("synth (detected)", name, track_beats(audio, truth.sample_rate), None))
    if MUSIC.is_dir():
        files = sorted(MUSIC.glob("*.ogg"))[: 3 if quick else None]
        for f in files:
            audio, sr = read_audio(f)
            g = track_beats(audio, sr)
            if g.beats.size >= 8:
                out.append(("real recordings", f.name.split(".")[0][:34], g, f))
    return out


def _tempo_rows(groups) -> list[dict]:  # noqa: ANN001
    import xmlschema

    from bridge.dawproject import project_element
    from bridge.midi import build_smf
    from bridge.rpp import envelope_points
    from bridge.track import TrackData
    from technob_fx.core.tempo import fit_tempo_map

    schema = xmlschema.XMLSchema(str(XSD))
    rows = []
    for group, name, grid in groups:
        dur = float(grid.beats[-1]) + 1.0
        data = TrackData(duration=dur, sample_rate=44100.0, grid=grid, name="x")
        t0 = time.perf_counter()
        steps = fit_tempo_map(grid)
        fit_s = time.perf_counter() - t0
        rpp_map = fit_tempo_map(grid, ramps="time")
        daw_map = fit_tempo_map(grid, ramps="beats")
        mid = build_smf(data)
        n_smf = sum(1 for m in mid.tracks[0] if m.type == "set_tempo")
        n_rpp = len(envelope_points(rpp_map))
        root = project_element(data)
        n_daw = len(root.findall("./Arrangement/TempoAutomation/RealPoint"))
        xml = ET.tostring(root, encoding="unicode")
        valid = schema.is_valid(xml)
        rows.append({
            "group": group, "grid": name, "beats": int(grid.beats.size),
            "smf_events": n_smf, "rpp_points": n_rpp, "dawproject_points": n_daw,
            "smf_max_err_ms": round((steps.max_error + steps.smf_drift()) * 1e3, 3),
            "smf_drift_ms": round(steps.smf_drift() * 1e3, 4),
            "rpp_max_err_ms": round(rpp_map.max_error * 1e3, 3),
            "dawproject_max_err_ms": round(daw_map.max_error * 1e3, 3),
            "pickup": steps.pickup, "first_bpm": round(steps.points[0].bpm, 3),
            "dawproject_valid": bool(valid), "fit_ms": round(fit_s * 1e3, 1),
            **_old_counts(grid),
        })
    return rows


def _mp3_rows(quick: bool) -> list[dict]:
    from pedalboard.io import AudioFile

    from technob_fx.core.io import read_audio, write_audio
    from technob_fx.stages.beats import track_beats
    from technob_fx.synth import SHORT_STRUCTURE, synth_techno

    sources: list[tuple[str, str, np.ndarray, float]] = []
    audio, truth = synth_techno(SHORT_STRUCTURE, bpm=128.0, seed=1)
    sources.append(("fixture", "synth 128 (24 s)", audio[:, : int(24 * truth.sample_rate)], truth.sample_rate))
    if MUSIC.is_dir():
        for f in sorted(MUSIC.glob("*.ogg"))[: 2 if quick else None]:
            a, sr = read_audio(f, duration=45.0)
            sources.append(("real recordings", f.name.split(".")[0][:34], a, sr))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for group, name, a, sr in sources:
            wav = write_audio(Path(tmp) / "x.wav", a, sr, bit_depth=24)
            mp3 = write_audio(Path(tmp) / "x.mp3", a, sr, quality="V2")
            gw = track_beats(*read_audio(wav))
            gm = track_beats(*read_audio(mp3))
            with AudioFile(str(mp3)) as f:
                raw = f.read(f.frames)
            gp = track_beats(raw, sr)
            if gw.beats.size < 8:
                continue

            def diff(g, ref=gw):  # noqa: ANN001, ANN202 - nearest-beat distances, s
                d = np.abs(g.beats[:, None] - ref.beats[None, :]).min(axis=1)
                return float(np.median(d)), float(np.percentile(d, 95))

            med, p95 = diff(gm)
            bmed, bp95 = diff(gp)
            rows.append({"group": group, "audio": name, "beats": int(gw.beats.size),
                         "gapless_median_ms": round(med * 1e3, 3), "gapless_p95_ms": round(p95 * 1e3, 3),
                         "pedalboard_median_ms": round(bmed * 1e3, 3), "pedalboard_p95_ms": round(bp95 * 1e3, 3)})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer real recordings")
    args = ap.parse_args(argv)
    fixtures = [(g, n, grid) for g, n, grid in _fixtures()]
    detected = [(g, n, grid) for g, n, grid, _ in _detected(args.quick)]
    tempo = _tempo_rows(fixtures + detected)
    print(f"{'group':18s} {'grid':34s} {'beats':>5s} {'.mid':>5s} {'.RPP':>5s} {'DAWp':>5s} "
          f"{'err mid/RPP/DAWp ms':>21s} {'old mid/RPP':>11s} {'old 1st BPM':>11s} {'old json':>8s} xsd")
    for r in tempo:
        print(f"{r['group']:18s} {r['grid']:34s} {r['beats']:5d} {r['smf_events']:5d} {r['rpp_points']:5d} "
              f"{r['dawproject_points']:5d} {r['smf_max_err_ms']:6.2f}/{r['rpp_max_err_ms']:6.2f}/"
              f"{r['dawproject_max_err_ms']:6.2f} {r.get('old_smf_rpp_events', '-'):>11} "
              f"{r.get('old_first_bpm', '-'):>11} {r.get('old_json_entries', '-'):>8} {'ok' if r['dawproject_valid'] else 'FAIL'}")
    mp3 = _mp3_rows(args.quick)
    print(f"\n{'group':18s} {'audio':34s} {'beats':>5s} {'gapless med/p95 ms':>19s} {'pedalboard med/p95 ms':>22s}")
    for r in mp3:
        print(f"{r['group']:18s} {r['audio']:34s} {r['beats']:5d} {r['gapless_median_ms']:8.2f}/{r['gapless_p95_ms']:<8.2f}"
              f"   {r['pedalboard_median_ms']:8.2f}/{r['pedalboard_p95_ms']:<8.2f}")
    save("daw", {"tempo_maps": tempo, "mp3_vs_wav": mp3,
                 "note": "old_* columns: bridge/midi.py and the analysis.json tempo_map at commit " + OLD_COMMIT})


if __name__ == "__main__":
    main()
