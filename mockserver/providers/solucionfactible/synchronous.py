"""Synchronous cancellation (``cancelar``, ``enviarSolicitudCancelacion``, ``cancelarSectorPrimario``).

Each UUID is decided at once (SAT's 201 cancelled, 202, 203, 204, 205; 211 when the recipient must
accept, which also opens a transaction that ``getStatusCancelacionAsincrona`` follows). The answer is
200 with a signed acuse listing every folio when all got the same answer, otherwise 200 with the acuse
and a per-UUID summary in ``mensaje``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ... import registry
from ...sat import Folio
from ...sat.verdict import CANCELADO
from . import codes, models
from .codes import message
from .lifecycle import open_transaction, signed_acuse
from .messages import PROVIDER, Answer, OutcomeFor
from .verdict import rule_code, rule_message, sat_verdict

if TYPE_CHECKING:
    from ...context import Context

# SAT issues an acuse for what it cancelled now or before; other answers carry none.
WITH_ACUSE = frozenset({codes.CANCELLED, codes.PREVIOUSLY_CANCELLED})


def cancel_now(
    ctx: Context, *, usuario: str, operation: str, rfc: str | None, folios: Sequence[Folio],
    certificate_number: str | None, outcome_for: OutcomeFor,
) -> Answer:
    """Decide every folio now; answer with a signed acuse (see the module notes)."""
    outcomes = [outcome_for(f.uuid, f) for f in folios]
    results: list[tuple[str, int]] = []
    now = ctx.now()
    with ctx.store.tx() as conn:
        known = registry.Snapshot(conn, ctx.session, [f.uuid for f in folios], now, stampers=ctx.runtime.stampers)
        issuer = rfc
        for folio, outcome in zip(folios, outcomes, strict=True):
            uuid = folio.uuid
            existing = models.get(conn, ctx.session, uuid)
            forced = rule_code(outcome, uuid)
            if forced is not None:
                code = codes.CANCELLED if forced == codes.OK else forced
            elif existing is not None and existing.status not in codes.FINAL:
                code = codes.IN_PROCESS
            else:
                verdict = sat_verdict(ctx, known, uuid, rfc)
                code = codes.CANCELLED if verdict.code == codes.OK else verdict.code
                if verdict.code == codes.IN_PROCESS and existing is None:
                    open_transaction(ctx, conn, known, usuario=usuario, operation=operation, rfc=rfc, folio=folio,
                                     email=None, certificate_number=certificate_number, outcome=None)
            if code == codes.CANCELLED:
                registry.set_status(conn, ctx.session, uuid, CANCELADO, at=now, rfc_emisor=rfc,
                                    provider=PROVIDER)
                known.note(uuid, CANCELADO, rfc)
            if issuer is None:
                seed = ctx.scenarios.sat.cfdi(uuid)
                entry = known.entry(uuid)
                issuer = (seed.issuer if seed else None) or (entry.rfc_emisor if entry else None)
            results.append((uuid, code))
    distinct = {code for _, code in results}
    if len(distinct) == 1:
        code = distinct.pop()
        acuse = signed_acuse(issuer, now, results) if code in WITH_ACUSE else None
        if code == codes.CANCELLED:
            return Answer(codes.OK, message(codes.OK), acuse)
        outcome = outcomes[0] if len(folios) == 1 else None
        return Answer(code, rule_message(outcome, code, results[0][0]), acuse)
    summary = "; ".join(f"{uuid}: {code}" for uuid, code in results)
    return Answer(codes.OK, f"{message(codes.OK)} ({summary})", signed_acuse(issuer, now, results))
