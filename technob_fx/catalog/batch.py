"""Batch analysis and separation of a music library on Dask distributed.

One code path for one machine and a cluster: without ``cluster`` the work runs on an in-process
:class:`distributed.LocalCluster` with ``jobs`` worker processes (one thread each); with
``cluster="tcp://HOST:8786"`` it is submitted to that scheduler. Either way:

* **Shared storage.** Workers read the inputs and write the analysis folders
  (``CATALOG/analyses/<ab>/<hash>-<settings>/``, written by :meth:`Analysis.write`) and stems
  themselves, so the inputs and the catalogue folder must be at the same paths on every worker
  (an NFS/SMB mount, or one machine). Only the client writes ``catalog.sqlite``. Before
  submitting, every worker is asked whether it sees the catalogue folder.
* **Resumable and incremental.** A track is keyed by its content hash and the analysis settings
  (:func:`~technob_fx.catalog.rows.settings_key`): its analysis folder is named after both, so a
  copy or a renamed file reads the existing analysis back instead of analysing it again; a file whose path, size, modification time
  and settings match an ``ok`` row is skipped without being read, so a second run does only new
  or changed files. A file that fails is recorded with its one-line error and the batch goes on
  (``retry_failed`` tries those again). Results are committed every two seconds and when the
  batch ends, also on Ctrl-C or SIGTERM, so an interruption loses nothing already finished
  (a killed client loses at most the last two seconds of rows, whose analysis folders are
  redone on the next run); analysis files are written atomically, and leftovers of a killed
  task are removed when the task runs again.
* **Bounded submission.** At most ``window`` tasks are in flight (default: four per worker
  thread, at least 16); the next file is read from the inputs only when a result comes back, so the
  client's memory does not grow with the library.
* **Lost workers.** The scheduler re-runs the tasks of a worker that dies (up to
  ``distributed.scheduler.allowed-failures`` times; after that the file is recorded as failed).
* **GPU workers.** Demucs tasks with ``device="cuda"`` ask for one ``GPU`` worker resource
  (start such workers with ``dask worker ... --resources GPU=1``); the model is loaded once per
  worker by the :class:`~technob_fx.catalog.workers.ModelCache` worker plugin, not per task.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ParameterError, PathError, TechnobError
from ..core.io import READABLE_FORMATS
from .db import Catalog
from .rows import analysis_dir_name, content_hash, failure_row, row_from_analysis, settings_key

log = logging.getLogger(__name__)

#: Suffixes read as lists of paths (one per line; ``#`` lines are comments, as in .m3u).
LIST_SUFFIXES = (".txt", ".m3u", ".m3u8", ".lst")
#: Longest error text kept for a failed file.
_ERROR_CHARS = 500
#: Seconds between catalogue commits during a batch (and at its end, interrupted or not): each
#: commit waits for the disk (fsync), so not one per track.
_COMMIT_EVERY = 2.0
#: Submissions of one file before a cluster-side error (not a bad file) is recorded as its failure.
_ATTEMPTS = 3


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _audio(p: Path) -> bool:
    return p.suffix.lower() in READABLE_FORMATS and not p.name.startswith(".")


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    if not recursive:
        yield from (p for p in sorted(folder.iterdir()) if p.is_file() and _audio(p))
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root) / name
            if _audio(p):
                yield p


def iter_inputs(items: Iterable[str | Path], *, recursive: bool = False) -> Iterator[Path]:
    """Audio files named by ``items``: files, folders (audio files in them) and lists of paths.

    Parameters
    ----------
    items : iterable of str or Path
        Audio files; folders (their audio files, sorted; with ``recursive`` also in sub-folders);
        text files ending in .txt/.m3u/.m3u8/.lst holding one file or folder per line (relative
        lines are relative to the list's folder; ``#`` lines are skipped).
    recursive : bool
        Descend into sub-folders.

    Yields
    ------
    Path
        Absolute paths, lazily (nothing is collected).

    Raises
    ------
    PathError
        An item does not exist or is neither audio, a folder nor a list of paths.
    """
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            yield from (q.resolve() for q in _walk(p, recursive))
        elif p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            with open(p, encoding="utf-8", errors="replace") as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    q = Path(line).expanduser()
                    q = q if q.is_absolute() else p.parent / q
                    if q.is_dir():
                        yield from (r.resolve() for r in _walk(q, recursive))
                    else:
                        yield q.resolve()  # a missing listed file is recorded as failed
        elif p.is_file():
            if not _audio(p):
                raise PathError(f"{p}: not an audio file ({', '.join(READABLE_FORMATS)}) "
                                f"or a list of paths ({', '.join(LIST_SUFFIXES)})")
            yield p.resolve()
        else:
            raise PathError(f"{p}: no such file or folder")


# --------------------------------------------------------------------------------------------
# Tasks (run on the workers)
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    if not isinstance(exc, TechnobError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return msg[:_ERROR_CHARS]


def _clean_partials(folder: Path) -> None:
    """Remove temporary files an interrupted atomic write left in ``folder``."""
    if folder.is_dir():
        for p in folder.glob(".*.part*"):
            with contextlib.suppress(OSError):
                p.unlink()


def analyze_task(path: str, size: int, mtime_ns: int, catalog_dir: str, settings: dict[str, Any],
                 skey: str) -> dict[str, Any]:
    """Analyse one file into its analysis folder; returns its catalogue row (``ok`` or ``failed``).

    Never raises for a bad file: the error becomes the row's one-line ``error``.
    """
    from ..stages.analysis import analyze_file, read_analysis

    h = None
    try:
        h = content_hash(path)
        rel = analysis_dir_name(h, skey)
        out = Path(catalog_dir) / rel
        _clean_partials(out)
        analysis = None
        if (out / "analysis.json").is_file():  # same bytes and settings seen before (a copy, a rename)
            try:
                analysis = read_analysis(out)
            except TechnobError:
                analysis = None  # unreadable leftovers: analyse again
        if analysis is None or analysis.key is None or analysis.features is None:
            analyze_file(path, out, min_bpm=settings.get("min_bpm"), max_bpm=settings.get("max_bpm"))
            # the row comes from the folder as written, so a later read-back gives the same row
            analysis = read_analysis(out)
        return row_from_analysis(analysis, path=path, size=size, mtime_ns=mtime_ns, hash_=h, skey=skey,
                                 analysis_dir=rel)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        if not isinstance(exc, (TechnobError, OSError)):
            log.exception("analysing %s failed", path)
        return failure_row(path, size=size, mtime_ns=mtime_ns, hash_=h, skey=skey, error=_one_line(exc))


def hash_task(path: str, size: int, mtime_ns: int, catalog_dir: str, settings: dict[str, Any],
              skey: str) -> dict[str, Any]:
    """Dry run: only hash the file (measures the per-task overhead of the batch machinery)."""
    try:
        h = content_hash(path)
    except OSError as exc:
        return failure_row(path, size=size, mtime_ns=mtime_ns, hash_=None, skey=skey, error=_one_line(exc))
    return {"path": path, "size": size, "mtime_ns": mtime_ns, "hash": h, "settings": skey,
            "status": "dry-run", "analyzed_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def worker_model(name: str, repo: str | None, device: str) -> Any:
    """A demucs model from the current worker's :class:`~technob_fx.catalog.workers.ModelCache`."""
    from .workers import worker_model as get

    return get(name, repo, device)


def separate_task(path: str, size: int, mtime_ns: int, catalog_dir: str, settings: dict[str, Any],
                  skey: str) -> dict[str, Any]:
    """Separate one file into ``<stems_dir>/<name>-<hash>/``; returns its ``separations`` row."""
    from ..stages.separation import separate

    engine = settings["engine"]
    model = settings.get("model") if engine == "demucs" else ""
    row: dict[str, Any] = {"path": path, "engine": engine, "model": model or "", "hash": None,
                           "done_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        h = content_hash(path)
        row["hash"] = h
        root = Path(settings.get("stems_dir") or Path(catalog_dir) / "stems")
        out = root / f"{Path(path).stem}-{h[:12]}-{engine}"
        _clean_partials(out)
        opts = dict(settings.get("options") or {})
        if engine == "demucs":
            device = settings.get("device", "cpu")
            opts["model"] = worker_model(settings["model"], settings.get("repo"), device)
            opts["device"] = device
        written = separate(path, out, engine=engine, fmt=settings.get("fmt", "wav"), **opts)
        row.update(status="ok", error=None, out_dir=str(out), stems={k: str(v) for k, v in written.items()})
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        if not isinstance(exc, (TechnobError, OSError)):
            log.exception("separating %s failed", path)
        row.update(status="failed", error=_one_line(exc))
    return row


# --------------------------------------------------------------------------------------------
# Jobs: what to run per file and how to record it
# --------------------------------------------------------------------------------------------


@dataclass
class AnalyzeJob:
    """``technob batch analyze``: the full analysis of every file into the catalogue."""

    min_bpm: float | None = None
    max_bpm: float | None = None
    dry_run: bool = False

    kind = "analyze"

    @property
    def settings(self) -> dict[str, Any]:
        return {"min_bpm": self.min_bpm, "max_bpm": self.max_bpm}

    @property
    def key(self) -> str:
        return settings_key(self.settings)

    @property
    def task(self) -> Callable[..., dict[str, Any]]:
        return hash_task if self.dry_run else analyze_task

    @property
    def resources(self) -> dict[str, float] | None:
        return None

    def is_current(self, catalog: Catalog, path: Path, st: os.stat_result, skey: str, retry_failed: bool) -> bool:
        row = catalog.state(path)
        if row is None or row != (st.st_size, st.st_mtime_ns, skey, row[3]):
            return False
        return row[3] == "ok" or (row[3] == "failed" and not retry_failed)

    def record(self, catalog: Catalog, row: dict[str, Any]) -> bool:
        catalog.put_track(row, commit=False)
        return row["status"] != "failed"


@dataclass
class SeparateJob:
    """``technob batch separate``: demucs stems or hpss parts of every file."""

    engine: str = "hpss"
    model: str = "htdemucs"
    repo: str | None = None
    device: str = "cpu"
    stems_dir: str | None = None
    fmt: str = "wav"
    options: dict[str, Any] = field(default_factory=dict)

    kind = "separate"

    def __post_init__(self) -> None:
        if self.engine not in ("demucs", "hpss"):
            raise ParameterError(f"separation engine must be demucs or hpss; got {self.engine!r}")
        if self.engine == "demucs" and self.device not in ("cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise ParameterError(f"--device must be cpu, cuda or mps; got {self.device!r}")

    @property
    def settings(self) -> dict[str, Any]:
        return {"engine": self.engine, "model": self.model, "repo": self.repo, "device": self.device,
                "stems_dir": self.stems_dir, "fmt": self.fmt, "options": self.options}

    @property
    def key(self) -> str:
        return settings_key({k: v for k, v in self.settings.items() if k != "device"})

    @property
    def task(self) -> Callable[..., dict[str, Any]]:
        return separate_task

    @property
    def resources(self) -> dict[str, float] | None:
        return {"GPU": 1} if self.engine == "demucs" and self.device.startswith("cuda") else None

    def is_current(self, catalog: Catalog, path: Path, st: os.stat_result, skey: str, retry_failed: bool) -> bool:
        row = catalog.separation(path, self.engine, self.model if self.engine == "demucs" else "")
        if row is None:
            return False
        if row["status"] == "failed":
            return not retry_failed
        return all(Path(p).is_file() for p in json.loads(row["stems"] or "{}").values())

    def record(self, catalog: Catalog, row: dict[str, Any]) -> bool:
        catalog.put_separation(row, commit=False)
        return row["status"] == "ok"


# --------------------------------------------------------------------------------------------
# The client loop
# --------------------------------------------------------------------------------------------


@dataclass
class BatchProgress:
    """Counts passed to the progress callback after every result."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)
    last_error: str | None = None

    @property
    def processed(self) -> int:
        return self.skipped + self.done + self.failed

    @property
    def remaining(self) -> int:
        return max(self.total - self.processed, 0)

    @property
    def per_minute(self) -> float:
        """Tracks done (or failed) per minute of wall time since the start, skips excluded."""
        el = time.monotonic() - self.started
        return 60.0 * (self.done + self.failed) / el if el > 0 else 0.0

    def message(self) -> str:
        return (f"{self.done} done, {self.failed} failed, {self.skipped} up to date, {self.remaining} left, "
                f"{self.per_minute:.1f} tracks/min")


@dataclass
class BatchReport:
    """What a batch did."""

    total: int
    skipped: int
    done: int
    failed: int
    elapsed_s: float
    interrupted: bool
    workers: int
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return 60.0 * (self.done + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0


@contextlib.contextmanager
def connect(cluster: str | None = None, jobs: int | None = None,
            resources: dict[str, float] | None = None, timeout: float = 15.0) -> Iterator[Any]:
    """A :class:`distributed.Client`: to the scheduler at ``cluster``, or to a new LocalCluster.

    Parameters
    ----------
    cluster : str, optional
        Scheduler address (``tcp://HOST:8786``). Without it, an in-process LocalCluster with
        ``jobs`` worker processes, one thread each (default: the CPU count).
    resources : dict, optional
        Resources each local worker offers (``{"GPU": 1}`` for demucs on CUDA).
    timeout : float
        Seconds to wait for the scheduler at ``cluster``.

    Raises
    ------
    TechnobError
        The scheduler cannot be reached.
    """
    import dask
    from distributed import Client, LocalCluster

    # Keep the per-task logs of the client (and of the scheduler, which a LocalCluster runs in
    # this process) short, so the client's memory stays flat however many tracks go through
    # (the defaults keep 1,000 to 100,000 entries per log).
    quiet_logs = {"distributed.admin.log-length": 1000, "distributed.admin.low-level-log-length": 100,
                  "distributed.scheduler.dashboard.tasks.task-stream-length": 1000}
    with dask.config.set(quiet_logs):
        if cluster:
            try:
                client = Client(cluster, timeout=f"{timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise TechnobError(f"cannot reach the Dask scheduler at {cluster} ({_one_line(exc)})") from None
            try:
                yield client
            finally:
                client.close()
            return
        n = int(jobs or os.cpu_count() or 1)
        if n < 1:
            raise ParameterError(f"--jobs must be at least 1; got {n}")
        # Ctrl-C is the client's to handle (it cancels, commits and closes the cluster): the worker
        # processes start with SIGINT ignored, so a terminal's Ctrl-C to the process group does not
        # kill them mid-write with tracebacks. Python keeps an inherited SIG_IGN for SIGINT.
        # Their logs are silenced below CRITICAL: the client reports every failure itself (a
        # heartbeat that fails while the cluster closes is not news).
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                              silence_logs=logging.CRITICAL, resources=resources)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        with lc, Client(lc) as client:
            yield client


def _workers_see(folder: str) -> bool:
    return os.path.isdir(folder) and os.access(folder, os.W_OK)


def _check_shared(client: Any, folder: Path) -> int:
    """Ask every worker whether it can write ``folder``; returns the worker count."""
    seen = client.run(_workers_see, str(folder))
    blind = [w for w, ok in seen.items() if not ok]
    if blind:
        raise PathError(f"worker(s) {', '.join(blind)} cannot write the catalogue folder {folder}: inputs and "
                        "the catalogue must be on storage every worker shares, at the same path")
    if not seen:
        raise TechnobError("the Dask cluster has no workers")
    return len(seen)


class _LazyClient:
    """Connects (or starts the local cluster) on first use: a run with nothing to do starts nothing."""

    def __init__(self, client: Any, cluster: str | None, jobs: int | None, job: Any, folder: Path,
                 timeout: float) -> None:
        self._given, self._cluster, self._jobs, self._job, self._folder = client, cluster, jobs, job, folder
        self._timeout = timeout
        self._stack = contextlib.ExitStack()
        self.client: Any = None
        self.n_workers = 0
        self.threads = 0

    def get(self) -> Any:
        if self.client is None:
            job = self._job
            client = self._given
            if client is None:
                client = self._stack.enter_context(
                    connect(self._cluster, self._jobs, job.resources if not self._cluster else None, self._timeout))
            self.n_workers = _check_shared(client, self._folder)
            if isinstance(job, SeparateJob) and job.engine == "demucs":
                from .workers import ModelCache

                client.register_plugin(ModelCache(), name=ModelCache.name)
            self.threads = sum(client.nthreads().values()) or 1
            self.client = client
        return self.client

    def close(self) -> None:
        self._stack.close()


def run_batch(
    job: AnalyzeJob | SeparateJob,
    inputs: Iterable[str | Path],
    catalog_dir: str | Path,
    *,
    jobs: int | None = None,
    cluster: str | None = None,
    recursive: bool = False,
    retry_failed: bool = False,
    window: int | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    client: Any = None,
    connect_timeout: float = 15.0,
) -> BatchReport:
    """Run ``job`` on every input file not already in the catalogue, on Dask.

    Parameters
    ----------
    job : AnalyzeJob or SeparateJob
    inputs : iterable of str or Path
        Files, folders and lists of paths (see :func:`iter_inputs`); read twice (a count, then
        the submission), never collected.
    catalog_dir : str or Path
        The catalogue folder (created); on storage the workers share.
    jobs : int, optional
        Worker processes of the local cluster (ignored with ``cluster``).
    cluster : str, optional
        Address of a running Dask scheduler.
    recursive : bool
        Descend into sub-folders.
    retry_failed : bool
        Try files recorded as failed again (otherwise an unchanged failed file is skipped).
    window : int, optional
        Most tasks in flight at once (default: 4 x worker threads, at least 16).
    progress : callable, optional
        ``progress(BatchProgress)`` after every result or skip.
    client : distributed.Client, optional
        Use this client instead of connecting (tests, notebooks).
    connect_timeout : float
        Seconds to wait for the scheduler at ``cluster``.

    Returns
    -------
    BatchReport
        ``interrupted`` is True after Ctrl-C (KeyboardInterrupt) or SIGTERM; every result that
        arrived before is in the catalogue.

    Raises
    ------
    PathError
        A missing input, or workers that cannot see the catalogue folder.
    TechnobError
        The scheduler cannot be reached.
    """
    if window is not None and window < 1:
        raise ParameterError(f"window must be at least 1 task; got {window}")
    if jobs is not None and jobs < 1:
        raise ParameterError(f"--jobs must be at least 1; got {jobs}")
    folder = Path(catalog_dir).expanduser().resolve()
    total = sum(1 for _ in iter_inputs(inputs, recursive=recursive))  # validates every input first
    catalog = Catalog(folder, create=True)
    skey = job.key
    state = BatchProgress(total=total)
    failures: list[tuple[str, str]] = []
    interrupted = False
    t0 = time.monotonic()

    def notify() -> None:
        if progress is not None:
            progress(state)

    conn = _LazyClient(client, cluster, jobs, job, folder, connect_timeout)
    try:
        interrupted = _loop(conn, job, iter_inputs(inputs, recursive=recursive), catalog, folder, skey,
                            retry_failed, window, state, failures, notify)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        conn.close()
        catalog.close()
    return BatchReport(total=total, skipped=state.skipped, done=state.done, failed=state.failed,
                       elapsed_s=time.monotonic() - t0, interrupted=interrupted,
                       workers=conn.n_workers, failures=failures)


def _loop(conn: _LazyClient, job: Any, paths: Iterator[Path], catalog: Catalog, folder: Path, skey: str,
          retry_failed: bool, window: int | None, state: BatchProgress, failures: list[tuple[str, str]],
          notify: Callable[[], None]) -> bool:
    """Submit a window of tasks, record results as they come; returns True when interrupted."""
    from distributed import as_completed

    holder: list[Any] = []  # the as_completed iterator, made with the first task (it needs a client)
    in_flight: dict[str, tuple[Any, Path, os.stat_result, int]] = {}  # key -> (future, path, stat, attempt)
    settings = job.settings

    def failed(p: Path, error: str) -> dict[str, Any]:
        if job.kind == "separate":
            return {"path": str(p), "engine": job.engine, "model": job.model if job.engine == "demucs" else "",
                    "status": "failed", "error": error}
        return failure_row(p, size=None, mtime_ns=None, hash_=None, skey=skey, error=error)

    last_commit = [time.monotonic()]

    def record(p: Path, row: dict[str, Any]) -> None:
        if job.record(catalog, row):
            state.done += 1
        else:
            state.failed += 1
            failures.append((str(p), row.get("error") or ""))
            state.last_error = f"{p.name}: {row.get('error')}"
        if time.monotonic() - last_commit[0] >= _COMMIT_EVERY:
            catalog.commit()
            last_commit[0] = time.monotonic()
        state.in_flight = len(in_flight)
        notify()

    def submit(p: Path, st: os.stat_result, attempt: int) -> None:
        fut = conn.get().submit(job.task, str(p), st.st_size, st.st_mtime_ns, str(folder), settings, skey,
                                key=f"technob-{job.kind}-{uuid.uuid4().hex}", pure=False, resources=job.resources)
        in_flight[fut.key] = (fut, p, st, attempt)
        if holder:
            holder[0].add(fut)
        else:
            # with_results: the client's event loop fetches results as they finish, in parallel,
            # instead of one blocking round trip per Future.result()
            holder.append(as_completed([fut], with_results=True, raise_errors=False))

    def submit_more() -> None:
        while conn.client is None or len(in_flight) < int(window or max(16, 4 * conn.threads)):
            p = next(paths, None)
            if p is None:
                break
            try:
                st = p.stat()
            except OSError as exc:
                record(p, failed(p, _one_line(exc)))
                continue
            if job.is_current(catalog, p, st, skey, retry_failed):
                state.skipped += 1
                notify()
                continue
            submit(p, st, 1)
        state.in_flight = len(in_flight)

    try:
        submit_more()
        if not holder:
            return False  # nothing to do
        for batch in holder[0].batches():
            for fut, res in batch:
                _, p, st, attempt = in_flight.pop(fut.key)
                exc = res[1] if fut.status == "error" else res if isinstance(res, BaseException) else None
                fut.release()
                if exc is None:
                    record(p, res)
                    continue
                if type(exc).__name__ != "KilledWorker" and attempt < _ATTEMPTS:
                    # a result lost with its worker, a cancelled or failed transfer: not the file's fault
                    log.warning("%s: %s; submitting it again", p, _one_line(exc))
                    submit(p, st, attempt + 1)
                    continue
                what = ("the workers running it died" if type(exc).__name__ == "KilledWorker"
                        else f"the task failed on the cluster {attempt} times")
                record(p, failed(p, f"{what} ({_one_line(exc)})"))
            submit_more()
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            conn.get().cancel([v[0] for v in in_flight.values()], force=True)
        in_flight.clear()
        return True
    return False
