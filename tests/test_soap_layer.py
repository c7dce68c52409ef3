"""The SOAP layer on its own: envelopes, versions, faults and the safe parser."""

from __future__ import annotations

import pytest
from lxml import etree

from mockserver.soap.envelope import (
    SOAP11,
    SOAP11_NS,
    SOAP12,
    SOAP12_NS,
    fault_bytes,
    parse_request,
    response_bytes,
    soap_action,
)
from mockserver.soap.faults import SoapFault
from mockserver.soap.xml import XmlError, safe_fromstring

OP = '<m:ping xmlns:m="urn:test"><m:x>1</m:x></m:ping>'


def envelope(ns: str, body: str = OP, prefix: str = "s") -> bytes:
    return f'<{prefix}:Envelope xmlns:{prefix}="{ns}"><{prefix}:Body>{body}</{prefix}:Body></{prefix}:Envelope>'.encode()


def test_reads_both_versions_whatever_the_prefix():
    for ns, ctype, version in ((SOAP11_NS, "text/xml", SOAP11), (SOAP12_NS, "application/soap+xml", SOAP12)):
        for prefix in ("soapenv", "S", "env"):
            req = parse_request(envelope(ns, prefix=prefix), ctype)
            assert req.version is version
            assert req.payload.tag == "{urn:test}ping"


def test_whitespace_and_comments_around_the_payload_do_not_matter():
    body = f"\n  <!-- hi -->\n  {OP}\n"
    req = parse_request(envelope(SOAP11_NS, body), "text/xml; charset=utf-8")
    assert etree.QName(req.payload).localname == "ping"


@pytest.mark.parametrize(
    ("data", "ctype", "code", "words"),
    [
        (b"", "text/xml", "Sender", "empty"),
        (b"<not-closed>", "text/xml", "Sender", "well-formed"),
        (b"<a/>", "text/xml", "VersionMismatch", "not a SOAP envelope"),
        (envelope(SOAP12_NS), "text/xml", "VersionMismatch", "application/soap+xml"),
        (envelope(SOAP11_NS), "application/soap+xml", "VersionMismatch", "text/xml"),
        (envelope(SOAP11_NS), "application/json", "Sender", "Content-Type"),
        (envelope(SOAP11_NS, ""), "text/xml", "Sender", "Body is empty"),
        (f'<s:Envelope xmlns:s="{SOAP11_NS}"/>'.encode(), "text/xml", "Sender", "no Body"),
    ],
)
def test_bad_requests_become_faults(data, ctype, code, words):
    with pytest.raises(SoapFault) as info:
        parse_request(data, ctype)
    assert info.value.code == code
    assert words in info.value.message


def test_doctype_external_entity_and_entity_bomb_are_refused():
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><l>&d;</l>'
    )
    for data in (xxe, bomb):
        with pytest.raises(XmlError, match="DOCTYPE"):
            safe_fromstring(data)


def test_version_restrictions_per_endpoint():
    with pytest.raises(SoapFault) as info:
        parse_request(envelope(SOAP12_NS), "application/soap+xml", accepted=(SOAP11,))
    assert info.value.code == "VersionMismatch"


def test_soap_action_from_header_or_media_type():
    assert soap_action('"urn:cancelar"', None) == "urn:cancelar"
    assert soap_action(None, 'application/soap+xml; charset=utf-8; action="urn:x"') == "urn:x"
    assert soap_action(None, "text/xml") is None


def test_fault_shapes_per_version():
    fault = SoapFault("nope", "Sender", "more")
    f11 = etree.fromstring(fault_bytes(SOAP11, fault))
    assert f11.findtext(".//faultcode") == "soapenv:Client"
    assert f11.findtext(".//faultstring") == "nope"
    f12 = etree.fromstring(fault_bytes(SOAP12, fault))
    assert f12.findtext(f".//{{{SOAP12_NS}}}Value") == "soap:Sender"
    assert f12.findtext(f".//{{{SOAP12_NS}}}Text") == "nope"
    detail = f12.find(f".//{{{SOAP12_NS}}}Detail")
    assert detail[0].tag == "{urn:pac-mock:fault}error" and detail[0].text == "more"


def test_fault_status_per_stack():
    from mockserver.providers.expidetufactura.wire import SERVICES as XPD
    from mockserver.providers.mysuite.wire import SERVICE as MS
    from mockserver.providers.solucionfactible.wire import SERVICE as SF

    # Axis2's servlet: 400 for a SOAP 1.2 Sender fault, else 500; CXF and ASMX: 500 always
    assert [SF.fault_status(v, c) for v in (SOAP11, SOAP12) for c in ("Sender", "Receiver")] == [500, 500, 400, 500]
    for service in (*XPD, MS):
        assert {service.fault_status(v, c) for v in (SOAP11, SOAP12) for c in ("Sender", "Receiver")} == {500}


def test_response_envelope_wraps_payload():
    payload = etree.fromstring(OP)
    env = etree.fromstring(response_bytes(SOAP12, payload))
    assert env.tag == f"{{{SOAP12_NS}}}Envelope"
    assert env[0][0].tag == "{urn:test}ping"
