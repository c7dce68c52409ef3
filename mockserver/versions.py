"""A server-wide version of what rarely changes (session clocks, scenario overlays).

Every worker process caches clocks and overlays and reads only this one row per request: any write
to them, and any reset, moves the version in the same transaction, so a process re-reads them on
its next request. A fresh random value (not +1), so that no process can meet an old value again.
The row lives in ``server_state``, which no reset clears.
"""

from __future__ import annotations

import secrets

NAME = "version:clocks-and-overlays"


def current(conn) -> str | None:
    row = conn.execute("SELECT value FROM server_state WHERE name=?", (NAME,)).fetchone()
    return row["value"] if row else None


def bump(conn) -> None:
    """Move the version; call inside the write transaction that changes a clock or an overlay."""
    conn.execute(
        "INSERT INTO server_state(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
        (NAME, secrets.token_hex(8)),
    )
