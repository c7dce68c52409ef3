"""Asynchronous cancellation transactions: opened on request, resolved by timers or the recipient.

An accepted UUID becomes a transaction (its id is the UUID; 701 when one exists, decided atomically),
answered 200 (mensaje = the UUID in lower case) or 211 when it waits for the recipient, and resolved by
timers:

- a rule's ``then`` transitions, when given, are the whole lifecycle (e.g. 211 then 213 after 10m);
- else a recipient named in ``sat.cfdis`` answers after ``recipient_after`` (default
  ``resolve_within``): ``acepta`` → 200, ``rechaza`` → 213, ``sin_respuesta`` → stays 211 until
  ``POST /__admin/solucionfactible/cancellations/<uuid>/accept|deny``;
- else it is cancelled ``resolve_within`` (5 minutes) after the request.

Rule codes other than 200/211 answer at once and register nothing (the sandbox's 204 UUIDs). A
resolution updates the transaction, the shared SAT registry (cancelado / rechazado / vigente), signs
the acuse (status 200) and records the notification e-mail for ``emailNotifica`` in the outbox, all
in the timer's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ... import registry
from ...mail import outbox_for
from ...sat import Folio, build_acuse
from ...sat.verdict import CANCELADO, EN_PROCESO, RECHAZA, RECHAZADO, SIN_RESPUESTA, VIGENTE
from . import codes, models
from .codes import message, refuse
from .messages import PROVIDER, Answer, OutcomeFor
from .notification import notification
from .verdict import UuidAnswer, rule_code, rule_message, sat_verdict

if TYPE_CHECKING:
    import sqlite3

    from ...context import Context, Sandbox
    from ...scenarios.model import Outcome
    from ...timers import Firing

TIMER_KIND = "solucionfactible.resolve"
CLAIM_SCOPE = "solucionfactible.async"
GENERIC_RFC = "XAXX010101000"  # acuses for a UUID whose issuer nobody named

# What a resolution's code means for the shared SAT registry (any other code leaves the CFDI vigente).
REGISTRY_STATUS = {
    codes.OK: CANCELADO,
    codes.PREVIOUSLY_CANCELLED: CANCELADO,
    codes.DENIED: RECHAZADO,
}


def signed_acuse(rfc: str | None, at: datetime, results: Sequence[tuple[str, int]]) -> bytes:
    """SAT's acuse for ``results`` (uuid, SAT code), issued for ``rfc`` (the generic RFC when unknown)."""
    return build_acuse(rfc or GENERIC_RFC, at, [(uuid, str(code)) for uuid, code in results])


def register_async(
    ctx: Context, *, usuario: str, operation: str, rfc: str, folios: Sequence[Folio], email: str | None,
    certificate_number: str | None, outcome_for: OutcomeFor,
) -> list[Answer]:
    """Open one transaction per folio (all or none: 701 when any already has one)."""
    outcomes = [outcome_for(f.uuid, f) for f in folios]
    # A refusal (701) leaves the block by an exception, which rolls every folio of the request back.
    with ctx.store.tx() as conn:
        known = registry.Snapshot(conn, ctx.session, [f.uuid for f in folios], ctx.now(), stampers=ctx.runtime.stampers)
        return [
            open_transaction(ctx, conn, known, usuario=usuario, operation=operation, rfc=rfc, folio=f, email=email,
                             certificate_number=certificate_number, outcome=o)
            for f, o in zip(folios, outcomes, strict=True)
        ]


def open_transaction(
    ctx: Context, conn: sqlite3.Connection, known: registry.Snapshot, *, usuario: str, operation: str, rfc: str | None, folio: Folio,
    email: str | None, certificate_number: str | None, outcome: Outcome | None,
) -> Answer:
    """Open the transaction of one folio in ``conn``'s transaction, or answer at once what stops it
    (``known``: what the registry knows of the request's UUIDs)."""
    uuid = folio.uuid
    existing = models.get(conn, ctx.session, uuid)
    # One transaction at a time per UUID (701). A finished one does not block SAT's next step: a
    # cancelled CFDI answers what SAT says (202), a refused or failed request may be made again.
    if existing is not None and existing.status not in codes.FINAL:
        raise refuse(codes.ASYNC_EXISTS, uuid)
    forced = rule_code(outcome, uuid)
    if forced is not None and forced not in (codes.OK, codes.IN_PROCESS):
        return Answer(forced, rule_message(outcome, forced, uuid))
    verdict = sat_verdict(ctx, known, uuid, rfc)
    if forced is None and verdict.code not in (codes.OK, codes.IN_PROCESS):
        return Answer(verdict.code, message(verdict.code))
    if existing is not None:
        # The new request replaces the finished transaction, and nothing left of that one may resolve it.
        models.delete(conn, ctx.session, uuid)
        ctx.timers.cancel(conn, ctx.session, TIMER_KIND, uuid=uuid)
    else:
        won, _ = ctx.store.claim(ctx.session, CLAIM_SCOPE, uuid, usuario)
        if not won:
            raise refuse(codes.ASYNC_EXISTS, uuid)
    now = ctx.now()
    settings = ctx.scenarios.provider(PROVIDER)
    immediate = forced if forced is not None else verdict.code
    answer = Answer(immediate, rule_message(outcome if forced is not None else None, immediate, uuid))
    # Both a first 200 (accepted) and a 211 mean "in process" until a timer or the recipient decides;
    # the status query repeats the words a 211 was answered with.
    in_process = answer.mensaje if immediate == codes.IN_PROCESS else message(codes.IN_PROCESS)
    models.insert(conn, models.Cancellation(
        session=ctx.session, uuid=uuid, usuario=usuario, operation=operation, rfc_emisor=rfc,
        motivo=folio.motivo, folio_sustitucion=folio.folio_sustitucion, email=email,
        certificate_number=certificate_number, status=codes.IN_PROCESS, mensaje=in_process,
        acuse=None, created_at=now.isoformat(), updated_at=now.isoformat(), resolved_at=None,
    ))
    registry.set_status(conn, ctx.session, uuid, EN_PROCESO, at=now, rfc_emisor=rfc, provider=PROVIDER)
    known.note(uuid, EN_PROCESO, rfc)
    for after, code, text in _lifecycle(outcome, forced, verdict, settings.resolve_within):
        ctx.timers.schedule(conn, ctx.session, TIMER_KIND, now + after, {"uuid": uuid, "code": code, "message": text})
    return answer


def _lifecycle(
    outcome: Outcome | None, forced: int | None, verdict: UuidAnswer, resolve_within: timedelta
) -> Iterable[tuple[timedelta, int, str | None]]:
    if outcome is not None and outcome.then:
        return [(t.after, t.code, t.message) for t in outcome.then]
    if forced == codes.OK or verdict.recipient is None:
        return [(resolve_within, codes.OK, None)]
    if verdict.recipient == SIN_RESPUESTA:
        return []
    code = codes.DENIED if verdict.recipient == RECHAZA else codes.OK
    return [(verdict.recipient_after or resolve_within, code, None)]


def resolve(
    runtime: Sandbox, conn: sqlite3.Connection, session: str, uuid: str, code: int, text: str | None, at: datetime
) -> bool:
    """Move a transaction in process to ``code`` (211 keeps it in process). False when already final."""
    row = models.get(conn, session, uuid)
    if row is None or row.status in codes.FINAL:
        return False
    if code == codes.IN_PROCESS:
        models.update_state(conn, session, uuid, code, text or message(codes.IN_PROCESS), at, final=False)
        return True
    acuse = signed_acuse(row.rfc_emisor, at, [(row.uuid, codes.CANCELLED)]) if code == codes.OK else None
    # 200 carries the UUID, as cancelarAsincrono's first 200 does; other codes their description.
    mensaje = text or (row.uuid.lower() if code == codes.OK else message(code))
    models.update_state(conn, session, uuid, code, mensaje, at, final=True, acuse=acuse)
    registry.set_status(conn, session, uuid, REGISTRY_STATUS.get(code, VIGENTE), at=at,
                        rfc_emisor=row.rfc_emisor, provider=PROVIDER)
    if row.email:
        outbox_for(runtime).enqueue(conn, session, notification(row, code, mensaje, at), at=at)
    return True


def decide(ctx: Context, uuid: str, accept: bool) -> models.Cancellation | None:
    """The recipient accepts (200) or denies (213) a transaction in process now. None when unknown.

    Raises ValueError when the transaction has already resolved.
    """
    with ctx.store.tx() as conn:
        row = models.get(conn, ctx.session, uuid)
        if row is None:
            return None
        if row.status in codes.FINAL:
            raise ValueError(f"the cancellation of {row.uuid} already resolved with status {row.status}")
        resolve(ctx.runtime, conn, ctx.session, uuid, codes.OK if accept else codes.DENIED,
                None if accept else message(codes.DENIED), ctx.now())
        row = models.get(conn, ctx.session, uuid)
    outbox_for(ctx.runtime).wake()
    return row


def acuse_for_status(ctx: Context, uuid: str, row: models.Cancellation | None, at: datetime) -> bytes:
    """The acuse a status query forced to 200 by a rule shows: the transaction's, or one signed now."""
    if row is not None and row.acuse:
        return row.acuse
    seed = ctx.scenarios.sat.cfdi(uuid)
    rfc = (row.rfc_emisor if row else None) or (seed.issuer if seed else None)
    return signed_acuse(rfc, at, [(uuid, codes.CANCELLED)])


def install(runtime: Sandbox) -> None:
    outbox_for(runtime)  # the outbox table must exist before a timer writes to it

    def on_timer(firing: Firing) -> None:
        p = firing.payload
        resolve(runtime, firing.conn, firing.session, p["uuid"], int(p["code"]), p.get("message"), firing.due_at)

    runtime.timers.register(TIMER_KIND, on_timer)
