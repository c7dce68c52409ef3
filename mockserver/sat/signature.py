"""XMLDSig for SAT documents: verify and sign enveloped signatures (signxml underneath).

Profile accepted (what SAT clients write): one ``Signature`` as a direct child of the root, inclusive
C14N 1.0, RSA-SHA1 or RSA-SHA256, SHA-1 or SHA-256 digest, exactly one ``Reference URI=""`` with the
enveloped-signature transform (optionally followed by an inclusive C14N transform), and
``KeyInfo/X509Data`` with ``X509IssuerSerial`` and one ``X509Certificate`` (an ``RSAKeyValue`` is
tolerated and must match the certificate).

Why a signxml subclass: lxml emits a spurious ``xmlns=""`` when canonicalizing a sub-element whose
namespace is the default one (how SAT clients write ``<Signature xmlns="…xmldsig#">``), which makes plain
signxml reject valid SAT signatures; ``excise_empty_xmlns_declarations`` removes it. No SAT document
needs ``xmlns=""``.

Business data is read only from what was signed (``VerifyResult.signed_xml``), never from the tree
the client sent. ``KeyInfo`` is not covered by the signature, so ``X509IssuerSerial`` is compared with
the embedded certificate here.

Checks are split so that providers can order them to match their own catalogues:
:func:`verify_seal` (document, signature, KeyInfo, RFC) and :func:`.policy.check_certificate_policy`
(issuer, CSD, revocation, validity now, Fecha within validity); :func:`verify_cancelacion` runs both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.algorithms import SignatureConstructionMethod
from signxml.exceptions import InvalidDigest, InvalidSignature, SignXMLException

from ._xml import parser as _safe_parser
from ._xml import safe_fromstring
from .cancelacion import (
    DS_NS,
    NS,
    Cancelacion,
    Folio,
    Format,
    Unverified,
    build_cancelacion,
    cancelacion_from_element,
    validate_folio,
)
from .certificates import Certificate, TrustStore, load_certificate
from .errors import (
    BadDigest,
    BadSeal,
    CertificateWithoutRfc,
    IssuerNameMismatch,
    MalformedSignature,
    RfcMismatch,
    SerialNumberMismatch,
    UnreadableCertificate,
    UnsignedContent,
    UnsupportedAlgorithm,
    WrongNamespace,
    WrongRoot,
)
from .keys import ensure_key_matches
from .names import parse_name, same_name, short_label
from .policy import check_certificate_policy

C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHODS = {
    SignatureMethod.RSA_SHA1.value: "rsa-sha1",
    SignatureMethod.RSA_SHA256.value: "rsa-sha256",
}
DIGEST_METHODS = {DigestAlgorithm.SHA1.value: "sha1", DigestAlgorithm.SHA256.value: "sha256"}
_ALLOWED_TRANSFORMS = {ENVELOPED, C14N_10}
_KEYINFO_CHILDREN = {"X509Data", "KeyValue"}
_X509DATA_CHILDREN = {"X509IssuerSerial", "X509Certificate", "X509SubjectName"}


def _ds(name: str) -> str:
    return f"{{{DS_NS}}}{name}"


class _SatVerifier(XMLVerifier):
    # See the module docstring: undo lxml's spurious xmlns="" in sub-element inclusive C14N.
    excise_empty_xmlns_declarations = True


class _SatSigner(XMLSigner):
    def check_deprecated_methods(self) -> None:
        # SAT mandates RSA-SHA1; signxml refuses SHA-1 for signing unless this check is skipped.
        pass


@dataclass(frozen=True)
class VerifiedCancelacion:
    """A Cancelacion whose seal verified, with the certificate that sealed it."""

    cancelacion: Cancelacion
    certificate: Certificate
    signature_method: str  # "rsa-sha1" | "rsa-sha256"
    digest_method: str  # "sha1" | "sha256"


@dataclass(frozen=True)
class Sealed:
    signed_root: etree._Element
    certificate: Certificate
    signature_method: str
    digest_method: str


# --- verification -------------------------------------------------------------------------------


def verify_cancelacion(
    xml: bytes, trust: TrustStore, at: datetime, *, require_csd: bool = True
) -> VerifiedCancelacion:
    """Everything: :func:`verify_seal` then :func:`check_certificate_policy`.

    Raises, in this order of checks: :class:`MalformedXml`, :class:`WrongRoot`/:class:`WrongNamespace`,
    :class:`UnsignedContent`/:class:`MalformedSignature`, :class:`SerialNumberMismatch`,
    :class:`IssuerNameMismatch`, :class:`BadSeal`/:class:`BadDigest`, any other :class:`CancelacionError`
    (on the signed content), :class:`RfcMismatch`, :class:`UntrustedIssuer`, :class:`NotACsd`,
    :class:`CertificateExpired`/:class:`CertificateNotYetValid` (at ``at``), :class:`FechaOutsideValidity`.
    """
    verified = verify_seal(xml)
    check_certificate_policy(
        verified.certificate, trust, at, fecha=verified.cancelacion.fecha_aware(), require_csd=require_csd
    )
    return verified


def verify_seal(xml: bytes, *, sha1_only: bool = False, read: Unverified | None = None) -> VerifiedCancelacion:
    """Verify the document and its signature, without any trust or time policy.

    ``sha1_only`` refuses rsa-sha256 and sha256 (:class:`UnsupportedAlgorithm`), for providers whose
    documents require rsa-sha1 and sha1. ``read``: the same ``xml`` already parsed and read
    (:func:`read_unverified`), which is then neither parsed nor read again.
    """
    sealed = verify_enveloped(xml, "Cancelacion", sha1_only=sha1_only, root=read.root if read else None)
    if read is not None and read.cancelacion is not None:
        # What was read is what was verified: one Reference, URI="" with the enveloped transform,
        # the Signature a child of the root and no comment or PI outside C14N (verify_enveloped's
        # checks), so the signed content is the whole document but its Signature, which the read
        # skips. Failures keep their order: an unreadable document is read below, after the seal.
        cancelacion = read.cancelacion
    else:
        cancelacion = cancelacion_from_element(sealed.signed_root)
    cert = sealed.certificate
    if cert.rfc is None:
        raise CertificateWithoutRfc()
    if cert.rfc.upper() != cancelacion.rfc_emisor.upper():
        raise RfcMismatch()
    return VerifiedCancelacion(cancelacion, cert, sealed.signature_method, sealed.digest_method)


def verify_enveloped(
    xml: bytes,
    root_name: str,
    expected_cert: Certificate | None = None,
    *,
    sha1_only: bool = False,
    root: etree._Element | None = None,
) -> Sealed:
    """``root``: ``xml`` already parsed with the safe parser (it is only read here)."""
    if root is None:
        root = safe_fromstring(xml)
    qname = etree.QName(root)
    if qname.localname != root_name:
        raise WrongRoot(f"el elemento raíz debe ser {root_name}, no {qname.localname}")
    if qname.namespace != NS:
        raise WrongNamespace(f"{root_name} debe estar en el espacio de nombres {NS}")
    _reject_unsigned_content(root)
    signature = _the_signature(root)
    sig_method, digest_method = _check_signed_info(signature)
    if sha1_only and (SIGNATURE_METHODS[sig_method], DIGEST_METHODS[digest_method]) != ("rsa-sha1", "sha1"):
        raise UnsupportedAlgorithm(
            f"se requiere rsa-sha1 y sha1; el documento usa {SIGNATURE_METHODS[sig_method]} y "
            f"{DIGEST_METHODS[digest_method]}"
        )
    embedded, issuer_text, serial_text = _key_info(signature)
    cert = expected_cert or embedded
    if expected_cert is None:
        _check_issuer_serial(cert, issuer_text, serial_text)
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256}),
        location="./",
        expect_references=1,
        # Validity is policy, checked separately; signxml must not reject an expired certificate here.
        verification_time=cert.not_before,
    )
    try:
        result = _SatVerifier().verify(xml, x509_cert=cert.x509, parser=_safe_parser(), expect_config=config)
    except InvalidDigest:
        raise BadDigest("el contenido firmado fue modificado (DigestValue no coincide)") from None
    except InvalidSignature:
        raise BadSeal("el sello (SignatureValue) no corresponde al certificado") from None
    except (SignXMLException, ValueError, etree.DocumentInvalid) as exc:  # DocumentInvalid: signxml's schema
        raise MalformedSignature(f"firma inválida: {exc}") from None
    if result.signed_xml is None:
        raise MalformedSignature("el contenido firmado no es XML")
    return Sealed(result.signed_xml, cert, SIGNATURE_METHODS[sig_method], DIGEST_METHODS[digest_method])


def _reject_unsigned_content(root: etree._Element) -> None:
    # C14N without comments ignores comments and PIs, so they could be added after signing.
    nodes = (
        list(root.iter(etree.Comment, etree.ProcessingInstruction))
        + list(root.itersiblings(preceding=True))
        + list(root.itersiblings())
    )
    if nodes:
        raise UnsignedContent("el documento contiene comentarios o instrucciones de proceso no firmados")


def _the_signature(root: etree._Element) -> etree._Element:
    signatures = list(root.iter(_ds("Signature")))
    if not signatures:
        raise MalformedSignature("el documento no está firmado (falta Signature)")
    if len(signatures) > 1:
        raise MalformedSignature("el documento contiene más de un Signature")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise MalformedSignature("Signature debe ser hijo directo del elemento raíz")
    if signature.find(_ds("Object")) is not None:
        raise MalformedSignature("Signature no debe contener Object")
    return signature


def _one(parent: etree._Element, name: str, where: str) -> etree._Element:
    found = parent.findall(_ds(name))
    if len(found) != 1:
        raise MalformedSignature(f"{where} debe contener exactamente un {name}")
    return found[0]


def _check_signed_info(signature: etree._Element) -> tuple[str, str]:
    signed_info = _one(signature, "SignedInfo", "Signature")
    c14n = _one(signed_info, "CanonicalizationMethod", "SignedInfo").get("Algorithm")
    if c14n != C14N_10:
        raise MalformedSignature(f"CanonicalizationMethod no soportado: {c14n}")
    sig_method = _one(signed_info, "SignatureMethod", "SignedInfo").get("Algorithm") or ""
    if sig_method not in SIGNATURE_METHODS:
        raise MalformedSignature(f"SignatureMethod no soportado: {sig_method}")
    if len(list(signature.iter(_ds("Reference")))) != 1:
        raise MalformedSignature("la firma debe tener exactamente un Reference")
    reference = _one(signed_info, "Reference", "SignedInfo")
    if reference.get("URI") != "":
        raise MalformedSignature('Reference debe tener URI=""')
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{_ds('Transforms')}/{_ds('Transform')}")]
    if ENVELOPED not in transforms or not set(transforms) <= _ALLOWED_TRANSFORMS:
        raise MalformedSignature("Transforms debe ser enveloped-signature (y opcionalmente C14N 1.0)")
    digest = _one(reference, "DigestMethod", "Reference").get("Algorithm") or ""
    if digest not in DIGEST_METHODS:
        raise MalformedSignature(f"DigestMethod no soportado: {digest}")
    _base64_value(_one(reference, "DigestValue", "Reference"))
    _base64_value(_one(signature, "SignatureValue", "Signature"))
    return sig_method, digest


def _base64_value(element: etree._Element) -> None:
    """DigestValue and SignatureValue are non-empty base64 (signxml would fail with a TypeError or a
    schema error instead of saying so)."""
    name = etree.QName(element).localname
    text = "".join((element.text or "").split())
    if not text:
        raise MalformedSignature(f"{name} está vacío")
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature(f"{name} no es base64 válido") from None


def _key_info(signature: etree._Element) -> tuple[Certificate, str, str]:
    key_info = _one(signature, "KeyInfo", "Signature")
    for child in key_info:
        if etree.QName(child).localname not in _KEYINFO_CHILDREN or etree.QName(child).namespace != DS_NS:
            raise MalformedSignature(
                f"KeyInfo contiene un elemento no soportado: {etree.QName(child).localname}"
            )
    x509_data = _one(key_info, "X509Data", "KeyInfo")
    for child in x509_data:
        if etree.QName(child).localname not in _X509DATA_CHILDREN or etree.QName(child).namespace != DS_NS:
            raise MalformedSignature(
                f"X509Data contiene un elemento no soportado: {etree.QName(child).localname}"
            )
    issuer_serial = _one(x509_data, "X509IssuerSerial", "X509Data")
    issuer_text = _one(issuer_serial, "X509IssuerName", "X509IssuerSerial").text or ""
    serial_text = _one(issuer_serial, "X509SerialNumber", "X509IssuerSerial").text or ""
    cert_text = _one(x509_data, "X509Certificate", "X509Data").text or ""
    try:
        der = base64.b64decode("".join(cert_text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableCertificate("X509Certificate no es base64 válido") from None
    try:
        cert = load_certificate(der)
    except Exception:
        raise UnreadableCertificate("X509Certificate no contiene un certificado legible") from None
    return cert, issuer_text, serial_text


def _check_issuer_serial(cert: Certificate, issuer_text: str, serial_text: str) -> None:
    serial = serial_text.strip()
    if not (serial.isdigit() and (int(serial) == cert.serial or serial == cert.certificate_number)):
        raise SerialNumberMismatch()
    # Compared as distinguished names: every writer (.NET, Java, OpenSSL, RFC 4514) spells them its own way.
    try:
        issuer = parse_name(issuer_text)
    except ValueError:
        issuer = None
    if issuer is not None and same_name(issuer, cert.issuer_attributes):
        return
    # Some clients write the name without any escaping; accept the exact plain spellings too.
    if issuer_text.strip() not in _plain_spellings(cert):
        raise IssuerNameMismatch()


def _plain_spellings(cert: Certificate) -> set[str]:
    pairs = [f"{short_label(o)}={v}" for o, v in cert.issuer_attributes]
    out = set()
    for sep in (",", ", "):
        out.add(sep.join(pairs))
        out.add(sep.join(reversed(pairs)))
    return out


# --- signing ------------------------------------------------------------------------------------


def sign_enveloped(
    root: etree._Element, cert: Certificate, key: rsa.RSAPrivateKey, *, algorithm: str = "sha1"
) -> bytes:
    """Sign ``root`` the SAT way and return the serialized document (one line, UTF-8, declaration)."""
    ensure_key_matches(cert, key)
    sig, dig = {
        "sha1": (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
        "sha256": (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256),
    }[algorithm]
    signer = _SatSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=sig,
        digest_algorithm=dig,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signer.namespaces = {None: DS_NS}
    signed = signer.sign(root, key=key, key_info=_key_info_element(cert), exclude_c14n_transform_element=True)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _key_info_element(cert: Certificate) -> etree._Element:
    key_info = etree.Element(_ds("KeyInfo"), nsmap={None: DS_NS})
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    issuer_serial = etree.SubElement(x509_data, _ds("X509IssuerSerial"))
    etree.SubElement(issuer_serial, _ds("X509IssuerName")).text = cert.issuer_name
    etree.SubElement(issuer_serial, _ds("X509SerialNumber")).text = str(cert.serial)
    etree.SubElement(x509_data, _ds("X509Certificate")).text = cert.base64()
    return key_info


FolioLike = Folio | str | tuple[str, ...]


def sign_cancelacion(
    cert: Certificate,
    key: rsa.RSAPrivateKey,
    rfc: str,
    folios: Sequence[FolioLike],
    fecha: datetime,
    fmt: Format = "2022",
    *,
    algorithm: str = "sha1",
    validate: bool = True,
) -> bytes:
    """A signed Cancelacion (KeyInfo = X509IssuerSerial + X509Certificate), as a client would send it.

    ``folios`` items are :class:`Folio`, a UUID string (Motivo 02), or ``(uuid, motivo[, sustituto])``.
    With ``validate=False`` the folios are written as given (to build deliberately wrong documents).
    """
    items = [_as_folio(f) for f in folios]
    if validate and fmt == "2022":
        items = [validate_folio(f) for f in items]
    return sign_enveloped(build_cancelacion(rfc, items, fecha, fmt), cert, key, algorithm=algorithm)


def _as_folio(item: FolioLike) -> Folio:
    if isinstance(item, Folio):
        return item
    if isinstance(item, str):
        return Folio(item, "02")
    uuid, *rest = item
    return Folio(uuid, rest[0] if rest else "02", rest[1] if len(rest) > 1 else None)
