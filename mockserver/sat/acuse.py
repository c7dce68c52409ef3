"""The cancellation receipt (*acuse*) that SAT returns, sealed by the mock's fake SAT key.

Layout (namespace ``http://cancelacfd.sat.gob.mx``)::

    <Acuse Fecha="2026-05-01T10:00:05.123456" RfcEmisor="MOC900101AB1">
      <Folios><UUID>…</UUID><EstatusUUID>201</EstatusUUID></Folios>  (one per folio)
      <Signature Id="SelloSAT" xmlns="http://www.w3.org/2000/09/xmldsig#">…</Signature>
    </Acuse>

It is signed enveloped (inclusive C14N, RSA-SHA256) with the ``sat_acuse`` certificate of the packaged
PKI; anyone can verify it with that published certificate (``fixtures/sat_acuse.cer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from .cancelacion import MEXICO_TZ, NS, XSD_NS, XSI_NS
from .certificates import Certificate, load_certificate
from .errors import BadStructure
from .signature import sign_enveloped, verify_enveloped

ESTATUS_UUID: dict[str, str] = {
    "201": "Solicitud de cancelación recibida",
    "202": "Folio fiscal previamente cancelado",
    "203": "Folio fiscal no correspondiente al emisor",
    "204": "Folio fiscal no aplicable a cancelación",
    "205": "Folio fiscal no existente",
}


@dataclass(frozen=True)
class VerifiedAcuse:
    rfc_emisor: str
    fecha_text: str
    folios: tuple[tuple[str, str], ...]  # (UUID, EstatusUUID)
    certificate: Certificate


@lru_cache(maxsize=1)
def acuse_signer() -> tuple[Certificate, rsa.RSAPrivateKey]:
    """The packaged fake SAT acuse certificate and its key."""
    from .pki import fixture

    info = fixture("sat_acuse")
    return info.certificate(), info.private_key()


def format_acuse_fecha(fecha: datetime) -> str:
    """Mexico City wall clock with microseconds, as SAT writes it (no offset)."""
    if fecha.tzinfo is not None:
        fecha = fecha.astimezone(MEXICO_TZ).replace(tzinfo=None)
    return fecha.isoformat(timespec="microseconds" if fecha.microsecond else "seconds")


def build_acuse(
    rfc_emisor: str,
    fecha: datetime,
    folios: Sequence[tuple[str, str]],
    *,
    signer: tuple[Certificate, rsa.RSAPrivateKey] | None = None,
) -> bytes:
    """A signed Acuse for ``folios`` = [(uuid, estatus_uuid), ...] (serialized, UTF-8)."""
    root = etree.Element(f"{{{NS}}}Acuse", nsmap={None: NS, "xsd": XSD_NS, "xsi": XSI_NS})
    root.set("Fecha", format_acuse_fecha(fecha))
    root.set("RfcEmisor", rfc_emisor)
    for uuid, estatus in folios:
        wrapper = etree.SubElement(root, f"{{{NS}}}Folios")
        etree.SubElement(wrapper, f"{{{NS}}}UUID").text = uuid
        etree.SubElement(wrapper, f"{{{NS}}}EstatusUUID").text = str(estatus)
    cert, key = signer or acuse_signer()
    signed = sign_enveloped(root, cert, key, algorithm="sha256")
    # Id is outside what is signed (the enveloped transform drops the whole Signature).
    doc = etree.fromstring(signed)
    doc.find("{http://www.w3.org/2000/09/xmldsig#}Signature").set("Id", "SelloSAT")
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def verify_acuse(xml: bytes, certificate: Certificate | bytes | None = None) -> VerifiedAcuse:
    """Verify an Acuse against ``certificate`` (default: the packaged ``sat_acuse`` certificate).

    The key in the document's KeyInfo is ignored: only the expected certificate counts.
    Raises the same errors as :func:`mockserver.sat.signature.verify_seal` (no Cancelacion checks).
    """
    if certificate is None:
        certificate = acuse_signer()[0]
    elif isinstance(certificate, bytes | bytearray):
        certificate = load_certificate(bytes(certificate))
    sealed = verify_enveloped(xml, "Acuse", expected_cert=certificate)
    root = sealed.signed_root
    folios = []
    for wrapper in root.iterfind(f"{{{NS}}}Folios"):
        uuid, estatus = wrapper.findtext(f"{{{NS}}}UUID"), wrapper.findtext(f"{{{NS}}}EstatusUUID")
        if uuid is None or estatus is None:
            raise BadStructure("cada Folios del acuse debe tener UUID y EstatusUUID")
        folios.append((uuid.strip(), estatus.strip()))
    return VerifiedAcuse(root.get("RfcEmisor") or "", root.get("Fecha") or "", tuple(folios), certificate)
