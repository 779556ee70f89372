"""Annotated audio for ``benchmarks/bench_accuracy.py``: groups that are reported apart.

``fixtures``
    The trap fixtures of :mod:`technob_fx.synth.traps`, with exact truth. Rendered once per
    (trap, seed, duration, generator source) and cached as 16-bit FLAC under
    ``<cache>/fixtures/`` so that every system, in every run, reads the same samples.
``shared``
    ``../shared/data/annotated`` and the recordings of ``../shared/data/music`` whose tempo, key
    or meter is known from their own documentation (see :data:`SHARED`). Read in place, never
    copied.
``loops`` and ``loops_train``
    Real drum loops of ``../shared/data/samples`` (breakbeats, percussion; played by others),
    repeated to 30 s: beats from the loop's length, a downbeat every 4 beats from its start
    (:data:`LOOPS`). ``loops_train`` are the loops the beat network was trained on, reported apart
    and not evidence of accuracy; ``loops`` were never trained on. Cached under ``<cache>/loops/``.
``loop_files``
    The same 11 loops as they are, 0.9 to 14.8 s (one to 8 bars, as a producer drags a loop in):
    the tempo a DAW reads from a loop's length, beats every ``loop / n`` s, bar 1 at the start.
    Read in place. The beat network trained on 7 of them (repeated); the tempo of a loop file
    comes from its length and the comb (:func:`technob_fx.stages.beats.loop_grid`).
``public``
    Real annotated audio from the test resources of public repositories, never tuned on (only
    measured). Built into ``<cache>/annotated/<source>/`` from bare git mirrors by::

        # 1. mirror the repositories (the session's `fetch` tool does this), pinned commits:
        #    github:mir-dataset-loaders/mirdata @ b95bf3893616ff16082beed7869f144bb711c163
        #    github:CPJKU/madmom                @ 27f032e8947204902c675e5e341a3faf5dc86dae
        #    github:CPJKU/BallroomAnnotations   @ 1db08914a8ae15edb01f104046e30bad88effe67
        #    and the sources of :data:`EXTRA` (a repository not mirrored is skipped):
        #    github:zachserviss/CSC475_Chord_Generator @ 5460e614391bac581213bac2d9f23f8f8e7e22cb
        #        (a copy of the FMP notebooks' chapter 6 audio and beat annotations)
        #    github:katkost/MazurkaBL           @ 00c5b67cc5a1a0d9b7cce401729f2bca666aa6f5
        #    github:flokadillo/bayesbeat        @ 9242b64085a5e205913b6f92a45c505a5d8f8bc1
        #    github:spotify/basic-pitch         @ b6229dda509b23cd1a5ca88dc2129f2ad5864cd7
        #    -> /work/.mirror/<owner>+<name>/repo
        # 2. materialise the cache (audio + manifest.json per source):
        python -m benchmarks.datasets build [--mirrors /work/.mirror] [--cache /work/cache]
        python -m benchmarks.datasets list   # inventory of every group

    A group whose files are absent is skipped. Audio never enters the repository.

``<cache>`` is ``$TECHNOB_CACHE`` or ``/work/cache`` (``~/.cache/technob`` when that does not exist).

Dedupe: a recording belongs to one group only, and ``shared`` wins. madmom's ``tests/data``
holds the same ``sample.wav``, ``sample2.wav`` and ``stereo_sample.wav`` as ``shared`` (same
bytes), ``sample_22050.wav`` is ``sample.wav`` resampled, and ``stereo_chirp`` is a test chirp
without music: the madmom source adds no file. The mirdata test resources are mostly one- or
two-second stubs, silent files, or real excerpts whose beat annotations were truncated to their
first 3-5 beats; :data:`MIRDATA` keeps the real excerpts (20-57 s) with their whole-track tempo,
meter and key, and scores their beats only inside the annotated span (``Track.beat_span``).
Where the dataset's own annotations are public (:data:`FULL_BEATS`: the Ballroom beats and bars
of Krebs et al. in CPJKU/BallroomAnnotations), the whole excerpt is scored against them instead.
:data:`EXTRA` adds 13 recordings annotated over their whole length (12-95 s): performances of
classical music with rubato and tempo changes (the FMP notebooks' chapter 6 excerpts from RWC,
SMD and commercial recordings; a Chopin mazurka with MazurkaBL's beats), two guitar pieces in
2/4 and 3/4 (bayesbeat's examples) and bossa nova comping (GuitarSet, via basic-pitch's old test
resources). Their licences are research and teaching terms (CC BY-NC-SA, or none stated): they
are measured in place of a cache, never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent



def _shared_root() -> Path:
    """``$TECHNOB_SHARED_DATA``, else ``../shared/data`` beside the repository, else ``/work/shared/data``
    (a git worktree of the repository lives one level deeper than the clone)."""
    env = os.environ.get("TECHNOB_SHARED_DATA")
    if env:
        return Path(env)
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


SHARED_DATA = _shared_root()
GROUPS = ("fixtures", "public", "shared", "loops", "loops_train", "loop_files")


def cache_root() -> Path:
    """``$TECHNOB_CACHE``, else ``/work/cache``, else ``~/.cache/technob``."""
    env = os.environ.get("TECHNOB_CACHE")
    if env:
        return Path(env)
    work = Path("/work/cache")
    return work if work.is_dir() else Path.home() / ".cache" / "technob"


@dataclass
class Track:
    """One annotated recording; ``None`` marks what its annotation does not say.

    Attributes
    ----------
    name, group, source : str
        Unique name, one of :data:`GROUPS`, and where it comes from.
    path : Path, optional
        Audio file (fixtures: the cached FLAC, made on first :meth:`load`).
    beats, downbeats : np.ndarray, optional
        Seconds.
    beat_span : tuple of float, optional
        ``(start, end)`` seconds that ``beats`` covers when the annotation is partial; estimated
        beats outside it are not scored.
    beats_per_bar : int, optional
        Meter numerator (2 for 6/8 counted in dotted quarters).
    tempo : float, optional
        BPM.
    key : str, optional
        ``"F# minor"`` (mir_eval format); ``tonic`` alone when only the tonic is known.
    segments : list of ``(start, end, label)``, optional
        Sections covering the track.
    label_kind : str
        ``"techno"`` or ``"repetition"`` (how ``segments`` are labelled).
    techno : bool, optional
        Techno (four-to-the-floor family) or not; None when unknown.
    provenance : dict
        Where each annotation comes from (``{"key": "madmom CNN detection ..."}``).
    duration : float
        Seconds (0 until loaded when unknown).
    """

    name: str
    group: str
    source: str
    path: Path | None = None
    beats: np.ndarray | None = None
    downbeats: np.ndarray | None = None
    beat_span: tuple[float, float] | None = None
    beats_per_bar: int | None = None
    tempo: float | None = None
    key: str | None = None
    tonic: str | None = None
    segments: list[tuple[float, float, str]] | None = None
    label_kind: str = "techno"
    techno: bool | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    make: Callable[[], Path] | None = None

    def load(self) -> tuple[np.ndarray, int]:
        """Audio as float32 ``(channels, samples)`` and its sample rate."""
        import soundfile as sf

        if self.make is not None and (self.path is None or not self.path.exists()):
            self.path = self.make()
        x, sr = sf.read(str(self.path), dtype="float32", always_2d=True)
        self.duration = x.shape[0] / sr
        return np.ascontiguousarray(x.T), int(sr)

    def annotations(self) -> list[str]:
        """Names of the annotations this track has."""
        have = [("beats", self.beats), ("downbeats", self.downbeats), ("meter", self.beats_per_bar),
                ("tempo", self.tempo), ("key", self.key), ("sections", self.segments)]
        out = [k for k, v in have if v is not None]
        if self.key is None and self.tonic is not None:
            out.append("tonic")
        if self.beat_span is not None and "beats" in out:
            out[out.index("beats")] = f"beats({len(self.beats)}, partial)"
        return out


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


def _generator_hash() -> str:
    """Hash of the generator's source: a changed generator renders new fixtures."""
    h = hashlib.sha1()
    for p in ("technob_fx/synth/traps.py", "technob_fx/synth/techno.py"):
        h.update((REPO / p).read_bytes())
    return h.hexdigest()[:10]


def fixture_tracks(*, quick: bool = False, seed: int = 0, names: list[str] | None = None,
                   duration: float | None = None) -> list[Track]:
    """The trap fixtures as tracks (audio rendered and cached on first load).

    ``quick`` renders 30-second versions; ``duration`` sets another length.
    """
    from technob_fx.synth.traps import TRAPS, make_trap

    dur = duration if duration is not None else (30.0 if quick else None)
    tag = _generator_hash()
    folder = cache_root() / "fixtures"
    out = []
    for name in names or list(TRAPS):
        stem = f"{name}-s{seed}-{'full' if dur is None else f'{dur:g}s'}-{tag}"
        path = folder / f"{stem}.flac"
        meta = folder / f"{stem}.json"
        track = Track(name=name, group="fixtures", source="technob_fx.synth.traps", path=path,
                      techno=TRAPS[name].techno, provenance={"all": "exact (generated)"})

        def make(name: str = name, path: Path = path, meta: Path = meta) -> Path:
            import soundfile as sf

            audio, truth = make_trap(name, seed=seed, duration=dur)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.flac")
            sf.write(str(tmp), audio.T, int(truth.sample_rate), subtype="PCM_16")
            meta.write_text(truth.to_json())
            os.replace(tmp, path)
            return path

        if not (path.exists() and meta.exists()):
            make()
        from technob_fx.synth.traps import TrapTruth

        truth = TrapTruth.from_json(meta)
        track.beats = truth.beats
        track.downbeats = truth.downbeats
        track.beats_per_bar = truth.beats_per_bar
        track.tempo = truth.tempo
        track.key = truth.key
        track.segments = [(s.start, s.end, s.label) for s in truth.segments]
        track.label_kind = truth.label_kind
        track.duration = truth.duration
        track.provenance["mode"] = truth.mode
        track.provenance["meter"] = truth.meter
        track.make = make
        out.append(track)
    return out


# --------------------------------------------------------------------------------------------
# shared
# --------------------------------------------------------------------------------------------

#: What is known about the recordings of ../shared/data (and from where).
SHARED: list[dict] = [
    {"name": "sample", "file": "annotated/sample.wav", "beats_file": "annotated/sample.beats",
     "tempo_file": "annotated/sample.tempo", "key": "Ab major",
     "provenance": {"beats": "hand annotation (madmom tests)", "tempo": "hand annotation (madmom tests)",
                    "key": "madmom's CNN key detection in its tests (tests/data/detections), not a human annotation"}},
    {"name": "sample2", "file": "annotated/sample2.wav", "key": "A minor",
     "provenance": {"key": "madmom's CNN key detection in its tests (tests/data/detections), not a human annotation"}},
    {"name": "trumpet_loop", "file": "music/sorohanro_-_solo-trumpet-06.hq.ogg", "tempo": 90.0, "tonic": "F",
     "provenance": {"tempo": "loop pack: 'in F 90 bpm' (LICENSE.txt)", "tonic": "loop pack: 'in F', blues/dorian (mode unknown)"}},
    {"name": "brahms_hungarian_5", "file": "music/Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg",
     "key": "F# minor", "provenance": {"key": "title of the recording: 'Allegro in F sharp minor'"}},
    {"name": "sweet_waltz", "file": "music/147793__setuniman__sweet-waltz-0i-22mi.hq.ogg", "beats_per_bar": 3,
     "provenance": {"meter": "title: a waltz (3/4)"}},
]


#: Real drum loops of ``../shared/data/samples`` (Sonic Pi's CC0 pack, played and cut by others):
#: name -> (beats per loop, in the beat network's training data). Each loop starts on a downbeat
#: and lasts a whole number of beats (the pack cuts them to loop; the count is the one whose tempo
#: a human would tap, 97-148 BPM). Loops whose start or count is unsure are left out: ``electric``,
#: ``mehackit*``, ``tabla``, ``weirdo``, ``3d_printer``, ``drone``, the other Arovane beats.
LOOPS: dict[str, tuple[int, bool]] = {
    "loop_amen": (4, True), "loop_amen_full": (16, True), "loop_compus": (16, True), "loop_industrial": (2, True),
    "loop_perc1": (4, True), "loop_perc2": (4, True), "loop_garzul": (16, True),
    "loop_breakbeat": (4, False), "loop_mika": (16, False), "loop_safari": (16, False), "arovane_beat_a": (32, False),
}
#: Seconds a loop is repeated to.
LOOP_SECONDS = 30.0


def loop_tracks(root: Path = SHARED_DATA, *, trained: bool = False) -> list[Track]:
    """Group ``loops`` (``trained=False``: loops the beat network never saw) or ``loops_train``
    (the loops it was trained on; reported apart, not evidence of accuracy): each loop repeated to
    :data:`LOOP_SECONDS`, beats every ``loop / n`` s, a downbeat every 4 beats from 0. The repeated
    audio is cached as FLAC under ``<cache>/loops/`` (empty when the samples are absent)."""
    import soundfile as sf

    out = []
    folder = cache_root() / "loops"
    for name, (n, in_training) in LOOPS.items():
        src = root / "samples" / f"{name}.flac"
        if in_training != trained or not src.exists():
            continue
        info = sf.info(str(src))
        loop = info.frames / info.samplerate
        reps = int(np.ceil(LOOP_SECONDS / loop))
        path = folder / f"{name}-x{reps}.flac"

        def make(src: Path = src, path: Path = path, reps: int = reps) -> Path:
            x, sr = sf.read(str(src), dtype="float32", always_2d=True)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.flac")
            sf.write(str(tmp), np.tile(x, (reps, 1)), sr, subtype="PCM_24")
            os.replace(tmp, path)
            return path

        beats = np.arange(reps * n) * loop / n
        out.append(Track(name=name, group="loops_train" if trained else "loops", source="../shared/data/samples",
                         path=path, beats=beats, downbeats=beats[::4], beats_per_bar=4, tempo=60.0 * n / loop,
                         duration=reps * loop, make=make,
                         provenance={"beats": f"loop length / {n} beats, repeated {reps} times",
                                     "downbeats": "every 4 beats from the loop's start (assumed a downbeat)",
                                     "training": "in the beat network's training data" if trained else "never trained on"}))
    return out


def loop_file_tracks(root: Path = SHARED_DATA) -> list[Track]:
    """Group ``loop_files``: every loop of :data:`LOOPS` as it is (not repeated), read in place."""
    import soundfile as sf

    out = []
    for name, (n, in_training) in LOOPS.items():
        src = root / "samples" / f"{name}.flac"
        if not src.exists():
            continue
        info = sf.info(str(src))
        loop = info.frames / info.samplerate
        beats = np.arange(n) * loop / n
        out.append(Track(name=name, group="loop_files", source="../shared/data/samples", path=src, beats=beats,
                         downbeats=beats[::4], beats_per_bar=4, tempo=60.0 * n / loop, duration=loop,
                         provenance={"beats": f"loop length / {n} beats", "downbeats": "every 4 beats from the start",
                                     "training": "repeated, in the beat network's training data" if in_training
                                     else "never trained on"}))
    return out


def _read_beats(text: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Beat times and, when the file has them, bar positions (1 = downbeat)."""
    rows = [ln.replace(",", " ").split() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    t = np.array([float(r[0]) for r in rows])
    pos = np.array([float(r[1]) for r in rows]) if rows and all(len(r) > 1 for r in rows) else None
    return t, pos


def _meter_from_positions(pos: np.ndarray | None) -> int | None:
    """Beats per bar when the positions wrap (``... 3, 4, 1``): the position before a 1."""
    if pos is None:
        return None
    p = np.floor(pos).astype(int)
    wraps = [p[i - 1] for i in range(1, p.size) if p[i] == 1 and p[i - 1] > 1]
    return int(max(wraps)) if wraps else None


def _apply_beats(tr: Track, text: str, partial: bool) -> None:
    t, pos = _read_beats(text)
    tr.beats = t
    if pos is not None:
        tr.downbeats = t[np.floor(pos).astype(int) == 1]
        tr.beats_per_bar = tr.beats_per_bar or _meter_from_positions(pos)
    if partial and t.size >= 2:
        ibi = float(np.median(np.diff(t)))
        tr.beat_span = (float(t[0] - 0.5 * ibi), float(t[-1] + 0.5 * ibi))


def shared_tracks(root: Path = SHARED_DATA) -> list[Track]:
    """The ``shared`` group (empty when ``../shared/data`` is absent)."""
    out = []
    for e in SHARED:
        path = root / e["file"]
        if not path.exists():
            continue
        import soundfile as sf

        tr = Track(name=e["name"], group="shared", source="../shared/data", path=path, key=e.get("key"),
                   duration=float(sf.info(str(path)).duration),
                   tonic=e.get("tonic"), tempo=e.get("tempo"), beats_per_bar=e.get("beats_per_bar"),
                   provenance=dict(e["provenance"]))
        if "beats_file" in e:
            _apply_beats(tr, (root / e["beats_file"]).read_text(), partial=True)
            if tr.downbeats is not None and tr.downbeats.size < 2:
                tr.downbeats = None  # one annotated downbeat says nothing about the bars
        if "tempo_file" in e:
            tr.tempo = _first_tempo(root / e["tempo_file"])
        if tr.key is not None and tr.tonic is None:
            tr.tonic = tr.key.split()[0]
        out.append(tr)
    return out


def _first_tempo(path: Path) -> float:
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return float(rows[0][0])


# --------------------------------------------------------------------------------------------
# public (built from mirrors)
# --------------------------------------------------------------------------------------------

MIRDATA_REPO = "mir-dataset-loaders/mirdata"
MIRDATA_COMMIT = "b95bf3893616ff16082beed7869f144bb711c163"
MADMOM_REPO = "CPJKU/madmom"
MADMOM_COMMIT = "27f032e8947204902c675e5e341a3faf5dc86dae"
_R = "tests/resources/mir_datasets/"

#: The real excerpts in mirdata's test resources and what their annotations say. Beat files are
#: truncated to their first beats (scored inside their span only); tempo, key and meter are the
#: dataset's whole-track values. Meter comes from wrapping bar positions or the dataset's class.
MIRDATA: list[dict] = [
    {"name": "gtzan_country_00000", "audio": "gtzan_genre/gtzan_genre/genres/country/country.00000.wav",
     "beats": "gtzan_genre/gtzan_tempo_beat-main/beats/gtzan_country_00000.beats",
     "tempo": "gtzan_genre/gtzan_tempo_beat-main/tempo/gtzan_country_00000.bpm", "dataset": "GTZAN (Marchand & Peeters beats/tempo)"},
    {"name": "ballroom_waltz_105901", "audio": "ballroom/B_1.0/audio/Waltz/Media-105901.wav",
     "beats": "ballroom/B_1.0/annotations/beats/Media-105901.beats", "tempo": "ballroom/B_1.0/annotations/tempo/Media-105901.bpm",
     "beats_per_bar": 3, "dataset": "Ballroom (Krebs et al. beats; class Waltz -> 3/4)"},
    {"name": "hainsworth_001", "audio": "hainsworth/H_1.0/audio/hains001.flac",
     "beats": "hainsworth/H_1.0/annotations/beats/hains001.beats", "tempo": "hainsworth/H_1.0/annotations/tempo/hains001.bpm",
     "dataset": "Hainsworth"},
    {"name": "cuidado_falla_cancion", "audio": "cuidado/C_1.0/audio/cuidado_FallaCancion.flac",
     "beats": "cuidado/C_1.0/annotations/beats/cuidado_FallaCancion.beats", "tempo": "cuidado/C_1.0/annotations/tempo/cuidado_FallaCancion.bpm",
     "dataset": "CUIDADO"},
    {"name": "simac_01", "audio": "simac/S_1.0/audio/simac_01_H_mikri_Rallou.flac",
     "beats": "simac/S_1.0/annotations/beats/simac_01_H_mikri_Rallou.beats", "tempo": "simac/S_1.0/annotations/tempo/simac_01_H_mikri_Rallou.bpm",
     "dataset": "SIMAC"},
    {"name": "brid_0001", "audio": "brid/BRID_1.0/Data/Acoustic Mixtures/4 Instruments/[0001] M4-01-SA.wav",
     "beats": "brid/BRID_1.0/Annotations/beats/[0001] M4-01-SA.beats", "tempo": "brid/BRID_1.0/Annotations/tempo/[0001] M4-01-SA.bpm",
     "beats_per_bar": 2, "dataset": "BRID (samba, 2/4)"},
    {"name": "beatport_key_100066", "audio": "beatport_key/audio/100066 Lindstrom - Monsteer (Original Mix).mp3",
     "key": "beatport_key/keys/100066 Lindstrom - Monsteer (Original Mix).txt", "dataset": "Beatport EDM key (2 s excerpt)"},
    {"name": "giantsteps_key_10089", "audio": "giantsteps_key/audio/10089 Jason Sparks - Close My Eyes feat. J. Little (Original Mix).mp3",
     "key": "giantsteps_key/keys_gs+/10089 Jason Sparks - Close My Eyes feat. J. Little (Original Mix).txt", "dataset": "GiantSteps key (2 s excerpt)"},
    {"name": "tonality_classicaldb_01", "audio": "tonality_classicaldb/audio/01-Allegro__Gloria_in_excelsis_Deo_in_D_Major - D.wav",
     "key": "tonality_classicaldb/keys/01-Allegro__Gloria_in_excelsis_Deo_in_D_Major - D.txt", "dataset": "Tonality classicalDB (2 s excerpt)"},
    {"name": "giantsteps_tempo_28952", "audio": "giantsteps_tempo/audio/28952.LOFI.mp3",
     "tempo_jams": "giantsteps_tempo/giantsteps-tempo-dataset-0b7d47ba8cae59d3535a02e3db69e2cf6d0af5bb/annotations_v2/jams/28952.LOFI.jams",
     "dataset": "GiantSteps tempo v2 (2 s excerpt)"},
]
#: Whole-excerpt beat annotations for MIRDATA entries, from the dataset's own public repository:
#: name -> (repository, commit, path). mirdata's test copy of the same file keeps its first beats.
FULL_BEATS: dict[str, tuple[str, str, str]] = {
    "ballroom_waltz_105901": ("CPJKU/BallroomAnnotations", "1db08914a8ae15edb01f104046e30bad88effe67",
                              "Media-105901.beats"),
}
#: mirdata test audio not used, and why (the inventory prints it).
MIRDATA_SKIPPED = ("1-2 s stubs, silent files (beatles, billboard, queen, guitarset, candombe), automatic annotations "
                   "(jtd: madmom-based beats), and sources without beat/tempo/key/section truth")
#: madmom tests/data audio and why none is used.
MADMOM_SKIPPED = {
    "tests/data/audio/sample.wav": "same bytes as ../shared/data/annotated/sample.wav (group shared)",
    "tests/data/audio/sample2.wav": "same bytes as ../shared/data/annotated/sample2.wav (group shared)",
    "tests/data/audio/stereo_sample.wav": "same bytes as ../shared/data/annotated/stereo_sample.wav (no beat/key truth)",
    "tests/data/audio/sample_22050.wav": "sample.wav resampled (same recording, group shared)",
    "tests/data/audio/stereo_chirp.wav": "a test chirp, not music",
    "tests/data/audio/stereo_chirp_rg.flac": "a test chirp, not music",
    "tests/data/audio/stereo_sample.flac": "stereo_sample.wav encoded as FLAC (no beat/key truth)",
    "tests/data/audio/stereo_sample_rg.flac": "stereo_sample.wav encoded as FLAC (no beat/key truth)",
    "tests/data/audio/stereo_sample.m4a": "stereo_sample.wav encoded as AAC (no beat/key truth)",
}


#: More real annotated recordings from public repositories (measured, never tuned on): performances
#: with rubato and tempo changes, waltzes and a mazurka in 3/4, guitar played to a click. Each
#: entry: name, repository and pinned commit (two repositories removed the files later), audio path,
#: how the beats are annotated, and what else is known. ``beats`` formats: ``"csv"`` one time per
#: line (FMP: Sonic Visualiser exports; ``bars`` names the bar-line file, on the same times),
#: ``"pos"`` time and bar position per line, ``"mazurka:<column>"`` MazurkaBL's beat-time table,
#: ``"jams"`` a JAMS ``beat_position`` annotation. ``tempo`` is the dataset's when it gives one,
#: else the median of the annotated inter-beat intervals (provenance says which).
FMP_REPO, FMP_COMMIT = "zachserviss/CSC475_Chord_Generator", "5460e614391bac581213bac2d9f23f8f8e7e22cb"
_F = "data/C6/FMP_C6_"
EXTRA: list[dict] = [
    {"name": "fmp_borodin_rwc", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_Borodin-sec39_RWC.wav",
     "beats": _F + "Audio_Borodin-sec39_RWC_quarter.csv", "bars": _F + "Audio_Borodin-sec39_RWC_measure.csv",
     "dataset": "FMP notebooks C6 (RWC classical: Borodin, string quartet; quarter notes and bars)"},
    {"name": "fmp_debussy_smd", "repo": FMP_REPO, "commit": FMP_COMMIT,
     "audio": _F + "Audio_Debussy_SonataViolinPianoGMinor-02-sec135-SMD189.wav",
     "beats": _F + "Audio_Debussy_SonataViolinPianoGMinor-02-sec135-SMD189_quarter.csv",
     "bars": _F + "Audio_Debussy_SonataViolinPianoGMinor-02-sec135-SMD189_measure.csv",
     "dataset": "FMP notebooks C6 (SMD: Debussy violin sonata; quarter notes and bars)"},
    {"name": "fmp_shostakovich_waltz", "repo": FMP_REPO, "commit": FMP_COMMIT,
     "audio": _F + "Audio_Shostakovich_Waltz-02-Theme_IncreasingTempo.wav",
     "beats": _F + "Audio_Shostakovich_Waltz-02-Theme_IncreasingTempo_beat.csv",
     "bars": _F + "Audio_Shostakovich_Waltz-02-Theme_IncreasingTempo_measure.csv",
     "dataset": "FMP notebooks C6 (Shostakovich waltz, accelerating; beats and bars)"},
    {"name": "fmp_happy_birthday", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_HappyBirthday.wav",
     "beats": _F + "Audio_HappyBirthday_tactus.csv", "bars": _F + "Audio_HappyBirthday_measure.csv",
     "dataset": "FMP notebooks C6 (Happy Birthday, 3/4; tactus and bars)"},
    {"name": "fmp_por_una_cabeza", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_PorUnaCabeza.wav",
     "beats": _F + "Audio_PorUnaCabeza_quarter.csv", "dataset": "FMP notebooks C6 (tango; quarter notes)"},
    {"name": "fmp_chopin", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_Chopin.wav",
     "beats": _F + "Audio_Chopin.csv", "dataset": "FMP notebooks C6 (Chopin, piano; beats)"},
    {"name": "fmp_poulenc_valse_smd", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_Poulenc_Valse-sec0-15_SMD114.wav",
     "beats": _F + "Audio_Poulenc_Valse-sec0-15_SMD114.csv", "dataset": "FMP notebooks C6 (SMD: Poulenc valse, piano; beats)"},
    {"name": "fmp_faure_smd", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "Audio_Faure_Op015-01-sec0-12_SMD126.wav",
     "beats": _F + "Audio_Faure_Op015-01-sec0-12_SMD126.csv", "dataset": "FMP notebooks C6 (SMD: Faure piano quartet; beats)"},
    {"name": "fmp_brahms_ormandy", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": _F + "F19_Brahms_Ormandy_sec35-53.wav",
     "beats": _F + "F19_Brahms_Ormandy_sec35-53.csv",
     "dataset": "FMP notebooks C6 (Brahms Hungarian Dance 5, Ormandy, rubato; beats)"},
    {"name": "mazurka_op68_3_cohen", "repo": FMP_REPO, "commit": FMP_COMMIT, "audio": "data/C6/Chopin_Op068No3_Cohen-1997_pid9069-19.wav",
     "beats_repo": "katkost/MazurkaBL", "beats_commit": "00c5b67cc5a1a0d9b7cce401729f2bca666aa6f5",
     "beats": "beat_time/M68-3beat_time.csv", "format": "mazurka:pid9069-19", "beats_per_bar": 3, "key": "F major",
     "dataset": "MazurkaBL (Chopin mazurka Op. 68/3, Cohen 1997; beats, bars, key from its discography)"},
    {"name": "bayesbeat_guitar_duple", "repo": "flokadillo/bayesbeat", "commit": "9242b64085a5e205913b6f92a45c505a5d8f8bc1",
     "audio": "examples/data/audio/guitar_duple.flac", "beats": "examples/data/annotations/beats/guitar_duple.beats",
     "format": "pos", "dataset": "bayesbeat examples (guitar, 2/4; beats and bars)"},
    {"name": "bayesbeat_guitar_triple", "repo": "flokadillo/bayesbeat", "commit": "9242b64085a5e205913b6f92a45c505a5d8f8bc1",
     "audio": "examples/data/audio/guitar_triple.flac", "beats": "examples/data/annotations/beats/guitar_triple.beats",
     "format": "pos", "dataset": "bayesbeat examples (guitar, 3/4; beats and bars)"},
    {"name": "guitarset_bn1_129_comp", "repo": "spotify/basic-pitch", "commit": "b6229dda509b23cd1a5ca88dc2129f2ad5864cd7",
     "audio": "tests/resources/data/guitarset/audio_mono-mic/00_BN1-129-Eb_comp_mic.wav",
     "beats": "tests/resources/data/guitarset/annotation/00_BN1-129-Eb_comp.jams", "format": "jams",
     "dataset": "GuitarSet (bossa nova comping, played to a click; beats, bars, tempo, key)"},
]

def _mirror(mirrors: Path, repo: str) -> Path:
    """The bare git mirror of ``owner/name`` under ``mirrors`` (``<owner>+<name>/repo``)."""
    return mirrors / repo.replace("/", "+") / "repo"


def _git_show(mirror: Path, commit: str, path: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={mirror}", "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def _key_text(text: str) -> str:
    tonic, mode = text.replace("\t", " ").split()[:2]
    return f"{tonic.strip()} {mode.strip().lower()}"


def _fmp_times(text: str) -> list[float]:
    """Times of an FMP annotation CSV (first column; ``;``-separated, optional quoted header)."""
    out = []
    for ln in text.splitlines():
        cell = ln.replace(";", " ").replace(",", " ").split()
        if cell:
            try:
                out.append(float(cell[0]))
            except ValueError:
                continue  # a header row
    return out


def _extra_beats(e: dict, show: Callable[[str, str, str], bytes]) -> tuple[str, dict]:
    """``(beats_text, known)`` for an :data:`EXTRA` entry: lines of ``time [bar position]``, and
    the tempo / key / meter its annotation gives."""
    repo, commit = e.get("beats_repo", e["repo"]), e.get("beats_commit", e["commit"])
    fmt = e.get("format", "csv")
    known: dict = {}
    if fmt == "csv":
        t = _fmp_times(show(repo, commit, e["beats"]).decode())
        if "bars" not in e:
            return "\n".join(f"{x:.6f}" for x in t) + "\n", known
        bars = np.array(_fmp_times(show(repo, commit, e["bars"]).decode()))
        lines, pos = [], 0
        for x in t:
            pos = 1 if bars.size and np.min(np.abs(bars - x)) < 0.01 else (pos + 1 if pos else 0)
            lines.append(f"{x:.6f}\t{pos}")  # 0: before the first bar line (a pickup, numbered below)
        # beats before the first bar line (a pickup) count back from it
        first = next((i for i, ln in enumerate(lines) if ln.endswith("\t1")), None)
        if first:
            bpb = _meter_from_positions(np.array([float(ln.split()[1]) for ln in lines[first:]])) or 4
            for i in range(first):
                lines[i] = f"{t[i]:.6f}\t{(bpb - (first - i)) % bpb + 1}"
        return "\n".join(lines) + "\n", known
    if fmt == "pos":
        return show(repo, commit, e["beats"]).decode(), known
    if fmt.startswith("mazurka:"):
        import csv
        import io

        col = fmt.split(":", 1)[1]
        rows = list(csv.reader(io.StringIO(show(repo, commit, e["beats"]).decode())))
        head = rows[0]
        ci, bi = head.index(col), head.index("beat_number")
        lines = [f"{float(r[ci]):.6f}\t{int(r[bi]) + 1}" for r in rows[1:] if r[ci]]  # beat_number: 0-based in its bar
        return "\n".join(lines) + "\n", known
    if fmt == "jams":
        jams = json.loads(show(repo, commit, e["beats"]))
        lines = []
        for a in jams["annotations"]:
            if a["namespace"] == "beat_position":
                lines = [f"{d['time']:.6f}\t{d['value']['position']}" for d in a["data"]]
                known["beats_per_bar"] = int(a["data"][0]["value"]["num_beats"])
            elif a["namespace"] == "tempo":
                known["tempo"] = float(a["data"][0]["value"])
            elif a["namespace"] == "key_mode":
                tonic, mode = a["data"][0]["value"].split(":")
                known["key"] = f"{tonic} {mode}"
        return "\n".join(lines) + "\n", known
    raise ValueError(f"unknown beat format {fmt!r}")

def build(mirrors: Path = Path("/work/.mirror"), cache: Path | None = None) -> dict[str, int]:
    """Materialise ``<cache>/annotated/<source>/`` (audio + ``manifest.json``) from the mirrors.

    Returns the number of tracks written per source. Files already there are kept.
    """
    import soundfile as sf

    root = (cache or cache_root()) / "annotated"
    counts: dict[str, int] = {}
    shared_hashes = {hashlib.sha1(p.read_bytes()).hexdigest() for p in (SHARED_DATA / "annotated").glob("*.wav")} \
        if (SHARED_DATA / "annotated").is_dir() else set()

    mirror = _mirror(mirrors, MIRDATA_REPO)
    if mirror.is_dir():
        out_dir = root / "mirdata"
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest = []
        for e in MIRDATA:
            data = _git_show(mirror, MIRDATA_COMMIT, _R + e["audio"])
            if hashlib.sha1(data).hexdigest() in shared_hashes:
                continue
            audio = out_dir / (e["name"] + Path(e["audio"]).suffix)
            if not audio.exists():
                audio.write_bytes(data)
            info = sf.info(str(audio))
            rec: dict = {"name": e["name"], "file": audio.name, "dataset": e["dataset"], "duration": info.duration,
                         "origin": f"github:{MIRDATA_REPO}@{MIRDATA_COMMIT}:{_R}{e['audio']}"}
            if "beats" in e:
                rec["beats_text"] = _git_show(mirror, MIRDATA_COMMIT, _R + e["beats"]).decode()
            if e["name"] in FULL_BEATS:
                repo, commit, path = FULL_BEATS[e["name"]]
                if _mirror(mirrors, repo).is_dir():
                    rec["beats_text"] = _git_show(_mirror(mirrors, repo), commit, path).decode()
                    rec["beats_complete"] = True
                    rec["beats_origin"] = f"github:{repo}@{commit}:{path}"
            if "tempo" in e:
                rec["tempo"] = float(_git_show(mirror, MIRDATA_COMMIT, _R + e["tempo"]).decode().split()[0])
            if "tempo_jams" in e:
                jams = json.loads(_git_show(mirror, MIRDATA_COMMIT, _R + e["tempo_jams"]))
                ann = next(a for a in jams["annotations"] if a["namespace"] == "tempo")
                rec["tempo"] = float(max(ann["data"], key=lambda d: d.get("confidence") or 0)["value"])
            if "key" in e:
                rec["key"] = _key_text(_git_show(mirror, MIRDATA_COMMIT, _R + e["key"]).decode())
            if "beats_per_bar" in e:
                rec["beats_per_bar"] = e["beats_per_bar"]
            manifest.append(rec)
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        counts["mirdata"] = len(manifest)

    mirror = _mirror(mirrors, MADMOM_REPO)
    if mirror.is_dir():
        out_dir = root / "madmom"
        out_dir.mkdir(parents=True, exist_ok=True)
        listing = subprocess.run(["git", f"--git-dir={mirror}", "ls-tree", "-r", "--name-only", MADMOM_COMMIT, "tests/data/audio"],
                                 check=True, capture_output=True, text=True).stdout.split()
        skipped = {}
        for p in listing:
            if p.endswith((".wav", ".flac")) and hashlib.sha1(_git_show(mirror, MADMOM_COMMIT, p)).hexdigest() in shared_hashes:
                skipped[p] = "same bytes as a file of ../shared/data/annotated (group shared)"
            else:
                skipped[p] = MADMOM_SKIPPED.get(p, "another encoding of a shared recording, or no annotation")
        (out_dir / "manifest.json").write_text(json.dumps({"tracks": [], "skipped": skipped}, indent=1) + "\n")
        counts["madmom"] = 0

    out_dir = root / "extra"
    manifest = []
    for e in EXTRA:
        repos = {e["repo"], e.get("beats_repo", e["repo"])}
        if not all(_mirror(mirrors, r).is_dir() for r in repos):
            continue
        data = _git_show(_mirror(mirrors, e["repo"]), e["commit"], e["audio"])
        out_dir.mkdir(parents=True, exist_ok=True)
        audio = out_dir / (e["name"] + Path(e["audio"]).suffix)
        if not audio.exists():
            tmp = audio.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, audio)
        text, known = _extra_beats(e, lambda r, c, p: _git_show(_mirror(mirrors, r), c, p))
        t, pos = _read_beats(text)
        rec = {"name": e["name"], "file": audio.name, "dataset": e["dataset"], "duration": sf.info(str(audio)).duration,
               "origin": f"github:{e['repo']}@{e['commit']}:{e['audio']}", "beats_text": text, "beats_complete": True,
               "beats_origin": f"github:{e.get('beats_repo', e['repo'])}@{e.get('beats_commit', e['commit'])}:{e['beats']}"}
        if "tempo" in known:
            rec["tempo"] = known["tempo"]
        else:
            rec["tempo"] = round(60.0 / float(np.median(np.diff(t))), 2)
            rec["tempo_origin"] = "median of the annotated inter-beat intervals"
        if e.get("key") or known.get("key"):
            rec["key"] = e.get("key") or known["key"]
        bpb = e.get("beats_per_bar") or known.get("beats_per_bar") or _meter_from_positions(pos)
        if bpb:
            rec["beats_per_bar"] = int(bpb)
        manifest.append(rec)
    if manifest:
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        counts["extra"] = len(manifest)
    return counts


def public_tracks(cache: Path | None = None) -> list[Track]:
    """The ``public`` group from the built cache (empty when it was not built)."""
    out = []
    recs = []
    for source in ("mirdata", "extra"):
        path = (cache or cache_root()) / "annotated" / source / "manifest.json"
        if path.exists():
            recs += [(source, path, rec) for rec in json.loads(path.read_text())]
    for source, path, rec in recs:
        tr = Track(name=rec["name"], group="public", source=f"{source}: {rec['dataset']}", path=path.parent / rec["file"],
                   tempo=rec.get("tempo"), key=rec.get("key"), beats_per_bar=rec.get("beats_per_bar"),
                   duration=rec["duration"], provenance={"all": rec["dataset"], "origin": rec["origin"]})
        if "beats_text" in rec:
            _apply_beats(tr, rec["beats_text"], partial=not rec.get("beats_complete"))
            if rec.get("beats_origin"):
                tr.provenance["beats"] = rec["beats_origin"]
            if rec.get("tempo_origin"):
                tr.provenance["tempo"] = rec["tempo_origin"]
            if tr.downbeats is not None and tr.downbeats.size < 2:
                tr.downbeats = None
        if tr.key:
            tr.tonic = tr.key.split()[0]
        out.append(tr)
    return out


def load_groups(groups: list[str] | tuple[str, ...] = GROUPS, *, quick: bool = False,
                traps: list[str] | None = None) -> dict[str, list[Track]]:
    """Every requested group as its tracks (absent groups are empty lists)."""
    out: dict[str, list[Track]] = {}
    for g in groups:
        if g == "fixtures":
            out[g] = fixture_tracks(quick=quick, names=traps)
        elif g == "shared":
            out[g] = shared_tracks()
        elif g == "public":
            out[g] = public_tracks()
        elif g in ("loops", "loops_train"):
            out[g] = loop_tracks(trained=g == "loops_train")
        elif g == "loop_files":
            out[g] = loop_file_tracks()
        else:
            raise ValueError(f"unknown group {g!r}; have {', '.join(GROUPS)}")
    return out


def inventory(groups: dict[str, list[Track]]) -> str:
    """A markdown table: group, track, seconds, annotations, provenance."""
    lines = ["| group | track | s | annotations | source |", "|---|---|---:|---|---|"]
    for g, tracks in groups.items():
        for t in tracks:
            lines.append(f"| {g} | {t.name} | {t.duration:.1f} | {', '.join(t.annotations())} | {t.source} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.datasets", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="materialise <cache>/annotated from the mirrors")
    b.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    b.add_argument("--cache", type=Path, default=None)
    ls = sub.add_parser("list", help="print the inventory of every group")
    ls.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        counts = build(args.mirrors, args.cache)
        if not counts:
            print(f"no mirrors under {args.mirrors}; fetch github:{MIRDATA_REPO} and github:{MADMOM_REPO} first", file=sys.stderr)
            return 1
        print(", ".join(f"{k}: {v} tracks" for k, v in counts.items()), "->", (args.cache or cache_root()) / "annotated")
        return 0
    print(inventory(load_groups(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
