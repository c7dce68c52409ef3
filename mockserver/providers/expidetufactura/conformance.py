"""Expide Tu Factura conformance checks: where a ``cancelar`` request departs from the guide
(``003_b399c2fb398e203e.txt``) or the published WSDL (CXF, ``elementFormDefault="unqualified"``,
``soapAction=""``), even when the sandbox answered it.

The signed Cancelacion is read from ``xmlBytes`` as the wire decoded it; its text is parsed once here
without any signature logic (the service verifies the seal on its own).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from lxml import etree

from ...clock import MEXICO_CITY
from ...conformance import Check, Exchange, Finding, element_order
from ...sat import SatError, load_certificate
from ...sat._xml import safe_fromstring
from . import codes

PROVIDER = "expidetufactura"
DOC = "003_b399c2fb398e203e.txt"
WSDL = "CancelacionPruebas.wsdl"
DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
CHILDREN = ("usuario", "token", "xmlBytes")
# The guide's test account (line 9).
TEST_USER = "pruebas"
# A Fecha this close to either end of the 72-hour window may fall out of it on the way.
EDGE = timedelta(hours=1)
WINDOW = timedelta(hours=72)

SOAPACTION = Check(
    "xpd.soapaction", PROVIDER, "warning", f"{WSDL} soap:operation soapAction=\"\"",
    "a SOAPAction other than the WSDL's empty one: CXF dispatches on it when it names an action it does "
    "not know", refusal="SOAP fault (Client)")
QUALIFIED = Check(
    "xpd.qualified-children", PROVIDER, "error", f"{WSDL} elementFormDefault=\"unqualified\"",
    "usuario, token or xmlBytes in a namespace: JAXB reads unqualified children only, so the value "
    "arrives empty", refusal=codes.CREDENCIALES_INVALIDAS, fidelity="XPD-28")
ORDER = Check(
    "xpd.children-order", PROVIDER, "warning", f"{WSDL} xs:sequence usuario, token, xmlBytes",
    "the parameters out of the WSDL's order", refusal=codes.XML_MAL_FORMADO)
UUID_CASE = Check(
    "xpd.uuid-lower-case", PROVIDER, "error", f"{DOC}:179",
    "a UUID (or FolioSustitucion) with lower-case hexadecimal: the guide's expression takes A-F only",
    refusal=codes.ERROR_DEL_SERVICIO, fidelity="XPD-68")
LINE_BREAKS = Check(
    "xpd.line-breaks", PROVIDER, "error", f"{DOC}:60",
    "the Cancelacion contains line breaks; the guide asks for the xml without them", refusal=codes.XML_MAL_FORMADO,
    fidelity="XPD-18")
SIGNATURE_METHOD = Check(
    "xpd.signature-method", PROVIDER, "error", f"{DOC}:28, {DOC}:35, {DOC}:89",
    "a SignatureMethod other than rsa-sha1 or a DigestMethod other than sha1", refusal=codes.SELLO_INVALIDO,
    fidelity="XPD-09")
CANONICALIZATION = Check(
    "xpd.c14n", PROVIDER, "error", f"{DOC}:27, {DOC}:72, {DOC}:94",
    "a canonicalization (method or transform) other than the guide's REC-xml-c14n-20010315",
    refusal=codes.SELLO_INVALIDO, fidelity="XPD-08")
FECHA_ZONE = Check(
    "xpd.fecha-zone", PROVIDER, "error", f"{DOC}:68",
    "Fecha in UTC, with an offset or fractions: the guide's format is aaaa-MM-ddThh:mm:ss (local time)",
    refusal=codes.FECHA_FUERA_DE_RANGO, fidelity="XPD-22")
FECHA_EDGE = Check(
    "xpd.fecha-window-edge", PROVIDER, "warning", f"{DOC}:68",
    "Fecha within an hour of either end of the 72-hour window (or ahead of the server's clock): a "
    "queue or a clock skew puts it out of range (401)", refusal=codes.FECHA_FUERA_DE_RANGO, fidelity="XPD-24")
ISSUER_FORM = Check(
    "xpd.issuer-name-form", PROVIDER, "warning", f"{DOC}:108, {DOC}:110",
    "an X509IssuerName written in a form other than the guide's example (.NET order and labels: "
    "OID.x=…, S=, E=, PostalCode=, STREET=, …, CN= last); the sandbox parses it, the guide does not "
    "promise to", refusal=codes.SELLO_NO_CORRESPONDE, fidelity="XPD-26")
TEST_CREDENTIALS = Check(
    "xpd.test-credentials-production", PROVIDER, "error", f"{DOC}:9, CancelacionProductivo.wsdl",
    "the test environment's credentials sent to the production endpoint", refusal=codes.CREDENCIALES_INVALIDAS,
    fidelity="XPD-X01")

CHECKS = (SOAPACTION, QUALIFIED, ORDER, UUID_CASE, LINE_BREAKS, SIGNATURE_METHOD, CANONICALIZATION,
          FECHA_ZONE, FECHA_EDGE, ISSUER_FORM, TEST_CREDENTIALS)

_FECHA_PLAIN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_FECHA_ZONED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_LOWER_HEX = re.compile(r"[a-f]")
_ESCAPED_BREAK = re.compile(rb"&#(10|13|x0*[aAdD]);")


def inspect(ex: Exchange) -> list[Finding]:
    found: list[Finding] = []
    if ex.action:
        found.append(SOAPACTION.finding(f"SOAPAction '{ex.action}' sent; the WSDL declares soapAction=\"\""))
    qualified = [etree.QName(c).localname for c in ex.payload
                 if isinstance(c.tag, str) and etree.QName(c).namespace]
    if qualified:
        found.append(QUALIFIED.finding(f"{', '.join(qualified)} written in a namespace "
                                       f"({etree.QName(ex.payload[0]).namespace or ''})"))
    names = element_order(ex.payload, CHILDREN)
    if names:
        found.append(ORDER.finding(f"children sent as {', '.join(names)}; the WSDL's order is "
                                   f"{', '.join(CHILDREN)}"))
    user = getattr(ex.data, "usuario", None)
    if ex.environment == "productivo" and user and (user == TEST_USER or ex.account_environment(user) == "pruebas"):
        found.append(TEST_CREDENTIALS.finding(f"usuario '{user}' belongs to the test environment "
                                              "(CancelacionPruebas)"))
    xml = getattr(ex.data, "xml", None)
    if xml:
        found += _inspect_cancelacion(xml, ex.now)
    return found


def _inspect_cancelacion(xml: bytes, now: datetime) -> list[Finding]:
    found: list[Finding] = []
    body = xml.strip()
    if body.startswith(b"<?"):
        body = body[body.find(b"?>") + 2 :].strip()
    if b"\n" in body or b"\r" in body or _ESCAPED_BREAK.search(body):
        found.append(LINE_BREAKS.finding("the Cancelacion (inside its root element) has line breaks"))
    try:
        root = safe_fromstring(xml)
    except SatError:
        return found  # the service answers 301 for what it cannot read
    lower = [u for u in _uuids(root) if _LOWER_HEX.search(u)]
    if lower:
        found.append(UUID_CASE.finding(f"lower-case UUID {lower[0]}" + (f" and {len(lower) - 1} more" if len(lower) > 1 else "")))
    fecha = root.get("Fecha")
    if fecha is not None:
        found += _inspect_fecha(fecha.strip(), now)
    signature = root.find(f"{{{DS}}}Signature")
    if signature is not None:
        found += _inspect_signature(signature)
    return found


def _uuids(root: etree._Element) -> list[str]:
    out = [(e.text or "").strip() for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "UUID"]
    for folio in root.iter():
        if isinstance(folio.tag, str) and etree.QName(folio).localname == "Folio":
            out += [folio.get(a, "").strip() for a in ("UUID", "FolioSustitucion") if folio.get(a)]
    return out


def _inspect_fecha(fecha: str, now: datetime) -> list[Finding]:
    if not _FECHA_PLAIN.match(fecha):
        if _FECHA_ZONED.match(fecha):
            return [FECHA_ZONE.finding(f"Fecha '{fecha}'")]
        return []  # malformed: the service answers 401 itself
    local_now = now.astimezone(MEXICO_CITY).replace(tzinfo=None)
    written = datetime.fromisoformat(fecha)
    if written > local_now:
        return [FECHA_EDGE.finding(f"Fecha {fecha} is ahead of the server's clock ({local_now:%Y-%m-%dT%H:%M:%S})")]
    if written < local_now - WINDOW + EDGE:
        age = local_now - written
        return [FECHA_EDGE.finding(f"Fecha {fecha} is {age.total_seconds() / 3600:.1f} hours old; "
                                   "the window closes at 72")]
    return []


def _inspect_signature(signature: etree._Element) -> list[Finding]:
    found: list[Finding] = []
    methods = {etree.QName(e).localname: e.get("Algorithm") for e in signature.iter()
               if isinstance(e.tag, str) and e.get("Algorithm") is not None
               and etree.QName(e).localname in ("SignatureMethod", "DigestMethod", "CanonicalizationMethod")}
    sig, digest = methods.get("SignatureMethod"), methods.get("DigestMethod")
    if (sig and sig != RSA_SHA1) or (digest and digest != SHA1):
        found.append(SIGNATURE_METHOD.finding(f"SignatureMethod {sig}, DigestMethod {digest}"))
    c14n = [methods.get("CanonicalizationMethod")]
    c14n += [t.get("Algorithm") for t in signature.iter(f"{{{DS}}}Transform") if t.get("Algorithm") != ENVELOPED]
    other = [a for a in c14n if a and a != C14N]
    if other:
        found.append(CANONICALIZATION.finding(f"canonicalization {other[0]}"))
    issuer = signature.find(f".//{{{DS}}}X509IssuerName")
    cert_text = signature.find(f".//{{{DS}}}X509Certificate")
    if issuer is not None and cert_text is not None and issuer.text:
        expected = _dotnet_issuer(cert_text.text or "")
        if expected is not None and _blanks(issuer.text) != _blanks(expected):
            found.append(ISSUER_FORM.finding(f"X509IssuerName '{_blanks(issuer.text)[:160]}'; the guide's form "
                                             f"would be '{expected[:160]}'"))
    return found


def _blanks(text: str) -> str:
    return " ".join(text.split())


def _dotnet_issuer(b64: str) -> str | None:
    try:
        cert = load_certificate(base64.b64decode("".join(b64.split()), validate=True))
    except (SatError, binascii.Error, ValueError):
        return None
    return dotnet_issuer_name(cert.issuer_attributes)


# .NET's X500DistinguishedName labels (the guide's example, line 110); other OIDs are OID.<dotted>.
_DOTNET_LABELS = {
    "2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.8": "S", "2.5.4.7": "L",
    "2.5.4.9": "STREET", "2.5.4.17": "PostalCode", "1.2.840.113549.1.9.1": "E", "2.5.4.5": "SERIALNUMBER",
    "2.5.4.12": "T", "2.5.4.42": "G", "2.5.4.4": "SN", "0.9.2342.19200300.100.1.25": "DC",
}
_NEEDS_QUOTES = re.compile(r'[,+=<>#;"\n]|^\s|\s$')


def dotnet_issuer_name(attributes: Iterable[tuple[str, str]]) -> str:
    """An issuer name the way the guide's example writes it: .NET ``X500DistinguishedName.Name``
    (last RDN first, ``, `` between, .NET labels, values with commas in double quotes)."""
    parts = []
    for oid, value in reversed(tuple(attributes)):
        label = _DOTNET_LABELS.get(oid, f"OID.{oid}")
        text = f'"{value.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(value) else value
        parts.append(f"{label}={text}")
    return ", ".join(parts)

