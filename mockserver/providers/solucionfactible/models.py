"""Solución Factible's tables: asynchronous cancellations and failed log-ins, and their access functions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sf_cancellations (
    session TEXT NOT NULL,
    uuid TEXT NOT NULL,
    usuario TEXT NOT NULL,
    operation TEXT NOT NULL,
    rfc_emisor TEXT,
    motivo TEXT,
    folio_sustitucion TEXT,
    email TEXT,
    certificate_number TEXT,
    status INTEGER NOT NULL,
    mensaje TEXT,
    acuse BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (session, uuid)
);
CREATE TABLE IF NOT EXISTS sf_login_failures (
    session TEXT NOT NULL,
    usuario TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    PRIMARY KEY (session, usuario)
);
"""


@dataclass(frozen=True)
class Cancellation:
    """One asynchronous cancellation transaction (its id is the UUID)."""

    session: str
    uuid: str
    usuario: str
    operation: str
    rfc_emisor: str | None
    motivo: str | None
    folio_sustitucion: str | None
    email: str | None
    certificate_number: str | None
    status: int
    mensaje: str | None
    acuse: bytes | None
    created_at: str
    updated_at: str
    resolved_at: str | None

    def describe(self) -> dict[str, Any]:
        """For the admin API and the dashboard (the acuse is shown by size only)."""
        return {
            "uuid": self.uuid,
            "usuario": self.usuario,
            "operation": self.operation,
            "rfc_emisor": self.rfc_emisor,
            "motivo": self.motivo,
            "folio_sustitucion": self.folio_sustitucion,
            "email": self.email,
            "status": self.status,
            "mensaje": self.mensaje,
            "acuse_bytes": len(self.acuse) if self.acuse else 0,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "resolved_at": self.resolved_at,
        }


def get(conn: sqlite3.Connection, session: str, uuid: str) -> Cancellation | None:
    row = conn.execute(
        "SELECT * FROM sf_cancellations WHERE session=? AND uuid=?", (session, uuid.upper())
    ).fetchone()
    return Cancellation(**dict(row)) if row else None


def insert(conn: sqlite3.Connection, c: Cancellation) -> None:
    conn.execute(
        "INSERT INTO sf_cancellations(session, uuid, usuario, operation, rfc_emisor, motivo, folio_sustitucion, "
        "email, certificate_number, status, mensaje, acuse, created_at, updated_at, resolved_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (c.session, c.uuid.upper(), c.usuario, c.operation, c.rfc_emisor, c.motivo, c.folio_sustitucion, c.email,
         c.certificate_number, c.status, c.mensaje, c.acuse, c.created_at, c.updated_at, c.resolved_at),
    )


def delete(conn: sqlite3.Connection, session: str, uuid: str) -> None:
    conn.execute("DELETE FROM sf_cancellations WHERE session=? AND uuid=?", (session, uuid.upper()))


def update_state(
    conn: sqlite3.Connection, session: str, uuid: str, status: int, mensaje: str | None, at: datetime, *,
    final: bool, acuse: bytes | None = None,
) -> None:
    conn.execute(
        "UPDATE sf_cancellations SET status=?, mensaje=?, acuse=COALESCE(?, acuse), updated_at=?, "
        "resolved_at=CASE WHEN ? THEN ? ELSE resolved_at END WHERE session=? AND uuid=?",
        (status, mensaje, acuse, at.isoformat(), final, at.isoformat(), session, uuid.upper()),
    )


def listing(conn: sqlite3.Connection, session: str, limit: int = 200) -> list[Cancellation]:
    rows = conn.execute(
        "SELECT * FROM sf_cancellations WHERE session=? ORDER BY created_at DESC, uuid LIMIT ?", (session, limit)
    ).fetchall()
    return [Cancellation(**dict(r)) for r in rows]


def failures(conn: sqlite3.Connection, session: str, usuario: str) -> tuple[int, str | None]:
    row = conn.execute(
        "SELECT failures, last_failure_at FROM sf_login_failures WHERE session=? AND usuario=?", (session, usuario)
    ).fetchone()
    return (int(row["failures"]), row["last_failure_at"]) if row else (0, None)


def add_failure(conn: sqlite3.Connection, session: str, usuario: str, at: datetime) -> int:
    row = conn.execute(
        "INSERT INTO sf_login_failures(session, usuario, failures, last_failure_at) VALUES (?, ?, 1, ?) "
        "ON CONFLICT(session, usuario) DO UPDATE SET failures=sf_login_failures.failures+1, last_failure_at=excluded.last_failure_at "
        "RETURNING failures",
        (session, usuario, at.isoformat()),
    ).fetchone()
    return int(row["failures"])


def clear_failures(conn: sqlite3.Connection, session: str, usuario: str) -> None:
    conn.execute("DELETE FROM sf_login_failures WHERE session=? AND usuario=?", (session, usuario))


def count_by_status(conn: sqlite3.Connection, session: str) -> dict[str, int]:
    """How many of the session's transactions are in each status (all of them, not only those listed)."""
    rows = conn.execute(
        "SELECT status, COUNT(*) AS n FROM sf_cancellations WHERE session=? GROUP BY status", (session,)
    )
    return {str(r["status"]): r["n"] for r in rows}
