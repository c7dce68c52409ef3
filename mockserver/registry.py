"""The SAT side of a UUID, shared by every provider: vigente, en_proceso, cancelado or rechazado.

A UUID cancelled through Solución Factible is "previously cancelled" for Expide Tu Factura too.
This module holds the SQL; SAT's words for a UUID's state and its pure verdict live in
:mod:`mockserver.sat.verdict`, which :func:`verdict_of` feeds with what the registry knows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from .sat.verdict import NOT_YET_KNOWN, STATUSES, VIGENTE, Entry, Seed, UuidVerdict, verdict


def entry_of(conn: sqlite3.Connection, session: str, uuid: str) -> Entry | None:
    """What SAT knows of ``uuid`` in this session: its status and the issuer recorded with it."""
    row = conn.execute(
        "SELECT status, rfc_emisor FROM sat_registry WHERE session=? AND uuid=?", (session, uuid.upper())
    ).fetchone()
    return Entry(row["status"], row["rfc_emisor"]) if row else None


def entries_of(conn: sqlite3.Connection, session: str, uuids: Iterable[str]) -> dict[str, Entry]:
    """``entry_of`` for many UUIDs in one query per 500 (keys upper case; unknown UUIDs absent)."""
    wanted = list(dict.fromkeys(u.upper() for u in uuids))
    found: dict[str, Entry] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            f"SELECT uuid, status, rfc_emisor FROM sat_registry WHERE session=? AND uuid IN "
            f"({','.join('?' * len(chunk))})",
            (session, *chunk),
        )
        found.update({r["uuid"]: Entry(r["status"], r["rfc_emisor"]) for r in rows})
    return found


def status_of(conn: sqlite3.Connection, session: str, uuid: str) -> str | None:
    entry = entry_of(conn, session, uuid)
    return entry.status if entry else None


def set_status(
    conn: sqlite3.Connection,
    session: str,
    uuid: str,
    status: str,
    *,
    at: datetime,
    rfc_emisor: str | None = None,
    provider: str | None = None,
) -> None:
    set_statuses(conn, session, [uuid], status, at=at, rfc_emisor=rfc_emisor, provider=provider)


def set_statuses(
    conn: sqlite3.Connection,
    session: str,
    uuids: Iterable[str],
    status: str,
    *,
    at: datetime,
    rfc_emisor: str | None = None,
    provider: str | None = None,
) -> None:
    """``set_status`` for many UUIDs at once (one statement, executed per UUID by SQLite)."""
    if status not in STATUSES:
        raise ValueError(f"unknown SAT status {status!r}")
    conn.executemany(
        "INSERT INTO sat_registry(session, uuid, rfc_emisor, status, provider, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session, uuid) DO UPDATE SET status=excluded.status, "
        "rfc_emisor=COALESCE(excluded.rfc_emisor, sat_registry.rfc_emisor), "
        "provider=COALESCE(excluded.provider, sat_registry.provider), "
        "updated_at=excluded.updated_at",
        [(session, u.upper(), rfc_emisor, status, provider, at.isoformat()) for u in uuids],
    )


def entries(conn: sqlite3.Connection, session: str, limit: int = 200) -> list[dict]:
    rows = conn.execute(
        "SELECT uuid, rfc_emisor, status, provider, updated_at FROM sat_registry WHERE session=? "
        "ORDER BY updated_at DESC LIMIT ?",
        (session, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def stamped_since(
    conn: sqlite3.Connection, session: str, uuids: Iterable[str], since: datetime, *, stampers: Iterable[str]
) -> set[str]:
    """Of ``uuids`` (upper case), those stamped in this sandbox at or after ``since`` and still vigente.

    ``stampers``: the providers that stamp CFDIs (``Provider.stamps``); they register each new CFDI as
    vigente when they stamp it.
    """
    stampers = tuple(stampers)
    if not stampers:
        return set()
    wanted = list(dict.fromkeys(u.upper() for u in uuids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            f"SELECT uuid, updated_at FROM sat_registry WHERE session=? AND status=? AND provider IN "
            f"({','.join('?' * len(stampers))}) AND uuid IN ({','.join('?' * len(chunk))})",
            (session, VIGENTE, *stampers, *chunk),
        )
        for row in rows:
            at = datetime.fromisoformat(row["updated_at"])
            if at.tzinfo is None:  # stored instants are UTC when written without an offset
                at = at.replace(tzinfo=UTC)
            if at >= since:
                found.add(row["uuid"])
    return found


class Snapshot:
    """What the registry knows of one request's UUIDs, read once (two queries for all of them).

    Inside the request's transaction; :meth:`note` keeps it current as the request writes, so a UUID
    repeated later in the same request sees what the request did to it.
    """

    def __init__(
        self, conn: sqlite3.Connection, session: str, uuids: Iterable[str], now: datetime, *, stampers: Iterable[str]
    ) -> None:
        wanted = list(uuids)
        self.entries = entries_of(conn, session, wanted)
        self.recent = stamped_since(conn, session, wanted, now - NOT_YET_KNOWN, stampers=stampers)

    def entry(self, uuid: str) -> Entry | None:
        return self.entries.get(uuid.upper())

    def verdict(self, uuid: str, rfc: str | None, seed: Seed | None) -> UuidVerdict:
        """:func:`verdict` for ``uuid``."""
        return verdict(rfc, self.entry(uuid), seed, recently_stamped=uuid.upper() in self.recent)

    def note(self, uuid: str, status: str, rfc: str | None) -> None:
        """The request wrote ``status`` for ``uuid`` (with its issuer, when known)."""
        before = self.entry(uuid)
        self.entries[uuid.upper()] = Entry(status, rfc or (before.rfc_emisor if before else None))
        self.recent.discard(uuid.upper())


def verdict_of(
    conn: sqlite3.Connection, session: str, uuid: str, rfc: str | None, seed: Seed | None, now: datetime,
    *, stampers: Iterable[str],
) -> UuidVerdict:
    """:func:`verdict` for one UUID, reading the registry in ``conn`` (``stampers``: see :func:`stamped_since`)."""
    return Snapshot(conn, session, [uuid], now, stampers=stampers).verdict(uuid, rfc, seed)
