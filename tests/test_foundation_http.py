"""The foundation over real HTTP: routing, WSDL serving, SOAP versions, faults, journal, sessions."""

from __future__ import annotations

import contextlib

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree

from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.soap.envelope import SOAP11_NS, SOAP12_NS

SF_NS = "http://ws.cfdi.solucionfactible.com"
ALL_PATHS = [
    "/ws/services/Cancelacion",
    "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/",
    "/ws/services/Cancelacion.CancelacionHttpSoap11Endpoint/",
    "/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/",
    "/ws/services/Cancelacion.CancelacionHttpSoap12Endpoint/",
    "/cancelacion/CancelacionPruebas",
    "/cancelacion/CancelacionProductivo",
    "/mx.com.fact.wsfront/factwsfront.asmx",
    "/MX.COM.FACT.WSFRONT/FactWSFront.asmx",
    "/factwsfront.asmx",
    "/FactWSFront.ASMX",
]


def sf_envelope(ns: str, op: str = "getStatusCancelacionAsincrona", password: str = "s3cr3t-pw") -> str:
    return (
        f'<e:Envelope xmlns:e="{ns}" xmlns:sf="{SF_NS}"><e:Body><sf:{op}>'
        f"<sf:usuario>someone</sf:usuario><sf:password>{password}</sf:password>"
        f"<sf:csdKey>S0VZLU1BVEVSSUFM</sf:csdKey><sf:csdPassword>key-pass-123</sf:csdPassword>"
        f"</sf:{op}></e:Body></e:Envelope>"
    )


def journal(sandbox, **params) -> list[dict]:
    return sandbox.admin("GET", "requests", params=params).json()["requests"]


def test_health_lists_every_provider_and_path(sandbox):
    health = sandbox.admin("GET", "health").json()
    assert health["status"] == "ok" and health["session"] == sandbox.session
    ids = [p["id"] for p in health["providers"]]
    assert ids == ["solucionfactible", "expidetufactura", "mysuite"]
    paths = {path for p in health["providers"] for s in p["services"] for path in s["paths"]}
    assert {p for p in ALL_PATHS if p == p.lower() or "Cancelacion" in p} <= paths | {"/factwsfront.asmx"}


@pytest.mark.parametrize("path", ALL_PATHS)
def test_every_path_serves_its_wsdl_pointing_back_at_the_mock(sandbox, path):
    response = requests.get(sandbox.url + path + "?WSDL", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    tree = etree.fromstring(response.content)
    locations = [a.get("location") for a in tree.iter("{*}address")]
    assert locations and all(loc.startswith(sandbox.url + "/") for loc in locations)


@pytest.mark.parametrize("path", ["/ws/services/Cancelacion", "/cancelacion/CancelacionPruebas",
                                  "/cancelacion/CancelacionProductivo", "/mx.com.fact.wsfront/factwsfront.asmx"])
def test_served_wsdls_parse_in_zeep(sandbox, path):
    client = zeep.Client(sandbox.url + path + "?wsdl")
    services = list(client.wsdl.services.values())
    assert services
    for port in services[0].ports.values():
        assert port.binding_options["address"].startswith(sandbox.url + "/")


def _zeep_reaches(sandbox, client: zeep.Client, call, operation: str, version: str) -> None:
    # The answer is the provider's business; the routing is what is checked here.
    with contextlib.suppress(zeep.exceptions.Fault):
        call(client)
    entry = journal(sandbox)[0]
    assert entry["operation"] == operation
    assert entry["soap_version"] == version
    assert "Traceback" not in (entry["response"] or "")


def test_zeep_from_the_served_wsdls_reaches_each_operation(sandbox):
    # The served WSDLs describe the published ones' messages and ports (test_wsdl_files, test_wire_edges).
    client = zeep.Client(sandbox.url + "/ws/services/Cancelacion?wsdl")
    for port, version in (("CancelacionHttpsSoap11Endpoint", "1.1"), ("CancelacionHttpsSoap12Endpoint", "1.2")):
        binding = client.wsdl.services["Cancelacion"].ports[port].binding.name
        service = client.create_service(binding, sandbox.url + f"/ws/services/Cancelacion.{port}/")
        _zeep_reaches(sandbox, client, lambda c, s=service: s.getStatusCancelacionAsincrona("u", "p", "x"),
                      "getStatusCancelacionAsincrona", version)
        _zeep_reaches(sandbox, client, lambda c, s=service: s.cancelarSectorPrimario("u", "p", "x"),
                      "cancelarSectorPrimario", version)
    client = zeep.Client(sandbox.url + "/cancelacion/CancelacionPruebas?wsdl")
    service = client.create_service(
        "{http://service.xpd.mx/}CancelacionPruebasSoapBinding", sandbox.url + "/cancelacion/CancelacionPruebas"
    )
    _zeep_reaches(sandbox, client, lambda c: service.cancelar("pruebas", "123456", b"<x/>"), "cancelar", "1.1")


@pytest.mark.parametrize(("ns", "ctype", "version"), [(SOAP11_NS, "text/xml", "1.1"),
                                                      (SOAP12_NS, "application/soap+xml", "1.2")])
def test_response_uses_the_request_soap_version(sandbox, ns, ctype, version):
    response = sandbox.post_soap("/ws/services/Cancelacion", sf_envelope(ns), version=version)
    assert response.headers["Content-Type"].startswith(ctype)
    assert etree.fromstring(response.content).tag == f"{{{ns}}}Envelope"


def _fault_text(response: requests.Response) -> str:
    root = etree.fromstring(response.content)
    texts = [el.text for el in root.iter() if etree.QName(el).localname in ("faultstring", "Text")]
    assert texts, response.text
    return texts[0]


@pytest.mark.parametrize(
    ("body", "ctype", "status", "words"),
    [
        (b"", "text/xml", 500, "empty"),
        (b"<soapenv:Envelope", "text/xml", 500, "well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
         "text/xml", 500, "DOCTYPE"),
        (f'<e:Envelope xmlns:e="{SOAP11_NS}"><e:Body><q:nothing xmlns:q="{SF_NS}"/></e:Body></e:Envelope>'.encode(),
         "text/xml", 500, "Unknown operation"),
        (f'<e:Envelope xmlns:e="{SOAP11_NS}"><e:Body><q:cancelar xmlns:q="urn:other"/></e:Body></e:Envelope>'.encode(),
         "text/xml", 500, "wrong namespace"),
        (b"{}", "application/json", 500, "Content-Type"),
        (sf_envelope(SOAP12_NS).encode(), "text/xml", 500, "application/soap+xml"),
        (b"<not-xml", "application/soap+xml", 400, "well-formed"),
    ],
)
def test_bad_requests_get_a_soap_fault_never_a_stack_trace(sandbox, body, ctype, status, words):
    response = requests.post(sandbox.url + "/ws/services/Cancelacion", data=body,
                             headers={"Content-Type": ctype}, timeout=10)
    assert response.status_code == status
    assert words in _fault_text(response)
    assert "Traceback" not in response.text


def test_soap_12_is_refused_where_the_provider_speaks_11_only(sandbox):
    body = (f'<e:Envelope xmlns:e="{SOAP12_NS}"><e:Body><x:cancelar xmlns:x="http://service.xpd.mx/"/>'
            "</e:Body></e:Envelope>")
    response = sandbox.post_soap("/cancelacion/CancelacionPruebas", body, version="1.2")
    assert response.status_code == 500
    assert "SOAP 1.1 only" in _fault_text(response)


def test_unknown_path_is_a_clear_404(sandbox):
    response = requests.post(sandbox.url + "/nothing/here", data=b"<x/>", timeout=10)
    assert response.status_code == 404
    assert "/__admin/health" in response.text


def test_journal_redacts_secrets_even_from_malformed_bodies(sandbox):
    sandbox.post_soap("/ws/services/Cancelacion", sf_envelope(SOAP11_NS, password="hunter2-pw"))
    broken = sf_envelope(SOAP11_NS, password="hunter3-pw").replace("</e:Envelope>", "")
    sandbox.post_soap("/ws/services/Cancelacion", broken)
    raw = sandbox.admin("GET", "requests").text
    for secret in ("hunter2-pw", "hunter3-pw", "key-pass-123", "S0VZLU1BVEVSSUFM"):
        assert secret not in raw
    entries = journal(sandbox)
    assert len(entries) == 2 and all("***" in e["request"] for e in entries)


def test_journal_filters_and_limits(sandbox):
    for _ in range(3):
        sandbox.post_soap("/ws/services/Cancelacion", sf_envelope(SOAP11_NS))
    sandbox.post_soap("/cancelacion/CancelacionPruebas",
                      f'<e:Envelope xmlns:e="{SOAP11_NS}"><e:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
                      "<usuario>a</usuario><token>tok-secret-1</token></x:cancelar></e:Body></e:Envelope>")
    assert len(journal(sandbox)) == 4
    assert len(journal(sandbox, provider="solucionfactible")) == 3
    assert [e["operation"] for e in journal(sandbox, provider="expidetufactura")] == ["cancelar"]
    assert len(journal(sandbox, limit=2)) == 2
    assert sandbox.admin("GET", "requests/count", params={"provider": "mysuite"}).json()["count"] == 0
    assert "tok-secret-1" not in sandbox.admin("GET", "requests").text
    newest_first = journal(sandbox)
    assert newest_first[0]["provider"] == "expidetufactura"


def test_sessions_are_isolated_and_reset_separately(server, sandbox):
    other = type(sandbox)(sandbox.root, sandbox.session + "b")
    sandbox.post_soap("/ws/services/Cancelacion", sf_envelope(SOAP11_NS))
    assert len(journal(sandbox)) == 1 and journal(other) == []
    other.post_soap("/ws/services/Cancelacion", sf_envelope(SOAP11_NS))
    sandbox.admin("POST", "reset")
    assert journal(sandbox) == [] and len(journal(other)) == 1


def test_oversized_body_is_refused_before_it_is_read():
    with BackgroundServer(Settings(port=0, memory=True, max_body_mb=1)) as small:
        response = requests.post(small.url + "/ws/services/Cancelacion", data=b"x" * (2 * 1024 * 1024),
                                 headers={"Content-Type": "text/xml"}, timeout=30)
        assert response.status_code == 413
        assert "at most 1 MB" in _fault_text(response)


def test_admin_token_protects_the_admin_api():
    with BackgroundServer(Settings(port=0, memory=True, admin_token="t0ken")) as guarded:
        assert requests.get(guarded.url + "/__admin/requests", timeout=10).status_code == 401
        ok = requests.get(guarded.url + "/__admin/requests", headers={"Authorization": "Bearer t0ken"}, timeout=10)
        assert ok.status_code == 200
        assert requests.get(guarded.url + "/__admin/health", timeout=10).status_code == 200
