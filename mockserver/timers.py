"""Durable timers: work that happens "later" in mock time.

"This job completes at T", "this cancellation resolves at T" are rows with ``due_at``. They fire in the
runtime's background work (:meth:`Timers.work`) and, for one session, when a request's context is made
(``Runtime.context``), so that a status query after the clock moved sees the change. A handler runs inside the same write transaction that marks its timer fired, so a crash either keeps
both or neither: nothing is lost and nothing fires twice. Several processes may share the file: the
write lock means one of them fires each timer.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .background import Work
from .clock import Clock, real_now
from .store import Store

log = logging.getLogger("pac_mock.timers")

MAX_ATTEMPTS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at REAL NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    fired_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS timers_due ON timers(fired_at, session, due_at);
"""


@dataclass
class Firing:
    """What a timer handler gets: the open transaction, the session, its clock, and the payload."""

    conn: sqlite3.Connection
    session: str
    clock: Clock
    payload: dict
    timers: Timers
    due_at: datetime


Handler = Callable[[Firing], None]


class Timers:
    def __init__(self, store: Store, clock_for: Callable[[str], Clock]) -> None:
        self.store = store
        self.clock_for = clock_for
        self.handlers: dict[str, Handler] = {}
        self.after_fire: list[Callable[[], None]] = []

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def schedule(
        self, conn: sqlite3.Connection, session: str, kind: str, due_at: datetime, payload: dict
    ) -> int:
        """Add a timer inside the caller's transaction (so it exists iff the caller's change does)."""
        cur = conn.execute(
            "INSERT INTO timers(session, kind, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (session, kind, due_at.timestamp(), json.dumps(payload), real_now().isoformat()),
        )
        # No wake-up here: the background work's next round (every ``interval``) is soon enough, and
        # waking it on every request doubled the cost of a request that schedules work.
        return int(cur.fetchone()[0])

    def cancel(self, conn: sqlite3.Connection, session: str, kind: str, **payload: str) -> int:
        """Drop the pending timers of ``kind`` whose payload has these values (inside the caller's transaction)."""
        sql = "DELETE FROM timers WHERE session=? AND kind=? AND fired_at IS NULL"
        args: list[object] = [session, kind]
        for key, value in payload.items():
            sql += " AND json_extract(payload, ?) = ?"
            args += [f"$.{key}", value]
        return conn.execute(sql, args).rowcount

    def pending(self, session: str) -> list[dict]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT id, kind, due_at, payload, attempts, last_error FROM timers "
                "WHERE session=? AND fired_at IS NULL ORDER BY due_at",
                (session,),
            ).fetchall()
        return [
            {
                "id": r["id"],
                "kind": r["kind"],
                "due_at": datetime.fromtimestamp(r["due_at"], UTC).isoformat(),
                "payload": json.loads(r["payload"]),
                "attempts": r["attempts"],
                "last_error": r["last_error"],
            }
            for r in rows
        ]

    def fire_due(self, session: str | None = None, clock: Clock | None = None) -> int:
        """Fire every timer that is due by its session's clock (``clock``, when the caller just read it
        for ``session``). Returns how many fired."""
        if session is None:
            with self.store.read() as conn:
                sessions = [
                    r[0]
                    for r in conn.execute("SELECT DISTINCT session FROM timers WHERE fired_at IS NULL")
                ]
        else:
            sessions = [session]
        fired = 0
        for sid in sessions:
            fired += self._fire_session(sid, clock if session is not None else None)
        if fired:
            for hook in self.after_fire:
                hook()
        return fired

    def _fire_session(self, session: str, clock: Clock | None = None) -> int:
        clock = clock or self.clock_for(session)
        now = clock.now()
        with self.store.read() as conn:
            # Cheap unlocked look first: most reads find nothing due.
            if not conn.execute(
                "SELECT 1 FROM timers WHERE fired_at IS NULL AND session=? AND due_at<=? LIMIT 1",
                (session, now.timestamp()),
            ).fetchone():
                return 0
        fired = 0
        with self.store.tx() as conn:
            rows = conn.execute(
                "SELECT id, kind, due_at, payload, attempts FROM timers "
                "WHERE fired_at IS NULL AND session=? AND due_at<=? AND attempts < ? ORDER BY due_at, id",
                (session, now.timestamp(), MAX_ATTEMPTS),
            ).fetchall()
            for row in rows:
                handler = self.handlers.get(row["kind"])
                conn.execute("SAVEPOINT timer")
                try:
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {row['kind']!r}")
                    handler(
                        Firing(
                            conn,
                            session,
                            clock,
                            json.loads(row["payload"]),
                            self,
                            datetime.fromtimestamp(row["due_at"], UTC),
                        )
                    )
                except Exception as exc:
                    conn.execute("ROLLBACK TO timer")
                    conn.execute("RELEASE timer")
                    log.warning("timer %s (%s) failed: %s", row["id"], row["kind"], exc)
                    conn.execute(
                        "UPDATE timers SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                        (f"{type(exc).__name__}: {exc}", row["id"]),
                    )
                    continue
                conn.execute("RELEASE timer")
                conn.execute(
                    "UPDATE timers SET fired_at = ?, attempts = attempts + 1 WHERE id = ?",
                    (real_now().isoformat(), row["id"]),
                )
                fired += 1
        return fired

    def work(self, interval: float) -> Work:
        """Firing every session's due timers, as background work."""
        return Work("timers", self.fire_due, every=interval)
