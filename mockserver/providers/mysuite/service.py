"""MYSuite ``RequestTransaction`` rules: accounts and the asynchronous large-document transactions.

- ``ASYNC_CONVERT_NATIVE_XML`` checks the account, the internal id (Data2) and the size of the
  native XML (Data1), binds the internal id once (3196 on repeats, atomically) and queues a job
  whose processing time grows with the size.
- When the processing time has passed, the job's timer marks it ready (or failed, when a scenario
  rule gave it a code). The conversion itself (native XML → stamped CFDI 4.0) takes seconds for
  tens of MB, so it never runs inside the timer's write transaction: a per-process converter
  thread does it right after, and a status query that finds a ready job converts it on the spot
  (or waits for the converter that holds it). Everything generated is derived from stored data
  (request id → UUID, Faker seed), so a second conversion gives the same documents. The stamped
  UUID enters the shared SAT registry as vigente.
- The PDF and the ZIPs are made on the first download and cached.
- ``ASYNC_CONVERT_VERIFY`` reports Status 1/2/3: ``Uuid`` is the request's id (the one in Data1),
  ``DocumentGUID`` the fiscal UUID (TFD) of the generated CFDI; what has no value yet is null.
  ``ASYNC_RETRIEVE_DOCUMENT`` hands out new signed links (5 days of mock time) to ZIPs of the XML
  and the PDF.
- A native document that asks for mail distribution (``fx:Procesamiento``, see :mod:`.documents`)
  has its CFDI e-mailed, XML and PDF attached, through the outbox (the same SMTP path as Solución
  Factible's notifications), recorded in the transaction that stores the CFDI.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from faker import Faker

from ... import registry
from ...clock import MEXICO_CITY
from ...mail import Attachment, Mail, outbox_for
from ...sat.cancelacion import is_uuid
from ...timers import Firing
from . import codes, documents
from .links import LINK_LIFETIME, Link, link_secret, make_token
from .models import (
    CFDI,
    DONE,
    FAILED,
    NATIVE,
    PDF_ZIP,
    PENDING,
    XML_ZIP,
    Job,
    blobs_for,
    claim_conversion,
    get_job,
    insert_job,
    list_jobs,
)
from .settings import SizeLimit

try:  # SIMD base64: decodes 40 MB in ~0.1 s where binascii takes ~0.5 s
    from pybase64 import b64decode as _fast_b64decode
except ImportError:  # pragma: no cover - optional speed-up
    _fast_b64decode = None

if TYPE_CHECKING:
    from ...context import Context, Sandbox
    from ...scenarios import Account, Outcome

log = logging.getLogger("pac_mock.mysuite")

PROVIDER = "mysuite"
ASYNC_CONVERT = "ASYNC_CONVERT_NATIVE_XML"
ASYNC_VERIFY = "ASYNC_CONVERT_VERIFY"
ASYNC_RETRIEVE = "ASYNC_RETRIEVE_DOCUMENT"
SUPPORTED = (ASYNC_CONVERT, ASYNC_VERIFY, ASYNC_RETRIEVE)
PERMISSION = "convert_async"

INTERNAL_ID_MAX = 50
# The published limits, used when the scenarios give none for the environment.
DEFAULT_SIZE_LIMITS = {
    "pruebas": SizeLimit(above=1_000_000, max=4_000_000),
    "productivo": SizeLimit(above=1_000_000, max=40_000_000),
}
ENVIRONMENT_NAMES = {"pruebas": "pruebas", "productivo": "producción"}
TIMER_KIND = "mysuite.async_job"
DEFAULT_SERIE = "MYS"
ISSUER_CSD = "csd_moral"  # the test PKI's CSD that seals the CFDIs (the PKI has none for the entity)
SAT_CERTIFICATE = "sat_acuse"  # the fake SAT certificate behind SelloSAT / NoCertificadoSAT
# A converter that has held a job this long (real seconds) is taken for dead; another may retry.
STALE_CONVERSION_S = 120.0
# How long a status query waits for a conversion another thread or process is doing.
WAIT_FOR_CONVERSION_S = 30.0

_USER_NAME = re.compile(r"^(?P<country>[^.]+)\.(?P<entity>[^.]+)\.(?P<user>.+)$")


def is_guid(text: str | None) -> bool:
    return bool(text) and is_uuid(text)


# --- values exchanged with the wire layer ----------------------------------------------------------


@dataclass
class TransactionRequest:
    """``RequestTransaction`` as sent (None = element absent or nil)."""

    requestor: str | None = None
    transaction: str | None = None
    country: str | None = None
    entity: str | None = None
    user: str | None = None
    user_name: str | None = None
    data1: str | None = None
    data2: str | None = None
    data3: str | None = None


@dataclass(frozen=True)
class AsyncRequestView:
    """The ``AsyncRequest`` record of ``ASYNC_CONVERT_VERIFY`` (None for what has no value yet)."""

    entity: str
    uuid: str  # the request's id
    internal_id: str
    enrolled_at: datetime
    status: int
    document_guid: str | None  # the CFDI's fiscal UUID (Status 2)
    year: int | None
    batch: str | None
    serial: str | None
    error_msg: str | None  # plain text (Status 3); the wire writes it in base64


@dataclass(frozen=True)
class DocumentId:
    """``Response/Identifier`` (MYSuite's DocID) of a converted document."""

    country: str
    entity: str
    fiscal_name: str
    year: str
    batch: str
    serial: str
    document_guid: str
    issued_at: datetime | None
    enrolled_at: datetime
    internal_id: str
    receiver_tax_id: str
    receiver_name: str
    currency: str
    total: str
    suggested_file_name: str


@dataclass
class Reply:
    """What the transaction answers; the wire layer writes it as ``RequestTransactionResult``."""

    result: bool
    code: int
    description: str = ""
    hint: str = ""
    data: str = ""  # Response/Data
    requestor_active: bool = False
    requestor_name: str | None = None
    response_data1: str | None = None  # plain text (the request id)
    async_request: AsyncRequestView | None = None
    links: tuple[str, str] | None = None  # tokens of the XML and PDF ZIPs
    identifier: DocumentId | None = None
    summary: dict | None = None


def refusal(code: int, hint: str = "", **values: object) -> Reply:
    return Reply(False, code, codes.message(code, **values), hint)


# --- the transaction ---------------------------------------------------------------------------------


def request_transaction(ctx: Context, req: TransactionRequest, outcome: Outcome | None) -> Reply:
    """Answer one ``RequestTransaction``. Never raises for bad input: problems are ``Result=false``."""
    transaction = (req.transaction or "").strip()
    checked = authenticate(ctx, req)
    if isinstance(checked, Reply):
        return checked
    account = checked
    if transaction not in codes.TRANSACTIONS:
        reply = refusal(codes.TRANSACTION_UNKNOWN, transaction=transaction[:80])
    elif transaction not in SUPPORTED:
        reply = refusal(codes.TRANSACTION_UNSUPPORTED, transaction=transaction)
    elif not account.allows(PERMISSION):
        reply = refusal(codes.NOT_PERMITTED, requestor=account.user, transaction=transaction)
    elif transaction == ASYNC_CONVERT:
        reply = convert_native_xml(ctx, req, outcome)
    elif outcome is not None and outcome.code is not None:
        reply = Reply(
            False, outcome.code, outcome.message or f"Error {outcome.code} (definido por un escenario)"
        )
    elif transaction == ASYNC_VERIFY:
        reply = verify(ctx, req)
    else:
        reply = retrieve(ctx, req)
    reply.requestor_active = True
    reply.requestor_name = account.name
    return reply


def authenticate(ctx: Context, req: TransactionRequest) -> Account | Reply:
    """The account behind Requestor, once User, Country, Entity and UserName agree with it."""
    requestor = (req.requestor or "").strip()
    if not is_guid(requestor):
        return refusal(codes.REQUESTOR_INVALID, requestor=requestor[:60])
    account = ctx.scenarios.account(PROVIDER, requestor)
    if account is None:
        return refusal(codes.REQUESTOR_UNKNOWN, requestor=requestor)
    if not account.active:
        reply = refusal(codes.REQUESTOR_INACTIVE, requestor=requestor, state=account.state)
        reply.requestor_name = account.name
        return reply
    environment = ctx.scenarios.environment(PROVIDER)
    values = {"requestor": requestor}

    def refused(code: int, **more: object) -> Reply:
        reply = refusal(code, **values, **more)
        reply.requestor_active = True
        reply.requestor_name = account.name
        return reply

    if account.environment != environment:
        return refused(
            codes.WRONG_ENVIRONMENT,
            account_environment=ENVIRONMENT_NAMES[account.environment],
            environment=ENVIRONMENT_NAMES.get(environment, environment),
        )
    user = (req.user or "").strip()
    if user.lower() != requestor.lower():
        return refused(codes.USER_MISMATCH, user=user[:60])
    country = (req.country or "").strip()
    if country.upper() != "MX":
        return refused(codes.COUNTRY_INVALID, country=country[:20])
    entity = (req.entity or "").strip().upper()
    if not entity or (account.entities and entity not in {e.upper() for e in account.entities}):
        return refused(codes.ENTITY_NOT_ALLOWED, entity=entity[:20])
    user_name = (req.user_name or "").strip()
    parts = _USER_NAME.match(user_name)
    if parts is None or parts["country"].upper() != "MX" or parts["entity"].upper() != entity:
        return refused(codes.USER_NAME_INVALID, entity=entity, user_name=user_name[:80])
    if account.user_names and user_name.lower() not in {u.lower() for u in account.user_names}:
        return refused(codes.USER_NAME_UNKNOWN, user_name=user_name[:80])
    return account


# --- ASYNC_CONVERT_NATIVE_XML ----------------------------------------------------------------------


def size_limit(ctx: Context) -> tuple[str, SizeLimit]:
    environment = ctx.scenarios.environment(PROVIDER)
    limit = ctx.scenarios.provider(PROVIDER).size_limit(environment)
    return environment, limit or DEFAULT_SIZE_LIMITS.get(environment, DEFAULT_SIZE_LIMITS["pruebas"])


def decode_document(text: str) -> bytes:
    """Data1 → bytes without intermediate copies: the fast strict decoder for plain base64 (the usual
    case), the lenient standard one (skips line breaks) otherwise. Raises binascii.Error/ValueError."""
    if _fast_b64decode is not None:
        try:
            return _fast_b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    return binascii.a2b_base64(text)


def _mb(size: int) -> str:
    return f"{size // 1_000_000} MB" if size % 1_000_000 == 0 else f"{size / 1_000_000:.2f} MB"


def _derived_guid(text: str) -> str:
    """A version-4-shaped GUID derived from ``text`` (reproducible documents and seeded runs)."""
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode("utf-8")).digest()[:16], version=4))


def convert_native_xml(ctx: Context, req: TransactionRequest, outcome: Outcome | None) -> Reply:
    entity = (req.entity or "").strip().upper()
    internal_id = (req.data2 or "").strip()
    if not internal_id:
        return refusal(codes.INTERNAL_ID_MISSING)
    if len(internal_id) > INTERNAL_ID_MAX:
        return refusal(codes.INTERNAL_ID_TOO_LONG, limit=INTERNAL_ID_MAX, length=len(internal_id))
    text, req.data1 = req.data1, None  # the only reference to tens of MB of base64: drop it once decoded
    if not text or not text.strip():
        return refusal(codes.DOCUMENT_MISSING)
    data1_size = len(text)  # base64 is ASCII: characters are bytes
    try:
        native = decode_document(text)
    except (binascii.Error, ValueError) as exc:
        return refusal(codes.DOCUMENT_NOT_BASE64, reason=str(exc).rstrip("."))
    del text
    size = len(native)
    environment, limit = size_limit(ctx)
    if not native:
        return refusal(codes.DOCUMENT_MISSING)
    measured = data1_size if limit.measure == "data1" else size
    if not limit.accepts(measured):
        hint = (
            f"Los documentos de hasta {_mb(limit.above)} se envían con CONVERT_NATIVE_XML al servicio síncrono."
            if measured <= limit.above
            else f"El máximo del servicio asíncrono de {ENVIRONMENT_NAMES.get(environment, environment)} "
            f"es {_mb(limit.max)}."
        )
        reply = refusal(
            codes.SIZE_NOT_ALLOWED,
            hint,
            what="de Data1 (base64)" if limit.measure == "data1" else "del XML nativo",
            size=f"{_mb(measured)}, {measured} bytes",
            environment=ENVIRONMENT_NAMES.get(environment, environment),
            above=_mb(limit.above),
            max=_mb(limit.max),
        )
        reply.summary = {"size": size}
        return reply

    now = ctx.now()
    settings = ctx.scenarios.provider(PROVIDER)
    due = now + settings.processing_time(size)
    seed = ctx.scenarios.seed
    guid = _derived_guid(f"{seed}:{entity}:{internal_id}") if seed is not None else str(uuid.uuid4())
    blob_key = uuid.uuid4().hex
    blobs = blobs_for(ctx.runtime)
    fail_code = outcome.code if outcome is not None else None
    fail_message = None
    if fail_code is not None:
        fail_message = (
            outcome.message or f"Error {fail_code} al procesar el documento (definido por un escenario)."
        )
    session = ctx.session
    with ctx.store.tx() as conn:
        won, bound = ctx.store.claim(session, "mysuite:internal_id", f"{entity}|{internal_id}", guid)
        if not won:
            reply = refusal(codes.DUPLICATE_INTERNAL_ID)
            reply.data = reply.description  # 002:76: the text comes "en <Data>"
            reply.response_data1 = bound
            reply.summary = {"request_id": bound, "size": size}
            return reply
        folio = ctx.store.increment(session, "mysuite:folio")
        blobs.put(conn, session, blob_key, NATIVE, native)
        insert_job(
            conn,
            session=session,
            guid=guid,
            requestor=(req.requestor or "").strip().lower(),
            entity=entity,
            user_name=(req.user_name or "").strip(),
            internal_id=internal_id,
            size=size,
            enrolled_at=now.isoformat(),
            due_at=due.isoformat(),
            folio=str(folio),
            fail_code=fail_code,
            fail_message=fail_message,
            blob_key=blob_key,
        )
        ctx.timers.schedule(conn, session, TIMER_KIND, due, {"request_id": guid})
    return Reply(True, codes.OK, response_data1=guid, summary={"request_id": guid, "size": size})


def on_job_due(firing: Firing) -> None:
    """Timer: the processing time has passed. Quick and DB-only; the conversion happens elsewhere."""
    guid = firing.payload["request_id"]
    row = firing.conn.execute(
        "SELECT status, fail_message FROM mysuite_jobs WHERE session=? AND guid=? AND fail_code IS NOT NULL",
        (firing.session, guid),
    ).fetchone()
    if row is not None and row["status"] == PENDING:
        firing.conn.execute(
            "UPDATE mysuite_jobs SET status=?, ready=1, error=?, finished_at=? WHERE session=? AND guid=?",
            (FAILED, row["fail_message"], firing.due_at.isoformat(), firing.session, guid),
        )
        return
    firing.conn.execute(
        "UPDATE mysuite_jobs SET ready=1 WHERE session=? AND guid=? AND status=?",
        (firing.session, guid, PENDING),
    )


# --- conversion ------------------------------------------------------------------------------------


@functools.cache
def _signer(name: str) -> documents.RsaSigner:
    from ...sat.pki import fixture

    info = fixture(name)
    return documents.RsaSigner(info.private_key(), info.cer_bytes())


def stamp(native: documents.NativeDocument, job: Job) -> bytes:
    """The stamped CFDI of a job: UUID, Faker data and folio all derive from the job's stored data."""
    faker = Faker("es_MX")
    faker.seed_instance(int.from_bytes(hashlib.sha256(job.guid.encode()).digest()[:8], "big"))
    return documents.build_cfdi(
        native,
        entity=job.entity,
        uuid=_derived_guid(f"{job.guid}:cfdi"),
        fecha_timbrado=job.due_at,
        serie=native.serie or DEFAULT_SERIE,
        folio=native.folio or job.folio,
        signer=_signer(ISSUER_CSD),
        sat_signer=_signer(SAT_CERTIFICATE),
        faker=faker,
    )


def convert(runtime: Sandbox, session: str, guid: str) -> bool:
    """Convert a ready job if no one else holds it. True when this call did the work."""
    store = runtime.store
    with store.tx() as conn:
        if not claim_conversion(conn, session, guid, time.time() - STALE_CONVERSION_S):
            return False
        job = get_job(conn, session, guid)
    if job is None:
        return False
    blobs = blobs_for(runtime)
    started = time.perf_counter()
    cfdi: bytes | None = None
    header: dict = {}
    mail: Mail | None = None
    try:
        native_xml = blobs.get(session, job.blob_key, NATIVE)
        if native_xml is None:
            raise documents.NativeDocumentError("El XML nativo de la solicitud ya no está disponible.")
        native = documents.read_native(native_xml, entity=job.entity)
        del native_xml
        cfdi = stamp(native, job)
        distribution = native.distribution
        del native
        header = documents.cfdi_header(cfdi)
        if distribution:
            try:
                mail = distribution_mail(job, cfdi, header, distribution)
            except Exception:  # the CFDI stands even when its mail cannot be made
                log.exception("MYSuite request %s: the distribution mail could not be made", guid)
        status, error = DONE, None
    except documents.NativeDocumentError as exc:
        status, error = FAILED, exc.message
    except Exception:  # a bug must end the job with a message, not retry forever
        log.exception("converting MYSuite request %s failed", guid)
        status, error = FAILED, "Error interno del sandbox al convertir el documento."

    with store.tx() as conn:
        cur = conn.execute(
            "UPDATE mysuite_jobs SET status=?, error=?, uuid=?, document_guid=?, serie=?, folio=?, summary=?, "
            "finished_at=?, converting_at=NULL WHERE session=? AND guid=? AND status=?",
            (
                status,
                error,
                _derived_guid(f"{job.guid}:cfdi").upper() if status == DONE else None,
                _derived_guid(f"{job.guid}:cfdi") if status == DONE else None,  # DocumentGUID: the TFD UUID
                header.get("serie") or None,
                header.get("folio") or job.folio,
                json.dumps(header),
                job.due_at.isoformat(),
                session,
                guid,
                PENDING,
            ),
        )
        if cur.rowcount and cfdi is not None:
            blobs.put(conn, session, job.blob_key, CFDI, cfdi)
            # SAT now knows the stamped CFDI: other providers can cancel it.
            registry.set_status(
                conn,
                session,
                _derived_guid(f"{job.guid}:cfdi"),
                registry.VIGENTE,
                at=job.due_at,
                rfc_emisor=job.entity,
                provider=PROVIDER,
            )
            if mail is not None:
                outbox_for(runtime).enqueue(conn, session, mail, at=job.due_at)
        blobs.delete(conn, session, job.blob_key, NATIVE)
    if mail is not None:
        outbox_for(runtime).wake()
    log.info("MYSuite request %s converted in %.2fs: status %s", guid, time.perf_counter() - started, status)
    return True


def distribution_mail(job: Job, cfdi: bytes, header: dict, to: tuple[str, ...]) -> Mail:
    """The e-mail that distributes a generated CFDI: the XML and its PDF attached.

    MYSuite publishes no format for this mail; subject and body are the sandbox's own.
    """
    uuid = _derived_guid(f"{job.guid}:cfdi").upper()
    serie, folio = header.get("serie") or "", header.get("folio") or job.folio or ""
    base = f"{job.entity}_{serie}{folio}_{uuid}"
    body = "\n".join([
        f"Comprobante fiscal digital {serie}{folio} emitido por {header.get('emisor_nombre') or job.entity} "
        f"({job.entity}).",
        "",
        f"Folio fiscal (UUID): {uuid}",
        f"Receptor: {header.get('receptor_nombre', '')} ({header.get('receptor_rfc', '')})",
        f"Total: {header.get('total', '')} {header.get('moneda', '')}",
        "",
        "Se adjuntan el XML y su representación impresa (PDF).",
    ])
    return Mail(
        to=", ".join(to),
        subject=f"CFDI {serie}{folio} de {job.entity} - folio fiscal {uuid}",
        body=body + "\n",
        uuid=uuid,
        provider=PROVIDER,
        attachments=(
            Attachment(f"{base}.xml", "application/xml", cfdi),
            Attachment(f"{base}.pdf", "application/pdf", documents.render_pdf(cfdi)),
        ),
    )


def settled_job(ctx: Context, guid: str) -> Job | None:
    """The job as a status query should see it: due timers fired, a ready job converted."""
    with ctx.store.read() as conn:
        job = get_job(conn, ctx.session, guid)
    if job is None or job.status != PENDING or not job.ready:
        return job
    if not convert(ctx.runtime, ctx.session, job.guid):
        deadline = time.monotonic() + WAIT_FOR_CONVERSION_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with ctx.store.read() as conn:
                job = get_job(conn, ctx.session, guid)
            if job is None or job.status != PENDING:
                return job
            if job.converting_at is None or job.converting_at < time.time() - STALE_CONVERSION_S:
                convert(ctx.runtime, ctx.session, job.guid)
    with ctx.store.read() as conn:
        return get_job(conn, ctx.session, guid)


# --- ASYNC_CONVERT_VERIFY / ASYNC_RETRIEVE_DOCUMENT ------------------------------------------------


def _requested_job(ctx: Context, req: TransactionRequest) -> Job | Reply:
    request_id = (req.data1 or "").strip()
    if not is_guid(request_id):
        return refusal(codes.REQUEST_ID_INVALID, request_id=request_id[:60])
    job = settled_job(ctx, request_id)
    entity = (req.entity or "").strip().upper()
    # Another issuer's request is as good as absent.
    if job is None or job.entity != entity:
        return refusal(codes.REQUEST_NOT_FOUND, request_id=request_id)
    return job


def issue_year(job: Job) -> int:
    """The year of the generated CFDI's ``Fecha`` (its issue date), the stamp's when it is not at hand."""
    fecha = str(job.summary.get("fecha") or "")
    return int(fecha[:4]) if fecha[:4].isdigit() else job.due_at.astimezone(MEXICO_CITY).year


def async_request_view(job: Job) -> AsyncRequestView:
    done = job.status == DONE
    return AsyncRequestView(
        entity=job.entity,
        uuid=job.guid,
        internal_id=job.internal_id,
        enrolled_at=job.enrolled_at,
        status=job.status,
        document_guid=job.document_guid if done else None,
        year=issue_year(job) if done else None,
        batch=(job.serie or "") if done else None,  # a CFDI without Serie: "" (the document's example)
        serial=(job.folio or "") if done else None,
        error_msg=(job.error or "") if job.status == FAILED else None,
    )


def verify(ctx: Context, req: TransactionRequest) -> Reply:
    job = _requested_job(ctx, req)
    if isinstance(job, Reply):
        return job
    return Reply(
        True,
        codes.OK,
        async_request=async_request_view(job),
        summary={"request_id": job.guid, "status": job.status},
    )


def retrieve(ctx: Context, req: TransactionRequest) -> Reply:
    job = _requested_job(ctx, req)
    if isinstance(job, Reply):
        return job
    if job.status == PENDING:
        return refusal(codes.REQUEST_PENDING, request_id=job.guid)
    if job.status == FAILED:
        return refusal(codes.REQUEST_FAILED, request_id=job.guid, error=job.error or "")
    secret = link_secret(ctx.store, ctx.settings.secret)
    expires = ctx.now() + LINK_LIFETIME
    tokens = tuple(make_token(secret, Link(ctx.session, job.guid, kind, expires)) for kind in ("xml", "pdf"))
    summary = job.summary
    identifier = DocumentId(
        country="MX",
        entity=job.entity,
        fiscal_name=summary.get("emisor_nombre", ""),
        year=str(issue_year(job)),
        batch=job.serie or "",
        serial=job.folio or "",
        document_guid=job.document_guid or "",
        issued_at=job.finished_at,
        enrolled_at=job.enrolled_at,
        internal_id=job.internal_id,
        receiver_tax_id=summary.get("receptor_rfc", ""),
        receiver_name=summary.get("receptor_nombre", ""),
        currency=summary.get("moneda", ""),
        total=summary.get("total", ""),
        suggested_file_name=f"{job.entity}_{job.serie or ''}{job.folio or ''}_{job.uuid}",
    )
    return Reply(
        True,
        codes.OK,
        links=(tokens[0], tokens[1]),
        identifier=identifier,
        summary={"request_id": job.guid, "uuid": job.uuid, "links_expire": expires.isoformat()},
    )


# --- downloads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    filename: str
    data: bytes


def download(runtime: Sandbox, link: Link) -> Download | None:
    """The ZIP a valid link points to (made on first use, then cached), or None when the job is gone."""
    with runtime.store.read() as conn:
        job = get_job(conn, link.session, link.request_id)
    if job is None or job.status != DONE or link.kind not in ("xml", "pdf"):
        return None
    base = f"{job.entity}_{job.serie or ''}{job.folio or ''}_{job.uuid}"
    zip_kind = XML_ZIP if link.kind == "xml" else PDF_ZIP
    blobs = blobs_for(runtime)
    cached = blobs.get(job.session, job.blob_key, zip_kind)
    if cached is not None:
        return Download(f"{base}_{link.kind}.zip", cached)
    cfdi = blobs.get(job.session, job.blob_key, CFDI)
    if cfdi is None:
        return None
    content = cfdi if link.kind == "xml" else documents.render_pdf(cfdi)
    del cfdi
    stamped_at = job.due_at.astimezone(MEXICO_CITY).replace(tzinfo=None)
    data = documents.zip_single(f"{base}.{link.kind}", content, when=stamped_at)
    with runtime.store.tx() as conn:
        if get_job(conn, job.session, job.guid) is not None:
            blobs.put(conn, job.session, job.blob_key, zip_kind, data)
    return Download(f"{base}_{link.kind}.zip", data)


def state(ctx: Context) -> dict:
    """MYSuite's asynchronous jobs in this session (for ``/__admin/jobs`` and the dashboard)."""
    with ctx.store.read() as conn:
        jobs = list_jobs(conn, ctx.session)
    return {"jobs": [j.describe() for j in jobs], "count": len(jobs)}
