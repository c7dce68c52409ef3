"""The request journal: what each client sent and got, newest first, bounded, secrets redacted
(mockserver/redaction.py)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .redaction import SECRET_FIELDS, decode_body, redact
from .store import Store

log = logging.getLogger(__name__)

# The journal's own index beside the core table's (store.py): a look-back over one operation's calls
# (conformance, the admin filters) must not walk every other call of the session.
SCHEMA = "CREATE INDEX IF NOT EXISTS journal_operation ON journal(session, provider, operation, id);"

_HEAD_COLUMNS = "id, session, at, provider, operation, method, path, soap_version, status, duration_ms, summary"

# How much of a body the journal keeps; MYSuite requests can be 40 MB.
BODY_LIMIT = 64 * 1024


@dataclass
class Entry:
    session: str
    at: datetime
    method: str
    path: str
    status: int = 0
    duration_ms: float = 0.0
    provider: str | None = None
    operation: str | None = None
    soap_version: str | None = None
    summary: dict = field(default_factory=dict)
    request: str | None = None
    response: str | None = None


def clip(data: bytes | str | None, size: int | None = None) -> str | None:
    """At most BODY_LIMIT of ``data``, saying how much of ``size`` (default: its length) was dropped.

    Bytes are read in the body's own encoding (BOM, declaration); a body that cannot be read safely is
    not kept at all.
    """
    if data is None:
        return None
    if isinstance(data, bytes):
        text = decode_body(data[:BODY_LIMIT])
        if text is None:
            text = f"[{len(data[:BODY_LIMIT])} bytes in an encoding the journal cannot read; not kept]"
    else:
        text = data[:BODY_LIMIT]
    size = len(data) if size is None else size
    if size > BODY_LIMIT:
        text += f"\n… [{size - BODY_LIMIT} more bytes not kept]"
    return text


class JournalError(RuntimeError):
    """An entry was not written for a reason of the journal's own (not the database's)."""


def _text(value: str | None) -> str | None:
    """``value`` without NUL characters, which PostgreSQL's text columns refuse (U+FFFD instead)."""
    return None if value is None else value.replace("\x00", "\ufffd")


_INSERT = ("INSERT INTO journal(session, at, provider, operation, method, path, soap_version, status, "
           "duration_ms, summary, request, response) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id")


class _Pending:
    """One entry waiting for the group commit."""

    __slots__ = ("done", "error", "id", "row")

    def __init__(self, row: tuple) -> None:
        self.row = row
        self.id: int | None = None
        self.error: BaseException | None = None
        self.done = False


class Journal:
    def __init__(self, store: Store, limit: int = 10_000, secrets: Iterable[str] = SECRET_FIELDS) -> None:
        self.store = store
        self.limit = limit
        # Element names whose content is never stored: the core's and every provider's (Provider.secrets).
        self.secrets = frozenset(secrets) | SECRET_FIELDS
        self._writes = 0
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()  # held only to add to or take the queue
        self._flush_lock = threading.Lock()  # held by the one thread that writes a batch

    def record(self, entry: Entry) -> int:
        """Store ``entry``; its bodies pass the redaction here, so nothing else can store a secret.

        Entries of calls that end at the same time in this process share one write transaction (a
        group commit): the first caller to get the turn writes every entry waiting, the others find
        theirs written. Each caller returns only once its entry is committed, so a client that reads
        the journal right after its answer finds its call, from any worker process.
        """
        if self.store.in_transaction():
            # Its write would join that transaction: entries of other callers would be reported
            # written before it commits, and on SQLite the store's lock and the batch's would meet.
            raise JournalError("the journal is not written inside a store transaction of the same thread")
        pending = _Pending(self._row(entry))
        with self._queue_lock:
            self._queue.append(pending)
        with self._flush_lock:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if pending.error is not None:
            raise pending.error
        if pending.id is None:
            raise JournalError("the journal entry was not written")
        return pending.id

    def _row(self, entry: Entry) -> tuple:
        request = None if entry.request is None else redact(entry.request, self.secrets)
        response = None if entry.response is None else redact(entry.response, self.secrets)
        return (
            _text(entry.session),
            entry.at.isoformat(),
            _text(entry.provider),
            _text(entry.operation),
            _text(entry.method),
            _text(entry.path),
            _text(entry.soap_version),
            entry.status,
            round(entry.duration_ms, 3),
            # JSON writes a NUL as the escape \u0000: no NUL reaches the column, nothing is lost.
            json.dumps(entry.summary, ensure_ascii=False, default=str),
            _text(request),
            _text(response),
        )

    def _write(self, batch: list[_Pending]) -> None:
        """Write ``batch`` in one transaction; when that fails, each entry in its own, so that one
        entry the database refuses costs only its own caller. Every item leaves marked done, with
        its id or its error, whatever happens (a BaseException is re-raised in the writer)."""
        try:
            try:
                with self.store.append() as conn:  # no other writer depends on it (PostgreSQL: no write lock)
                    ids = [conn.execute(_INSERT, item.row).fetchone()[0] for item in batch]
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                else:
                    for item in batch:
                        self._write_one(item)
            else:
                for item, new_id in zip(batch, ids, strict=True):
                    item.id = new_id
            self._trim([item.id for item in batch if item.id is not None])
        except BaseException as exc:
            for item in batch:
                if item.id is None and item.error is None:
                    item.error = JournalError(f"the journal write was interrupted ({type(exc).__name__})")
            raise
        finally:
            for item in batch:
                item.done = True

    def _write_one(self, item: _Pending) -> None:
        try:
            with self.store.append() as conn:
                item.id = conn.execute(_INSERT, item.row).fetchone()[0]
        except Exception as exc:
            item.error = exc

    def _trim(self, ids: list[int]) -> None:
        """Keep the latest ``limit`` entries. Trimming costs a scan: it is done now and then, not on
        every request, and in its own transaction: entries already written stay written."""
        before = self._writes
        self._writes += len(ids)
        if not ids or self._writes // 200 == before // 200:
            return
        try:
            with self.store.append() as conn:
                conn.execute("DELETE FROM journal WHERE id <= ?", (max(ids) - self.limit,))
        except Exception:
            log.exception("journal trim failed; it is tried again after the next 200 writes")

    def query(
        self,
        session: str,
        *,
        provider: str | None = None,
        operation: str | None = None,
        uuid: str | None = None,
        limit: int = 100,
        include_bodies: bool = True,
        mentions: str | None = None,
    ) -> list[dict]:
        """The latest ``limit`` entries that match the filters, newest first; with ``mentions``, only
        those of them whose summary holds that text (any case): a look back over recent calls that
        decodes the few that matter, not all of them."""
        where, args = _filters(session, provider, operation, uuid)
        args.append(max(0, min(limit, self.limit)))
        # Bodies (up to 64 KB each) are read from the file only when asked for.
        columns = "*" if include_bodies else _HEAD_COLUMNS
        sql = f"SELECT {columns} FROM journal WHERE {where} ORDER BY id DESC LIMIT ?"
        if mentions is not None:
            sql = (f"SELECT {columns} FROM journal WHERE id IN (SELECT id FROM journal WHERE {where} "
                   "ORDER BY id DESC LIMIT ?) AND lower(summary) LIKE lower(?) ESCAPE '\\' ORDER BY id DESC")
            written = json.dumps(mentions, ensure_ascii=False)[1:-1]  # as the summary's JSON writes it
            escaped = written.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
        with self.store.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["summary"] = json.loads(item["summary"] or "{}")
            if not include_bodies:
                item.pop("request", None)
                item.pop("response", None)
            out.append(item)
        return out

    def count(self, session: str, *, provider: str | None = None, operation: str | None = None,
              uuid: str | None = None) -> int:
        where, args = _filters(session, provider, operation, uuid)
        with self.store.read() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM journal WHERE {where}", args).fetchone()[0])

    def with_findings(self, session: str, limit: int = 10_000) -> list[dict]:
        """The session's entries that carry conformance findings (bodies left out), newest first."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT id, at, provider, operation, path, status, summary FROM journal "
                "WHERE session = ? AND summary LIKE ? ORDER BY id DESC LIMIT ?",
                (session, '%"findings": [%', max(0, min(limit, self.limit))),
            ).fetchall()
        return [{**dict(row), "summary": json.loads(row["summary"] or "{}")} for row in rows]


def _filters(session: str, provider: str | None, operation: str | None,
             uuid: str | None = None) -> tuple[str, list]:
    """The WHERE clause (placeholders only) and its arguments for the journal's filters.

    ``uuid`` finds the calls that name a UUID anywhere (summary, request or response, any case), so one
    filter follows a CFDI through every provider; the caller checks it is a UUID (no LIKE wildcards).
    """
    clauses, args = ["session = ?"], [session]
    for column, value in (("provider", provider), ("operation", operation)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if uuid:
        # lower() on both sides: SQLite's LIKE ignores case, PostgreSQL's does not.
        clauses.append("(lower(summary) LIKE ? OR lower(request) LIKE ? OR lower(response) LIKE ?)")
        args += [f"%{uuid.lower()}%"] * 3
    return " AND ".join(clauses), args
