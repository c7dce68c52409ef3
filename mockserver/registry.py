"""The SAT side of a UUID, shared by every provider: vigente, en_proceso, cancelado or rechazado.

A UUID cancelled through Solución Factible is "previously cancelled" for Expide Tu Factura too.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import NamedTuple

VIGENTE = "vigente"
EN_PROCESO = "en_proceso"
CANCELADO = "cancelado"
RECHAZADO = "rechazado"
STATUSES = (VIGENTE, EN_PROCESO, CANCELADO, RECHAZADO)


class Entry(NamedTuple):
    status: str
    rfc_emisor: str | None


def entry_of(conn: sqlite3.Connection, session: str, uuid: str) -> Entry | None:
    """What SAT knows of ``uuid`` in this session: its status and the issuer recorded with it."""
    row = conn.execute(
        "SELECT status, rfc_emisor FROM sat_registry WHERE session=? AND uuid=?", (session, uuid.upper())
    ).fetchone()
    return Entry(row["status"], row["rfc_emisor"]) if row else None


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
    if status not in STATUSES:
        raise ValueError(f"unknown SAT status {status!r}")
    conn.execute(
        "INSERT INTO sat_registry(session, uuid, rfc_emisor, status, provider, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session, uuid) DO UPDATE SET status=excluded.status, "
        "rfc_emisor=COALESCE(excluded.rfc_emisor, rfc_emisor), provider=COALESCE(excluded.provider, provider), "
        "updated_at=excluded.updated_at",
        (session, uuid.upper(), rfc_emisor, status, provider, at.isoformat()),
    )


def entries(conn: sqlite3.Connection, session: str, limit: int = 200) -> list[dict]:
    rows = conn.execute(
        "SELECT uuid, rfc_emisor, status, provider, updated_at FROM sat_registry WHERE session=? "
        "ORDER BY updated_at DESC LIMIT ?",
        (session, limit),
    ).fetchall()
    return [dict(r) for r in rows]
