"""SAT certificates (CSD and FIEL): loading, classification and trust.

A SAT certificate encodes:
- the RFC in ``x500UniqueIdentifier`` (2.5.4.45) as ``"RFC"`` or ``"RFC / RFC del representante"``;
- the *no. de certificado* (20 digits) as the ASCII bytes of the X.509 serial number;
- CSD vs FIEL in the extensions and the OU (see :func:`classify`).

Some real SAT subjects cannot be decoded by ``cryptography`` (a T61String holding latin-1 ``Ñ``);
those are read again with asn1crypto and decoded leniently instead of failing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable
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

CertificateKind = Literal["CSD", "FIEL", "OTHER"]

OID_NAME = ObjectIdentifier("2.5.4.41")
SAT_ORGANIZATION = "SERVICIO DE ADMINISTRACION TRIBUTARIA"

# Short names used by OpenSSL and by SAT clients in X509IssuerName, beyond the RFC 4514 defaults.
NAME_OVERRIDES: dict[str, ObjectIdentifier] = {
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "E": NameOID.EMAIL_ADDRESS,
    "street": NameOID.STREET_ADDRESS,
    "postalCode": NameOID.POSTAL_CODE,
    "PostalCode": NameOID.POSTAL_CODE,
    "x500UniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
    "unstructuredName": NameOID.UNSTRUCTURED_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "name": OID_NAME,
    "SN": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME,
}
SHORT_NAMES: dict[ObjectIdentifier, str] = {
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.STREET_ADDRESS: "street",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.X500_UNIQUE_IDENTIFIER: "x500UniqueIdentifier",
    NameOID.UNSTRUCTURED_NAME: "unstructuredName",
    NameOID.SERIAL_NUMBER: "serialNumber",
    OID_NAME: "name",
}

NameAttributes = tuple[tuple[str, str], ...]
"""(dotted OID, value) pairs in certificate (DER) order."""


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
    subject = _name_attributes(cert, der, "subject")
    issuer = _name_attributes(cert, der, "issuer")
    uid = _first(subject, NameOID.X500_UNIQUE_IDENTIFIER.dotted_string)
    rfc, rfc_rep = _split_rfc(uid)
    legal_name = (
        _first(subject, OID_NAME.dotted_string)
        or _first(subject, NameOID.ORGANIZATION_NAME.dotted_string)
        or _first(subject, NameOID.COMMON_NAME.dotted_string)
    )
    branch = _first(subject, NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string)
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


def parse_name(text: str) -> NameAttributes:
    """Parse an X509IssuerName as a distinguished name, in the form any common writer gives it.

    - RFC 4514 (OpenSSL ``-nameopt RFC2253``, cryptography, phpcfdi, Go): read by cryptography;
    - the older, quoted forms of .NET's ``X500DistinguishedName.Name`` (``OID.2.5.4.45=…``, ``S=``,
      ``E=``, ``PostalCode=``, ``STREET="a, b"``, ``""`` inside quotes) and Java's ``X500Principal``
      (``toString()``: ``EMAILADDRESS=``, ``OID.2.5.4.17=``, ``"…"`` with ``\\`` escapes;
      ``getName()``: RFC 2253 with ``#hex`` BER values): read by :func:`_parse_quoted_name`.

    cryptography's ``Name.from_rfc4514_string`` reads strict RFC 4514 only: it refuses a blank after a
    comma, ``"quoted"`` values and the ``OID.`` prefix, and it takes a ``#hex`` value as raw text
    instead of decoding its BER. Those forms are read by :func:`_parse_quoted_name`.

    Attributes come back in the order written. Raises ValueError when the text is not a name.
    """
    text = text.strip()
    # cryptography reads a ``#hex`` value as raw text instead of BER, so those go the other way.
    if "#" not in text:
        try:
            name = x509.Name.from_rfc4514_string(text, attr_name_overrides=NAME_OVERRIDES)
        except ValueError:
            pass
        else:
            return tuple(
                (a.oid.dotted_string, a.value if isinstance(a.value, str) else a.value.decode("latin-1"))
                for a in reversed(list(name))
            )
    return _parse_quoted_name(text)


# Attribute keywords of RFC 4514, OpenSSL, .NET (CertNameToStr) and Java (X500Principal), any case.
_DN_KEYWORDS: dict[str, ObjectIdentifier] = {
    k.casefold(): v
    for k, v in {
        "CN": NameOID.COMMON_NAME,
        "L": NameOID.LOCALITY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "S": NameOID.STATE_OR_PROVINCE_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "C": NameOID.COUNTRY_NAME,
        "STREET": NameOID.STREET_ADDRESS,
        "DC": NameOID.DOMAIN_COMPONENT,
        "UID": NameOID.USER_ID,
        "E": NameOID.EMAIL_ADDRESS,
        "EMAIL": NameOID.EMAIL_ADDRESS,
        "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
        "PostalCode": NameOID.POSTAL_CODE,
        "SERIALNUMBER": NameOID.SERIAL_NUMBER,
        "SN": NameOID.SURNAME,
        "SURNAME": NameOID.SURNAME,
        "G": NameOID.GIVEN_NAME,
        "GN": NameOID.GIVEN_NAME,
        "GIVENNAME": NameOID.GIVEN_NAME,
        "T": NameOID.TITLE,
        "TITLE": NameOID.TITLE,
        "I": NameOID.INITIALS,
        "INITIALS": NameOID.INITIALS,
        "DNQ": NameOID.DN_QUALIFIER,
        "DNQUALIFIER": NameOID.DN_QUALIFIER,
        "GENERATION": NameOID.GENERATION_QUALIFIER,
        "x500UniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
        "unstructuredName": NameOID.UNSTRUCTURED_NAME,
        "name": OID_NAME,
    }.items()
}
# One attribute and the separator after it; a value is "quoted", #hex (BER) or plain with \ escapes.
_DN_ATTRIBUTE = re.compile(
    r"""\s*(?P<type>(?:OID\.)?\d+(?:\.\d+)+|[A-Za-z][A-Za-z0-9-]*)\s*=\s*
        (?P<value>"(?:[^"\\]|\\.|"")*"|\#[0-9A-Fa-f]+(?=\s*(?:[,;+]|$))|(?:[^,;+"\\]|\\.)*?)
        \s*(?P<sep>[,;+]|$)""",
    re.X | re.S | re.I,
)
_QUOTED_ESCAPE = re.compile(r'""|\\(.)', re.S)
_HEX_ESCAPES = re.compile(r"(?:\\[0-9A-Fa-f]{2})+|\\(.)", re.S)


def _parse_quoted_name(text: str) -> NameAttributes:
    """The RFC 1779/2253 dialects .NET and Java write (see :func:`parse_name`)."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _DN_ATTRIBUTE.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"not a distinguished name at {pos}")
        out.append((_attribute_oid(m["type"]), _attribute_value(m["value"])))
        pos = m.end()
        if not m["sep"]:
            if pos != len(text):
                raise ValueError("text after the distinguished name")
            return tuple(out)
        if pos == len(text):
            raise ValueError("distinguished name ends with a separator")


def _attribute_oid(keyword: str) -> str:
    if keyword[:4].upper() == "OID.":
        keyword = keyword[4:]
    if keyword[0].isdigit():
        return ObjectIdentifier(keyword).dotted_string
    oid = _DN_KEYWORDS.get(keyword.casefold())
    if oid is None:
        raise ValueError(f"unknown attribute type {keyword!r}")
    return oid.dotted_string


def _attribute_value(raw: str) -> str:
    if raw.startswith('"'):
        # .NET doubles a quote inside quotes; Java and RFC 1779 escape it with a backslash.
        return _QUOTED_ESCAPE.sub(lambda m: m.group(1) if m.group(1) is not None else '"', raw[1:-1])
    if raw.startswith("#"):
        from asn1crypto import core

        value = core.load(bytes.fromhex(raw[1:])).native
        if not isinstance(value, str):
            raise ValueError("a #hex value that is not a string")
        return value

    def unescape(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        return bytes.fromhex(m.group(0).replace("\\", "")).decode("utf-8")

    return _HEX_ESCAPES.sub(unescape, raw).strip()


def same_name(written: Iterable[tuple[str, str]], attributes: Iterable[tuple[str, str]]) -> bool:
    """A written name is the certificate's: same attributes and values, in DER order or reversed.

    Values are compared as X.500 matching rules do for directory strings (RFC 4518): case and
    insignificant spaces do not count.
    """
    a = [(o, _match_value(v)) for o, v in written]
    b = [(o, _match_value(v)) for o, v in attributes]
    return a == b or a == b[::-1]


def _match_value(value: str) -> str:
    return " ".join(value.split()).casefold()


def format_name(attributes: NameAttributes) -> str:
    """RFC 4514 string (reverse order, as RFC 4514 prescribes) with OpenSSL short names."""
    try:
        name = x509.Name(
            [
                x509.NameAttribute(ObjectIdentifier(oid), value, _type=_string_type())
                for oid, value in attributes
            ]
        )
        return name.rfc4514_string(attr_name_overrides=SHORT_NAMES)
    except ValueError:
        return ",".join(f"{oid}={value}" for oid, value in reversed(attributes))


def names_equal(a: Iterable[tuple[str, str]], b: Iterable[tuple[str, str]]) -> bool:
    """Same multiset of (OID, value), ignoring order and surrounding blanks."""
    return sorted((o, v.strip()) for o, v in a) == sorted((o, v.strip()) for o, v in b)


_RFC4514_LABELS: dict[ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
}


def short_label(oid: str) -> str:
    """OpenSSL-style short name of an attribute OID (dotted form when it has none)."""
    o = ObjectIdentifier(oid)
    return SHORT_NAMES.get(o) or _RFC4514_LABELS.get(o) or oid


def is_sat_named(attributes: NameAttributes) -> bool:
    """An issuer whose O is SAT's (``SERVICIO DE ADMINISTRACION TRIBUTARIA``)."""
    return _first(attributes, NameOID.ORGANIZATION_NAME.dotted_string) == SAT_ORGANIZATION


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


def _first(attributes: NameAttributes, oid: str) -> str | None:
    return next((v for o, v in attributes if o == oid), None)


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


def _string_type():  # type: ignore[no-untyped-def]
    from cryptography.x509.name import _ASN1Type

    return _ASN1Type.UTF8String


def _name_attributes(cert: x509.Certificate, der: bytes, which: str) -> NameAttributes:
    try:
        name: x509.Name = getattr(cert, which)
        return tuple(
            (a.oid.dotted_string, a.value if isinstance(a.value, str) else a.value.decode("latin-1"))
            for a in name
        )
    except ValueError:
        return _lenient_name(der, which)


# Universal string tags → codec. T61String is decoded as UTF-8 when valid, else latin-1: SAT has
# issued certificates with latin-1 "Ñ" inside a T61String.
_STRING_CODECS = {
    12: "utf-8",
    19: "latin-1",
    20: "t61",
    22: "latin-1",
    26: "latin-1",
    30: "utf-16-be",
    28: "utf-32-be",
}


def _lenient_name(der: bytes, which: str) -> NameAttributes:
    try:
        from asn1crypto import core
        from asn1crypto import x509 as ax509

        tbs = ax509.Certificate.load(der)["tbs_certificate"]
        rdns = tbs[which].chosen
        out: list[tuple[str, str]] = []
        for rdn in rdns:
            for atv in rdn:
                # Re-read as a plain SEQUENCE so asn1crypto does not impose its own value types.
                oid, raw = _pair(core, atv)
                codec = _STRING_CODECS.get(raw.tag) if raw.class_ == 0 else None
                out.append((oid, _decode(raw.contents, codec)))
        return tuple(out)
    except ImportError:
        raise CertificateFormatError(f"no se pudo leer el {which} del certificado") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateFormatError(f"no se pudo leer el {which} del certificado: {exc}") from None


def _pair(core, atv):  # type: ignore[no-untyped-def]
    seq = core.Sequence.load(atv.dump())
    return seq[0].dotted, seq[1]


def _decode(contents: bytes, codec: str | None) -> str:
    if codec == "t61":
        try:
            return contents.decode("utf-8")
        except UnicodeDecodeError:
            return contents.decode("latin-1")
    if codec is None:
        return contents.hex()
    return contents.decode(codec, "replace")
