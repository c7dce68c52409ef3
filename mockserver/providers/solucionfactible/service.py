"""Solución Factible's rules for the ``Cancelacion`` service (no XML, no HTTP).

Every operation answers a status code from :mod:`.codes` and a message; the checks run in this order:

1. credentials: 611 (usuario/password missing), 601 (unknown user or wrong password; failures are
   counted per user), 604 (``MAX_FAILED_LOGINS`` failures in a row: refused for ``LOCKOUT`` of mock
   time, even with the right password), 602 blocked, 603 password expired, 605 inactive, 633 account of
   the other environment, 620 permission missing;
2. parameters: 611 incomplete, 621 invalid data (UUID, ``UUID|Motivo|FolioSustitucion``, base64, RFC,
   e-mail). A bare UUID means Motivo 02;
3. the CSD: sent (csdCer + csdKey + csdPassword) → 306 unreadable, wrong password or key not matching
   (or not a CSD), 308 not issued by a trusted CA, 305 outside its validity, 304 revoked, 303 its RFC is
   not rfcEmisor; omitted → the issuer's stored CSD (``stored_csds``; 620 without ``use_stored_csd``,
   611 when none is stored). Signed requests (``enviarSolicitud*``) are verified instead: 301
   malformed, 302 bad seal, 303, 304, 305, 306, 308, 621;
4. a scenario rule's ``code`` (per UUID with ``uuid_codes``) replaces the result of the real checks;
5. what SAT knows (scenarios ``sat.cfdis`` + the shared registry): 202 already cancelled, 205 unknown,
   203 another issuer, 204 not cancelable, acceptance by the recipient needed (211).

Permissions (scenarios ``permissions``): ``cancel`` covers every cancellation operation except
``cancelarSectorPrimario`` (``sector_primario``); ``cancel_async`` covers the asynchronous ones and the
status query; ``submit_signed`` the ``enviarSolicitud*`` ones; ``use_stored_csd`` omitting the CSD.

Asynchronous lifecycle (``cancelarAsincrono``, ``enviarSolicitudCancelacionAsincrono``): an accepted
UUID becomes a transaction (its id is the UUID; 701 when one exists, decided atomically), answered 200
(mensaje = the UUID in lower case) or 211 when it waits for the recipient, and resolved by timers:

- a rule's ``then`` transitions, when given, are the whole lifecycle (e.g. 211 then 213 after 10m);
- else a recipient named in ``sat.cfdis`` answers after ``recipient_after`` (default
  ``resolve_within``): ``acepta`` → 200, ``rechaza`` → 213, ``sin_respuesta`` → stays 211 until
  ``POST /__admin/solucionfactible/cancellations/<uuid>/accept|deny``;
- else it is cancelled ``resolve_within`` (5 minutes) after the request.

Rule codes other than 200/211 answer at once and register nothing (the sandbox's 204 UUIDs). A
resolution updates the transaction, the shared SAT registry (cancelado / rechazado / vigente), signs
the acuse (status 200) and records the notification e-mail for ``emailNotifica`` in the outbox, all
in the timer's transaction. ``getStatusCancelacionAsincrona`` reports the transaction: 211, 200 with
``acuseSat``, 213, 204...; 702 when there is none for that user. A status rule's code changes the
answer only, not the transaction.

Synchronous operations (``cancelar``, ``enviarSolicitudCancelacion``, ``cancelarSectorPrimario``)
decide each UUID at once (SAT's 201 cancelled, 202, 203, 204, 205; 211 when the recipient must
accept, which also opens a transaction that ``getStatusCancelacionAsincrona`` follows) and answer 200
with a signed acuse listing every folio when all got the same answer, otherwise 200 with the acuse
and a per-UUID summary in ``mensaje``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ... import registry
from ...mail import Mail, outbox_for
from ...sat import (
    CancelacionError,
    Certificate,
    CertificateError,
    Folio,
    PrivateKeyError,
    SatError,
    build_acuse,
    load_certificate,
    load_private_key,
)
from ...sat import errors as sat_errors
from ...sat.cancelacion import RFC_RE, UUID_RE, validate_folio
from ...sat.certificates import check_validity
from ...sat.keys import ensure_key_matches
from ...sat.signature import VerifiedCancelacion, verify_seal
from . import codes, models
from .codes import message

if TYPE_CHECKING:
    from ...runtime import Context, Runtime
    from ...scenarios.model import Account, Outcome
    from ...timers import Firing

PROVIDER = "solucionfactible"
TIMER_KIND = "solucionfactible.resolve"
CLAIM_SCOPE = "solucionfactible.async"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
GENERIC_RFC = "XAXX010101000"  # acuses for a UUID whose issuer nobody named
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

CANCEL = "cancel"
CANCEL_ASYNC = "cancel_async"
SUBMIT_SIGNED = "submit_signed"
USE_STORED_CSD = "use_stored_csd"
SECTOR_PRIMARIO = "sector_primario"


# ---------------------------------------------------------------- requests and answers


@dataclass(frozen=True)
class Csd:
    """CSD material as sent: base64 text of the certificate and key, and the key's password."""

    cer: str | None = None
    key: str | None = None
    password: str | None = None

    @property
    def omitted(self) -> bool:
        return not self.cer and not self.key and not self.password


@dataclass(frozen=True)
class CancelarAsincronoRequest:
    usuario: str | None
    password: str | None
    uuid: str | None
    rfc_emisor: str | None
    email: str | None = None
    csd: Csd = Csd()
    misplaced: str | None = None  # what is wrong with the order or names of the children (611)


@dataclass(frozen=True)
class StatusRequest:
    usuario: str | None
    password: str | None
    transaction_id: str | None
    misplaced: str | None = None


@dataclass(frozen=True)
class SolicitudRequest:
    """``enviarSolicitudCancelacion[Asincrono]``: a signed SAT Cancelacion, base64."""

    usuario: str | None
    password: str | None
    solicitud: str | None
    email: str | None = None
    misplaced: str | None = None


@dataclass(frozen=True)
class CancelarRequest:
    usuario: str | None
    password: str | None
    rfc_emisor: str | None
    uuids: tuple[str, ...] = ()
    csd: Csd = Csd()
    misplaced: str | None = None


@dataclass(frozen=True)
class SectorPrimarioRequest:
    usuario: str | None
    password: str | None
    uuid: str | None
    misplaced: str | None = None


@dataclass
class Answer:
    """What an operation answers: ``status``, ``mensaje`` and, for status-type answers, the acuse XML."""

    status: int
    mensaje: str | None
    acuse: bytes | None = None
    summary: dict[str, Any] = field(default_factory=dict)


class Refusal(Exception):
    """Stops an operation with a catalogue code (and an optional detail for the message)."""

    def __init__(self, code: int, detail: str | None = None, *, text: str | None = None) -> None:
        super().__init__(text or message(code, detail))
        self.code = code
        self.text = text or message(code, detail)


# A per-UUID rule lookup: (uuid, folio) -> Outcome | None. The first UUID uses the dispatcher's outcome.
OutcomeFor = Callable[[str, Folio], "Outcome | None"]


# ---------------------------------------------------------------- operations


def cancelar_asincrono(ctx: Context, req: CancelarAsincronoRequest, outcome: Outcome | None) -> Answer:
    summary = {"user": req.usuario, "uuid": req.uuid, "rfc": req.rfc_emisor}
    try:
        check_layout(req.misplaced)
        account = authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC))
        if not req.uuid or not req.rfc_emisor:
            raise Refusal(codes.INCOMPLETE, "uuid y rfcEmisor son requeridos")
        folio = parse_uuid_field(req.uuid)
        rfc = parse_rfc(req.rfc_emisor)
        email = parse_email(req.email)
        summary.update(uuid=folio.uuid, rfc=rfc)
        cert = resolve_csd(ctx, account, rfc, req.csd)
        answers = register_async(
            ctx, usuario=account.user, operation="cancelarAsincrono", rfc=rfc, folios=[folio], email=email,
            certificate_number=cert.certificate_number, outcome_for=lambda _u, _f: outcome,
        )
        answer = answers[0]
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


def enviar_solicitud_asincrono(ctx: Context, req: SolicitudRequest, outcome_for: OutcomeFor) -> Answer:
    summary: dict[str, Any] = {"user": req.usuario}
    try:
        check_layout(req.misplaced)
        account = authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC, SUBMIT_SIGNED))
        email = parse_email(req.email)
        verified = verify_solicitud(ctx, req.solicitud)
        c = verified.cancelacion
        summary.update(uuid=",".join(c.uuids), rfc=c.rfc_emisor)
        answers = register_async(
            ctx, usuario=account.user, operation="enviarSolicitudCancelacionAsincrono", rfc=c.rfc_emisor,
            folios=[_with_motivo(f) for f in c.folios], email=email,
            certificate_number=verified.certificate.certificate_number, outcome_for=outcome_for,
        )
        refused = [a for a in answers if a.status not in (codes.OK, codes.IN_PROCESS)]
        if refused:
            answer = refused[0]
        elif len(answers) == 1:
            answer = answers[0]
        else:
            status = codes.IN_PROCESS if any(a.status == codes.IN_PROCESS for a in answers) else codes.OK
            answer = Answer(status, ",".join(u.lower() for u in c.uuids))
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


def status_cancelacion(ctx: Context, req: StatusRequest, outcome: Outcome | None) -> Answer:
    summary: dict[str, Any] = {"user": req.usuario, "uuid": req.transaction_id}
    try:
        check_layout(req.misplaced)
        authenticate(ctx, req.usuario, req.password, (CANCEL, CANCEL_ASYNC))
        if not req.transaction_id or not req.transaction_id.strip():
            raise Refusal(codes.INCOMPLETE, "transactionId es requerido")
        uuid = req.transaction_id.split("|", 1)[0].strip()
        if not UUID_RE.match(uuid):
            raise Refusal(codes.INVALID_DATA, "transactionId no es un UUID")
        uuid = uuid.upper()
        summary["uuid"] = uuid
        ctx.timers.fire_due(ctx.session)  # a resolution that fell due is applied before answering
        with ctx.store.read() as conn:
            row = models.get(conn, ctx.session, uuid)
        forced = _rule_code(outcome, uuid)
        if forced is not None:
            acuse = None
            if forced == codes.OK:
                acuse = row.acuse if row is not None and row.acuse else _acuse(ctx, uuid, row, ctx.now())
            answer = Answer(forced, _rule_message(outcome, forced, uuid), acuse)
        elif row is None or row.usuario != req.usuario:
            raise Refusal(codes.ASYNC_UNKNOWN, uuid)
        else:
            answer = Answer(row.status, row.mensaje, row.acuse if row.status == codes.OK else None)
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


def cancelar(ctx: Context, req: CancelarRequest, outcome_for: OutcomeFor) -> Answer:
    summary: dict[str, Any] = {"user": req.usuario, "rfc": req.rfc_emisor}
    try:
        check_layout(req.misplaced)
        account = authenticate(ctx, req.usuario, req.password, (CANCEL,))
        uuids = [u for u in req.uuids if u and u.strip()]
        if not uuids or not req.rfc_emisor:
            raise Refusal(codes.INCOMPLETE, "rfcEmisor y uuids son requeridos")
        folios = [parse_uuid_field(u) for u in uuids]
        rfc = parse_rfc(req.rfc_emisor)
        summary.update(uuid=",".join(f.uuid for f in folios), rfc=rfc)
        cert = resolve_csd(ctx, account, rfc, req.csd)
        answer = cancel_now(ctx, usuario=account.user, operation="cancelar", rfc=rfc, folios=folios,
                            certificate_number=cert.certificate_number, outcome_for=outcome_for)
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


def enviar_solicitud(ctx: Context, req: SolicitudRequest, outcome_for: OutcomeFor) -> Answer:
    summary: dict[str, Any] = {"user": req.usuario}
    try:
        check_layout(req.misplaced)
        account = authenticate(ctx, req.usuario, req.password, (CANCEL, SUBMIT_SIGNED))
        verified = verify_solicitud(ctx, req.solicitud)
        c = verified.cancelacion
        summary.update(uuid=",".join(c.uuids), rfc=c.rfc_emisor)
        answer = cancel_now(ctx, usuario=account.user, operation="enviarSolicitudCancelacion", rfc=c.rfc_emisor,
                            folios=[_with_motivo(f) for f in c.folios],
                            certificate_number=verified.certificate.certificate_number, outcome_for=outcome_for)
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


def cancelar_sector_primario(ctx: Context, req: SectorPrimarioRequest, outcome: Outcome | None) -> Answer:
    summary: dict[str, Any] = {"user": req.usuario, "uuid": req.uuid}
    try:
        check_layout(req.misplaced)
        account = authenticate(ctx, req.usuario, req.password, (SECTOR_PRIMARIO,))
        if not req.uuid or not req.uuid.strip():
            raise Refusal(codes.INCOMPLETE, "uuid es requerido")
        folio = parse_uuid_field(req.uuid)
        summary["uuid"] = folio.uuid
        answer = cancel_now(ctx, usuario=account.user, operation="cancelarSectorPrimario", rfc=None,
                            folios=[folio], certificate_number=None, outcome_for=lambda _u, _f: outcome)
    except Refusal as refusal:
        answer = Answer(refusal.code, refusal.text)
    answer.summary = {**summary, "code": answer.status}
    return answer


# ---------------------------------------------------------------- credentials


def authenticate(ctx: Context, usuario: str | None, password: str | None, any_of: Sequence[str]) -> Account:
    """The account of ``usuario`` if it may call an operation needing one of ``any_of``; else a Refusal."""
    if not usuario or not password:
        raise Refusal(codes.INCOMPLETE, "usuario y password son requeridos")
    account = ctx.scenarios.account(PROVIDER, usuario)
    if account is None:
        raise Refusal(codes.BAD_CREDENTIALS)
    now = ctx.now()
    with ctx.store.read() as conn:
        failures, last = models.failures(conn, ctx.session, usuario)
    expired = last is not None and now - datetime.fromisoformat(last) >= LOCKOUT
    if failures >= MAX_FAILED_LOGINS and not expired:
        raise Refusal(codes.TOO_MANY_ATTEMPTS)
    if not account.check_password(password):
        with ctx.store.tx() as conn:
            if expired:
                models.clear_failures(conn, ctx.session, usuario)
            failures = models.add_failure(conn, ctx.session, usuario, now)
        raise Refusal(codes.TOO_MANY_ATTEMPTS if failures >= MAX_FAILED_LOGINS else codes.BAD_CREDENTIALS)
    if failures:
        with ctx.store.tx() as conn:
            models.clear_failures(conn, ctx.session, usuario)
    if account.state == "blocked":
        raise Refusal(codes.BLOCKED)
    if account.state == "password_expired":
        raise Refusal(codes.PASSWORD_EXPIRED)
    if account.state == "inactive":
        raise Refusal(codes.INACTIVE)
    environment = ctx.scenarios.environment(PROVIDER)
    if account.environment != environment:
        raise Refusal(codes.WRONG_ENVIRONMENT, f"la cuenta es de {account.environment}, el servicio de {environment}")
    if not any(account.allows(p) for p in any_of):
        raise Refusal(codes.PERMISSION_DENIED, f"se requiere el permiso {' o '.join(any_of)}")
    return account


# ---------------------------------------------------------------- parameters


def check_layout(misplaced: str | None) -> None:
    """611 for children out of the WSDL's order or unknown to the operation ("out of place")."""
    if misplaced:
        raise Refusal(codes.INCOMPLETE, misplaced)


def parse_uuid_field(text: str) -> Folio:
    """``UUID``, ``UUID|Motivo|`` or ``UUID|Motivo|FolioSustitucion`` → a checked Folio (621 otherwise)."""
    parts = [p.strip() for p in text.strip().split("|")]
    if len(parts) > 3:
        raise Refusal(codes.INVALID_DATA, "el uuid debe tener la forma UUID|Motivo|FolioSustitucion")
    uuid = parts[0]
    motivo = parts[1] if len(parts) > 1 and parts[1] else "02"
    sustitucion = parts[2] if len(parts) > 2 and parts[2] else None
    try:
        return validate_folio(Folio(uuid, motivo, sustitucion))
    except SatError as exc:
        raise Refusal(codes.INVALID_DATA, exc.message) from None


def parse_rfc(text: str) -> str:
    rfc = text.strip().upper()
    if not RFC_RE.match(rfc):
        raise Refusal(codes.INVALID_DATA, "rfcEmisor no tiene el formato de un RFC")
    return rfc


def parse_email(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    email = text.strip()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise Refusal(codes.INVALID_DATA, "emailNotifica no es una dirección de correo")
    return email


def decode_base64(text: str | None, name: str) -> bytes:
    if text is None or not text.strip():
        raise Refusal(codes.INCOMPLETE, f"{name} es requerido")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(codes.INVALID_DATA, f"{name} no es base64 válido") from None
    if not data:
        raise Refusal(codes.INVALID_DATA, f"{name} está vacío")
    return data


def _with_motivo(folio: Folio) -> Folio:
    # Pre-2022 Cancelacion documents carry no motive; SAT reads them as 02.
    return folio if folio.motivo else Folio(folio.uuid, "02", folio.folio_sustitucion)


# ---------------------------------------------------------------- CSD and signed requests


def resolve_csd(ctx: Context, account: Account, rfc: str, csd: Csd) -> Certificate:
    """The checked CSD the cancellation is made with: the one sent, or the issuer's stored one."""
    if csd.omitted:
        if not account.allows(USE_STORED_CSD):
            raise Refusal(codes.PERMISSION_DENIED, "el usuario no puede usar los CSD almacenados; envíe csdCer, "
                                                   "csdKey y csdPassword")
        name = ctx.scenarios.provider(PROVIDER).stored_csds.get(rfc)
        if not name:
            raise Refusal(codes.INCOMPLETE, f"envíe csdCer, csdKey y csdPassword: no hay un CSD almacenado para {rfc}")
        cert = stored_certificate(name)
    else:
        if not csd.cer or not csd.key or csd.password is None:
            raise Refusal(codes.INCOMPLETE, "csdCer, csdKey y csdPassword van juntos")
        cert = checked_pair(decode_base64(csd.cer, "csdCer"), decode_base64(csd.key, "csdKey"), csd.password)
    check_policy(ctx, cert)
    if (cert.rfc or "").upper() != rfc:
        raise Refusal(codes.RFC_MISMATCH, f"el CSD es de {cert.rfc}, rfcEmisor es {rfc}")
    return cert


def check_policy(ctx: Context, cert: Certificate, fecha_ok: Callable[[], bool] | None = None) -> None:
    """Trusted issuer (308), a CSD (306), valid now and at the document's date (305), not revoked (304)."""
    settings = ctx.scenarios.trust
    try:
        settings.store().check_issuer(cert)
    except CertificateError as exc:
        raise Refusal(codes.NOT_FROM_SAT, exc.message) from None
    if cert.kind != "CSD":
        raise Refusal(codes.NOT_A_CSD, f"el certificado {cert.certificate_number} es {cert.kind}")
    if settings.check_validity:
        try:
            check_validity(cert, ctx.now())
        except CertificateError as exc:
            raise Refusal(codes.OUTSIDE_VALIDITY, exc.message) from None
        if fecha_ok is not None and not fecha_ok():
            raise Refusal(codes.OUTSIDE_VALIDITY, "Fecha fuera de la vigencia del certificado")
    if ctx.scenarios.sat.is_revoked(cert.certificate_number):
        raise Refusal(codes.REVOKED, f"certificado {cert.certificate_number} revocado")


@functools.lru_cache(maxsize=64)
def stored_certificate(name: str) -> Certificate:
    from ...sat.pki import fixture

    return fixture(name).certificate()


# Opening an encrypted key costs ~50 ms (PBKDF2); clients send the same CSD on every call. Pairs that
# opened are remembered by a keyed digest (never the password itself) for this process only.
_PAIR_SECRET = secrets.token_bytes(32)
_PAIRS: OrderedDict[bytes, Certificate] = OrderedDict()
_PAIRS_LOCK = threading.Lock()
_PAIRS_MAX = 256


def checked_pair(cer: bytes, key: bytes, password: str) -> Certificate:
    """The certificate, once ``key`` opens with ``password`` and is its private half; 306 otherwise."""
    digest = hmac.new(_PAIR_SECRET, b"\0".join((cer, key, password.encode("utf-8"))), hashlib.sha256).digest()
    with _PAIRS_LOCK:
        cached = _PAIRS.get(digest)
        if cached is not None:
            _PAIRS.move_to_end(digest)
            return cached
    try:
        cert = load_certificate(cer)
        ensure_key_matches(cert, load_private_key(key, password))
    except (CertificateError, PrivateKeyError) as exc:
        raise Refusal(codes.NOT_A_CSD, exc.message) from None
    with _PAIRS_LOCK:
        _PAIRS[digest] = cert
        while len(_PAIRS) > _PAIRS_MAX:
            _PAIRS.popitem(last=False)
    return cert


# SAT core error → SF code for signed requests (anything else in the document: 621).
_SOLICITUD_CODES: tuple[tuple[type[SatError], int], ...] = (
    (sat_errors.MalformedXml, codes.MALFORMED_XML),
    (sat_errors.WrongRoot, codes.MALFORMED_XML),
    (sat_errors.WrongNamespace, codes.MALFORMED_XML),
    (sat_errors.BadStructure, codes.MALFORMED_XML),
    (sat_errors.RfcMismatch, codes.RFC_MISMATCH),
    (sat_errors.SignatureError, codes.BAD_SEAL),
    (CertificateError, codes.NOT_A_CSD),
    (CancelacionError, codes.INVALID_DATA),
)


def verify_solicitud(ctx: Context, solicitud: str | None) -> VerifiedCancelacion:
    """Decode and verify a signed Cancelacion (seal, RFC, then the certificate policy)."""
    xml = decode_base64(solicitud, "solicitud")
    try:
        verified = verify_seal(xml)
    except SatError as exc:
        code = next((c for kind, c in _SOLICITUD_CODES if isinstance(exc, kind)), codes.INVALID_DATA)
        raise Refusal(code, exc.message) from None
    check_policy(ctx, verified.certificate, verified.fecha_within_validity)
    return verified


# ---------------------------------------------------------------- what SAT knows


@dataclass(frozen=True)
class Verdict:
    """SAT's view of one UUID at request time: 200 cancelable now, 211 needs the recipient, else final."""

    code: int
    recipient: str | None = None  # acepta | rechaza | sin_respuesta (with 211)
    recipient_after: timedelta | None = None


# SAT's neutral verdict on a UUID (``registry.verdict``) → this provider's code.
VERDICT_CODES: dict[registry.Verdict, int] = {
    registry.Verdict.NOT_FOUND: codes.NOT_FOUND,
    registry.Verdict.NOT_OF_ISSUER: codes.NOT_OF_ISSUER,
    registry.Verdict.CANCELLED: codes.PREVIOUSLY_CANCELLED,
    registry.Verdict.IN_PROCESS: codes.IN_PROCESS,
    registry.Verdict.NOT_CANCELABLE: codes.NOT_CANCELABLE,
    registry.Verdict.NEEDS_ACCEPTANCE: codes.IN_PROCESS,
    registry.Verdict.CANCELABLE: codes.OK,
}


def sat_verdict(ctx: Context, conn, uuid: str, rfc: str | None) -> Verdict:
    found = registry.verdict_of(conn, ctx.session, uuid, rfc, ctx.scenarios.sat.cfdi(uuid), ctx.now())
    code = VERDICT_CODES[found.verdict]
    if code == codes.IN_PROCESS:  # the recipient decides; one already asked accepts unless the seed says otherwise
        return Verdict(code, found.recipient or registry.ACEPTA, found.recipient_after)
    return Verdict(code)


def _rule_code(outcome: Outcome | None, uuid: str) -> int | None:
    if outcome is None:
        return None
    per_uuid = outcome.code_for_uuid(uuid)
    return per_uuid if per_uuid is not None else outcome.code


def _rule_message(outcome: Outcome | None, code: int, uuid: str) -> str:
    if outcome is not None and outcome.message:
        return outcome.message
    if code == codes.OK:
        return uuid.lower()
    return message(code)


# ---------------------------------------------------------------- asynchronous transactions


def register_async(
    ctx: Context, *, usuario: str, operation: str, rfc: str, folios: Sequence[Folio], email: str | None,
    certificate_number: str | None, outcome_for: OutcomeFor,
) -> list[Answer]:
    """Open one transaction per folio (all or none: 701 when any already has one)."""
    outcomes = [outcome_for(f.uuid, f) for f in folios]
    # A Refusal (701) leaves the block by an exception, which rolls every folio of the request back.
    with ctx.store.tx() as conn:
        return [
            _open(ctx, conn, usuario=usuario, operation=operation, rfc=rfc, folio=f, email=email,
                  certificate_number=certificate_number, outcome=o)
            for f, o in zip(folios, outcomes, strict=True)
        ]


def _open(
    ctx: Context, conn, *, usuario: str, operation: str, rfc: str | None, folio: Folio, email: str | None,
    certificate_number: str | None, outcome: Outcome | None,
) -> Answer:
    uuid = folio.uuid
    existing = models.get(conn, ctx.session, uuid)
    # One transaction at a time per UUID (701). A finished one does not block SAT's next step: a
    # cancelled CFDI answers what SAT says (202), a refused or failed request may be made again.
    if existing is not None and existing.status not in codes.FINAL:
        raise Refusal(codes.ASYNC_EXISTS, uuid)
    forced = _rule_code(outcome, uuid)
    if forced is not None and forced not in (codes.OK, codes.IN_PROCESS):
        return Answer(forced, _rule_message(outcome, forced, uuid))
    verdict = sat_verdict(ctx, conn, uuid, rfc)
    if forced is None and verdict.code not in (codes.OK, codes.IN_PROCESS):
        return Answer(verdict.code, message(verdict.code))
    if existing is not None:
        # The new request replaces the finished transaction, and nothing left of that one may resolve it.
        models.delete(conn, ctx.session, uuid)
        ctx.timers.cancel(conn, ctx.session, TIMER_KIND, uuid=uuid)
    else:
        won, _ = ctx.store.claim(ctx.session, CLAIM_SCOPE, uuid, usuario)
        if not won:
            raise Refusal(codes.ASYNC_EXISTS, uuid)
    now = ctx.now()
    settings = ctx.scenarios.provider(PROVIDER)
    immediate = forced if forced is not None else verdict.code
    answer = Answer(immediate, _rule_message(outcome if forced is not None else None, immediate, uuid))
    # Both a first 200 (accepted) and a 211 mean "in process" until a timer or the recipient decides;
    # the status query repeats the words a 211 was answered with.
    in_process = answer.mensaje if immediate == codes.IN_PROCESS else message(codes.IN_PROCESS)
    models.insert(conn, models.Cancellation(
        session=ctx.session, uuid=uuid, usuario=usuario, operation=operation, rfc_emisor=rfc,
        motivo=folio.motivo, folio_sustitucion=folio.folio_sustitucion, email=email,
        certificate_number=certificate_number, status=codes.IN_PROCESS, mensaje=in_process,
        acuse=None, created_at=now.isoformat(), updated_at=now.isoformat(), resolved_at=None,
    ))
    registry.set_status(conn, ctx.session, uuid, registry.EN_PROCESO, at=now, rfc_emisor=rfc, provider=PROVIDER)
    for after, code, text in _lifecycle(outcome, forced, verdict, settings.resolve_within):
        ctx.timers.schedule(conn, ctx.session, TIMER_KIND, now + after, {"uuid": uuid, "code": code, "message": text})
    return answer


def _lifecycle(
    outcome: Outcome | None, forced: int | None, verdict: Verdict, resolve_within: timedelta
) -> Iterable[tuple[timedelta, int, str | None]]:
    if outcome is not None and outcome.then:
        return [(t.after, t.code, t.message) for t in outcome.then]
    if forced == codes.OK or verdict.recipient is None:
        return [(resolve_within, codes.OK, None)]
    if verdict.recipient == "sin_respuesta":
        return []
    code = codes.DENIED if verdict.recipient == "rechaza" else codes.OK
    return [(verdict.recipient_after or resolve_within, code, None)]


def resolve(runtime: Runtime, conn, session: str, uuid: str, code: int, text: str | None, at: datetime) -> bool:
    """Move a transaction in process to ``code`` (211 keeps it in process). False when already final."""
    row = models.get(conn, session, uuid)
    if row is None or row.status in codes.FINAL:
        return False
    if code == codes.IN_PROCESS:
        models.update_state(conn, session, uuid, code, text or message(codes.IN_PROCESS), at, final=False)
        return True
    acuse = None
    if code == codes.OK:
        acuse = build_acuse(row.rfc_emisor or GENERIC_RFC, at, [(row.uuid, "201")])
        status = registry.CANCELADO
    elif code == codes.DENIED:
        status = registry.RECHAZADO
    elif code == codes.PREVIOUSLY_CANCELLED:
        status = registry.CANCELADO
    else:
        status = registry.VIGENTE
    # 200 carries the UUID, as cancelarAsincrono's first 200 does; other codes their description.
    mensaje = text or (row.uuid.lower() if code == codes.OK else message(code))
    models.update_state(conn, session, uuid, code, mensaje, at, final=True, acuse=acuse)
    registry.set_status(conn, session, uuid, status, at=at, rfc_emisor=row.rfc_emisor, provider=PROVIDER)
    if row.email:
        outbox_for(runtime).enqueue(conn, session, notification(row, code, mensaje, at), at=at)
    return True


def notification(row: models.Cancellation, code: int, mensaje: str, at: datetime) -> Mail:
    """The e-mail SF sends to ``emailNotifica`` when a transaction resolves."""
    ok = code == codes.OK
    from ...sat.acuse import format_acuse_fecha

    body = "\n".join([
        "Solución Factible - notificación de cancelación de CFDI",
        "",
        f"UUID: {row.uuid}",
        f"RFC emisor: {row.rfc_emisor or '-'}",
        f"Motivo: {row.motivo or '-'}" + (f" (sustituye con {row.folio_sustitucion})" if row.folio_sustitucion else ""),
        f"Resultado: {'CANCELADO' if ok else 'NO CANCELADO'} (código {code})",
        f"Mensaje: {mensaje}",
        f"Fecha: {format_acuse_fecha(at)}",
        "",
        "Consulte el acuse con getStatusCancelacionAsincrona." if ok else
        "La solicitud de cancelación terminó sin cancelar el CFDI.",
    ])
    return Mail(
        to=row.email or "",
        subject=f"Cancelación del CFDI {row.uuid}: {'OK' if ok else 'ERROR'}",
        body=body + "\n",
        headers={"X-SFService": "Cancelar", "X-UUIDCancelacion": row.uuid,
                 "X-StatusCancelacion": "OK" if ok else "ERROR"},
        uuid=row.uuid,
        provider=PROVIDER,
    )


def decide(ctx: Context, uuid: str, accept: bool) -> models.Cancellation | None:
    """The recipient accepts (200) or denies (213) a transaction in process now. None when unknown.

    Raises ValueError when the transaction has already resolved.
    """
    ctx.timers.fire_due(ctx.session)
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


def install(runtime: Runtime) -> None:
    outbox_for(runtime)  # the outbox table must exist before a timer writes to it

    def on_timer(firing: Firing) -> None:
        p = firing.payload
        resolve(runtime, firing.conn, firing.session, p["uuid"], int(p["code"]), p.get("message"), firing.due_at)

    runtime.timers.register(TIMER_KIND, on_timer)


def state(ctx: Context) -> dict[str, Any]:
    """Cancellations of the session for ``/__admin/jobs`` and the dashboard (the 200 newest listed)."""
    with ctx.store.read() as conn:
        rows = models.listing(conn, ctx.session)
        counts = models.count_by_status(conn, ctx.session)
    # The newest transactions are listed; the counts cover every one of them.
    return {"cancellations": [r.describe() for r in rows], "by_status": counts, "total": sum(counts.values())}


# ---------------------------------------------------------------- synchronous cancellation


def cancel_now(
    ctx: Context, *, usuario: str, operation: str, rfc: str | None, folios: Sequence[Folio],
    certificate_number: str | None, outcome_for: OutcomeFor,
) -> Answer:
    """Decide every folio now; answer with a signed acuse (see the module notes)."""
    outcomes = [outcome_for(f.uuid, f) for f in folios]
    results: list[tuple[str, int]] = []
    now = ctx.now()
    ctx.timers.fire_due(ctx.session)
    with ctx.store.tx() as conn:
        issuer = rfc
        for folio, outcome in zip(folios, outcomes, strict=True):
            uuid = folio.uuid
            existing = models.get(conn, ctx.session, uuid)
            forced = _rule_code(outcome, uuid)
            if forced is not None:
                code = 201 if forced == codes.OK else forced
            elif existing is not None and existing.status not in codes.FINAL:
                code = codes.IN_PROCESS
            else:
                verdict = sat_verdict(ctx, conn, uuid, rfc)
                code = 201 if verdict.code == codes.OK else verdict.code
                if verdict.code == codes.IN_PROCESS and existing is None:
                    _open(ctx, conn, usuario=usuario, operation=operation, rfc=rfc, folio=folio, email=None,
                          certificate_number=certificate_number, outcome=None)
            if code == 201:
                registry.set_status(conn, ctx.session, uuid, registry.CANCELADO, at=now, rfc_emisor=rfc,
                                    provider=PROVIDER)
            if issuer is None:
                seed = ctx.scenarios.sat.cfdi(uuid)
                issuer = (seed.issuer if seed else None) or _registry_rfc(conn, ctx.session, uuid)
            results.append((uuid, code))
    distinct = {code for _, code in results}
    if len(distinct) == 1:
        code = distinct.pop()
        # SAT issues an acuse for what it cancelled now or before; other answers carry none.
        acuse = build_acuse(issuer or GENERIC_RFC, now, results) if code in (201, codes.PREVIOUSLY_CANCELLED) else None
        if code == 201:
            return Answer(codes.OK, message(codes.OK), acuse)
        outcome = outcomes[0] if len(folios) == 1 else None
        return Answer(code, _rule_message(outcome, code, results[0][0]), acuse)
    summary = "; ".join(f"{uuid}: {code}" for uuid, code in results)
    return Answer(codes.OK, f"{message(codes.OK)} ({summary})", build_acuse(issuer or GENERIC_RFC, now, results))


def _registry_rfc(conn, session: str, uuid: str) -> str | None:
    entry = registry.entry_of(conn, session, uuid)
    return entry.rfc_emisor if entry else None


def _acuse(ctx: Context, uuid: str, row: models.Cancellation | None, at: datetime) -> bytes:
    seed = ctx.scenarios.sat.cfdi(uuid)
    rfc = (row.rfc_emisor if row else None) or (seed.issuer if seed else None) or GENERIC_RFC
    return build_acuse(rfc, at, [(uuid, "201")])
