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

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from .cancelacion import DS_NS, MEXICO_TZ, NS, XSD_NS, XSI_NS
from .certificates import Certificate, load_certificate
from .errors import BadStructure
from .keys import ensure_key_matches
from .signature import verify_enveloped

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
    if signer is not None:
        ensure_key_matches(cert, key)
    _sign(root, cert, key)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# The fixed parts of the acuse's XMLDSig: enveloped, inclusive C14N 1.0, RSA-SHA256, SHA-256.
_C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _ds(parent: etree._Element, name: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DS_NS}}}{name}", attrs)


def _sign(root: etree._Element, cert: Certificate, key: rsa.RSAPrivateKey) -> None:
    """Append the enveloped ``Signature Id="SelloSAT"`` to ``root``.

    The same bytes signxml writes for this layout (a test compares them), without its generic
    machinery: lxml canonicalizes (C14N 1.0) and ``cryptography`` signs; the digest is taken before the
    Signature exists, which is what the enveloped transform sees.
    """
    digest = hashlib.sha256(etree.tostring(root, method="c14n")).digest()
    signature = etree.SubElement(root, f"{{{DS_NS}}}Signature", nsmap={None: DS_NS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=_C14N_10)
    _ds(signed_info, "SignatureMethod", Algorithm=_RSA_SHA256)
    reference = _ds(signed_info, "Reference", URI="")
    _ds(_ds(reference, "Transforms"), "Transform", Algorithm=_ENVELOPED)
    _ds(reference, "DigestMethod", Algorithm=_SHA256)
    _ds(reference, "DigestValue").text = base64.b64encode(digest).decode()
    # lxml's sub-element C14N writes a spurious xmlns="" (see mockserver/sat/signature.py); nothing in
    # SignedInfo is in no namespace, so dropping it gives the true canonical form, as verifiers read it.
    canonical = etree.tostring(signed_info, method="c14n").replace(b' xmlns=""', b"")
    value = key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
    _ds(signature, "SignatureValue").text = base64.b64encode(value).decode()
    x509 = _ds(_ds(signature, "KeyInfo"), "X509Data")
    issuer_serial = _ds(x509, "X509IssuerSerial")
    _ds(issuer_serial, "X509IssuerName").text = cert.issuer_name
    _ds(issuer_serial, "X509SerialNumber").text = str(cert.serial)
    _ds(x509, "X509Certificate").text = cert.base64()
    # Id is outside what is signed (the enveloped transform drops the whole Signature).
    signature.set("Id", "SelloSAT")


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
