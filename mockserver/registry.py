"""The SAT side of a UUID, shared by every provider: vigente, en_proceso, cancelado or rechazado.

A UUID cancelled through Solución Factible is "previously cancelled" for Expide Tu Factura too.
:func:`verdict` is the one answer to "what does SAT say to cancelling this UUID?"; each provider maps
the neutral :class:`Verdict` to its own codes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

# SAT's statuses of a UUID: the registry holds the first four; a scenario seed may also say that SAT
# does not know the UUID at all.
VIGENTE = "vigente"
EN_PROCESO = "en_proceso"
CANCELADO = "cancelado"
RECHAZADO = "rechazado"
NO_ENCONTRADO = "no_encontrado"
STATUSES = (VIGENTE, EN_PROCESO, CANCELADO, RECHAZADO)
SEED_STATUSES = (VIGENTE, CANCELADO, EN_PROCESO, NO_ENCONTRADO)

# How SAT lets a CFDI be cancelled, and what its recipient answers when asked.
SIN_ACEPTACION = "sin_aceptacion"
CON_ACEPTACION = "con_aceptacion"
NO_CANCELABLE = "no_cancelable"
CANCELABLE_KINDS = (SIN_ACEPTACION, CON_ACEPTACION, NO_CANCELABLE)
ACEPTA = "acepta"
RECHAZA = "rechaza"
SIN_RESPUESTA = "sin_respuesta"
RECIPIENT_ANSWERS = (ACEPTA, RECHAZA, SIN_RESPUESTA)

# A CFDI stamped in this sandbox less than this long ago (mock time) is not yet known to SAT's
# cancellation service: it answers "does not exist" (003:171).
NOT_YET_KNOWN = timedelta(minutes=5)


class Entry(NamedTuple):
    status: str
    rfc_emisor: str | None


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
        "rfc_emisor=COALESCE(excluded.rfc_emisor, rfc_emisor), provider=COALESCE(excluded.provider, provider), "
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


# ---------------------------------------------------------------- SAT's verdict for one UUID


class Verdict(StrEnum):
    """What SAT answers to a request to cancel one UUID, in no provider's words."""

    NOT_FOUND = "not-found"
    NOT_OF_ISSUER = "not-of-issuer"
    CANCELLED = "cancelled"  # cancelled before
    IN_PROCESS = "in-process"  # a cancellation already waits for the recipient
    NOT_CANCELABLE = "not-cancelable"
    NEEDS_ACCEPTANCE = "needs-acceptance"  # cancelable once the recipient accepts
    CANCELABLE = "cancelable"  # cancelled now


class Seed(Protocol):
    """What a scenario says SAT knows of a UUID (``scenarios.model.SatCfdi``)."""

    status: str
    cancelable: str
    issuer: str | None
    recipient: str
    recipient_after: timedelta | None


@dataclass(frozen=True)
class UuidVerdict:
    """The verdict, SAT's status of the UUID (registry over seed), and how its recipient answers."""

    verdict: Verdict
    status: str
    recipient: str | None = None  # when the seed says the CFDI needs the recipient's acceptance
    recipient_after: timedelta | None = None


def verdict(
    rfc: str | None, entry: Entry | None, seed: Seed | None, *, recently_stamped: bool = False
) -> UuidVerdict:
    """SAT's verdict on cancelling a UUID for the issuer ``rfc`` (None: whoever asks).

    ``entry`` is the registry's (any provider may have written it), ``seed`` the scenario's; the
    registry, being what happened in this sandbox, wins over the seed for existence and status.
    Precedence, the first that holds answers:

    1. stamped in this sandbox moments ago (``recently_stamped``, see :data:`NOT_YET_KNOWN`): not found;
    2. unknown to the registry and the seed says ``no_encontrado``: not found;
    3. an issuer is known (the seed's, else the registry's) and it is not ``rfc``: not of the issuer —
       before any status, so that nobody learns the state of another issuer's CFDI;
    4. cancelado: cancelled before;  5. en_proceso: in process;
    6. the seed says ``no_cancelable``: not cancelable;  7. ``con_aceptacion``: needs acceptance;
    8. cancelable now (also after the recipient rejected a request: the CFDI stays vigente).
    """
    status = entry.status if entry is not None else (seed.status if seed is not None else VIGENTE)
    recipient = (seed.recipient, seed.recipient_after) if seed and seed.cancelable == CON_ACEPTACION else (None, None)
    if recently_stamped or (entry is None and status == NO_ENCONTRADO):
        return UuidVerdict(Verdict.NOT_FOUND, status)
    issuer = (seed.issuer if seed is not None else None) or (entry.rfc_emisor if entry is not None else None)
    if issuer and rfc and issuer.upper() != rfc.upper():
        return UuidVerdict(Verdict.NOT_OF_ISSUER, status)
    if status == CANCELADO:
        return UuidVerdict(Verdict.CANCELLED, status)
    if status == EN_PROCESO:
        return UuidVerdict(Verdict.IN_PROCESS, status, *recipient)
    if seed is not None and seed.cancelable == NO_CANCELABLE:
        return UuidVerdict(Verdict.NOT_CANCELABLE, status)
    if seed is not None and seed.cancelable == CON_ACEPTACION:
        return UuidVerdict(Verdict.NEEDS_ACCEPTANCE, status, *recipient)
    return UuidVerdict(Verdict.CANCELABLE, status)


def verdict_of(
    conn: sqlite3.Connection, session: str, uuid: str, rfc: str | None, seed: Seed | None, now: datetime,
    *, stampers: Iterable[str],
) -> UuidVerdict:
    """:func:`verdict` for one UUID, reading the registry in ``conn`` (``stampers``: see :func:`stamped_since`)."""
    recent = bool(stamped_since(conn, session, [uuid], now - NOT_YET_KNOWN, stampers=stampers))
    return verdict(rfc, entry_of(conn, session, uuid), seed, recently_stamped=recent)
