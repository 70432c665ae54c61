"""The screening project: one SQLite file (standard library, WAL mode) holding records, decisions and rankings.

Durability and concurrency are SQLite's: every write is one ``BEGIN
IMMEDIATE`` transaction committed with ``synchronous=FULL`` before the
function returns, so a decision the tool has acknowledged survives Ctrl-C,
a killed process or a power cut. WAL mode lets readers work while one writer
commits, and a ``busy_timeout`` makes a second reviewer's write wait its turn
instead of failing, so two reviewers can screen in the same project file.

Decisions are an append-only log: a new decision on a record supersedes the
older one (both are kept, with reviewer and time), and *undo* marks a
decision as undone rather than deleting it. A record's current decision is
its latest decision that is not undone. Every change of decisions bumps
``decision_version``; a ranking remembers the version it was computed from,
so a stale ranking is recognised and an older refit never overwrites a newer
one.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp.annotations import normalise_text
from samverdi_nlp.errors import ScreeningError

DB_NAME = "screening.sqlite"
PROJECT_FORMAT = "samverdi-screening"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000
_TITLE_KEY = re.compile(r"[^\w]+")

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    segment_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT '',
    source_id TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    authors TEXT NOT NULL DEFAULT '',
    year TEXT NOT NULL DEFAULT '',
    doi TEXT NOT NULL DEFAULT '',
    journal TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    source_kind TEXT NOT NULL DEFAULT '',
    flags TEXT NOT NULL DEFAULT '',
    title_key TEXT NOT NULL DEFAULT '',
    prior REAL,
    imported_at TEXT NOT NULL
);
CREATE INDEX records_doi ON records(doi);
CREATE INDEX records_title_key ON records(title_key);
CREATE TABLE duplicates (
    id INTEGER PRIMARY KEY,
    record INTEGER NOT NULL REFERENCES records(id),
    segment_id TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    matched_on TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record INTEGER NOT NULL REFERENCES records(id),
    label TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    undone_at TEXT
);
CREATE INDEX decisions_record ON decisions(record, id);
CREATE VIEW current_decisions AS
    SELECT d.* FROM decisions d
    WHERE d.undone_at IS NULL
      AND d.id = (SELECT max(e.id) FROM decisions e WHERE e.record = d.record AND e.undone_at IS NULL);
CREATE TABLE scores (record INTEGER PRIMARY KEY REFERENCES records(id), score REAL NOT NULL);
CREATE TABLE rankings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_version INTEGER NOT NULL,
    n_decisions INTEGER NOT NULL,
    created TEXT NOT NULL,
    seconds REAL NOT NULL,
    state BLOB
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def title_key(title: str) -> str:
    """Normalised title used to find duplicates; titles under 20 characters are too generic to match on.

    >>> title_key("Co-creation in Local Government: A Review!") == title_key("co-creation in local government - a review")
    True
    >>> title_key("Editorial")
    ''
    """
    key = _TITLE_KEY.sub(" ", normalise_text(title or "")).strip()
    return key if len(key) >= 20 else ""


@dataclass(frozen=True)
class ImportSummary:
    """What one import of references added."""

    added: int
    duplicates: int
    first_id: int | None
    last_id: int | None


class ScreeningStore:
    """An open screening project database. Use :meth:`create` or :meth:`open`, ideally in a ``with`` block."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.connection = connection

    # ------------------------------------------------------------ opening

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise ScreeningError(f"is not a screening project database ({exc}); give the folder made by 'samverdi screen init'",
                                 path=path) from exc
        if str(mode).lower() != "wal":
            connection.close()
            raise ScreeningError(f"cannot use write-ahead logging here (journal mode {mode}); put the project on a local disk",
                                 path=path)
        return connection

    @classmethod
    def create(cls, folder: str | Path, settings: dict[str, Any]) -> ScreeningStore:
        """Make a new project database in ``folder`` (created if needed); an existing project is refused."""
        folder = Path(folder)
        path = folder / DB_NAME
        if path.exists():
            raise ScreeningError("already holds a screening project; add references with 'samverdi screen init --add', "
                                 "or choose another --project folder", path=folder)
        if folder.exists() and not folder.is_dir():
            raise ScreeningError("is a file, not a folder; choose a folder for the project", path=folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(path, cls._connect(path))
        try:
            with store.transaction() as cur:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                rows = {"format": PROJECT_FORMAT, "schema_version": str(SCHEMA_VERSION), "created": now(),
                        "decision_version": "0", "settings": json.dumps(settings, ensure_ascii=False)}
                cur.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", rows.items())
                cur.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            store.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{path}{suffix}").unlink()
            raise
        return store

    @classmethod
    def open(cls, folder: str | Path) -> ScreeningStore:
        """Open the project in ``folder``, checking it is one of ours and of a schema this version reads."""
        folder = Path(folder)
        path = folder / DB_NAME
        if not path.is_file():
            hint = "it is the database file; give its folder" if folder.is_file() else "start one with 'samverdi screen init REFS --project DIR'"
            raise ScreeningError(f"is not a screening project (no {DB_NAME}); {hint}", path=folder)
        store = cls(path, cls._connect(path))
        try:
            meta = dict(store.connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            store.close()
            raise ScreeningError(f"is not a screening project database ({exc})", path=path) from exc
        if meta.get("format") != PROJECT_FORMAT:
            store.close()
            raise ScreeningError("is an SQLite file but not a samverdi screening project", path=path)
        if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
            store.close()
            raise ScreeningError(f"was written by a newer samverdi (schema {meta['schema_version']}); upgrade samverdi-nlp", path=path)
        return store

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ScreeningStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction: taken at once (``BEGIN IMMEDIATE``), committed durably or rolled back."""
        cur = self.connection.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ScreeningError(f"the project is locked by another process for too long ({exc}); try again", path=self.path) from exc
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    # ------------------------------------------------------------ meta

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads(self.meta("settings", "{}") or "{}")

    def decision_version(self) -> int:
        return int(self.meta("decision_version", "0") or 0)

    # ------------------------------------------------------------ records

    def add_records(self, rows: Iterable[dict[str, Any]]) -> ImportSummary:
        """Add references in one transaction, skipping (and logging) those whose DOI or title is already there.

        Each row has ``segment_id`` and ``text`` and optionally ``title``,
        ``authors``, ``year``, ``doi``, ``journal``, ``lang``,
        ``source_kind``, ``source``, ``source_id``, ``flags``.
        """
        added = duplicates = 0
        first = last = None
        stamp = now()
        with self.transaction() as cur:
            for row in rows:
                doi = (row.get("doi") or "").strip().lower()
                key = title_key(row.get("title", ""))
                match = None
                if doi:
                    match = cur.execute("SELECT id FROM records WHERE doi = ?", (doi,)).fetchone()
                    matched_on = "doi"
                if match is None and key:
                    match = cur.execute("SELECT id FROM records WHERE title_key = ?", (key,)).fetchone()
                    matched_on = "title"
                if match is None:
                    match = cur.execute("SELECT id FROM records WHERE segment_id = ?", (row["segment_id"],)).fetchone()
                    matched_on = "segment_id"
                if match is not None:
                    cur.execute("INSERT INTO duplicates(record, segment_id, source, title, matched_on, imported_at) VALUES (?,?,?,?,?,?)",
                                (match[0], row["segment_id"], row.get("source", ""), row.get("title", ""), matched_on, stamp))
                    duplicates += 1
                    continue
                cur.execute(
                    "INSERT INTO records(segment_id, source, source_id, title, text, authors, year, doi, journal, lang, source_kind, "
                    "flags, title_key, prior, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (row["segment_id"], row.get("source", ""), row.get("source_id", ""), row.get("title", ""), row["text"],
                     row.get("authors", ""), row.get("year", ""), doi, row.get("journal", ""), row.get("lang", ""),
                     row.get("source_kind", ""), row.get("flags", ""), key, row.get("prior"), stamp),
                )
                last = cur.lastrowid
                first = first or last
                added += 1
        return ImportSummary(added, duplicates, first, last)

    def n_records(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM records").fetchone()[0])

    def n_duplicates(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM duplicates").fetchone()[0])

    def records(self, ids: Iterable[int] | None = None) -> pd.DataFrame:
        """Records (all, or the given ids in that order) as a frame indexed by ``id``."""
        frame = pd.read_sql_query("SELECT * FROM records ORDER BY id", self.connection, index_col="id")
        if ids is None:
            return frame
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in frame.index]
        if missing:
            raise ScreeningError(f"no record with id {missing[0]} in this project (ids run 1-{self.n_records()})", path=self.path.parent)
        return frame.loc[ids]

    def record_ids(self) -> np.ndarray:
        return np.array([r[0] for r in self.connection.execute("SELECT id FROM records ORDER BY id")], dtype=np.int64)

    def check_record(self, record_id: int) -> None:
        if self.connection.execute("SELECT 1 FROM records WHERE id = ?", (int(record_id),)).fetchone() is None:
            raise ScreeningError(f"no record with id {record_id} in this project (ids run 1-{self.n_records()}); "
                                 "see 'samverdi screen next'", path=self.path.parent)

    # ------------------------------------------------------------ decisions

    def decide(self, record_id: int, label: str, reviewer: str, *, reason: str = "", origin: str = "cli") -> int:
        """Record a decision and commit it; returns its id only once it is durably stored."""
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM records WHERE id = ?", (int(record_id),)).fetchone() is None:
                raise ScreeningError(f"no record with id {record_id} in this project (ids run 1-{self.n_records()})",
                                     path=self.path.parent)
            cur.execute("INSERT INTO decisions(record, label, reason, reviewer, decided_at, origin) VALUES (?,?,?,?,?,?)",
                        (int(record_id), label, reason or "", reviewer, now(), origin))
            decision_id = int(cur.lastrowid)
            cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'decision_version'")
        return decision_id

    def decide_many(self, decisions: Iterable[tuple[int, str, str, str]], *, origin: str) -> int:
        """Several ``(record_id, label, reviewer, reason)`` decisions in one transaction (all or none)."""
        count = 0
        stamp = now()
        with self.transaction() as cur:
            for record_id, label, reviewer, reason in decisions:
                cur.execute("INSERT INTO decisions(record, label, reason, reviewer, decided_at, origin) VALUES (?,?,?,?,?,?)",
                            (int(record_id), label, reason or "", reviewer, stamp, origin))
                count += 1
            if count:
                cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'decision_version'")
        return count

    def undo_last(self, reviewer: str) -> dict[str, Any] | None:
        """Mark ``reviewer``'s latest standing decision as undone; returns it, or None when there is none."""
        with self.transaction() as cur:
            row = cur.execute("SELECT id, record, label FROM decisions WHERE reviewer = ? AND undone_at IS NULL "
                              "ORDER BY id DESC LIMIT 1", (reviewer,)).fetchone()
            if row is None:
                return None
            cur.execute("UPDATE decisions SET undone_at = ? WHERE id = ?", (now(), row[0]))
            cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'decision_version'")
        return {"decision": row[0], "record": row[1], "label": row[2]}

    def current_decisions(self) -> pd.DataFrame:
        """Each screened record's standing decision, in the order the decisions were made."""
        return pd.read_sql_query("SELECT id AS decision, record, label, reason, reviewer, decided_at, origin "
                                 "FROM current_decisions ORDER BY id", self.connection)

    def decision_log(self) -> pd.DataFrame:
        """Every decision ever made, undone ones included."""
        return pd.read_sql_query("SELECT * FROM decisions ORDER BY id", self.connection)

    # ------------------------------------------------------------ rankings

    def set_priors(self, record_ids: np.ndarray, prior: np.ndarray) -> None:
        """Store the prior P(relevant) of records (computed once, when they are imported)."""
        with self.transaction() as cur:
            cur.executemany("UPDATE records SET prior = ? WHERE id = ?", zip((float(p) for p in prior), (int(i) for i in record_ids)))

    def save_ranking(self, record_ids: np.ndarray, score: np.ndarray, *, decision_version: int,
                     n_decisions: int, seconds: float, state: bytes | None) -> bool:
        """Store a ranking unless one from newer decisions (or the same decisions and records) is already stored."""
        with self.transaction() as cur:
            row = cur.execute("SELECT max(decision_version) FROM rankings").fetchone()
            stored = int(cur.execute("SELECT count(*) FROM scores").fetchone()[0])
            if row[0] is not None and (int(row[0]) > decision_version or (int(row[0]) == decision_version and stored == len(record_ids))):
                return False
            cur.execute("DELETE FROM scores")
            cur.executemany("INSERT INTO scores(record, score) VALUES (?,?)", zip((int(i) for i in record_ids), (float(s) for s in score)))
            cur.execute("INSERT INTO rankings(decision_version, n_decisions, created, seconds, state) VALUES (?,?,?,?,?)",
                        (decision_version, n_decisions, now(), seconds, state))
        return True

    def latest_ranking(self) -> dict[str, Any] | None:
        row = self.connection.execute("SELECT id, decision_version, n_decisions, created, seconds, state FROM rankings "
                                      "ORDER BY decision_version DESC, id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return dict(zip(("id", "decision_version", "n_decisions", "created", "seconds", "state"), row))

    def scores(self) -> pd.DataFrame:
        """The stored ranking: ``score`` per record id (empty before the first ranking)."""
        return pd.read_sql_query("SELECT record, score FROM scores ORDER BY record", self.connection, index_col="record")

    def integrity_check(self) -> str:
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])
