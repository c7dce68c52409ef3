"""The life of an asynchronous job after it was accepted: due, converted, queried, downloaded.

- When the processing time has passed, the job's timer marks it ready (or failed, when a scenario
  rule gave it a code); :mod:`.conversion` then turns it into a CFDI.
- A status query sees the job settled (:func:`settled_job`): it converts a ready job itself, or, when
  another thread or process is converting it, waits on the job's lock until that conversion ends
  (at most ``JobLocks.wait_limit``; then it answers the job pending). With the documents in database
  rows and no shared folder the lock is a thread lock: a query does not see a conversion another
  replica is doing and answers the job pending until that conversion is stored.
- The PDF and the ZIPs are made on the first download and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...clock import MEXICO_CITY
from . import documents
from .conversion import convert
from .links import Link
from .models import CFDI, DONE, PDF_ZIP, PENDING, XML_ZIP, Job, blobs_for, get_job, list_jobs, mark_ready

if TYPE_CHECKING:
    from ...context import Context, Sandbox
    from ...timers import Firing

TIMER_KIND = "mysuite.async_job"


def on_job_due(firing: Firing) -> None:
    """Timer: the processing time has passed. Quick and DB-only; the conversion happens elsewhere."""
    mark_ready(firing.conn, firing.session, firing.payload["request_id"], firing.due_at)


def settled_job(ctx: Context, guid: str) -> Job | None:
    """The job as a status query should see it (its context fired what fell due): a ready job converted."""
    with ctx.store.read() as conn:
        job = get_job(conn, ctx.session, guid)
    if job is None or job.status != PENDING or not job.ready:
        return job
    # When another thread or process holds the job: wake when its conversion ends, then convert here
    # if it ended without a result (its process died). A conversion that outlasts the wait is left
    # to its holder: the job is answered as it stands (pending).
    if not convert(ctx.runtime, ctx.session, job.guid) and blobs_for(ctx.runtime).locks.wait(job.blob_key):
        convert(ctx.runtime, ctx.session, job.guid)
    with ctx.store.read() as conn:
        return get_job(conn, ctx.session, guid)


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
