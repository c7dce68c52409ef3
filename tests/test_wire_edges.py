"""Wire edges that real deployments switch on: every real port, ``?wsdl`` per alias, fault details and
HTTP statuses per provider stack, MTOM/XOP requests and what the journal keeps of each field."""

from __future__ import annotations

import base64
import os
import uuid as uuid_module
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.soap.envelope import SOAP11_NS, SOAP12_NS

from helpers import ROOT, reference_wsdl

SF_NS = "http://ws.cfdi.solucionfactible.com"
SF_STATUS_NS = "http://response.cancelacion.commons.timbrado.solucionfactible.com/xsd"
XPD_NS = "http://service.xpd.mx/"
MS_NS = "http://www.fact.com.mx/schema/ws"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
FAULT_NS = "urn:pac-mock:fault"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
ADDRESS_NS = (
    "http://schemas.xmlsoap.org/wsdl/soap/",
    "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http://schemas.xmlsoap.org/wsdl/http/",
)
SF_USER = ("testing@solucionfactible.com", "timbrado.SF.16672")
MS_ID = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
NOW = datetime(2026, 6, 1, 12, 0, 0)
OURS = {
    "solucionfactible-Cancelacion.wsdl": ROOT / "mockserver/providers/solucionfactible/wsdl/Cancelacion.wsdl",
    "expidetufactura-CancelacionPruebas.wsdl": ROOT / "mockserver/providers/expidetufactura/wsdl/CancelacionPruebas.wsdl",
    "expidetufactura-CancelacionProductivo.wsdl":
        ROOT / "mockserver/providers/expidetufactura/wsdl/CancelacionProductivo.wsdl",
}  # fmt: skip


def ports(wsdl: bytes | os.PathLike) -> dict[str, tuple[str, str, str]]:
    """port name -> (binding name, address namespace, address path)."""
    tree = etree.fromstring(wsdl) if isinstance(wsdl, bytes) else etree.parse(str(wsdl)).getroot()
    found = {}
    for port in tree.iter(f"{{{WSDL_NS}}}port"):
        address = next(el for el in port if etree.QName(el).namespace in ADDRESS_NS)
        found[port.get("name")] = (
            port.get("binding").split(":")[-1],
            etree.QName(address).namespace,
            urlsplit(address.get("location")).path,
        )
    return found


def sf_status_body(user: str = SF_USER[0], password: str = SF_USER[1]) -> str:
    return (
        f'<ns:getStatusCancelacionAsincrona xmlns:ns="{SF_NS}"><ns:usuario>{user}</ns:usuario>'
        f"<ns:password>{password}</ns:password><ns:transactionId>{uuid_module.uuid4()}</ns:transactionId>"
        "</ns:getStatusCancelacionAsincrona>"
    )


def envelope(body: str, version: str = "1.1") -> str:
    ns = SOAP11_NS if version == "1.1" else SOAP12_NS
    return f'<e:Envelope xmlns:e="{ns}"><e:Body>{body}</e:Body></e:Envelope>'


def ms_body(transaction: str = "ASYNC_CONVERT_VERIFY", data1: str = "", data2: str = "") -> str:
    values = {"Requestor": MS_ID, "Transaction": transaction, "Country": "MX", "Entity": "JES900109Q90",
              "User": MS_ID, "UserName": "MX.JES900109Q90.Juan", "Data1": data1, "Data2": data2, "Data3": ""}
    children = "".join(f"<m:{k}>{v}</m:{k}>" for k, v in values.items())
    return f'<m:RequestTransaction xmlns:m="{MS_NS}">{children}</m:RequestTransaction>'


def journal(sandbox, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    return sandbox.admin("GET", "requests", params=params).json()["requests"]


# --- every real port answers at its path ----------------------------------------------------------------


def test_served_wsdls_list_the_real_ports(sandbox):
    """Conformance (skipped without ../shared/reference): the ports of the published WSDLs."""
    for name in sorted(OURS):
        real = ports(reference_wsdl(name))
        path = urlsplit(next(iter(real.values()))[2]).path
        served = requests.get(f"{sandbox.url}{path}?wsdl", timeout=10)
        assert served.status_code == 200
        assert {k: v[:2] for k, v in ports(served.content).items()} == {k: v[:2] for k, v in real.items()}, name
        assert {k: v[2] for k, v in ports(served.content).items()} == {
            k: f"/__session/{sandbox.session}{v[2]}" for k, v in real.items()
        }, name


def test_sf_wsdl_has_the_three_real_ports_without_the_reference():
    assert {k: v[:2] for k, v in ports(OURS["solucionfactible-Cancelacion.wsdl"]).items()} == {
        "CancelacionHttpsSoap11Endpoint": ("CancelacionSoap11Binding", ADDRESS_NS[0]),
        "CancelacionHttpsSoap12Endpoint": ("CancelacionSoap12Binding", ADDRESS_NS[1]),
        "CancelacionHttpsEndpoint": ("CancelacionHttpBinding", ADDRESS_NS[2]),
    }


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_real_port_answers_at_its_path(sandbox, name):
    # Our WSDLs list the real ports (test_served_wsdls_list_the_real_ports).
    for port, (_binding, address_ns, path) in ports(OURS[name]).items():
        if name.startswith("solucionfactible"):
            body = sf_status_body()
            expect = f"{{{SF_NS}}}getStatusCancelacionAsincronaResponse"
        else:
            body = f'<x:cancelar xmlns:x="{XPD_NS}"><usuario>pruebas</usuario><token>123456</token></x:cancelar>'
            expect = f"{{{XPD_NS}}}cancelarResponse"
        if address_ns == ADDRESS_NS[2]:  # Axis2's HTTP binding: plain XML, no envelope
            r = requests.post(sandbox.url + path, data=body, headers={"Content-Type": "application/xml"}, timeout=30)
            assert r.status_code == 200, (port, r.text)
            assert r.headers["Content-Type"].startswith("application/xml")
            assert etree.fromstring(r.content).tag == expect
        else:
            version = "1.2" if address_ns == ADDRESS_NS[1] else "1.1"
            r = sandbox.post_soap(path, envelope(body, version), version=version)
            assert r.status_code == 200, (port, r.text)
            assert etree.fromstring(r.content).find("{*}Body")[0].tag == expect


def test_sf_http_binding_takes_the_operation_location_and_soap_too(sandbox):
    base = "/ws/services/Cancelacion.CancelacionHttpsEndpoint/"
    # http:operation location="Cancelacion/<op>" is relative to the port's address
    r = requests.post(sandbox.url + base + "Cancelacion/getStatusCancelacionAsincrona", data=sf_status_body(),
                      headers={"Content-Type": "text/xml; charset=UTF-8"}, timeout=30)
    assert r.status_code == 200, r.text
    answer = etree.fromstring(r.content)
    assert answer.tag == f"{{{SF_NS}}}getStatusCancelacionAsincronaResponse"
    assert answer.findtext(f"{{{SF_NS}}}return/{{{SF_STATUS_NS}}}status") is not None
    # Axis2 picks the message format from the Content-Type, so a SOAP client posting here is answered too
    soap = sandbox.post_soap(base, envelope(sf_status_body()), action="urn:getStatusCancelacionAsincrona")
    assert soap.status_code == 200 and b"Envelope" in soap.content
    (pox_entry, soap_entry) = journal(sandbox)[::-1]
    assert pox_entry["operation"] == "getStatusCancelacionAsincrona" and pox_entry["soap_version"] == "pox"
    assert "timbrado.SF.16672" not in pox_entry["request"]
    assert soap_entry["soap_version"] == "1.1"


def test_sf_http_binding_fault_is_plain_xml(sandbox):
    r = requests.post(sandbox.url + "/ws/services/Cancelacion.CancelacionHttpsEndpoint/",
                      data=f'<ns:noSuchOperation xmlns:ns="{SF_NS}"/>', headers={"Content-Type": "application/xml"},
                      timeout=30)
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(r.content)
    assert root.tag == "faultstring" and "noSuchOperation" in root.text


def test_zeep_reads_the_sf_wsdl_with_its_http_port(sandbox):
    zeep = pytest.importorskip("zeep")
    client = zeep.Client(sandbox.url + "/ws/services/Cancelacion?wsdl")
    service = client.bind("Cancelacion", "CancelacionHttpsSoap11Endpoint")
    answer = service.getStatusCancelacionAsincrona(*SF_USER, str(uuid_module.uuid4()))
    assert answer.status == 702 and "No existe" in answer.mensaje


# --- ?wsdl addresses are the URL the client used ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/factwsfront.asmx", "/FactWSFront.ASMX", "/mx.com.fact.wsfront/factwsfront.asmx"])
def test_mysuite_wsdl_addresses_are_the_path_used(sandbox, path):
    served = requests.get(f"{sandbox.url}{path}?wsdl", timeout=10, headers={"Host": "example.test:9"})
    found = ports(served.content)
    assert set(found) == {"FactWSFrontSoap", "FactWSFrontSoap12"}
    tree = etree.fromstring(served.content)
    locations = {el.get("location") for ns in ADDRESS_NS for el in tree.iter(f"{{{ns}}}address")}
    assert locations == {f"http://example.test:9/__session/{sandbox.session}{path}"}


def test_xpd_and_sf_aliases_keep_the_host_used(sandbox):
    served = requests.get(f"{sandbox.url}/ws/services/Cancelacion?wsdl", timeout=10, headers={"Host": "sf.test"})
    tree = etree.fromstring(served.content)
    locations = sorted(el.get("location") for ns in ADDRESS_NS for el in tree.iter(f"{{{ns}}}address"))
    assert all(loc.startswith(f"http://sf.test/__session/{sandbox.session}/ws/services/Cancelacion.")
               for loc in locations), locations


# --- fault details and statuses ------------------------------------------------------------------------------

FAULT_OVERLAY = """
rules:
  - id: injected
    provider: {provider}
    outcome:
      fault: {{kind: soap_fault, faultcode: {code}, faultstring: Servicio no disponible, detail: "mantenimiento <programado>"}}
"""


def overlay(sandbox, provider: str, code: str = "Server") -> None:  # type: ignore[no-untyped-def]
    body = FAULT_OVERLAY.format(provider=provider, code=code)
    r = sandbox.admin("PUT", "scenarios", data=body, headers={"Content-Type": "application/yaml"})
    assert r.ok, r.text


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_fault_detail_is_an_element(sandbox, version):
    overlay(sandbox, "solucionfactible")
    r = sandbox.post_soap("/ws/services/Cancelacion", envelope(sf_status_body(), version), version=version)
    root = etree.fromstring(r.content)
    detail = root.find("{*}Body/{*}Fault/detail" if version == "1.1" else "{*}Body/{*}Fault/{*}Detail")
    assert detail is not None and detail.text is None
    (error,) = detail
    assert error.tag == f"{{{FAULT_NS}}}error" and error.get("code") == "Server"
    assert error.text == "mantenimiento <programado>"


# What each real stack answers (docs/clients.md, "Faults"): Axis2's servlet 400 for a SOAP 1.2 Sender
# fault and 500 otherwise; CXF and ASMX 500 for every fault.
STATUS_CASES = [
    ("solucionfactible", "/ws/services/Cancelacion", "1.1", "Client", 500),
    ("solucionfactible", "/ws/services/Cancelacion", "1.2", "Client", 400),
    ("solucionfactible", "/ws/services/Cancelacion", "1.2", "Server", 500),
    ("expidetufactura", "/cancelacion/CancelacionPruebas", "1.1", "Client", 500),
    ("mysuite", "/factwsfront.asmx", "1.1", "Client", 500),
    ("mysuite", "/factwsfront.asmx", "1.2", "Client", 500),
    ("mysuite", "/factwsfront.asmx", "1.2", "Server", 500),
]


@pytest.mark.parametrize(("provider", "path", "version", "code", "status"), STATUS_CASES)
def test_fault_status_follows_the_providers_stack(sandbox, provider, path, version, code, status):
    overlay(sandbox, provider, code)
    body = {"solucionfactible": sf_status_body(), "mysuite": ms_body(),
            "expidetufactura": f'<x:cancelar xmlns:x="{XPD_NS}"><usuario>pruebas</usuario></x:cancelar>'}[provider]
    r = sandbox.post_soap(path, envelope(body, version), version=version)
    assert r.status_code == status, r.text
    fault = etree.fromstring(r.content).find("{*}Body/{*}Fault")
    assert fault is not None and etree.QName(fault).namespace == (SOAP11_NS if version == "1.1" else SOAP12_NS)


@pytest.mark.parametrize(("path", "status"), [("/ws/services/Cancelacion", 400), ("/factwsfront.asmx", 500),
                                              ("/cancelacion/CancelacionPruebas", 500)])
def test_malformed_soap12_sender_fault_status_per_stack(sandbox, path, status):
    r = sandbox.post_soap(path, f'<e:Envelope xmlns:e="{SOAP12_NS}"><e:Body/></e:Envelope>', version="1.2")
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/soap+xml")
    assert etree.fromstring(r.content).tag == f"{{{SOAP12_NS}}}Envelope"


def test_unsupported_content_type_answers_in_the_envelopes_version(sandbox):
    r = requests.post(sandbox.url + "/ws/services/Cancelacion", data=envelope(sf_status_body(), "1.2"),
                      headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 400
    assert etree.fromstring(r.content).tag == f"{{{SOAP12_NS}}}Envelope"
    assert r.headers["Content-Type"].startswith("application/soap+xml")


# --- MTOM / XOP -----------------------------------------------------------------------------------------------


def mtom(envelope_xml: str, version: str, parts: dict[str, bytes], action: str | None = None
         ) -> tuple[bytes, dict[str, str]]:
    """A multipart/related XOP package as JAX-WS sends it (root part first, binary parts after),
    written byte for byte so that binary parts arrive exactly as given."""
    soap_type = "text/xml" if version == "1.1" else "application/soap+xml"
    boundary = f"uuid:{uuid_module.uuid4()}"
    chunks = [
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"{soap_type}\"\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n".encode()
        + envelope_xml.encode()
    ]
    for cid, data in parts.items():
        chunks.append(f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n".encode() + data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    start_info = soap_type + (f';action=\\"{action}\\"' if action and version == "1.2" else "")
    headers = {"Content-Type": f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                               f'start="<root.message@cxf.apache.org>"; start-info="{start_info}"'}
    if action and version == "1.1":
        headers["SOAPAction"] = f'"{action}"'
    return b"".join(chunks), headers


def include(cid: str) -> str:
    return f'<xop:Include xmlns:xop="{XOP_NS}" href="cid:{cid.replace("@", "%40")}"/>'


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_mtom_cancelar_asincrono_with_xop_parts(sandbox, version):
    cert = fixture("csd_moral")
    uuid = str(uuid_module.uuid4()).upper()
    body = (
        f'<ns:cancelarAsincrono xmlns:ns="{SF_NS}"><ns:usuario>{SF_USER[0]}</ns:usuario>'
        f"<ns:password>{SF_USER[1]}</ns:password><ns:uuid>{uuid}|02|</ns:uuid>"
        f"<ns:rfcEmisor>{cert.certificate().rfc}</ns:rfcEmisor>"
        f"<ns:csdCer>{include('cer-1@jaxws')}</ns:csdCer><ns:csdKey>{include('key-1@jaxws')}</ns:csdKey>"
        f"<ns:csdPassword>{cert.password}</ns:csdPassword></ns:cancelarAsincrono>"
    )
    data, headers = mtom(envelope(body, version), version,
                         {"cer-1@jaxws": cert.cer_bytes(), "key-1@jaxws": cert.key_bytes()}, "urn:cancelarAsincrono")
    r = requests.post(sandbox.url + "/ws/services/Cancelacion", data=data, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    # Axis2 answers in plain SOAP unless enableMTOM is on (it is off by default)
    soap_type = "text/xml" if version == "1.1" else "application/soap+xml"
    assert r.headers["Content-Type"].startswith(soap_type)
    answer = etree.fromstring(r.content)
    assert answer.findtext(".//{*}status") == "200", r.text
    (entry,) = journal(sandbox)
    assert entry["soap_version"] == version and entry["summary"].get("mtom") is True
    assert "xop:Include" not in entry["request"] and "***" in entry["request"]


def test_mtom_xpd_xml_bytes_part_binary_exact(sandbox):
    r = sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()})
    assert r.ok
    info = fixture("csd_moral")
    cert = info.certificate()
    uuid = str(uuid_module.uuid4()).upper()
    signed = sign_cancelacion(cert, info.private_key(), cert.rfc, [uuid], NOW)
    body = (f'<x:cancelar xmlns:x="{XPD_NS}"><usuario>pruebas</usuario><token>123456</token>'
            f"<xmlBytes>{include('xml@jaxws')}</xmlBytes></x:cancelar>")
    data, headers = mtom(envelope(body), "1.1", {"xml@jaxws": signed}, "")
    r = requests.post(sandbox.url + "/cancelacion/CancelacionPruebas", data=data, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    ret = etree.fromstring(r.content).find(f".//{{{XPD_NS}}}cancelarResponse/return")
    assert ret.findtext("codEstatus") == "200" and ret.findtext("uuids") == uuid


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_mysuite_refuses_mtom_like_asmx_in_the_requests_version(sandbox, version):
    data, headers = mtom(envelope(ms_body(), version), version, {}, "http://www.fact.com.mx/schema/ws/RequestTransaction")
    r = requests.post(sandbox.url + "/factwsfront.asmx", data=data, headers=headers, timeout=30)
    assert r.status_code == 500
    ns = SOAP11_NS if version == "1.1" else SOAP12_NS
    root = etree.fromstring(r.content)
    assert root.tag == f"{{{ns}}}Envelope" and root.find(f"{{{ns}}}Body/{{{ns}}}Fault") is not None
    assert "multipart/related" in r.text


def test_mtom_with_a_missing_part_is_a_clear_fault(sandbox):
    body = (f'<x:cancelar xmlns:x="{XPD_NS}"><usuario>pruebas</usuario><token>123456</token>'
            f"<xmlBytes>{include('absent@jaxws')}</xmlBytes></x:cancelar>")
    data, headers = mtom(envelope(body), "1.1", {}, "")
    r = requests.post(sandbox.url + "/cancelacion/CancelacionPruebas", data=data, headers=headers, timeout=30)
    assert r.status_code == 500 and "absent@jaxws" in r.text


# --- the journal keeps every field, clipped -------------------------------------------------------------------


def test_journal_keeps_a_guid_data1(sandbox):
    guid = str(uuid_module.uuid4())
    r = sandbox.post_soap("/factwsfront.asmx", envelope(ms_body(data1=guid)))
    assert r.status_code == 200
    (entry,) = journal(sandbox)
    assert f">{guid}</" in entry["request"]


def test_journal_clips_a_large_field_and_says_its_length(sandbox):
    data1 = base64.b64encode(os.urandom(3_000_000)).decode()
    r = sandbox.post_soap("/factwsfront.asmx", envelope(ms_body("ASYNC_CONVERT_NATIVE_XML", data1, "CLIP-1")))
    assert r.status_code == 200
    (entry,) = journal(sandbox)
    request = entry["request"]
    assert data1[:256] in request and data1[:257] not in request
    assert f"{len(data1)} characters" in request
    assert "CLIP-1" in request  # fields after the large one are still there
    assert len(request) < 8_000


def test_journal_never_unblanks_secrets_when_clipping(sandbox):
    long_password = "p" * 5000
    r = sandbox.post_soap("/ws/services/Cancelacion", envelope(sf_status_body(password=long_password)))
    assert r.status_code == 200
    (entry,) = journal(sandbox)
    assert "ppp" not in entry["request"] and "***" in entry["request"]
