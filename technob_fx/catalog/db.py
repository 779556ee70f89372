"""The library catalogue: ``CATALOG/catalog.sqlite``, one row per track.

The schema is versioned with SQLite's ``PRAGMA user_version`` and migrated forward on open by
the steps in :data:`MIGRATIONS` (each one runs in one transaction, so a failed migration leaves
the file at the version it had). Only the client of a batch writes the database; workers write
analysis folders (``CATALOG/analyses/...``) and return rows.

Tables (version 2)::

    tracks(id, path UNIQUE, size, mtime_ns, hash, settings, status 'ok'|'failed', error,
           analysis_dir, duration, sample_rate, channels, tempo, tempo_min, tempo_max,
           tempo_map JSON [[s, bpm], ...], meter '4/4', first_downbeat, key_name 'A minor',
           camelot '8A', key_confidence, lufs, lra, sections JSON, labeller, analyzed_at,
           version)
    sections(track_id, idx, start, end, label, energy_lufs)     -- v2: one row per section
    separations(id, path, hash, engine, model, out_dir, stems JSON, status, error, done_at)
                                                               -- v2: batch separate results

Times are seconds, tempi BPM, loudness LUFS / LU. ``analysis_dir`` is relative to the catalogue
folder; ``path`` is absolute.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import PathError, TechnobError

#: File name of the database inside a catalogue folder.
DB_NAME = "catalog.sqlite"

_V1 = """
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER,
    mtime_ns INTEGER,
    hash TEXT,
    settings TEXT,
    status TEXT NOT NULL,
    error TEXT,
    analysis_dir TEXT,
    duration REAL,
    sample_rate REAL,
    channels INTEGER,
    tempo REAL,
    tempo_min REAL,
    tempo_max REAL,
    tempo_map TEXT,
    meter TEXT,
    first_downbeat REAL,
    key_name TEXT,
    camelot TEXT,
    key_confidence REAL,
    lufs REAL,
    lra REAL,
    sections TEXT,
    labeller TEXT,
    analyzed_at TEXT,
    version TEXT
);
CREATE INDEX tracks_tempo ON tracks(tempo);
CREATE INDEX tracks_camelot ON tracks(camelot);
CREATE INDEX tracks_hash ON tracks(hash, settings);
"""

_V2 = """
CREATE TABLE sections (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    label TEXT NOT NULL,
    energy_lufs REAL,
    PRIMARY KEY (track_id, idx)
);
CREATE INDEX sections_label ON sections(label);
INSERT INTO sections (track_id, idx, start, "end", label, energy_lufs)
    SELECT t.id, CAST(j.key AS INTEGER), json_extract(j.value, '$.start'),
           json_extract(j.value, '$.end'), json_extract(j.value, '$.label'),
           json_extract(j.value, '$.energy_lufs')
    FROM tracks AS t, json_each(t.sections) AS j
    WHERE t.sections IS NOT NULL;
CREATE TABLE separations (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    hash TEXT,
    engine TEXT NOT NULL,
    model TEXT,
    out_dir TEXT,
    stems TEXT,
    status TEXT NOT NULL,
    error TEXT,
    done_at TEXT,
    UNIQUE (path, engine, model)
);
"""

#: Migration ``i`` takes the database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (_V1, _V2)
#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)

#: Columns of ``tracks`` a row dict may carry (besides ``id``).
TRACK_COLUMNS = (
    "path", "size", "mtime_ns", "hash", "settings", "status", "error", "analysis_dir", "duration",
    "sample_rate", "channels", "tempo", "tempo_min", "tempo_max", "tempo_map", "meter",
    "first_downbeat", "key_name", "camelot", "key_confidence", "lufs", "lra", "sections",
    "labeller", "analyzed_at", "version",
)  # fmt: skip
_JSON_COLUMNS = ("tempo_map", "sections")


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring ``conn``'s schema to version ``target``; returns the version it had.

    Raises
    ------
    TechnobError
        The database is newer than this code (written by a later technob-fx).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise TechnobError(
            f"catalogue schema version {version} is newer than this technob-fx understands "
            f"({SCHEMA_VERSION}); upgrade technob-fx"
        )
    for v in range(version, target):
        # executescript commits first; wrap each step in its own transaction.
        conn.executescript(f"BEGIN;\n{MIGRATIONS[v]}\nPRAGMA user_version = {v + 1};\nCOMMIT;")
    return version


class Catalog:
    """The catalogue database of a library folder.

    Parameters
    ----------
    folder : str or Path
        The catalogue folder (``-o CATALOG``); ``catalog.sqlite`` lives in it.
    create : bool
        Create the folder and the database when missing (otherwise a missing catalogue is an
        error naming the folder).

    Examples
    --------
    >>> with Catalog("library.catalog") as cat:              # doctest: +SKIP
    ...     rows = cat.query(bpm=(124, 128), camelot=["8A", "7A", "9A", "8B"])
    """

    def __init__(self, folder: str | Path, *, create: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        if not self.path.is_file():
            if not create:
                raise PathError(f"{self.folder}: no catalogue here (no {DB_NAME}); run 'technob batch analyze' first")
            if self.folder.exists() and not self.folder.is_dir():
                raise PathError(f"{self.folder}: not a folder")
            self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.migrated_from = migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            raise TechnobError(f"{self.path}: not a usable catalogue database ({exc})") from None

    # -- context manager ------------------------------------------------------------------------

    def close(self) -> None:
        """Commit and close the connection."""
        self.conn.commit()
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------

    def put_track(self, row: dict[str, Any], *, commit: bool = True) -> int:
        """Insert or replace the row of ``row["path"]`` and its sections; returns its id.

        All or nothing (a savepoint). With ``commit=False`` the change waits for the next
        :meth:`commit` (a batch commits a few times a second instead of once per track).
        """
        values = {k: row.get(k) for k in TRACK_COLUMNS}
        for k in _JSON_COLUMNS:
            if values[k] is not None and not isinstance(values[k], str):
                values[k] = json.dumps(values[k], allow_nan=False)
        sections = row.get("sections") or []
        if isinstance(sections, str):
            sections = json.loads(sections)
        cols = ", ".join(TRACK_COLUMNS)
        marks = ", ".join(f":{k}" for k in TRACK_COLUMNS)
        updates = ", ".join(f"{k} = excluded.{k}" for k in TRACK_COLUMNS if k != "path")
        c = self.conn
        if not c.in_transaction:
            c.execute("BEGIN")  # else RELEASE of an outermost savepoint commits (one fsync per track)
        c.execute("SAVEPOINT put_track")
        try:
            c.execute(f"INSERT INTO tracks ({cols}) VALUES ({marks}) ON CONFLICT(path) DO UPDATE SET {updates}", values)
            track_id = c.execute("SELECT id FROM tracks WHERE path = ?", (values["path"],)).fetchone()[0]
            c.execute("DELETE FROM sections WHERE track_id = ?", (track_id,))
            c.executemany(
                'INSERT INTO sections (track_id, idx, start, "end", label, energy_lufs) VALUES (?, ?, ?, ?, ?, ?)',
                [(track_id, i, s["start"], s["end"], s["label"], s.get("energy_lufs")) for i, s in enumerate(sections)],
            )
        except BaseException:
            c.execute("ROLLBACK TO put_track")
            c.execute("RELEASE put_track")
            raise
        c.execute("RELEASE put_track")
        if commit:
            c.commit()
        return int(track_id)

    def commit(self) -> None:
        """Commit what :meth:`put_track` / :meth:`put_separation` wrote with ``commit=False``."""
        self.conn.commit()

    def state(self, path: str | Path) -> tuple[int | None, int | None, str | None, str] | None:
        """``(size, mtime_ns, settings, status)`` of ``path``'s row, or ``None`` (a cheap lookup)."""
        r = self.conn.execute("SELECT size, mtime_ns, settings, status FROM tracks WHERE path = ?",
                              (str(path),)).fetchone()
        return tuple(r) if r is not None else None

    def put_separation(self, row: dict[str, Any], *, commit: bool = True) -> None:
        """Insert or replace a separation result (keyed by path, engine and model)."""
        keys = ("path", "hash", "engine", "model", "out_dir", "stems", "status", "error", "done_at")
        values = {k: row.get(k) for k in keys}
        if values["stems"] is not None and not isinstance(values["stems"], str):
            values["stems"] = json.dumps(values["stems"])
        values["model"] = values["model"] or ""
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
        self.conn.execute(
                f"INSERT INTO separations ({', '.join(keys)}) VALUES ({', '.join(':' + k for k in keys)}) "
                "ON CONFLICT(path, engine, model) DO UPDATE SET "
            + ", ".join(f"{k} = excluded.{k}" for k in keys if k not in ("path", "engine", "model")),
            values,
        )
        if commit:
            self.conn.commit()

    # -- reading --------------------------------------------------------------------------------

    def get(self, path: str | Path) -> dict[str, Any] | None:
        """The row of an absolute ``path`` (JSON columns decoded), or ``None``."""
        r = self.conn.execute("SELECT * FROM tracks WHERE path = ?", (str(path),)).fetchone()
        return _decode(r) if r is not None else None

    def separation(self, path: str | Path, engine: str, model: str | None) -> dict[str, Any] | None:
        """The separation row of ``path`` with ``engine``/``model``, or ``None``."""
        r = self.conn.execute(
            "SELECT * FROM separations WHERE path = ? AND engine = ? AND model = ?", (str(path), engine, model or "")
        ).fetchone()
        return dict(r) if r is not None else None

    def tracks(self, *, status: str | None = "ok") -> Iterator[dict[str, Any]]:
        """Every row (``status=None``: failed ones too), ordered by path."""
        sql = "SELECT * FROM tracks" + (" WHERE status = ?" if status else "") + " ORDER BY path"
        for r in self.conn.execute(sql, (status,) if status else ()):
            yield _decode(r)

    def query(
        self,
        *,
        bpm: tuple[float, float] | None = None,
        half_double: bool = False,
        camelot: Sequence[str] | None = None,
        label: str | None = None,
    ) -> list[dict[str, Any]]:
        """Analysed tracks matching every given filter, ordered by tempo then path.

        Parameters
        ----------
        bpm : (low, high), optional
            Tempo range, BPM, inclusive.
        half_double : bool
            Also match tracks at half or double the range (a 64 BPM or 252 BPM reading of a
            126 BPM track).
        camelot : sequence of str, optional
            Camelot codes to accept (see :func:`technob_fx.catalog.keys.compatible`).
        label : str, optional
            Only tracks with a section of this label (e.g. ``"drop"``).
        """
        where, args = ["t.status = 'ok'"], []
        if bpm is not None:
            lo, hi = bpm
            ranges = [(lo, hi)] + ([(lo / 2, hi / 2), (lo * 2, hi * 2)] if half_double else [])
            where.append("(" + " OR ".join("t.tempo BETWEEN ? AND ?" for _ in ranges) + ")")
            for a, b in ranges:
                args += [a, b]
        if camelot:
            where.append(f"t.camelot IN ({', '.join('?' for _ in camelot)})")
            args += list(camelot)
        if label:
            where.append("EXISTS (SELECT 1 FROM sections s WHERE s.track_id = t.id AND s.label = ?)")
            args.append(label)
        sql = f"SELECT t.* FROM tracks t WHERE {' AND '.join(where)} ORDER BY t.tempo, t.path"
        return [_decode(r) for r in self.conn.execute(sql, args)]

    def stats(self) -> dict[str, Any]:
        """Counts and distributions: tracks, failed, total duration, tempo range, keys, labels."""
        c = self.conn
        ok = c.execute("SELECT COUNT(*), COALESCE(SUM(duration), 0), MIN(tempo), MAX(tempo), "
                       "AVG(lufs) FROM tracks WHERE status = 'ok'").fetchone()
        failed = c.execute("SELECT COUNT(*) FROM tracks WHERE status = 'failed'").fetchone()[0]
        keys = {r[0]: r[1] for r in c.execute(
            "SELECT camelot, COUNT(*) FROM tracks WHERE status = 'ok' AND camelot IS NOT NULL "
            "GROUP BY camelot ORDER BY COUNT(*) DESC, camelot")}
        tempo_bins = {int(r[0]): r[1] for r in c.execute(
            "SELECT CAST(tempo / 5 AS INTEGER) * 5, COUNT(*) FROM tracks WHERE status = 'ok' "
            "AND tempo > 0 GROUP BY 1 ORDER BY 1")}
        labels = {r[0]: r[1] for r in c.execute(
            "SELECT s.label, COUNT(DISTINCT s.track_id) FROM sections s JOIN tracks t ON t.id = s.track_id "
            "WHERE t.status = 'ok' GROUP BY s.label ORDER BY 2 DESC, 1")}
        seps = c.execute("SELECT COUNT(*) FROM separations WHERE status = 'ok'").fetchone()[0]
        return {
            "tracks": ok[0], "failed": failed, "duration_s": float(ok[1]),
            "tempo_min": ok[2], "tempo_max": ok[3], "mean_lufs": ok[4],
            "tempo_histogram": tempo_bins, "keys": keys, "labels": labels, "separations": seps,
            "schema_version": c.execute("PRAGMA user_version").fetchone()[0],
        }

    def failures(self) -> list[dict[str, Any]]:
        """Rows of files that failed: ``path`` and the one-line ``error``."""
        return [dict(r) for r in self.conn.execute(
            "SELECT path, error FROM tracks WHERE status = 'failed' ORDER BY path")]


def _decode(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    for k in _JSON_COLUMNS:
        if isinstance(d.get(k), str):
            d[k] = json.loads(d[k])
    return d
