"""Expide Tu Factura state: stamps used per account, and what SAT knows about each UUID.

Stamps are the store's counters (``Store.counter``/``increment``) and UUID states live in the shared
SAT registry, so the provider needs no table of its own and writes no SQL. Every function here runs
inside the caller's write transaction (those taking ``conn`` are handed it; :func:`take_stamp` takes
the store and joins it through ``store.tx()``), which is what makes a stamp count-down and a
201-vs-202 decision atomic across workers.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ... import registry
from ...sat.verdict import CANCELADO, EN_PROCESO, RECHAZADO, Entry

if TYPE_CHECKING:
    from ...context import Context, Sandbox
    from ...store import Store
    from ...timers import Firing

PROVIDER_ID = "expidetufactura"
RECIPIENT_TIMER = "expidetufactura.recipient"
_STAMPS = "expidetufactura:stamps-used:"


# What the shared SAT registry holds for one UUID.
Known = Entry


# ---------------------------------------------------------------- stamps


def stamps_used(store: Store, session: str, user: str) -> int:
    return store.counter(session, _STAMPS + user)


def take_stamp(store: Store, session: str, user: str, limit: int | None) -> bool:
    """Use one stamp of ``user``; False when ``limit`` is already used up (None = unlimited).

    Inside the caller's transaction (``store.tx`` joins it), so the count-down is atomic with the rest.
    """
    if limit is None:
        return True
    with store.tx():
        if stamps_used(store, session, user) >= limit:
            return False
        store.increment(session, _STAMPS + user)
    return True


# ---------------------------------------------------------------- the SAT registry


def known(conn: sqlite3.Connection, session: str, uuids: list[str]) -> dict[str, Known]:
    """The registry's entries for these UUIDs (upper-case keys), in one query."""
    return registry.entries_of(conn, session, uuids)


def mark_cancelled(conn: sqlite3.Connection, session: str, uuids: list[str], rfc: str, at: datetime) -> None:
    registry.set_statuses(conn, session, uuids, CANCELADO, at=at, rfc_emisor=rfc, provider=PROVIDER_ID)


def mark_pending(
    ctx: Context, conn: sqlite3.Connection, uuid: str, rfc: str, at: datetime, answer_in: timedelta, accepted: bool
) -> None:
    """A cancellation that waits for the recipient: in process now, resolved by a timer."""
    registry.set_status(conn, ctx.session, uuid, EN_PROCESO, at=at, rfc_emisor=rfc, provider=PROVIDER_ID)
    ctx.timers.schedule(
        conn,
        ctx.session,
        RECIPIENT_TIMER,
        at + answer_in,
        {"uuid": uuid, "status": CANCELADO if accepted else RECHAZADO},
    )


def resolve_recipient(firing: Firing) -> None:
    """The recipient answered (or the acceptance period ran out): settle the UUID if still pending."""
    uuid = firing.payload["uuid"]
    if registry.status_of(firing.conn, firing.session, uuid) == EN_PROCESO:
        registry.set_status(
            firing.conn, firing.session, uuid, firing.payload["status"], at=firing.due_at, provider=PROVIDER_ID
        )


def install(runtime: Sandbox) -> None:
    runtime.timers.register(RECIPIENT_TIMER, resolve_recipient)


def state(ctx: Context) -> dict:
    """Stamps left per limited account, and cancellations waiting for the recipient."""
    accounts = [a for a in ctx.scenarios.accounts(PROVIDER_ID) if a.stamps is not None]
    stamps = {a.user: {"limit": a.stamps, "used": stamps_used(ctx.store, ctx.session, a.user)} for a in accounts}
    pending = [t for t in ctx.timers.pending(ctx.session) if t["kind"] == RECIPIENT_TIMER]
    return {
        "stamps": stamps,
        "awaiting_recipient": [{"uuid": t["payload"]["uuid"], "due_at": t["due_at"]} for t in pending],
    }
