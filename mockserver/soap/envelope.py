"""SOAP 1.1 and 1.2 envelopes: reading requests, writing responses and faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from lxml import etree

from .faults import SoapFault
from .xml import XmlError, safe_fromstring

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class SoapVersion:
    name: str
    ns: str
    content_type: str
    media_type: str

    def fault_code(self, code: str) -> str:
        if self.name == "1.2":
            return code
        return {"Sender": "Client", "Receiver": "Server"}.get(code, code)


SOAP11 = SoapVersion("1.1", SOAP11_NS, "text/xml; charset=utf-8", "text/xml")
SOAP12 = SoapVersion("1.2", SOAP12_NS, "application/soap+xml; charset=utf-8", "application/soap+xml")
# Axis2's plain-XML ("REST") messages: the operation element is the whole body, no envelope.
POX = SoapVersion("pox", "", "application/xml; charset=utf-8", "application/xml")
VERSIONS = {SOAP11_NS: SOAP11, SOAP12_NS: SOAP12}
FAULT_DETAIL_NS = "urn:pac-mock:fault"


@dataclass
class SoapRequest:
    version: SoapVersion
    envelope: etree._Element
    payload: etree._Element
    header: etree._Element | None = None
    action: str | None = None
    extra: dict = field(default_factory=dict)


def version_for_content_type(content_type: str | None) -> SoapVersion | None:
    """The SOAP version a Content-Type announces, or None when it names none."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == SOAP12.media_type:
        return SOAP12
    if media in ("text/xml", "application/xml"):
        return SOAP11
    return None


def version_of_message(content_type: str | None, body: bytes = b"") -> SoapVersion:
    """The SOAP version to answer a failed request in: what the Content-Type (or an MTOM package's
    ``start-info``) announces, else the envelope namespace near the start of the body, else 1.1."""
    announced = version_for_content_type(content_type)
    if announced is None:
        announced = version_for_content_type(media_parameter(content_type, "start-info"))
    if announced is None and SOAP12_NS.encode() in body[:4096]:
        return SOAP12
    return announced or SOAP11


def media_parameter(content_type: str | None, name: str) -> str | None:
    """One parameter of a Content-Type header (quoting undone by the standard library), or None."""
    header = Message()
    header["Content-Type"] = content_type or "text/plain"
    value = header.get_param(name)
    return value if isinstance(value, str) else None


def soap_action(headers_action: str | None, content_type: str | None) -> str | None:
    """SOAPAction from the 1.1 header or the 1.2 ``action`` media-type parameter (a hint only)."""
    if headers_action:
        return headers_action.strip().strip('"') or None
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "action":
            return value.strip().strip('"') or None
    return None


def parse_request(
    body: bytes,
    content_type: str | None,
    *,
    action: str | None = None,
    huge: bool = False,
    accepted: tuple[SoapVersion, ...] = (SOAP11, SOAP12),
    plain_xml: bool = False,
) -> SoapRequest:
    """Read a SOAP envelope. Every problem becomes a :class:`SoapFault` in a version the client reads.

    With ``plain_xml`` (Axis2) a document that is not an envelope, sent as application/xml or as
    text/xml without SOAPAction, is a plain-XML request whose root is the operation element.
    """
    announced = version_for_content_type(content_type)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and announced is None:
        raise SoapFault(
            f"Unsupported Content-Type '{media}': send text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)"
        )
    try:
        root = safe_fromstring(body, huge=huge)
    except XmlError as exc:
        raise SoapFault(f"The request is not a well-formed XML document: {exc}") from None
    version = VERSIONS.get(etree.QName(root).namespace or "")
    if (
        plain_xml
        and etree.QName(root).localname != "Envelope"
        and (media == "application/xml" or (media == "text/xml" and not action))
    ):
        return SoapRequest(POX, root, root, None, action)
    if etree.QName(root).localname != "Envelope" or version is None:
        raise SoapFault(
            f"The request is not a SOAP envelope: expected {{{SOAP11_NS}}}Envelope or {{{SOAP12_NS}}}Envelope, got {root.tag}",
            code="VersionMismatch",
        )
    if announced is not None and media != "application/xml" and announced is not version:
        raise SoapFault(
            f"SOAP {version.name} envelope sent with Content-Type '{media}'; "
            f"SOAP {version.name} uses {version.media_type}",
            code="VersionMismatch",
        )
    if version not in accepted:
        names = " or ".join(v.name for v in accepted)
        raise SoapFault(f"This endpoint speaks SOAP {names} only", code="VersionMismatch")
    header = root.find(f"{{{version.ns}}}Header")
    body_el = root.find(f"{{{version.ns}}}Body")
    if body_el is None:
        raise SoapFault("The SOAP envelope has no Body")
    payload = next((child for child in body_el if isinstance(child.tag, str)), None)
    if payload is None:
        raise SoapFault("The SOAP Body is empty: it must hold the operation element")
    return SoapRequest(version, root, payload, header, action)


def _envelope(version: SoapVersion) -> tuple[etree._Element, etree._Element]:
    prefix = "soapenv" if version is SOAP11 else "soap"
    env = etree.Element(f"{{{version.ns}}}Envelope", nsmap={prefix: version.ns})
    body = etree.SubElement(env, f"{{{version.ns}}}Body")
    return env, body


def response_bytes(version: SoapVersion, payload: etree._Element) -> bytes:
    if version is POX:
        return etree.tostring(payload, xml_declaration=True, encoding="utf-8")
    env, body = _envelope(version)
    body.append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _detail_entry(version: SoapVersion, fault: SoapFault) -> etree._Element:
    """``<pacmock:error code="...">detail</pacmock:error>``: an element, as JAX-WS and .NET expect in a detail."""
    entry = etree.Element(f"{{{FAULT_DETAIL_NS}}}error", nsmap={"pacmock": FAULT_DETAIL_NS})
    entry.set("code", fault.detail_code or version.fault_code(fault.code))
    entry.text = fault.detail
    return entry


def fault_bytes(version: SoapVersion, fault: SoapFault) -> bytes:
    if version is POX:
        # Axis2's plain-XML formatter writes the detail's first element, or the reason when there is none.
        if fault.detail:
            return etree.tostring(_detail_entry(SOAP11, fault), xml_declaration=True, encoding="utf-8")
        reason = etree.Element("faultstring")
        reason.text = fault.message
        return etree.tostring(reason, xml_declaration=True, encoding="utf-8")
    env, body = _envelope(version)
    ns = version.ns
    el = etree.SubElement(body, f"{{{ns}}}Fault")
    prefix = env.prefix
    if version is SOAP11:
        etree.SubElement(el, "faultcode").text = f"{prefix}:{version.fault_code(fault.code)}"
        etree.SubElement(el, "faultstring").text = fault.message
        if fault.detail:
            etree.SubElement(el, "detail").append(_detail_entry(version, fault))
    else:
        code = etree.SubElement(el, f"{{{ns}}}Code")
        etree.SubElement(code, f"{{{ns}}}Value").text = f"{prefix}:{fault.code}"
        reason = etree.SubElement(el, f"{{{ns}}}Reason")
        text = etree.SubElement(reason, f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.message
        if fault.detail:
            etree.SubElement(el, f"{{{ns}}}Detail").append(_detail_entry(version, fault))
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")
