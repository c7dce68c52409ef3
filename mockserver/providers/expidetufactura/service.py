"""Expide Tu Factura ``cancelar`` rules: credentials, the signed Cancelacion, dates, SAT's answers.

No XML envelopes and no HTTP here: :func:`cancelar` takes what the wire read and returns what the
wire writes, or raises :class:`ProviderError` with the code that answers the whole request. Order of
checks (the first failure answers):

1. credentials: 501 unknown user, wrong token, or an account of the other environment; 502
   "Acceso Denegado" account not active, 502 without the ``cancel`` permission; 503 "Es necesario
   recontractar" no stamps left;
2. ``xmlBytes``: 301 absent, not base64 or not UTF-8; 301 line breaks inside the document (strict);
3. the document and its seal (SAT core, see ``codes.SAT_REASONS``): 301 structure, 302 seal (and
   rsa-sha256/sha256 when strict), 302 "No fue posible procesar el certificado", 303 RFC /
   SerialNumber / IssuerName not of the certificate, 401 Fecha not ``aaaa-MM-ddThh:mm:ss``;
   500 "UUID inválido" for a UUID that is not upper-case hexadecimal;
4. Fecha (Mexico City wall clock, mock clock): 403 before 2012-01-01, 401 in the future or older
   than 72 hours;
5. the certificate: 308 not issued by SAT, 306 not a CSD, 304 revoked or expired, 305 Fecha outside
   its validity (or not valid yet);
6. 402 RFC not in the taxpayer registry;
7. scenario rules (they never switch a check off): a rule's ``code`` other than 200 and 201–205
   answers the whole request, and so does ``extra.failure`` (500 with the guide's message);
   201–205 (and ``uuid_codes``) set a folio's status;
8. one stamp is used and each folio gets 201/202/203/204/205 — atomically, in one transaction. The
   test environment answers only 201 and 202 (``strict.pruebas_201_202``), as the guide says.

A database error answers 500 "Intente de nuevo más tarde"; any other unforeseen error 500 "No fue
posible atender la solicitud" (the guide's messages), never a fault.

Strictness (scenario ``providers.expidetufactura.strict``, every key true by default = the guide):
``sha1_only``, ``no_line_breaks``, ``pruebas_201_202``.

Rules are matched once per UUID: the dispatcher matches the first UUID (see :func:`rule_fields`),
:func:`cancelar` the others. ``then`` does not apply (the answer is synchronous); of ``extra`` only
``failure`` does.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ... import registry
from ...sat import (
    BadUuid,
    Cancelacion,
    SatError,
    Unverified,
    VerifiedCancelacion,
    build_acuse,
    read_unverified,
    verify_seal,
)
from ...sat.cancelacion import has_line_breaks, is_uuid
from ...sat.certificates import certificate_number_of
from ...sat.verdict import CANCELADO, NOT_YET_KNOWN, RECHAZA, SIN_RESPUESTA, UuidVerdict, Verdict
from ...sat.verdict import verdict as sat_verdict
from ...store import is_database_error
from ..errors import ProviderError
from . import codes, models
from .codes import refuse
from .models import PROVIDER_ID, Known

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios.model import Account, Outcome

log = logging.getLogger(__name__)

OPERATION = "cancelar"
FECHA_MINIMA = datetime(2012, 1, 1)
VENTANA = timedelta(hours=72)
# A client's clock running a little ahead of the mock's is not a "future" Fecha.
TOLERANCIA_RELOJ = timedelta(minutes=5)
# A cancellation needing the recipient's acceptance is settled by SAT after 72 h without an answer.
PLAZO_RECEPTOR = timedelta(hours=72)
SUMMARY_UUIDS = 20
_ENCODING_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Strictness:
    """How literally the guide is followed; every setting true by default (what the guide says)."""

    sha1_only: bool = True  # rsa-sha1 and sha1 only (003:28, 35, 72, 89)
    no_line_breaks: bool = True  # the xml without line breaks (003:60)
    pruebas_201_202: bool = True  # the test environment answers 201 and 202 only (003:162)

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> Strictness:
        raw = section.get("strict") or {}
        return cls(**{k: bool(raw[k]) for k in ("sha1_only", "no_line_breaks", "pruebas_201_202") if k in raw})


@dataclass(frozen=True)
class CancelarRequest:
    """What the wire read from ``cancelar``. ``xml`` is None when absent or undecodable (``problem``)."""

    usuario: str | None
    token: str | None
    xml: bytes | None
    problem: str | None = None

    @functools.cached_property
    def document(self) -> Unverified:
        """The Cancelacion parsed and read once, for rule matching and then for its verification."""
        return read_unverified(self.xml or b"")


@dataclass
class RespuestaCancelacion:
    """``respuestaCancelacion``: codes as text; ``folios`` are (uuid, estatusUUID) in request order."""

    cod_estatus: str
    cod_mensaje: str
    acuse: str | None = None
    folios: list[tuple[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- rule fields


# Every key :func:`rule_fields` fills.
RULE_FIELDS = frozenset({"user", "environment", "uuid", "rfc", "motivo", "folio_sustitucion", "certificate_number"})


def rule_fields(request: CancelarRequest, environment: str) -> dict[str, str | None]:
    """Fields rules match on for the request and its first UUID (read without verifying the seal).

    Never raises: an unreadable document gives the credential fields only.
    """
    fields: dict[str, str | None] = {"user": request.usuario, "environment": environment}
    if request.xml is None:
        return fields
    cancelacion = request.document.cancelacion
    if cancelacion is None:
        return fields
    fields.update(_folio_fields(cancelacion, 0))
    fields["certificate_number"] = _claimed_certificate_number(request.xml)
    return fields


def _folio_fields(cancelacion: Cancelacion, index: int) -> dict[str, str | None]:
    folio = cancelacion.folios[index]
    return {
        "rfc": cancelacion.rfc_emisor,
        "uuid": folio.uuid,
        "motivo": folio.motivo,
        "folio_sustitucion": folio.folio_sustitucion,
    }


def _claimed_certificate_number(xml: bytes) -> str | None:
    # Cheap, unverified: X509SerialNumber as written (decimal serial or the 20-digit number).
    start = xml.find(b"X509SerialNumber>")
    if start < 0:
        return None
    end = xml.find(b"<", start)
    text = xml[start + len("X509SerialNumber>") : end].strip().decode("ascii", "replace")
    if not text.isdigit():
        return None
    return text if len(text) == 20 else certificate_number_of(int(text))


# ---------------------------------------------------------------- cancelar


def cancelar(
    ctx: Context,
    environment: str,
    request: CancelarRequest,
    outcome: Outcome | None = None,
    summary: dict[str, Any] | None = None,
) -> RespuestaCancelacion:
    """Answer one ``cancelar`` call, or raise :class:`ProviderError` with the code that answers it.

    ``outcome`` is the scenario outcome for the first UUID; ``summary`` (the journal's) receives what
    was learnt of the request, also when it is refused.
    """
    summary = {} if summary is None else summary
    summary.update(user=request.usuario, environment=environment)
    strict = ctx.scenarios.provider(PROVIDER_ID).strict
    try:
        account = _check_account(ctx, environment, request)
        verified = _check_document(ctx, request, summary, strict)
        cancelacion = verified.cancelacion
        outcomes = [outcome, *_outcomes_for_other_folios(ctx, environment, request, cancelacion)]
        _check_forced_answer(outcomes)
        pruebas_only = environment == "pruebas" and strict.pruebas_201_202
        folios = _cancel_folios(ctx, account, cancelacion, outcomes, pruebas_only)
        acuse = build_acuse(cancelacion.rfc_emisor, ctx.now(), folios).decode("utf-8")
    except ProviderError:
        raise
    except Exception as exc:  # the guide's answers to an unforeseen error, never a stack trace
        if is_database_error(exc):
            log.exception("Expide Tu Factura: database error")
            raise refuse(codes.ERROR_DEL_SERVICIO, plain=codes.INTENTE_MAS_TARDE) from None
        log.exception("Expide Tu Factura: unforeseen error")
        raise refuse(codes.ERROR_DEL_SERVICIO, plain=codes.NO_ATENDIDA) from None
    counts: dict[str, int] = {}
    for _, estatus in folios:
        counts[estatus] = counts.get(estatus, 0) + 1
    summary.update(
        code=codes.OK,
        estatus=counts,
        uuids=[f"{u}:{e}" for u, e in folios[:SUMMARY_UUIDS]],
    )
    return RespuestaCancelacion(codes.OK, codes.message(codes.OK), acuse, folios, summary)


def _check_account(ctx: Context, environment: str, request: CancelarRequest) -> Account:
    account = ctx.scenarios.account(PROVIDER_ID, request.usuario or "")
    # An account of the other environment is refused as if unknown, as the real service does.
    if account is None or not account.check_password(request.token) or account.environment != environment:
        raise refuse(codes.CREDENCIALES_INVALIDAS)
    if not account.active:  # not (or no longer) registered with the provider
        raise refuse(codes.NO_AUTORIZADO, plain=codes.ACCESO_DENEGADO)
    if not account.allows("cancel"):
        raise refuse(codes.NO_AUTORIZADO)
    if account.stamps is not None and models.stamps_used(ctx.store, ctx.session, account.user) >= account.stamps:
        raise refuse(codes.SIN_TIMBRES, plain=codes.RECONTRATAR)
    return account


def _check_document(
    ctx: Context, request: CancelarRequest, summary: dict[str, Any], strict: Strictness
) -> VerifiedCancelacion:
    xml = request.xml
    if xml is None:
        raise refuse(codes.XML_MAL_FORMADO, request.problem or codes.NO_XML)
    if not _is_utf8(xml):
        raise refuse(codes.XML_MAL_FORMADO, codes.NOT_UTF8)
    if strict.no_line_breaks and has_line_breaks(xml):
        raise refuse(codes.XML_MAL_FORMADO, codes.LINE_BREAKS)
    try:
        verified = verify_seal(xml, sha1_only=strict.sha1_only, read=request.document)
    except SatError as error:
        raise codes.refuse_sat(error) from None
    cancelacion, cert = verified.cancelacion, verified.certificate
    # The guide's UUID pattern (003:179): upper-case hexadecimal only.
    bad = [u for u in cancelacion.written_uuids if not is_uuid(u, upper_case=True)]
    if bad:
        raise codes.refuse_sat(BadUuid(", ".join(bad[:5])))
    summary.update(
        rfc=cancelacion.rfc_emisor,
        fecha=cancelacion.fecha_text,
        format=cancelacion.format,
        folios=len(cancelacion.folios),
        certificate_number=cert.certificate_number,
    )
    _check_fecha(ctx, cancelacion)
    try:
        ctx.scenarios.certificate_policy(cert, ctx.now(), cancelacion.fecha_aware())
    except SatError as error:
        raise codes.refuse_sat(error) from None
    if not ctx.scenarios.sat.is_taxpayer(cancelacion.rfc_emisor):
        raise refuse(codes.NO_CONTRIBUYENTE)
    return verified


def _check_fecha(ctx: Context, cancelacion: Cancelacion) -> None:
    if cancelacion.fecha < FECHA_MINIMA:
        raise refuse(codes.ANTERIOR_A_2012)
    fecha = cancelacion.fecha_aware()
    now = ctx.now()
    if fecha > now + TOLERANCIA_RELOJ:
        raise refuse(codes.FECHA_FUERA_DE_RANGO, codes.FECHA_FUTURA, plain=codes.FECHA_INVALIDA)
    if fecha < now - VENTANA:
        raise refuse(codes.FECHA_FUERA_DE_RANGO, codes.FECHA_VENCIDA, plain=codes.FECHA_INVALIDA)


# ---------------------------------------------------------------- rules and folios


def _outcomes_for_other_folios(
    ctx: Context, environment: str, request: CancelarRequest, cancelacion: Cancelacion
) -> list[Outcome | None]:
    base = {
        "user": request.usuario,
        "environment": environment,
        "certificate_number": _claimed_certificate_number(request.xml or b""),
    }
    return [
        ctx.outcome(PROVIDER_ID, OPERATION, {**base, **_folio_fields(cancelacion, i)})
        for i in range(1, len(cancelacion.folios))
    ]


def _check_forced_answer(outcomes: list[Outcome | None]) -> None:
    """A rule's request-level code (or ``extra.failure``) answers the whole request."""
    for outcome in outcomes:
        if outcome is None:
            continue
        code_given = outcome.code is not None and outcome.code != int(codes.OK)
        request_code = code_given and not codes.is_folio_code(outcome.code)
        failure = outcome.extra.get("failure")
        if failure in codes.FAILURES:
            code = str(outcome.code) if request_code else codes.ERROR_DEL_SERVICIO
            raise refuse(code, text=outcome.message or codes.mensaje(code, codes.FAILURES[failure]))
        if request_code:
            code = str(outcome.code)
            raise refuse(code, text=outcome.message or codes.message(code))


def _is_utf8(xml: bytes) -> bool:
    """The guide asks for the xml "en bytes UTF-8" (003:126): valid UTF-8, and declared so if declared."""
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError:
        return False
    declared = _ENCODING_DECL.match(xml.removeprefix(b"\xef\xbb\xbf"))
    return declared is None or declared.group(1).decode("ascii", "replace").lower() in ("utf-8", "utf8")


def _forced_estatus(uuid: str, own: Outcome | None, with_uuid_codes: list[Outcome]) -> str | None:
    if own is not None and codes.is_folio_code(own.code):
        return str(own.code)
    for outcome in with_uuid_codes:
        code = outcome.code_for_uuid(uuid)
        if code is not None:
            return str(code)
    return None


def _cancel_folios(
    ctx: Context, account: Account, cancelacion: Cancelacion, outcomes: list[Outcome | None], pruebas_only: bool
) -> list[tuple[str, str]]:
    rfc = cancelacion.rfc_emisor
    sat = ctx.scenarios.sat
    now = ctx.now()
    with_uuid_codes = [o for o in outcomes if o is not None and o.uuid_codes]
    folios: list[tuple[str, str]] = []
    with ctx.store.tx() as conn:
        if not models.take_stamp(ctx.store, ctx.session, account.user, account.stamps):
            # another request used the last stamp meanwhile
            raise refuse(codes.SIN_TIMBRES, plain=codes.RECONTRATAR)
        known = models.known(conn, ctx.session, cancelacion.uuids)
        recent = registry.stamped_since(conn, ctx.session, cancelacion.uuids, now - NOT_YET_KNOWN,
                                        stampers=ctx.runtime.stampers)
        cancelled: list[str] = []
        for folio, own in zip(cancelacion.folios, outcomes, strict=True):
            uuid = folio.uuid
            seed = sat.cfdi(uuid)
            verdict = sat_verdict(rfc, known.get(uuid.upper()), seed, recently_stamped=uuid.upper() in recent)
            estatus, action = estatus_folio(verdict, pruebas_only)
            forced = _forced_estatus(uuid, own, with_uuid_codes)
            if forced is not None:
                estatus, action = forced, (CANCELAR if forced == codes.CANCELADO else None)
            if action == CANCELAR:
                cancelled.append(uuid)
                # a UUID repeated later in the same request is then "previously cancelled"
                known[uuid.upper()] = Known(CANCELADO, rfc)
            elif action == ESPERAR and seed is not None:
                accepted = seed.recipient != RECHAZA
                wait = seed.recipient_after
                if wait is None:
                    wait = PLAZO_RECEPTOR if seed.recipient == SIN_RESPUESTA else timedelta(0)
                models.mark_pending(ctx, conn, uuid, rfc, now, wait, accepted)
            folios.append((uuid, estatus))
        models.mark_cancelled(conn, ctx.session, cancelled, rfc, now)
    return folios


# What to do with a folio once SAT's estatusUUID is known.
CANCELAR = "cancelar"  # cancel it now
ESPERAR = "esperar"  # ask the recipient; a timer settles it


def estatus_folio(verdict: UuidVerdict, pruebas_only: bool = False) -> tuple[str, str | None]:
    """SAT's EstatusUUID for one folio (the registry's neutral verdict in the guide's codes), and what
    to do: :data:`CANCELAR`, :data:`ESPERAR` (the recipient) or None.

    ``pruebas_only``: the test environment answers 201 or 202 only (003:162): cancelled before is
    202, anything else is cancelled now.
    """
    if pruebas_only:
        if verdict.status == CANCELADO:
            return codes.PREVIAMENTE_CANCELADO, None
        return codes.CANCELADO, (ESPERAR if verdict.verdict == Verdict.NEEDS_ACCEPTANCE else CANCELAR)
    estatus = codes.VERDICTS[verdict.verdict]
    if verdict.verdict == Verdict.CANCELABLE:
        return estatus, CANCELAR
    if verdict.verdict == Verdict.NEEDS_ACCEPTANCE:
        return estatus, ESPERAR
    return estatus, None
