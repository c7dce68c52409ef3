"""SAT certificates (CSD and FIEL): loading, classification and trust.

A SAT certificate encodes:
- the RFC in ``x500UniqueIdentifier`` (2.5.4.45) as ``"RFC"`` or ``"RFC / RFC del representante"``;
- the *no. de certificado* (20 digits) as the ASCII bytes of the X.509 serial number;
- CSD vs FIEL in the extensions and the OU (see :func:`classify`).

Names (issuer and subject) are read and compared by :mod:`.names`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from .errors import (
    CertificateExpired,
    CertificateFormatError,
    CertificateNotYetValid,
    UntrustedIssuer,
)
from .names import (
    OID_NAME,
    NameAttributes,
    first_value,
    format_name,
    is_sat_named,
    name_attributes,
    names_equal,
)

CertificateKind = Literal["CSD", "FIEL", "OTHER"]


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate. Compare and hash by content; ``der`` is the exact input."""

    rfc: str | None
    serial: int
    certificate_number: str
    legal_name: str | None
    kind: CertificateKind
    not_before: datetime
    not_after: datetime
    issuer_name: str
    issuer_attributes: NameAttributes
    subject_attributes: NameAttributes
    der: bytes = field(repr=False)
    rfc_representante: str | None = None
    branch: str | None = None
    _x509: x509.Certificate | None = field(default=None, repr=False, compare=False, hash=False)

    @property
    def x509(self) -> x509.Certificate:
        return self._x509 if self._x509 is not None else x509.load_der_x509_certificate(self.der)

    def public_key(self) -> CertificatePublicKeyTypes:
        return self.x509.public_key()

    def base64(self) -> str:
        return base64.b64encode(self.der).decode("ascii")


def load_certificate(data: bytes) -> Certificate:
    """Load a certificate from DER, PEM, or base64 text of DER.

    Raises :class:`CertificateFormatError` for anything else.
    """
    return _load_der(_to_der(data))


@functools.lru_cache(maxsize=256)
def _load_der(der: bytes) -> Certificate:
    # Clients send the same few certificates over and over; a Certificate is immutable.
    try:
        cert = x509.load_der_x509_certificate(der)
        serial = cert.serial_number
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except ValueError as exc:
        raise CertificateFormatError(f"certificado ilegible: {exc}") from None
    subject = name_attributes(cert, der, "subject")
    issuer = name_attributes(cert, der, "issuer")
    uid = first_value(subject, NameOID.X500_UNIQUE_IDENTIFIER.dotted_string)
    rfc, rfc_rep = _split_rfc(uid)
    legal_name = (
        first_value(subject, OID_NAME.dotted_string)
        or first_value(subject, NameOID.ORGANIZATION_NAME.dotted_string)
        or first_value(subject, NameOID.COMMON_NAME.dotted_string)
    )
    branch = first_value(subject, NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string)
    return Certificate(
        rfc=rfc,
        serial=serial,
        certificate_number=certificate_number_of(serial),
        legal_name=legal_name,
        kind=classify(cert, has_ou=branch is not None),
        not_before=not_before,
        not_after=not_after,
        issuer_name=format_name(issuer),
        issuer_attributes=issuer,
        subject_attributes=subject,
        der=der,
        rfc_representante=rfc_rep,
        branch=branch,
        _x509=cert,
    )


def certificate_number_of(serial: int) -> str:
    """SAT's *no. de certificado*: the serial's bytes read as ASCII digits.

    For a serial that is not in SAT's convention the decimal serial is returned.
    """
    raw = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
    if raw.isdigit():
        return raw.decode("ascii")
    return str(serial)


def serial_of_certificate_number(number: str) -> int:
    """Inverse of :func:`certificate_number_of` for a SAT number (digits only)."""
    if not number.isdigit():
        raise ValueError("certificate number must be digits")
    return int.from_bytes(number.encode("ascii"), "big")


def classify(cert: x509.Certificate, *, has_ou: bool) -> CertificateKind:
    """CSD, FIEL or OTHER.

    - CSD: OU (branch) present, KeyUsage exactly digitalSignature + nonRepudiation, no ExtendedKeyUsage,
      not a CA.
    - FIEL: no OU, not a CA, and an ExtendedKeyUsage with emailProtection or clientAuth, or a KeyUsage
      with dataEncipherment or keyAgreement.
    - anything else: OTHER (CA certificates, TLS certificates, a CSD-like certificate without OU, ...).
    """
    try:
        exts = cert.extensions
    except ValueError:
        return "OTHER"
    basic = _ext(exts, ExtensionOID.BASIC_CONSTRAINTS)
    if basic is not None and basic.ca:
        return "OTHER"
    ku = _ext(exts, ExtensionOID.KEY_USAGE)
    eku = _ext(exts, ExtensionOID.EXTENDED_KEY_USAGE)
    if ku is None:
        return "OTHER"
    usages = {
        name
        for name in (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        )
        if getattr(ku, name)
    }
    if has_ou and eku is None and usages == {"digital_signature", "content_commitment"}:
        return "CSD"
    fiel_eku = eku is not None and (
        ExtendedKeyUsageOID.EMAIL_PROTECTION in eku or ExtendedKeyUsageOID.CLIENT_AUTH in eku
    )
    if not has_ou and (fiel_eku or usages & {"data_encipherment", "key_agreement"}):
        return "FIEL"
    return "OTHER"


class TrustStore:
    """The CAs whose leaf certificates count as "issued by SAT".

    ``accept_sat_named_issuers`` additionally accepts any certificate whose issuer is named like SAT
    (O = SERVICIO DE ADMINISTRACION TRIBUTARIA) without checking a signature, so the public SAT test
    certificates work without the real SAT CA files, unless the name is that of a CA in the store
    whose key did not sign it.
    """

    def __init__(self, ca_certs: list[bytes], accept_sat_named_issuers: bool = False) -> None:
        self.cas: list[Certificate] = [load_certificate(c) for c in ca_certs]
        self.accept_sat_named_issuers = accept_sat_named_issuers
        # Verdicts by certificate: the CA signature check costs ~0.5 ms and clients repeat their CSD.
        self._verdicts: dict[bytes, str | None] = {}

    @classmethod
    def default(cls) -> TrustStore:
        """The project's own fake SAT root (package data), nothing else."""
        from .pki import packaged_dir

        return cls([(packaged_dir() / "ac_uat.cer").read_bytes()])

    @classmethod
    @functools.lru_cache(maxsize=32)
    def for_settings(cls, fixture_ca: bool, ca_certs: tuple[bytes, ...], accept_sat_named_issuers: bool) -> TrustStore:
        """The store a scenario's ``trust`` section describes (the fake SAT root, CA certificates, names)."""
        from .pki import packaged_dir

        cas = [(packaged_dir() / "ac_uat.cer").read_bytes()] if fixture_ca else []
        return cls(cas + list(ca_certs), accept_sat_named_issuers)

    def issuer_of(self, cert: Certificate) -> Certificate | None:
        """The CA that issued ``cert`` (name match and signature by its key), if trusted."""
        for ca in self.cas:
            if not names_equal(ca.subject_attributes, cert.issuer_attributes):
                continue
            try:
                cert.x509.verify_directly_issued_by(ca.x509)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return ca
        return None

    def check_issuer(self, cert: Certificate) -> None:
        if cert.der not in self._verdicts:
            if len(self._verdicts) > 1024:
                self._verdicts.clear()
            self._verdicts[cert.der] = self._issuer_verdict(cert)
        verdict = self._verdicts[cert.der]
        if verdict is not None:
            raise UntrustedIssuer(verdict)

    def _issuer_verdict(self, cert: Certificate) -> str | None:
        """None when trusted, else why not."""
        if self.issuer_of(cert) is not None:
            return None
        # Accepting SAT-named issuers by name is for CAs we do not hold; a certificate that names a CA
        # we do hold but is not signed by it is an impostor.
        impostor = any(names_equal(ca.subject_attributes, cert.issuer_attributes) for ca in self.cas)
        if self.accept_sat_named_issuers and not impostor and is_sat_named(cert.issuer_attributes):
            return None
        return f"certificado {cert.certificate_number} no emitido por una AC de confianza"

    def verify(self, cert: Certificate, at: datetime) -> None:
        """Issuer first (an untrusted certificate's dates mean nothing), then validity at ``at``."""
        self.check_issuer(cert)
        check_validity(cert, at)


def check_validity(cert: Certificate, at: datetime) -> None:
    at = _aware(at)
    if at < cert.not_before:
        raise CertificateNotYetValid(
            f"certificado {cert.certificate_number} vigente a partir de {cert.not_before.isoformat()}"
        )
    if at > cert.not_after:
        raise CertificateExpired(
            f"certificado {cert.certificate_number} vencido el {cert.not_after.isoformat()}"
        )


# --- helpers ------------------------------------------------------------------------------------

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def _to_der(data: bytes) -> bytes:
    if isinstance(data, str):
        data = data.encode("ascii", "ignore")
    if not isinstance(data, bytes | bytearray) or not data:
        raise CertificateFormatError("certificado vacío")
    data = bytes(data)
    if data[:1] == b"\x30":
        return data
    match = _PEM_RE.search(data)
    body = match.group(1) if match else data
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateFormatError("certificado no es DER, PEM ni base64") from None
    if der[:1] != b"\x30":
        raise CertificateFormatError("certificado no es DER, PEM ni base64")
    return der


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _split_rfc(uid: str | None) -> tuple[str | None, str | None]:
    if not uid:
        return None, None
    first, _, rest = uid.partition("/")
    return (first.strip() or None), (rest.strip() or None)


def _ext(exts: x509.Extensions, oid: ObjectIdentifier):  # type: ignore[no-untyped-def]
    try:
        return exts.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


