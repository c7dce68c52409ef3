"""Expide Tu Factura ``cancelar`` rules: credentials, the signed Cancelacion, dates, SAT's answers.

No XML envelopes and no HTTP here: :func:`cancelar` takes what the wire read and returns what the
wire writes. Order of checks (the first failure answers):

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

import logging
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ... import registry
from ...sat import (
    Cancelacion,
    FechaOutsideValidity,
    NotACsd,
    SatError,
    VerifiedCancelacion,
    build_acuse,
    parse_cancelacion,
    verify_seal,
)
from ...sat.cancelacion import has_line_breaks
from ...sat.certificates import certificate_number_of, check_validity
from . import codes, models
from .models import PROVIDER_ID, Known

if TYPE_CHECKING:
    from ...runtime import Context
    from ...scenarios.model import Account, Outcome, SatCfdi

log = logging.getLogger(__name__)

OPERATION = "cancelar"
FECHA_MINIMA = datetime(2012, 1, 1)
VENTANA = timedelta(hours=72)
# A client's clock running a little ahead of the mock's is not a "future" Fecha.
TOLERANCIA_RELOJ = timedelta(minutes=5)
# A cancellation needing the recipient's acceptance is settled by SAT after 72 h without an answer.
PLAZO_RECEPTOR = timedelta(hours=72)
SUMMARY_UUIDS = 20
# The guide's UUID pattern (003:179): upper-case hexadecimal only.
UUID_PATTERN = re.compile(r"^[A-F0-9]{8}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{12}$")
# A CFDI stamped in this sandbox less than this long ago (mock time) is not yet known to SAT: 205.
RECIEN_EMITIDO = timedelta(minutes=5)
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


@dataclass
class RespuestaCancelacion:
    """``respuestaCancelacion``: codes as text; ``folios`` are (uuid, estatusUUID) in request order."""

    cod_estatus: str
    cod_mensaje: str
    acuse: str | None = None
    folios: list[tuple[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


class _Answer(Exception):
    """A check failed: answer this code and message."""

    def __init__(self, code: str, message: str | None = None, plain: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or codes.mensaje(code, plain)


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
    try:
        cancelacion = parse_cancelacion(request.xml)
    except SatError:
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
    ctx: Context, environment: str, request: CancelarRequest, outcome: Outcome | None = None
) -> RespuestaCancelacion:
    """Answer one ``cancelar`` call. ``outcome`` is the scenario outcome for the first UUID."""
    summary: dict[str, Any] = {"user": request.usuario, "environment": environment}
    strict = ctx.scenarios.provider(PROVIDER_ID).strict
    try:
        try:
            account = _check_account(ctx, environment, request)
            verified = _check_document(ctx, request, summary, strict)
            cancelacion = verified.cancelacion
            outcomes = [outcome, *_outcomes_for_other_folios(ctx, environment, request, cancelacion)]
            forced = _forced_answer(outcomes)
            if forced is not None:
                raise _Answer(*forced)
            pruebas_only = environment == "pruebas" and strict.pruebas_201_202
            folios = _cancel_folios(ctx, account, cancelacion, outcomes, pruebas_only)
            acuse = build_acuse(cancelacion.rfc_emisor, ctx.now(), folios).decode("utf-8")
        except sqlite3.Error:
            log.exception("Expide Tu Factura: database error")
            raise _Answer("500", plain=codes.INTENTE_MAS_TARDE) from None
        except _Answer:
            raise
        except Exception:  # the guide's answer to an unforeseen error, never a stack trace
            log.exception("Expide Tu Factura: unforeseen error")
            raise _Answer("500", plain=codes.NO_ATENDIDA) from None
    except _Answer as answer:
        summary.update(code=answer.code, message=answer.message)
        return RespuestaCancelacion(answer.code, answer.message, summary=summary)
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
        raise _Answer("501")
    if not account.active:  # not (or no longer) registered with the provider
        raise _Answer("502", plain=codes.ACCESO_DENEGADO)
    if not account.allows("cancel"):
        raise _Answer("502")
    if account.stamps is not None:
        with ctx.store.read() as conn:
            if models.stamps_used(conn, ctx.session, account.user) >= account.stamps:
                raise _Answer("503", plain=codes.RECONTRATAR)
    return account


def _check_document(
    ctx: Context, request: CancelarRequest, summary: dict[str, Any], strict: Strictness
) -> VerifiedCancelacion:
    xml = request.xml
    if xml is None:
        raise _Answer("301", codes.mensaje("301", None, request.problem or codes.NO_XML))
    if not _is_utf8(xml):
        raise _Answer("301", codes.mensaje("301", None, codes.NOT_UTF8))
    if strict.no_line_breaks and has_line_breaks(xml):
        raise _Answer("301", codes.mensaje("301", None, codes.LINE_BREAKS))
    try:
        verified = verify_seal(xml, sha1_only=strict.sha1_only)
    except SatError as error:
        raise _Answer(*codes.for_sat_error(error)) from None
    cancelacion, cert = verified.cancelacion, verified.certificate
    if not all(UUID_PATTERN.match(u) for u in cancelacion.written_uuids):
        raise _Answer(*codes.UUID_ANSWER)
    summary.update(
        rfc=cancelacion.rfc_emisor,
        fecha=cancelacion.fecha_text,
        format=cancelacion.format,
        folios=len(cancelacion.folios),
        certificate_number=cert.certificate_number,
    )
    _check_fecha(ctx, cancelacion)
    try:
        _check_certificate(ctx, verified)
    except SatError as error:
        raise _Answer(*codes.for_sat_error(error)) from None
    if not ctx.scenarios.sat.is_taxpayer(cancelacion.rfc_emisor):
        raise _Answer("402")
    return verified


def _check_fecha(ctx: Context, cancelacion: Cancelacion) -> None:
    if cancelacion.fecha < FECHA_MINIMA:
        raise _Answer("403")
    fecha = cancelacion.fecha_aware()
    now = ctx.now()
    if fecha > now + TOLERANCIA_RELOJ:
        raise _Answer("401", codes.mensaje("401", codes.FECHA_INVALIDA, codes.FECHA_FUTURA))
    if fecha < now - VENTANA:
        raise _Answer("401", codes.mensaje("401", codes.FECHA_INVALIDA, codes.FECHA_VENCIDA))


def _check_certificate(ctx: Context, verified: VerifiedCancelacion) -> None:
    cert = verified.certificate
    ctx.scenarios.trust.store().check_issuer(cert)
    if cert.kind != "CSD":
        raise NotACsd(f"el certificado {cert.certificate_number} no es un CSD ({cert.kind})")
    if ctx.scenarios.sat.is_revoked(cert.certificate_number):
        raise _Answer("304", codes.mensaje("304", None, codes.REVOKED.format(number=cert.certificate_number)))
    if ctx.scenarios.trust.check_validity:
        check_validity(cert, ctx.now())
        if not verified.fecha_within_validity():
            raise FechaOutsideValidity(
                f"Fecha {verified.cancelacion.fecha_text} fuera de la vigencia del certificado "
                f"{cert.certificate_number}"
            )


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


def _is_folio_code(code: int) -> bool:
    return 201 <= code <= 205


def _forced_answer(outcomes: list[Outcome | None]) -> tuple[str, str] | None:
    for outcome in outcomes:
        if outcome is None:
            continue
        failure = outcome.extra.get("failure")
        if failure in codes.FAILURES:
            plain_code = outcome.code is None or outcome.code == 200 or _is_folio_code(outcome.code)
            code = "500" if plain_code else str(outcome.code)
            return code, outcome.message or codes.mensaje(code, codes.FAILURES[failure])
        if outcome.code is None or outcome.code == 200 or _is_folio_code(outcome.code):
            continue
        code = str(outcome.code)
        return code, outcome.message or codes.message(code)
    return None


def _is_utf8(xml: bytes) -> bool:
    """The guide asks for the xml "en bytes UTF-8" (003:126): valid UTF-8, and declared so if declared."""
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError:
        return False
    declared = _ENCODING_DECL.match(xml.removeprefix(b"\xef\xbb\xbf"))
    return declared is None or declared.group(1).decode("ascii", "replace").lower() in ("utf-8", "utf8")


def _forced_estatus(uuid: str, own: Outcome | None, with_uuid_codes: list[Outcome]) -> str | None:
    if own is not None and own.code is not None and _is_folio_code(own.code):
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
    ctx.timers.fire_due(ctx.session)  # pending recipient answers settle before we read the registry
    with_uuid_codes = [o for o in outcomes if o is not None and o.uuid_codes]
    folios: list[tuple[str, str]] = []
    with ctx.store.tx() as conn:
        if not models.take_stamp(conn, ctx.session, account.user, account.stamps):
            raise _Answer("503", plain=codes.RECONTRATAR)  # another request used the last stamp meanwhile
        known = models.known(conn, ctx.session, cancelacion.uuids)
        recent = registry.stamped_since(conn, ctx.session, cancelacion.uuids, now - RECIEN_EMITIDO)
        cancelled: list[str] = []
        for folio, own in zip(cancelacion.folios, outcomes, strict=True):
            uuid = folio.uuid
            seed = sat.cfdi(uuid)
            estatus, action = estatus_folio(rfc, known.get(uuid.upper()), seed, uuid.upper() in recent)
            if pruebas_only and estatus != codes.PREVIAMENTE_CANCELADO:
                # The test environment answers 201 or 202 only (003:162): cancelled is 202, anything
                # else is cancelled now.
                if _sat_status(known.get(uuid.upper()), seed) == registry.CANCELADO:
                    estatus, action = codes.PREVIAMENTE_CANCELADO, None
                else:
                    estatus, action = codes.CANCELADO, (action if action == "esperar" else "cancelar")
            forced = _forced_estatus(uuid, own, with_uuid_codes)
            if forced is not None:
                estatus, action = forced, ("cancelar" if forced == codes.CANCELADO else None)
            if action == "cancelar":
                cancelled.append(uuid)
                # a UUID repeated later in the same request is then "previously cancelled"
                known[uuid.upper()] = Known(registry.CANCELADO, rfc)
            elif action == "esperar" and seed is not None:
                accepted = seed.recipient != "rechaza"
                wait = seed.recipient_after
                if wait is None:
                    wait = PLAZO_RECEPTOR if seed.recipient == "sin_respuesta" else timedelta(0)
                models.mark_pending(ctx, conn, uuid, rfc, now, wait, accepted)
            folios.append((uuid, estatus))
        models.mark_cancelled(conn, ctx.session, cancelled, rfc, now)
    return folios


def estatus_folio(
    rfc: str, known: Known | None, seed: SatCfdi | None, recien_emitido: bool = False
) -> tuple[str, str | None]:
    """SAT's EstatusUUID for one folio, and what to do: "cancelar", "esperar" (recipient) or None.

    ``known`` is the shared registry's entry (any provider may have written it); ``seed`` the
    scenarios' ``sat.cfdis`` entry. The registry wins over the seed for existence and status.
    ``recien_emitido``: stamped in this sandbox moments ago, so SAT does not know it yet (003:171).
    """
    if recien_emitido:
        return codes.NO_EXISTE, None
    if known is None and seed is not None and not seed.exists:
        return codes.NO_EXISTE, None
    issuer = (seed.issuer if seed is not None else None) or (known.rfc_emisor if known else None)
    if issuer and issuer.upper() != rfc.upper():
        return codes.NO_DEL_EMISOR, None
    status = _sat_status(known, seed)
    if status == registry.CANCELADO:
        return codes.PREVIAMENTE_CANCELADO, None
    if status == registry.EN_PROCESO:
        return codes.CANCELADO, None  # already waiting for the recipient: received, nothing new
    if seed is not None and seed.cancelable == "no_cancelable":
        return codes.NO_APLICABLE, None
    if seed is not None and seed.cancelable == "con_aceptacion":
        return codes.CANCELADO, "esperar"
    return codes.CANCELADO, "cancelar"



def _sat_status(known: Known | None, seed: SatCfdi | None) -> str:
    return known.status if known is not None else (seed.status if seed is not None else registry.VIGENTE)
