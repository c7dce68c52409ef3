"""A server-wide version of what rarely changes (session clocks, scenario overlays).

Every worker process caches clocks and overlays and reads only this one row per request: any write
to them, and any reset, moves the version in the same transaction (a reset right after), so a
process re-reads them on its next request. A fresh random value (not +1), so that no process can
meet an old value again; while there is no row (a fresh store, or just after a reset of
everything) nothing is cached.
"""

from __future__ import annotations

import secrets

# Every table has a session column (Store.reset clears by it); the row counts as the default
# session's, so resetting that session or everything clears it, and Runtime.reset moves it again.
SCHEMA = ("CREATE TABLE IF NOT EXISTS versions "
          "(name TEXT PRIMARY KEY, value TEXT NOT NULL, session TEXT NOT NULL DEFAULT '');")

NAME = "clocks-and-overlays"


def current(conn) -> str | None:
    row = conn.execute("SELECT value FROM versions WHERE name=?", (NAME,)).fetchone()
    return row["value"] if row else None


def bump(conn) -> None:
    """Move the version; call inside the write transaction that changes a clock or an overlay."""
    conn.execute(
        "INSERT INTO versions(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
        (NAME, secrets.token_hex(8)),
    )
