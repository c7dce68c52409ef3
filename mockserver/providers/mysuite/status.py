"""``ASYNC_CONVERT_VERIFY`` and ``ASYNC_RETRIEVE_DOCUMENT``: what became of a request.

``ASYNC_CONVERT_VERIFY`` reports Status 1/2/3: ``Uuid`` is the request's id (the one in Data1),
``DocumentGUID`` the fiscal UUID (TFD) of the generated CFDI; what has no value yet is null.
``ASYNC_RETRIEVE_DOCUMENT`` hands out new signed links (5 days of mock time) to ZIPs of the XML and
the PDF.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...clock import MEXICO_CITY
from . import codes
from .answers import AsyncRequestView, DocumentId, Reply, TransactionRequest, refuse
from .ids import is_guid
from .jobs import settled_job
from .links import LINK_LIFETIME, Link, link_secret, make_token
from .models import DONE, FAILED, PENDING, Job

if TYPE_CHECKING:
    from ...context import Context


def requested_job(ctx: Context, req: TransactionRequest) -> Job:
    """The job Data1 names, settled; 3140 for what is not a request id, 3141 for an unknown one."""
    request_id = (req.data1 or "").strip()
    if not is_guid(request_id):
        raise refuse(codes.REQUEST_ID_INVALID, request_id=request_id[:60])
    job = settled_job(ctx, request_id)
    entity = (req.entity or "").strip().upper()
    # Another issuer's request is as good as absent.
    if job is None or job.entity != entity:
        raise refuse(codes.REQUEST_NOT_FOUND, request_id=request_id)
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
    job = requested_job(ctx, req)
    return Reply(
        True,
        codes.OK,
        async_request=async_request_view(job),
        summary={"request_id": job.guid, "status": job.status},
    )


def retrieve(ctx: Context, req: TransactionRequest) -> Reply:
    job = requested_job(ctx, req)
    if job.status == PENDING:
        raise refuse(codes.REQUEST_PENDING, request_id=job.guid)
    if job.status == FAILED:
        raise refuse(codes.REQUEST_FAILED, request_id=job.guid, error=job.error or "")
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
