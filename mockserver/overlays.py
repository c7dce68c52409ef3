"""State of the sessions' scenario overlays: the ``overlays`` table and the rules' definition tokens.

An overlay is a session's own scenarios text; its revision is random, so that a cleared and
rewritten overlay never meets a cached copy of an older text in any worker. A rule's definition
token (a counter row ``overlay-def:<rule id>``) changes whenever the rule is (re)defined, so that its
call counts start again. Every write also moves :mod:`mockserver.versions`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from . import versions

DEFINED = "overlay-def:"


def read(conn, sessions: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """(text, revision) of the overlays of ``sessions`` that have one."""
    marks = ",".join("?" * len(sessions))
    rows = conn.execute(f"SELECT session, text, revision FROM overlays WHERE session IN ({marks})", sessions)
    return {r["session"]: (r["text"], r["revision"]) for r in rows}


def text_of(conn, session: str) -> str | None:
    row = conn.execute("SELECT text FROM overlays WHERE session=?", (session,)).fetchone()
    return row["text"] if row else None


def write(conn, session: str, text: str) -> None:
    conn.execute(
        "INSERT INTO overlays(session, text, revision) VALUES (?, ?, ?) ON CONFLICT(session) "
        "DO UPDATE SET text=excluded.text, revision=excluded.revision",
        (session, text, secrets.randbits(62)),
    )
    versions.bump(conn)


def clear(conn, session: str) -> None:
    """Remove a session's overlay and its rules' definition tokens."""
    conn.execute("DELETE FROM overlays WHERE session=?", (session,))
    conn.execute("DELETE FROM counters WHERE session=? AND key LIKE ?", (session, DEFINED + "%"))
    versions.bump(conn)


def mark_defined(conn, session: str, rule_ids: Iterable[str]) -> None:
    """A new definition token for these overlay rules: their call counts start again."""
    for rid in rule_ids:
        conn.execute(
            "INSERT INTO counters(session, key, n) VALUES (?, ?, ?) "
            "ON CONFLICT(session, key) DO UPDATE SET n=excluded.n",
            (session, DEFINED + rid, secrets.randbits(62)),
        )
    versions.bump(conn)


def forget_defined(conn, session: str, rule_id: str) -> None:
    conn.execute("DELETE FROM counters WHERE session=? AND key=?", (session, DEFINED + rule_id))
    versions.bump(conn)


def definition_tokens(conn, session: str) -> dict[str, int]:
    rows = conn.execute("SELECT key, n FROM counters WHERE session=? AND key LIKE ?", (session, DEFINED + "%"))
    return {r["key"][len(DEFINED):]: r["n"] for r in rows}


def sessions_with_overlays(conn) -> list[str]:
    return [r["session"] for r in conn.execute("SELECT session FROM overlays")]
