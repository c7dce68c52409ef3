"""``ASYNC_CONVERT_NATIVE_XML``: accept a large native document and queue its conversion.

The internal id (Data2) and the size of the native XML (Data1) are checked, the internal id is bound
once (3196 on repeats, atomically) and a job is queued whose processing time grows with the size.
"""

from __future__ import annotations

import binascii
import uuid
from typing import TYPE_CHECKING

from . import codes
from .answers import Refused, Reply, TransactionRequest, refuse
from .ids import derived_guid
from .jobs import TIMER_KIND
from .models import NATIVE, blobs_for, insert_job
from .settings import DEFAULT_SIZE_LIMITS, ENVIRONMENT_NAMES, PROVIDER, SizeLimit

try:  # SIMD base64: decodes 40 MB in ~0.1 s where binascii takes ~0.5 s
    from pybase64 import b64decode as _fast_b64decode
except ImportError:  # pragma: no cover - optional speed-up
    _fast_b64decode = None

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios import Outcome

INTERNAL_ID_MAX = 50


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


def _size_refusal(size: int, measured: int, environment: str, limit: SizeLimit) -> Refused:
    where = ENVIRONMENT_NAMES.get(environment, environment)
    hint = (
        f"Los documentos de hasta {_mb(limit.above)} se envían con CONVERT_NATIVE_XML al servicio síncrono."
        if measured <= limit.above
        else f"El máximo del servicio asíncrono de {where} es {_mb(limit.max)}."
    )
    error = refuse(
        codes.SIZE_NOT_ALLOWED,
        hint,
        what="de Data1 (base64)" if limit.measure == "data1" else "del XML nativo",
        size=f"{_mb(measured)}, {measured} bytes",
        environment=where,
        above=_mb(limit.above),
        max=_mb(limit.max),
    )
    error.summary = {"size": size}
    return error


def convert_native_xml(ctx: Context, req: TransactionRequest, outcome: Outcome | None) -> Reply:
    entity = (req.entity or "").strip().upper()
    internal_id = (req.data2 or "").strip()
    if not internal_id:
        raise refuse(codes.INTERNAL_ID_MISSING)
    if len(internal_id) > INTERNAL_ID_MAX:
        raise refuse(codes.INTERNAL_ID_TOO_LONG, limit=INTERNAL_ID_MAX, length=len(internal_id))
    text, req.data1 = req.data1, None  # the only reference to tens of MB of base64: drop it once decoded
    if not text or not text.strip():
        raise refuse(codes.DOCUMENT_MISSING)
    data1_size = len(text)  # base64 is ASCII: characters are bytes
    try:
        native = decode_document(text)
    except (binascii.Error, ValueError) as exc:
        raise refuse(codes.DOCUMENT_NOT_BASE64, reason=str(exc).rstrip(".")) from None
    del text
    size = len(native)
    environment, limit = size_limit(ctx)
    if not native:
        raise refuse(codes.DOCUMENT_MISSING)
    measured = data1_size if limit.measure == "data1" else size
    if not limit.accepts(measured):
        raise _size_refusal(size, measured, environment, limit)

    now = ctx.now()
    settings = ctx.scenarios.provider(PROVIDER)
    due = now + settings.processing_time(size)
    seed = ctx.scenarios.seed
    guid = derived_guid(f"{seed}:{entity}:{internal_id}") if seed is not None else str(uuid.uuid4())
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
        if won:
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
    if not won:
        error = refuse(codes.DUPLICATE_INTERNAL_ID)
        error.data = error.message  # 002:76: the text comes "en <Data>"
        error.response_data1 = bound
        error.summary = {"request_id": bound, "size": size}
        raise error
    return Reply(True, codes.OK, response_data1=guid, summary={"request_id": guid, "size": size})
