"""Distinguished names as SAT clients write them and as certificates hold them.

An X509IssuerName arrives in RFC 4514, in .NET's or in Java's spelling; a certificate's names are read
from DER, leniently where a real SAT subject holds latin-1 text in a T61String. Names compare as
(attribute OID, value) pairs, so the spelling does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from .errors import CertificateFormatError

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
    return first_value(attributes, NameOID.ORGANIZATION_NAME.dotted_string) == SAT_ORGANIZATION


def first_value(attributes: NameAttributes, oid: str) -> str | None:
    return next((v for o, v in attributes if o == oid), None)


def _string_type():  # type: ignore[no-untyped-def]
    from cryptography.x509.name import _ASN1Type

    return _ASN1Type.UTF8String


def name_attributes(cert: x509.Certificate, der: bytes, which: str) -> NameAttributes:
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
