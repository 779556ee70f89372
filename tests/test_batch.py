"""Batch analysis on a real Dask cluster: a scheduler and two worker processes on loopback.

One module-scoped library of short synthesised tracks (about 14 s each) plus a corrupt file. The
cluster sequence interrupts a run, resumes it while a worker is SIGKILLed, compares the catalogue
with a local-cluster run, and checks that a third run has nothing to do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from technob_fx.catalog import AnalyzeJob, Catalog, SeparateJob, run_batch
from technob_fx.cli import main

pytestmark = pytest.mark.slow

N_TRACKS = 4
#: Columns that must agree between two runs over the same files (not times, ids or folders).
COMPARED = ("path", "size", "hash", "settings", "status", "analysis_dir", "duration", "tempo", "tempo_min",
            "tempo_max", "tempo_map", "meter", "first_downbeat", "key_name", "camelot", "lufs", "lra",
            "sections", "labeller")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """``N_TRACKS`` short tracks at 22.05 kHz (120-128 BPM) and one corrupt ``broken.wav``."""
    from technob_fx.core.io import write_audio
    from technob_fx.synth import synth_techno

    folder = tmp_path_factory.mktemp("library")
    for i in range(N_TRACKS):
        audio, truth = synth_techno((("intro", 2), ("drop", 2), ("breakdown", 1), ("drop", 2)),
                                    bpm=120.0 + 2 * i, seed=i, sample_rate=22050)
        write_audio(folder / f"track{i}.wav", audio, truth.sample_rate)
    (folder / "broken.wav").write_bytes(np.random.default_rng(0).bytes(4096))
    return folder


@pytest.fixture(scope="module")
def local_catalog(library, tmp_path_factory) -> Path:
    """The library analysed by the CLI on a LocalCluster of two worker processes, Ctrl-C'd once.

    The first run (one worker) gets SIGINT, to its whole process group as a terminal sends it, as
    soon as its first analysis folder is written; the second run (two workers) resumes.
    """
    cat = tmp_path_factory.mktemp("local") / "catalog"
    argv = ["batch", "analyze", str(library), "-o", str(cat)]
    proc = subprocess.Popen([sys.executable, "-m", "technob_fx", *argv, "--jobs", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            # SIGINT handled as in a terminal even when pytest runs as a background job
                            # (which starts with SIGINT ignored, and children inherit that)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline and not list(cat.glob("analyses/*/*/analysis.json")):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # one worker, three more tracks to go: the batch is mid-run
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out, out
    with Catalog(cat) as c:
        done = list(c.tracks())
    assert len(done) < N_TRACKS
    assert all((cat / r["analysis_dir"] / "analysis.json").is_file() for r in done)
    argv += ["--jobs", "2"]
    assert main([*argv, "--quiet"]) == 0
    return cat


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker --no-nanny`` processes on 127.0.0.1."""
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    sched_file = d / "scheduler.json"
    procs = [_spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], d / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail(f"dask scheduler did not start: {(d / 'scheduler.log').read_text()[-2000:]}")
            time.sleep(0.2)
        workers = [_spawn(["worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--name", f"w{i}"], d / f"worker{i}.log") for i in range(2)]
        procs += workers
        import json

        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            pids = client.run(os.getpid)
        yield {"address": address, "workers": workers, "pids": pids}
    finally:
        for p in reversed(procs):  # test processes: no graceful shutdown needed
            if p.poll() is None:
                p.kill()
            p.wait(timeout=15)


def _rows(cat: Path) -> dict[str, dict]:
    with Catalog(cat) as c:
        return {Path(r["path"]).name: {k: r[k] for k in COMPARED} for r in c.tracks(status=None)}


def test_local_run_fills_the_catalogue(local_catalog, library):
    rows = _rows(local_catalog)
    assert sorted(rows) == ["broken.wav"] + [f"track{i}.wav" for i in range(N_TRACKS)]
    bad = rows.pop("broken.wav")
    assert bad["status"] == "failed"
    with Catalog(local_catalog) as c:
        err = c.get(library / "broken.wav")["error"]
    assert "broken.wav" in err and "\n" not in err  # the decoder's one-line reason
    for i in range(N_TRACKS):
        r = rows[f"track{i}.wav"]
        assert r["status"] == "ok"
        assert r["tempo"] == pytest.approx(120 + 2 * i, abs=1.0)
        assert r["meter"] == "4/4" and r["duration"] == pytest.approx(14.0, abs=1.0)
        assert r["camelot"] in ("8A", "8B")  # A minor material (or its relative major)
        assert r["lufs"] < -5 and r["lra"] >= 0
        assert r["sections"] and all(s["energy_lufs"] is not None for s in r["sections"])
        # the analysis folder was written by Analysis.write
        assert (local_catalog / r["analysis_dir"] / "analysis.json").is_file()


def test_cluster_interrupt_kill_resume_matches_local(cluster, library, local_catalog, tmp_path):
    cat = tmp_path / "catalog"
    job = AnalyzeJob()

    # 1. Ctrl-C after two results: those stay, nothing half-written.
    def interrupt(state):
        if state.done + state.failed >= 2:
            raise KeyboardInterrupt

    rep = run_batch(job, [library], cat, cluster=cluster["address"], progress=interrupt)
    assert rep.interrupted and rep.done + rep.failed == 2
    first = _rows(cat)
    assert len(first) == 2
    assert all((cat / r["analysis_dir"] / "analysis.json").is_file() for r in first.values() if r["status"] == "ok")

    # 2. Resume; SIGKILL a worker while it runs a task: its tasks are re-run on the other one.
    import threading

    from distributed import Client

    killed: list[int] = []
    stop = threading.Event()
    with Client(cluster["address"]) as watcher:

        def killer():
            while not stop.is_set() and not killed:
                busy = {w: keys for w, keys in watcher.processing().items() if keys}
                if busy:  # a worker holds tasks: kill it at once, mid-task (short tracks finish fast,
                    # so waiting for both workers to be busy at one poll was racy on an idle machine)
                    victim = max(sorted(busy), key=lambda w: len(busy[w]))
                    os.kill(cluster["pids"][victim], signal.SIGKILL)
                    killed.append(len(busy[victim]))
                time.sleep(0.01)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            rep = run_batch(job, [library], cat, cluster=cluster["address"], window=4)
        finally:
            stop.set()
            thread.join()
    assert killed and killed[0] > 0, "a worker was killed while it held tasks"
    assert not rep.interrupted
    assert rep.skipped == 2 and rep.done + rep.failed == N_TRACKS + 1 - 2
    rows = _rows(cat)
    assert rows == _rows(local_catalog)  # same catalogue as the local run, no track lost
    with Catalog(cat) as c:
        assert c.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_sections = c.conn.execute("SELECT COUNT(*) FROM sections").fetchone()[0]
    assert n_sections == sum(len(r["sections"] or []) for r in rows.values())

    # 3. A third run, without --cluster: nothing to do, and no cluster is started for it.
    t0 = time.monotonic()
    rep = run_batch(job, [library], cat, jobs=2)
    assert (rep.done, rep.failed, rep.skipped, rep.workers) == (0, 0, N_TRACKS + 1, 0)
    assert time.monotonic() - t0 < 30  # a LocalCluster start alone takes longer on CI machines

    # retry_failed re-runs only the corrupt file
    rep = run_batch(job, [library], cat, cluster=cluster["address"], retry_failed=True)
    assert (rep.done, rep.failed, rep.skipped) == (0, 1, N_TRACKS)


def test_changed_file_is_analysed_again(cluster, library, tmp_path):
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(library / "track0.wav", src / "a.wav")
    cat = tmp_path / "catalog"
    assert run_batch(AnalyzeJob(), [src], cat, cluster=cluster["address"]).done == 1
    # a copy under another name: the analysis folder (content hash + settings) is read back, not redone
    with Catalog(cat) as c:
        first = c.get(src / "a.wav")
    doc = cat / first["analysis_dir"] / "analysis.json"
    stamp = doc.stat().st_mtime_ns
    shutil.copy(library / "track0.wav", src / "copy.wav")
    assert run_batch(AnalyzeJob(), [src], cat, cluster=cluster["address"]).done == 1
    with Catalog(cat) as c:
        copy = c.get(src / "copy.wav")
    assert doc.stat().st_mtime_ns == stamp
    same = ("hash", "analysis_dir", "tempo", "tempo_map", "camelot", "lufs", "lra", "sections", "labeller")
    assert {k: copy[k] for k in same} == {k: first[k] for k in same}
    (src / "copy.wav").unlink()
    shutil.copy(library / "track1.wav", src / "a.wav")  # same name, new content
    os.utime(src / "a.wav", ns=(time.time_ns(), time.time_ns() + 10**9))
    rep = run_batch(AnalyzeJob(), [src], cat, cluster=cluster["address"])
    assert (rep.done, rep.skipped) == (1, 0)
    with Catalog(cat) as c:
        row = c.get(src / "a.wav")
    assert row["tempo"] == pytest.approx(122, abs=1.0)
    # other settings are another key: analysed again
    rep = run_batch(AnalyzeJob(min_bpm=100, max_bpm=150), [src], cat, cluster=cluster["address"])
    assert rep.done == 1


def test_batch_separate_hpss_and_demucs_model_once_per_worker(cluster, library, tmp_path):
    from distributed import Client

    from technob_fx.core.io import read_audio, write_audio

    audio, sr = read_audio(library / "track0.wav")
    files = []
    for i in range(3):  # 3-second excerpts: demucs_unittest is slow on long audio
        files.append(tmp_path / f"clip{i}.wav")
        write_audio(files[-1], audio[:, int(i * 3 * sr): int((i + 1) * 3 * sr)], sr)
    cat = tmp_path / "catalog"
    rep = run_batch(SeparateJob(engine="hpss"), files, cat, cluster=cluster["address"])
    assert (rep.done, rep.failed) == (3, 0)
    rep = run_batch(SeparateJob(engine="demucs", model="demucs_unittest", options={"shifts": 0, "segment": 4.0}),
                    files, cat, cluster=cluster["address"])
    assert (rep.done, rep.failed) == (3, 0)
    with Catalog(cat) as c:
        seps = c.conn.execute("SELECT engine, status, stems FROM separations ORDER BY engine").fetchall()
    assert [s["engine"] for s in seps] == ["demucs"] * 3 + ["hpss"] * 3
    import json

    for s in seps:
        stems = json.loads(s["stems"])
        assert len(stems) >= 2 and all(Path(p).is_file() for p in stems.values())
    with Client(cluster["address"]) as client:
        loads = client.run(lambda dask_worker: dask_worker.plugins["technob-model-cache"].loads)
    assert loads and all(n <= 1 for n in loads.values())  # three tracks, at most one load per worker
    assert run_batch(SeparateJob(engine="hpss"), files, cat, cluster=cluster["address"]).skipped == 3


def test_unreachable_scheduler_is_one_line_error(library, tmp_path, capsys):
    assert main(["batch", "analyze", str(library / "track0.wav"), "-o", str(tmp_path / "c"),
                 "--cluster", "tcp://127.0.0.1:1", "--connect-timeout", "2", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("technob: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert len(err.splitlines()) == 1


def test_inputs_folders_lists_and_bad_items(library, tmp_path):
    from technob_fx.catalog import iter_inputs
    from technob_fx.core.errors import PathError

    sub = tmp_path / "lib" / "sub"
    sub.mkdir(parents=True)
    (tmp_path / "lib" / "a.wav").write_bytes(b"x")
    (sub / "b.flac").write_bytes(b"x")
    (sub / "notes.pdf").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my crate\n{library / 'track1.wav'}\nlib/sub\n\n")
    assert [p.name for p in iter_inputs([tmp_path / "lib"])] == ["a.wav"]
    assert [p.name for p in iter_inputs([tmp_path / "lib"], recursive=True)] == ["a.wav", "b.flac"]
    assert [p.name for p in iter_inputs([listing])] == ["track1.wav", "b.flac"]
    with pytest.raises(PathError, match="no such file or folder"):
        list(iter_inputs([tmp_path / "missing"]))
    with pytest.raises(PathError, match="not an audio file"):
        list(iter_inputs([sub / "notes.pdf"]))
