"""MYSuite state: asynchronous conversion jobs and their documents.

A job row holds what the rules need (status, times, ids); documents (the client's native XML, the
stamped CFDI, cached ZIPs) live in a :class:`Blobs` store. With a database file they are files under
``<data_dir>/mysuite/`` (measured on a 40 MB document: a file write costs ~10 ms and no memory, a
SQLite BLOB insert ~0.3 s and twice the document in memory); with the in-memory store they are rows
of ``mysuite_blobs`` so that a reset forgets them with everything else. Replicas on PostgreSQL keep
them in ``documents_dir``, a folder they all mount (a 40 MB write ~0.3 s, a read ~0.1 s), or, with
none, in ``mysuite_blobs`` (a write ~2-3 s under the one write lock, a read ~0.5 s): docs/replicas.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .locks import JobLocks

if TYPE_CHECKING:
    from ...context import Sandbox
    from ...store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS mysuite_jobs (
    session TEXT NOT NULL,
    guid TEXT NOT NULL,
    requestor TEXT NOT NULL,
    entity TEXT NOT NULL,
    user_name TEXT,
    internal_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    enrolled_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 1,
    ready INTEGER NOT NULL DEFAULT 0,
    converting_at REAL,
    finished_at TEXT,
    serie TEXT,
    folio TEXT,
    uuid TEXT,
    document_guid TEXT,
    error TEXT,
    fail_code INTEGER,
    fail_message TEXT,
    summary TEXT,
    blob_key TEXT NOT NULL,
    PRIMARY KEY (session, guid)
);
CREATE INDEX IF NOT EXISTS mysuite_jobs_ready ON mysuite_jobs(status, ready);
CREATE TABLE IF NOT EXISTS mysuite_blobs (
    session TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session, blob_key, kind)
);
"""

PENDING, DONE, FAILED = 1, 2, 3
STATUS_NAMES = {PENDING: "pending", DONE: "done", FAILED: "error"}

# Document kinds in the blob store.
NATIVE, CFDI, XML_ZIP, PDF_ZIP = "native", "cfdi", "xml.zip", "pdf.zip"


@dataclass(frozen=True)
class Job:
    session: str
    guid: str
    requestor: str
    entity: str
    user_name: str | None
    internal_id: str
    size: int
    enrolled_at: datetime
    due_at: datetime
    status: int
    ready: bool
    converting_at: float | None
    finished_at: datetime | None
    serie: str | None
    folio: str | None
    uuid: str | None
    document_guid: str | None
    error: str | None
    fail_code: int | None
    fail_message: str | None
    summary: dict
    blob_key: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            session=row["session"],
            guid=row["guid"],
            requestor=row["requestor"],
            entity=row["entity"],
            user_name=row["user_name"],
            internal_id=row["internal_id"],
            size=row["size"],
            enrolled_at=datetime.fromisoformat(row["enrolled_at"]),
            due_at=datetime.fromisoformat(row["due_at"]),
            status=row["status"],
            ready=bool(row["ready"]),
            converting_at=row["converting_at"],
            finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
            serie=row["serie"],
            folio=row["folio"],
            uuid=row["uuid"],
            document_guid=row["document_guid"],
            error=row["error"],
            fail_code=row["fail_code"],
            fail_message=row["fail_message"],
            summary=json.loads(row["summary"]) if row["summary"] else {},
            blob_key=row["blob_key"],
        )

    def describe(self) -> dict:
        """What ``/__admin/jobs`` shows."""
        return {
            "request_id": self.guid,
            "internal_id": self.internal_id,
            "entity": self.entity,
            "requestor": self.requestor,
            "status": self.status,
            "state": STATUS_NAMES.get(self.status, "?"),
            "converting": self.status == PENDING and self.ready,
            "size": self.size,
            "enrolled_at": self.enrolled_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "uuid": self.uuid,
            "serie": self.serie,
            "folio": self.folio,
            "error": self.error,
        }


_COLUMNS = "*"


def get_job(conn: sqlite3.Connection, session: str, guid: str) -> Job | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM mysuite_jobs WHERE session=? AND guid=?", (session, guid.lower())
    ).fetchone()
    return Job.from_row(row) if row else None


def list_jobs(conn: sqlite3.Connection, session: str, limit: int = 500) -> list[Job]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM mysuite_jobs WHERE session=? ORDER BY enrolled_at DESC LIMIT ?",
        (session, limit),
    ).fetchall()
    return [Job.from_row(r) for r in rows]


def insert_job(conn: sqlite3.Connection, **values: object) -> None:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO mysuite_jobs ({names}) VALUES ({marks})", tuple(values.values()))


def mark_ready(conn: sqlite3.Connection, session: str, guid: str, at: datetime) -> None:
    """The job's processing time has passed: ready to convert, or failed (at ``at``) when a scenario
    rule gave it a code."""
    row = conn.execute(
        "SELECT status, fail_message FROM mysuite_jobs WHERE session=? AND guid=? AND fail_code IS NOT NULL",
        (session, guid),
    ).fetchone()
    if row is not None and row["status"] == PENDING:
        conn.execute(
            "UPDATE mysuite_jobs SET status=?, ready=1, error=?, finished_at=? WHERE session=? AND guid=?",
            (FAILED, row["fail_message"], at.isoformat(), session, guid),
        )
        return
    conn.execute("UPDATE mysuite_jobs SET ready=1 WHERE session=? AND guid=? AND status=?", (session, guid, PENDING))


def finish_conversion(
    conn: sqlite3.Connection,
    session: str,
    guid: str,
    *,
    status: int,
    error: str | None,
    uuid: str | None,
    document_guid: str | None,
    serie: str | None,
    folio: str | None,
    summary: dict,
    finished_at: datetime,
) -> bool:
    """Record the end of a pending job's conversion (and release its claim). False when the job is no
    longer pending (a reset forgot it, or it was finished already): then nothing changes."""
    cur = conn.execute(
        "UPDATE mysuite_jobs SET status=?, error=?, uuid=?, document_guid=?, serie=?, folio=?, summary=?, "
        "finished_at=?, converting_at=NULL WHERE session=? AND guid=? AND status=?",
        (status, error, uuid, document_guid, serie, folio, json.dumps(summary), finished_at.isoformat(),
         session, guid, PENDING),
    )  # fmt: skip
    return cur.rowcount == 1


def ready_jobs(conn: sqlite3.Connection, stale_before: float, limit: int = 50) -> list[tuple[str, str]]:
    """(session, guid) of jobs whose processing time has passed and that no live converter holds."""
    rows = conn.execute(
        "SELECT session, guid FROM mysuite_jobs WHERE status=? AND ready=1 "
        "AND (converting_at IS NULL OR converting_at < ?) ORDER BY due_at LIMIT ?",
        (PENDING, stale_before, limit),
    ).fetchall()
    return [(r["session"], r["guid"]) for r in rows]


def claim_conversion(conn: sqlite3.Connection, session: str, guid: str, stale_before: float) -> bool:
    """Atomically take a ready job for conversion (one converter per job, across processes)."""
    cur = conn.execute(
        "UPDATE mysuite_jobs SET converting_at=? WHERE session=? AND guid=? AND status=? AND ready=1 "
        "AND (converting_at IS NULL OR converting_at < ?)",
        (time.time(), session, guid, PENDING, stale_before),
    )
    return cur.rowcount == 1


def release_conversions(store: Store) -> int:
    """Forget every conversion claim: called at server start, when no converter can be alive, so the
    jobs a crashed converter held are converted at once instead of after ``stale_before``."""
    with store.tx() as conn:
        cur = conn.execute(
            "UPDATE mysuite_jobs SET converting_at=NULL WHERE status=? AND converting_at IS NOT NULL", (PENDING,)
        )
    return cur.rowcount


class Blobs:
    """Documents by (session, blob_key, kind): files under ``directory``, or rows when it is None;
    and the lock each job holds while it converts (:attr:`locks`).

    ``blob_key`` is a random hex name chosen by the service, so file names never come from clients.
    """

    def __init__(self, store: Store, directory: Path | None) -> None:
        self.store = store
        self.directory = directory
        self.locks = JobLocks(directory)  # held while a job converts (named by its blob_key)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str, kind: str) -> Path:
        assert self.directory is not None
        if not key.isalnum():
            raise ValueError("blob keys are hex names")
        return self.directory / f"{key}.{kind}"

    def put(self, conn: sqlite3.Connection, session: str, key: str, kind: str, data: bytes) -> None:
        """Store ``data``; in table mode inside the caller's transaction ``conn``."""
        if self.directory is None:
            conn.execute(
                "INSERT INTO mysuite_blobs(session, blob_key, kind, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (session, blob_key, kind) DO UPDATE SET data = excluded.data",
                (session, key, kind, data),
            )
            return
        path = self._path(key, kind)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def get(self, session: str, key: str, kind: str) -> bytes | None:
        if self.directory is None:
            with self.store.read() as conn:
                row = conn.execute(
                    "SELECT data FROM mysuite_blobs WHERE session=? AND blob_key=? AND kind=?",
                    (session, key, kind),
                ).fetchone()
            return bytes(row["data"]) if row else None
        try:
            return self._path(key, kind).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, conn: sqlite3.Connection, session: str, key: str, kind: str) -> None:
        if self.directory is None:
            conn.execute(
                "DELETE FROM mysuite_blobs WHERE session=? AND blob_key=? AND kind=?", (session, key, kind)
            )
            return
        self._path(key, kind).unlink(missing_ok=True)

    def sweep(self, older_than_s: float = 300.0) -> int:
        """Remove files no job refers to any more (after a reset), leaving recent ones alone."""
        if self.directory is None:
            return 0
        with self.store.read() as conn:
            live = {r[0] for r in conn.execute("SELECT blob_key FROM mysuite_jobs")}
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.directory.iterdir():
            key = path.name.split(".", 1)[0]
            if key in live:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def blobs_for(runtime: Sandbox) -> Blobs:
    """The runtime's document files (one ``Blobs`` per runtime, kept by the runtime)."""

    def make() -> Blobs:
        store = runtime.store
        settings = runtime.settings
        directory: Path | None = None  # rows of mysuite_blobs
        if store.in_memory:
            pass
        elif settings.documents_dir is not None:  # a folder every replica mounts
            directory = Path(settings.documents_dir) / "mysuite"
        elif not store.shared:  # PostgreSQL without a shared folder: rows, which every replica reads
            directory = Path(settings.data_dir) / "mysuite"
        return Blobs(store, directory)

    return runtime.owned("mysuite.blobs", make)
