"""Converting a ready job: native XML → stamped CFDI 4.0, entered in the SAT registry, mailed if asked.

The conversion takes seconds for tens of MB, so it never runs inside the timer's write transaction:
the background converter does it right after the timer marks the job ready, and a status query that
finds a ready job converts it on the spot (see :func:`.jobs.settled_job`). Everything generated is
derived from stored data (request id → UUID, Faker seed), so a second conversion gives the same
documents. A native document that asks for mail distribution (``fx:Procesamiento``) has its CFDI
e-mailed, XML and PDF attached, through the outbox, recorded in the transaction that stores the CFDI.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from typing import TYPE_CHECKING

from ... import registry
from ...mail import Attachment, Mail, outbox_for
from ...sat.verdict import VIGENTE
from . import documents
from .ids import derived_guid
from .models import (
    CFDI,
    DONE,
    FAILED,
    NATIVE,
    PENDING,
    Job,
    blobs_for,
    claim_conversion,
    finish_conversion,
    get_job,
)
from .settings import PROVIDER

if TYPE_CHECKING:
    from ...context import Sandbox

log = logging.getLogger("pac_mock.mysuite")

DEFAULT_SERIE = "MYS"
ISSUER_CSD = "csd_moral"  # the test PKI's CSD that seals the CFDIs (the PKI has none for the entity)
SAT_CERTIFICATE = "sat_acuse"  # the fake SAT certificate behind SelloSAT / NoCertificadoSAT
# A converter that has held a job this long (real seconds) is taken for dead; another may retry.
STALE_CONVERSION_S = 120.0


def cfdi_uuid(job: Job) -> str:
    """The fiscal UUID (TFD) of the job's CFDI, lower case."""
    return derived_guid(f"{job.guid}:cfdi")


@functools.cache
def _signer(name: str) -> documents.RsaSigner:
    from ...sat.pki import fixture

    info = fixture(name)
    return documents.RsaSigner(info.private_key(), info.cer_bytes())


def stamp(native: documents.NativeDocument, job: Job) -> bytes:
    """The stamped CFDI of a job: UUID, Faker data and folio all derive from the job's stored data."""
    from faker import Faker  # here, not at import: a tenth of a second every server process would pay

    faker = Faker("es_MX")
    faker.seed_instance(int.from_bytes(hashlib.sha256(job.guid.encode()).digest()[:8], "big"))
    return documents.build_cfdi(
        native,
        entity=job.entity,
        uuid=cfdi_uuid(job),
        fecha_timbrado=job.due_at,
        serie=native.serie or DEFAULT_SERIE,
        folio=native.folio or job.folio,
        signer=_signer(ISSUER_CSD),
        sat_signer=_signer(SAT_CERTIFICATE),
        faker=faker,
    )


def convert(runtime: Sandbox, session: str, guid: str) -> bool:
    """Convert a ready job unless another thread or process is converting it. True when this call did
    the work. The job's lock is held meanwhile, so that a status query can wait for it."""
    store = runtime.store
    with store.read() as conn:
        job = get_job(conn, session, guid)
    if job is None or job.status != PENDING or not job.ready:
        return False
    blobs = blobs_for(runtime)
    with blobs.locks.try_hold(job.blob_key) as held:
        if not held:
            return False
        with store.tx() as conn:
            if not claim_conversion(conn, session, guid, time.time() - STALE_CONVERSION_S):
                return False
            job = get_job(conn, session, guid)
        if job is None:
            return False
        _convert(runtime, job)
    return True


def _convert(runtime: Sandbox, job: Job) -> None:
    session, guid = job.session, job.guid
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

    with runtime.store.tx() as conn:
        finished = finish_conversion(
            conn,
            session,
            guid,
            status=status,
            error=error,
            uuid=cfdi_uuid(job).upper() if status == DONE else None,
            document_guid=cfdi_uuid(job) if status == DONE else None,  # DocumentGUID: the TFD UUID
            serie=header.get("serie") or None,
            folio=header.get("folio") or job.folio,
            summary=header,
            finished_at=job.due_at,
        )
        if finished and cfdi is not None:
            blobs.put(conn, session, job.blob_key, CFDI, cfdi)
            # SAT now knows the stamped CFDI: other providers can cancel it.
            registry.set_status(
                conn, session, cfdi_uuid(job), VIGENTE, at=job.due_at, rfc_emisor=job.entity, provider=PROVIDER
            )
            if mail is not None:
                outbox_for(runtime).enqueue(conn, session, mail, at=job.due_at)
        blobs.delete(conn, session, job.blob_key, NATIVE)
    if mail is not None:
        outbox_for(runtime).wake()
    log.info("MYSuite request %s converted in %.2fs: status %s", guid, time.perf_counter() - started, status)


def distribution_mail(job: Job, cfdi: bytes, header: dict, to: tuple[str, ...]) -> Mail:
    """The e-mail that distributes a generated CFDI: the XML and its PDF attached.

    MYSuite publishes no format for this mail; subject and body are the sandbox's own.
    """
    uuid = cfdi_uuid(job).upper()
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
