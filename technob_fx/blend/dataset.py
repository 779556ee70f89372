"""A chunked log-mel dataset of genre folders: streamed, parallel, resumable.

``build_dataset({"lofi": [dir], "classical": [dir]}, out)`` decodes every wav/flac/mp3/ogg file
found under the folders, resamples it on the fly, cuts it into fixed-length chunks (30 s by
default; the last one zero-padded, its real length recorded) and writes per chunk

- ``chunks/<genre>/<source_id>/cNNNNN.wav``: the audio (zero-padded to the full chunk length);
- ``chunks/<genre>/<source_id>/cNNNNN.npy``: its log-mel spectrogram, float32
  ``(n_mels, 1 + chunk_samples // hop)`` dB;
- ``chunks/<genre>/<source_id>/cNNNNN.json``: its manifest row (written last, atomically: a row
  exists only once both files exist).

and, once a source is complete, ``chunks/<genre>/<source_id>/done.json`` (the per-source done
marker, keyed by file size and mtime). ``manifest.csv`` is assembled from the rows at the end of
every run, with the train/validation split decided per *source recording* (a deterministic hash
of the source id), so no recording has chunks on both sides.

Layout on disk never depends on the run: a second run with nothing new only stats the markers;
an interrupted run keeps every chunk whose row was written; a deleted chunk file is redone alone
(its source is decoded again, but only the missing chunk is analysed and written). A file that
cannot be decoded is reported in the returned :class:`BuildReport` (and ``errors.json``) and
skipped; the run goes on.

``dataset.json`` records the settings and the :data:`FORMAT` of the stored values; a build into a
folder made by another format is refused (its chunks would not match the new ones).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import AudioError, PathError
from ..core.progress import ProgressCallback

#: Input extensions decoded by the dataset builder.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
#: Columns of ``manifest.csv``.
MANIFEST_COLUMNS = ("chunk_id", "genre", "source", "source_id", "index", "offset", "real_samples",
                    "chunk_samples", "sample_rate", "tempo", "key", "loudness", "split", "wav", "mel")
MANIFEST = "manifest.csv"
CONFIG = "dataset.json"
#: Format of the stored values. 2: the mels come from the project's one mel front-end
#: (:func:`technob_fx.core.frontend.mel_spectrogram`, not librosa: within 0.03 dB), and a chunk
#: where the beat tracker finds no beat has tempo 0 (as ``technob analyze`` says), not librosa's
#: guess. 1 (no ``format`` in ``dataset.json``): before.
FORMAT = 2


@dataclass(frozen=True)
class DatasetConfig:
    """How chunks and mels are made (stored in ``dataset.json``; a rebuild must match it).

    Attributes
    ----------
    chunk_seconds : float
        Chunk length, s.
    sample_rate : float
        Hz of the chunks.
    n_mels : int
        Mel bands.
    n_fft : int
        STFT size, samples.
    hop_length : int
        STFT hop, samples.
    fmax : float
        Highest mel frequency, Hz (default Nyquist).
    val_fraction : float
        Share of source recordings in the validation split.
    """

    chunk_seconds: float = 30.0
    sample_rate: float = 22050.0
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512
    fmax: float | None = None
    val_fraction: float = 0.2

    @property
    def chunk_samples(self) -> int:
        """Samples per chunk."""
        return int(round(self.chunk_seconds * self.sample_rate))

    @property
    def mel_frames(self) -> int:
        """Mel frames per chunk (centred STFT)."""
        return 1 + self.chunk_samples // self.hop_length

    def same_audio(self, other: DatasetConfig) -> bool:
        """Whether chunks made with ``other`` are interchangeable with ours."""
        a, b = asdict(self), asdict(other)
        a.pop("val_fraction")
        b.pop("val_fraction")
        return a == b


@dataclass
class BuildReport:
    """What :func:`build_dataset` did.

    Attributes
    ----------
    sources : int
        Audio files found.
    skipped_sources : int
        Files already complete (done marker valid and every chunk present): no work done.
    chunks_written : int
        Chunks analysed and written in this run.
    chunks_total : int
        Rows in the manifest after the run.
    audio_seconds : float
        Seconds of audio decoded in this run.
    seconds : float
        Wall time of the run.
    errors : dict
        ``{path: message}`` of files reported and skipped.
    """

    sources: int = 0
    skipped_sources: int = 0
    chunks_written: int = 0
    chunks_total: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def x_realtime(self) -> float:
        """Seconds of audio decoded per second of wall time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


def log_mel(mono: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """Log-mel spectrogram as the dataset stores it.

    Parameters
    ----------
    mono : np.ndarray, shape ``(samples,)``
        At ``config.sample_rate``.
    config : DatasetConfig

    Returns
    -------
    np.ndarray, float32, shape ``(n_mels, 1 + samples // hop_length)``
        Power in dB re 1.0 (full scale), floored at -100 dB.
    """
    from ..core.frontend import mel_spectrogram

    mel = mel_spectrogram(np.asarray(mono, dtype=np.float32), config.sample_rate, config.n_fft,
                          config.hop_length, config.n_mels, fmax=config.fmax)
    return np.maximum(10.0 * np.log10(np.maximum(mel, 1e-10)), -100.0).astype(np.float32)


def _describe(audio: np.ndarray, real: int, sr: float) -> dict:
    """Tempo (BPM), key and loudness (LUFS) of the real part of a chunk."""
    from . import _analysis

    part = audio[:, :real]
    mono = part.mean(axis=0)
    tempo, _ = _analysis.beat_times(mono, sr)
    key, _ = _analysis.estimate_key(mono, sr) if real >= sr else ("", 0.0)
    return {"tempo": round(float(tempo), 2), "key": key,
            "loudness": round(_analysis.loudness(part, sr), 2)}


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One input recording."""

    genre: str
    path: Path
    size: int
    mtime_ns: int

    @property
    def source_id(self) -> str:
        """Stable id: genre, file name and size (not the folder, so moving a dataset is fine)."""
        h = hashlib.sha1(f"{self.genre}/{self.path.name}/{self.size}".encode()).hexdigest()[:10]
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.path.stem).strip("-")[:40] or "audio"
        return f"{slug}-{h}"


def split_hash(source_id: str) -> float:
    """Deterministic value in ``[0, 1)`` of a source id (decides its split)."""
    return int(hashlib.sha1(source_id.encode()).hexdigest()[:12], 16) / float(16**12)


def assign_splits(sources: Mapping[str, Iterable[str]], val_fraction: float) -> dict[str, str]:
    """Split source recordings into train / val by a deterministic hash.

    A source goes to ``"val"`` when ``split_hash(id) < val_fraction``. A genre with two or more
    sources and none in val gives its lowest-hash source to val (tiny datasets), and one with
    every source in val keeps its highest-hash source in train.

    Parameters
    ----------
    sources : mapping
        ``{genre: [source_id, ...]}``.
    val_fraction : float

    Returns
    -------
    dict
        ``{source_id: "train" | "val"}``.
    """
    out: dict[str, str] = {}
    for ids in sources.values():
        ranked = sorted(set(ids), key=split_hash)
        split = {s: ("val" if split_hash(s) < val_fraction else "train") for s in ranked}
        if len(ranked) >= 2 and val_fraction > 0:
            if all(v == "train" for v in split.values()):
                split[ranked[0]] = "val"
            if all(v == "val" for v in split.values()):
                split[ranked[-1]] = "train"
        out.update(split)
    return out


def find_sources(genres: Mapping[str, Iterable[str | Path]]) -> list[Source]:
    """Audio files under each genre's folders (recursive, sorted).

    Raises
    ------
    PathError
        A folder is missing, or a genre name is not a plain word.
    """
    out: list[Source] = []
    for genre, dirs in genres.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", genre):
            raise PathError(f"genre name {genre!r} must be letters, digits, '-' or '_'")
        for d in dirs:
            d = Path(d)
            if not d.exists():
                raise PathError(f"{d}: no such folder (genre {genre!r})")
            files = [d] if d.is_file() else sorted(p for p in d.rglob("*") if p.is_file())
            for p in files:
                if p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith("."):
                    st = p.stat()
                    out.append(Source(genre, p, st.st_size, st.st_mtime_ns))
    return out


def _source_dir(out: Path, src: Source) -> Path:
    return out / "chunks" / src.genre / src.source_id


def _chunk_done(d: Path, index: int) -> bool:
    """Chunk ``index`` of source folder ``d`` has its wav, npy and (last written) json row."""
    return all((d / f"c{index:05d}{ext}").exists() for ext in (".wav", ".npy", ".json"))


def _marker_ok(out: Path, src: Source) -> bool:
    """The source's done marker matches the file and every chunk it lists is complete."""
    d = _source_dir(out, src)
    try:
        marker = json.loads((d / "done.json").read_text())
    except (OSError, ValueError):
        return False
    if marker.get("size") != src.size or marker.get("mtime_ns") != src.mtime_ns:
        return False
    return all(_chunk_done(d, i) for i in range(int(marker.get("chunks", -1))))


# --------------------------------------------------------------------------------------------
# Worker
# --------------------------------------------------------------------------------------------


def _write_chunk(out: Path, src: Source, index: int, chunk: np.ndarray, real: int,
                 config: DatasetConfig) -> None:
    from ..core.io import atomic_path, atomic_write_text, read_audio, write_audio

    d = _source_dir(out, src)
    stem = f"c{index:05d}"
    wav, npy = d / f"{stem}.wav", d / f"{stem}.npy"
    write_audio(wav, chunk, config.sample_rate, bit_depth=16)
    # tempo, key and loudness describe the chunk as written (16-bit, dithered): `technob analyze`
    # of the WAV says the same (the grid follows sub-frame onsets, and a 5-s rubato chunk's
    # median beat interval moved 2.5 % between the float chunk and its WAV)
    written, _ = read_audio(wav)
    mel = log_mel(chunk.mean(axis=0), config)
    with atomic_path(npy) as tmp, open(tmp, "wb") as f:
        np.save(f, mel)
    row = {
        "chunk_id": f"{src.source_id}/{stem}", "genre": src.genre, "source": src.path.name,
        "source_id": src.source_id, "index": index,
        "offset": round(index * config.chunk_seconds, 6), "real_samples": int(real),
        "chunk_samples": config.chunk_samples, "sample_rate": config.sample_rate,
        **_describe(written, real, config.sample_rate),
        "wav": wav.relative_to(out).as_posix(), "mel": npy.relative_to(out).as_posix(),
    }
    atomic_write_text(d / f"{stem}.json", json.dumps(row) + "\n")


def process_source(out: str | Path, src: Source, config: DatasetConfig,
                   block_size: int = 65536) -> dict:
    """Stream one recording into chunks (the per-file job; runs in a worker process).

    Memory is bounded by one chunk plus one decoded block, whatever the file's length. Chunks
    whose row already exists are decoded past but not analysed or written again.

    Returns
    -------
    dict
        ``{"written": int, "chunks": int, "seconds": float, "error": str | None}``.
    """
    from ..core.io import atomic_write_text
    from ..core.runner import run_file

    out = Path(out)
    d = _source_dir(out, src)
    d.mkdir(parents=True, exist_ok=True)
    for stale in d.glob(".*.part*"):  # temp files of a run killed mid-write
        stale.unlink(missing_ok=True)
    n = config.chunk_samples
    count = {"index": 0, "written": 0, "frames": 0}

    def chunk(index: int, buf: np.ndarray, real: int) -> None:
        if not _chunk_done(d, index):  # each chunk's files are atomic, its json row last
            _write_chunk(out, src, index, buf, real, config)
            count["written"] += 1
        count["index"] = index + 1

    def chunks(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        # Cut the stream into fixed-length chunks (the last one zero-padded); writes as it goes.
        buf: np.ndarray | None = None
        fill = 0
        for block in blocks:
            count["frames"] += block.shape[1]
            if buf is None:
                buf = np.zeros((block.shape[0], n), np.float32)
            pos = 0
            while pos < block.shape[1]:
                take = min(n - fill, block.shape[1] - pos)
                buf[:, fill:fill + take] = block[:, pos:pos + take]
                fill += take
                pos += take
                if fill == n:
                    chunk(count["index"], buf, n)
                    fill = 0
        if buf is not None and fill > 0:
            buf[:, fill:] = 0.0
            chunk(count["index"], buf, fill)
        yield from ()

    try:  # the one file runner streams the source (bounded memory, Ctrl-C / SIGTERM safe)
        rep = run_file(src.path, chunks, None, block_size=block_size, sample_rate=config.sample_rate)
    except AudioError as exc:
        return {"written": count["written"], "chunks": count["index"],
                "seconds": count["frames"] / config.sample_rate, "error": str(exc)}
    total, index, written = rep.frames, count["index"], count["written"]
    marker = {"source": str(src.path), "size": src.size, "mtime_ns": src.mtime_ns, "chunks": index,
              "samples": total, "sample_rate": config.sample_rate}
    atomic_write_text(d / "done.json", json.dumps(marker) + "\n")
    return {"written": written, "chunks": index, "seconds": total / config.sample_rate, "error": None}


def _analysis_stage_warmup(config: DatasetConfig) -> None:
    """Run the per-chunk analysis once on 4 s of noise, so that imports, JIT-compiled code and
    caches are in this process before it forks its workers (each would pay them otherwise)."""
    sr = config.sample_rate
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal((1, int(4 * sr)))).astype(np.float32)
    noise[:, :: int(sr / 2)] = 0.9  # clicks: something for the beat tracker to find
    _describe(noise, noise.shape[1], sr)
    log_mel(noise[0], config)


def _stop_workers(pool: Any) -> None:
    """Cancel the queued files and send SIGTERM to the pool's workers (which raise
    :class:`~technob_fx.core.runner.Terminated` and delete their temporary files), then wait."""
    import signal

    for proc in list(getattr(pool, "_processes", {}).values()):  # no public handle on the workers
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.kill(proc.pid, signal.SIGTERM)
    pool.shutdown(wait=True, cancel_futures=True)


def _job(args: tuple) -> dict:
    return process_source(*args)


# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------


def _check_config(out: Path, config: DatasetConfig) -> None:
    from ..core.io import atomic_write_text

    path = out / CONFIG
    if path.exists():
        try:
            doc = json.loads(path.read_text())
            old = DatasetConfig(**doc["config"])
            old_format = int(doc.get("format", 1))
        except (ValueError, KeyError, TypeError):
            raise PathError(f"{path}: unreadable dataset description; remove it or use another -o") from None
        if old_format != FORMAT:
            raise PathError(
                f"{out}: was built with dataset format {old_format}, this technob-fx writes format {FORMAT} "
                "(other mel and tempo values); build into another -o"
            )
        if not old.same_audio(config):
            raise PathError(
                f"{out}: was built with chunk={old.chunk_seconds:g} s, sr={old.sample_rate:g}, "
                f"n_mels={old.n_mels}; use the same settings or another -o"
            )
    atomic_write_text(path, json.dumps({"format": FORMAT, "config": asdict(config)}, indent=2) + "\n")


def load_config(out: str | Path) -> DatasetConfig:
    """The :class:`DatasetConfig` a dataset folder was built with.

    Raises
    ------
    PathError
        ``out`` is not a dataset folder.
    """
    path = Path(out) / CONFIG
    if not path.exists():
        raise PathError(f"{out}: not a dataset folder (no {CONFIG}); run `technob dataset build` first")
    return DatasetConfig(**json.loads(path.read_text())["config"])


def write_manifest(out: str | Path, val_fraction: float) -> list[dict]:
    """Collect every chunk row under ``out/chunks``, assign splits, write ``manifest.csv``.

    Returns
    -------
    list of dict
        The rows, sorted by genre, source id and chunk index.
    """
    from ..core.io import atomic_write_text

    out = Path(out)
    rows = []
    for p in sorted((out / "chunks").glob("*/*/c*.json")):
        try:
            row = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if (out / row["wav"]).exists() and (out / row["mel"]).exists():
            rows.append(row)
    by_genre: dict[str, set[str]] = {}
    for r in rows:
        by_genre.setdefault(r["genre"], set()).add(r["source_id"])
    splits = assign_splits(by_genre, val_fraction)
    for r in rows:
        r["split"] = splits[r["source_id"]]
    rows.sort(key=lambda r: (r["genre"], r["source_id"], r["index"]))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in MANIFEST_COLUMNS})
    atomic_write_text(out / MANIFEST, buf.getvalue())
    return rows


def read_manifest(out: str | Path) -> list[dict]:
    """Rows of ``manifest.csv`` with numeric columns converted.

    Raises
    ------
    PathError
        No manifest in ``out``.
    """
    path = Path(out) / MANIFEST
    if not path.exists():
        raise PathError(f"{out}: no {MANIFEST}; run `technob dataset build` first")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("index", "real_samples", "chunk_samples"):
            r[k] = int(r[k])
        for k in ("offset", "sample_rate", "tempo", "loudness"):
            r[k] = float(r[k])
    return rows


def build_dataset(
    genres: Mapping[str, Iterable[str | Path]],
    out: str | Path,
    *,
    config: DatasetConfig | None = None,
    jobs: int = 1,
    block_size: int = 65536,
    progress: ProgressCallback | None = None,
) -> BuildReport:
    """Build (or resume) a chunked log-mel dataset from genre folders.

    Parameters
    ----------
    genres : mapping
        ``{genre: [folder or file, ...]}``; folders are searched recursively for
        wav/flac/mp3/ogg files.
    out : path
        Dataset folder (created).
    config : DatasetConfig, optional
        Chunk length, sample rate, mel settings, validation share.
    jobs : int
        Files processed in parallel (worker processes); 1 runs in this process.
    block_size : int
        Samples decoded per block.
    progress : callable, optional
        ``progress(fraction, message)``; fraction by seconds of audio done.

    Returns
    -------
    BuildReport

    Raises
    ------
    PathError
        Missing folder, or ``out`` was built with other chunk/mel settings.
    """
    from ..core.io import atomic_write_text, audio_info

    t0 = time.perf_counter()
    config = config or DatasetConfig()
    if config.chunk_seconds <= 0 or config.n_mels < 1:
        raise PathError(f"chunk length and n_mels must be positive, got {config.chunk_seconds}, {config.n_mels}")
    out = Path(out)
    sources = find_sources(genres)
    empty = [g for g in genres if not any(s.genre == g for s in sources)]
    if empty:  # refused before anything is written
        raise PathError(f"no audio files (wav, flac, mp3, ogg) for genre {', '.join(map(repr, empty))} in "
                        f"{', '.join(str(d) for g in empty for d in genres[g])}")
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, config)
    report = BuildReport(sources=len(sources))
    todo: list[tuple[Source, float]] = []
    for src in sources:
        if _marker_ok(out, src):
            report.skipped_sources += 1
            continue
        try:
            dur = audio_info(src.path).duration
        except AudioError as exc:
            report.errors[str(src.path)] = str(exc)
            continue
        todo.append((src, max(dur, 1e-3)))
    total = sum(d for _, d in todo) or 1.0
    done = 0.0
    if progress:
        progress(0.0, f"{len(todo)} files to process, {report.skipped_sources} already done")

    def collect(src: Source, dur: float, res: dict) -> None:
        nonlocal done
        done += dur
        report.chunks_written += res["written"]
        report.audio_seconds += res["seconds"]
        if res["error"]:
            report.errors[str(src.path)] = res["error"]
        if progress:
            progress(min(done / total, 1.0), f"{src.genre}/{src.path.name}")

    args = [(out, src, config, block_size) for src, _ in todo]
    if jobs <= 1 or len(todo) <= 1:
        for (src, dur), a in zip(todo, args):
            collect(src, dur, _job(a))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        if ctx.get_start_method() == "fork":  # import once here; forked workers inherit it
            import librosa  # noqa: F401
            import soxr  # noqa: F401

            _analysis_stage_warmup(config)
        from ..core.runner import install_worker_signals

        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx,
                                 initializer=install_worker_signals) as pool:
            futures = {pool.submit(_job, a): i for i, a in enumerate(args)}
            try:
                for fut in as_completed(futures):
                    src, dur = todo[futures[fut]]
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
                        res = {"written": 0, "chunks": 0, "seconds": 0.0,
                               "error": f"{type(exc).__name__}: {exc}"}
                    collect(src, dur, res)
            except BaseException:  # Ctrl-C, SIGTERM: stop the workers; each deletes its temp files
                _stop_workers(pool)
                raise
    rows = write_manifest(out, config.val_fraction)
    report.chunks_total = len(rows)
    if report.errors:
        atomic_write_text(out / "errors.json", json.dumps(report.errors, indent=2) + "\n")
    elif (out / "errors.json").exists():
        os.unlink(out / "errors.json")
    report.seconds = time.perf_counter() - t0
    if progress:
        progress(1.0, f"{report.chunks_written} chunks written, {report.chunks_total} in manifest")
    return report
