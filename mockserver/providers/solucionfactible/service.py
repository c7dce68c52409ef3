"""Solución Factible's operations on the ``Cancelacion`` service (no XML, no HTTP).

Every operation answers a status code from :mod:`.codes` and a message; the checks run in this order:

1. credentials (:mod:`.auth`): 611, 601, 604, 602, 603, 605, 633, 620;
2. parameters (:mod:`.parameters`): 611 incomplete, 621 invalid data (UUID,
   ``UUID|Motivo|FolioSustitucion``, base64, RFC, e-mail). A bare UUID means Motivo 02;
3. the CSD, or the seal of a signed request (:mod:`.csd`): 301, 302, 303, 304, 305, 306, 308, 620, 611;
4. a scenario rule's ``code`` (per UUID with ``uuid_codes``) replaces the result of the real checks;
5. what SAT knows (:mod:`.verdict`, the registry's one verdict): 205 unknown, 203 another issuer, 202
   already cancelled, 211 in process, 204 not cancelable, 211 acceptance by the recipient needed.

The asynchronous operations open transactions (:mod:`.lifecycle`); ``getStatusCancelacionAsincrona``
reports one: 211, 200 with ``acuseSat``, 213, 204...; 702 when there is none for that user. A status
rule's code changes the answer only, not the transaction. The synchronous ones decide at once
(:mod:`.synchronous`).

A rule stops a call by raising :class:`~mockserver.providers.errors.ProviderError` (``codes.refuse``);
:func:`operation` is the one place that turns it into the answer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ...sat.cancelacion import UUID_RE
from ...store import is_database_error
from ..errors import ProviderError
from . import codes, models
from .auth import CANCEL, CANCEL_ASYNC, SECTOR_PRIMARIO, SUBMIT_SIGNED, authenticate
from .codes import refuse
from .csd import resolve_csd, verify_solicitud
from .lifecycle import acuse_for_status, register_async
from .messages import (
    Answer,
    CancelarAsincronoRequest,
    CancelarRequest,
    OutcomeFor,
    SectorPrimarioRequest,
    SolicitudRequest,
    StatusRequest,
    refused,
)
from .parameters import check_layout, parse_email, parse_rfc, parse_uuid_field, with_motivo
from .synchronous import cancel_now
from .verdict import rule_code, rule_message

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios.model import Outcome

Request = TypeVar("Request")
Summary = dict[str, Any]
log = logging.getLogger(__name__)


def operation(
    run: Callable[[Context, Request, Any, Summary], Answer],
) -> Callable[[Context, Request, Any], Answer]:
    """The service boundary: ``run`` fills the journal summary and answers, or raises a ProviderError.

    An error nobody foresaw is answered from the catalogue, never as a fault: a database error 501
    "Data Base conection error.", anything else 500 (both logged with their stack trace)."""

    @functools.wraps(run)
    def answer(ctx: Context, req: Request, outcome: Any) -> Answer:
        summary: Summary = {"user": getattr(req, "usuario", None)}
        try:
            result = run(ctx, req, outcome, summary)
        except ProviderError as error:
            return refused(error, summary)
        except Exception as exc:
            if is_database_error(exc):
                log.exception("Solución Factible: database error")
                return refused(refuse(codes.ASYNC_DB), summary)
            log.exception("Solución Factible: unforeseen error")
            return refused(refuse(codes.INTERNAL), summary)
        result.summary = {**summary, "code": result.status}
        return result

    return answer


@operation
def cancelar_asincrono(ctx: Context, req: CancelarAsincronoRequest, outcome: Outcome | None, summary: Summary) -> Answer:
    summary.update(uuid=req.uuid, rfc=req.rfc_emisor)
    check_layout(req.misplaced)
    account = authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC))
    if not req.uuid or not req.rfc_emisor:
        raise refuse(codes.INCOMPLETE, "uuid y rfcEmisor son requeridos")
    folio = parse_uuid_field(req.uuid)
    rfc = parse_rfc(req.rfc_emisor)
    email = parse_email(req.email)
    summary.update(uuid=folio.uuid, rfc=rfc)
    cert = resolve_csd(ctx, account, rfc, req.csd)
    answers = register_async(
        ctx, usuario=account.user, operation="cancelarAsincrono", rfc=rfc, folios=[folio], email=email,
        certificate_number=cert.certificate_number, outcome_for=lambda _u, _f: outcome,
    )
    return answers[0]


@operation
def enviar_solicitud_asincrono(ctx: Context, req: SolicitudRequest, outcome_for: OutcomeFor, summary: Summary) -> Answer:
    check_layout(req.misplaced)
    account = authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC, SUBMIT_SIGNED))
    email = parse_email(req.email)
    verified = verify_solicitud(ctx, req.solicitud)
    c = verified.cancelacion
    summary.update(uuid=",".join(c.uuids), rfc=c.rfc_emisor)
    answers = register_async(
        ctx, usuario=account.user, operation="enviarSolicitudCancelacionAsincrono", rfc=c.rfc_emisor,
        folios=[with_motivo(f) for f in c.folios], email=email,
        certificate_number=verified.certificate.certificate_number, outcome_for=outcome_for,
    )
    refusals = [a for a in answers if a.status not in (codes.OK, codes.IN_PROCESS)]
    if refusals:
        return refusals[0]
    if len(answers) == 1:
        return answers[0]
    status = codes.IN_PROCESS if any(a.status == codes.IN_PROCESS for a in answers) else codes.OK
    return Answer(status, ",".join(u.lower() for u in c.uuids))


@operation
def status_cancelacion(ctx: Context, req: StatusRequest, outcome: Outcome | None, summary: Summary) -> Answer:
    summary["uuid"] = req.transaction_id
    check_layout(req.misplaced)
    authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC))
    if not req.transaction_id or not req.transaction_id.strip():
        raise refuse(codes.INCOMPLETE, "transactionId es requerido")
    uuid = req.transaction_id.split("|", 1)[0].strip()
    if not UUID_RE.match(uuid):
        raise refuse(codes.INVALID_DATA, "transactionId no es un UUID")
    uuid = uuid.upper()
    summary["uuid"] = uuid
    with ctx.store.read() as conn:
        row = models.get(conn, ctx.session, uuid)
    forced = rule_code(outcome, uuid)
    if forced is not None:
        acuse = acuse_for_status(ctx, uuid, row, ctx.now()) if forced == codes.OK else None
        return Answer(forced, rule_message(outcome, forced, uuid), acuse)
    if row is None or row.usuario != req.usuario:
        raise refuse(codes.ASYNC_UNKNOWN, uuid)
    return Answer(row.status, row.mensaje, row.acuse if row.status == codes.OK else None)


@operation
def cancelar(ctx: Context, req: CancelarRequest, outcome_for: OutcomeFor, summary: Summary) -> Answer:
    summary["rfc"] = req.rfc_emisor
    check_layout(req.misplaced)
    account = authenticate(ctx, req.usuario, req.password, (CANCEL,))
    uuids = [u for u in req.uuids if u and u.strip()]
    if not uuids or not req.rfc_emisor:
        raise refuse(codes.INCOMPLETE, "rfcEmisor y uuids son requeridos")
    folios = [parse_uuid_field(u) for u in uuids]
    rfc = parse_rfc(req.rfc_emisor)
    summary.update(uuid=",".join(f.uuid for f in folios), rfc=rfc)
    cert = resolve_csd(ctx, account, rfc, req.csd)
    return cancel_now(ctx, usuario=account.user, operation="cancelar", rfc=rfc, folios=folios,
                      certificate_number=cert.certificate_number, outcome_for=outcome_for)


@operation
def enviar_solicitud(ctx: Context, req: SolicitudRequest, outcome_for: OutcomeFor, summary: Summary) -> Answer:
    check_layout(req.misplaced)
    account = authenticate(ctx, req.usuario, req.password, (CANCEL, SUBMIT_SIGNED))
    verified = verify_solicitud(ctx, req.solicitud)
    c = verified.cancelacion
    summary.update(uuid=",".join(c.uuids), rfc=c.rfc_emisor)
    return cancel_now(ctx, usuario=account.user, operation="enviarSolicitudCancelacion", rfc=c.rfc_emisor,
                      folios=[with_motivo(f) for f in c.folios],
                      certificate_number=verified.certificate.certificate_number, outcome_for=outcome_for)


@operation
def cancelar_sector_primario(ctx: Context, req: SectorPrimarioRequest, outcome: Outcome | None, summary: Summary) -> Answer:
    summary["uuid"] = req.uuid
    check_layout(req.misplaced)
    account = authenticate(ctx, req.usuario, req.password, (SECTOR_PRIMARIO,))
    if not req.uuid or not req.uuid.strip():
        raise refuse(codes.INCOMPLETE, "uuid es requerido")
    folio = parse_uuid_field(req.uuid)
    summary["uuid"] = folio.uuid
    return cancel_now(ctx, usuario=account.user, operation="cancelarSectorPrimario", rfc=None,
                      folios=[folio], certificate_number=None, outcome_for=lambda _u, _f: outcome)
