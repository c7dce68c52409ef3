"""Conformance findings end to end: a client makes the common mistakes one by one, over raw SOAP, and
sees each reported with the right check id and source; a correct client sees none, for all three
providers. Also the session summary, scenarios' ``strict`` and docs/conformance.md."""

from __future__ import annotations

import base64
import re
import uuid as uuid_module
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from mockserver.conformance import all_checks, markdown
from mockserver.providers.expidetufactura.conformance import dotnet_issuer_name
from mockserver.sat import sign_cancelacion
from mockserver.sat.cancelacion import build_cancelacion
from mockserver.sat.pki import fixture
from mockserver.sat.signature import sign_enveloped
from mockserver.testing.mysuite import native_document

from helpers import provider_docs_dir

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "conformance.md"
# The mock clock of every test, Mexico City wall time (UTC-6), and a Fecha five minutes earlier.
NOW = datetime(2026, 6, 1, 12, 0, 0)
FECHA = NOW - timedelta(minutes=5)
CHECKS = {c.id: c for c in all_checks()}


@pytest.fixture
def sb(sandbox):
    sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat() + "-06:00"})
    return sandbox


def last_findings(sandbox) -> list[dict]:
    entry = sandbox.admin("GET", "requests?limit=1&bodies=0").json()["requests"][0]
    return entry["summary"].get("findings", [])


def assert_reported(sandbox, check_id: str) -> None:
    findings = last_findings(sandbox)
    assert [f["check"] for f in findings] == [check_id], findings
    check = CHECKS[check_id]
    assert findings[0]["source"] == check.source
    assert findings[0]["severity"] == check.severity
    assert findings[0]["message"]


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


# ---------------------------------------------------------------- Solución Factible

SF_PATH = "/ws/services/Cancelacion"
SF_NS = "http://ws.cfdi.solucionfactible.com"


def sf_fields(**changes) -> list[tuple[str, str]]:
    csd = fixture("csd_moral")
    fields = {
        "usuario": "testing@solucionfactible.com", "password": "timbrado.SF.16672", "uuid": new_uuid(),
        "rfcEmisor": csd.rfc, "emailNotifica": "erp@example.com",
        "csdCer": base64.b64encode(csd.cer_bytes()).decode(), "csdKey": base64.b64encode(csd.key_bytes()).decode(),
        "csdPassword": csd.password,
    }  # fmt: skip
    fields.update(changes)
    return [(k, v) for k, v in fields.items() if v is not None]


def sf_envelope(fields: list[tuple[str, str]], *, qualified: bool = True, version: str = "1.1") -> bytes:
    env = "http://schemas.xmlsoap.org/soap/envelope/" if version == "1.1" else "http://www.w3.org/2003/05/soap-envelope"
    prefix = "ws:" if qualified else ""
    children = "".join(f"<{prefix}{k}>{v}</{prefix}{k}>" for k, v in fields)
    return (f'<s:Envelope xmlns:s="{env}"><s:Body><ws:cancelarAsincrono xmlns:ws="{SF_NS}">{children}'
            f"</ws:cancelarAsincrono></s:Body></s:Envelope>").encode()


def sf_send(sandbox, body: bytes, action: str | None = "urn:cancelarAsincrono", version: str = "1.1"):
    if version == "1.2":
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'} if action else {}
        return sandbox.post_soap(SF_PATH, body, version="1.2", headers=headers)
    return sandbox.post_soap(SF_PATH, body, action=action)


def test_sf_correct_client_sees_no_findings(sb):
    for version in ("1.1", "1.2"):
        response = sf_send(sb, sf_envelope(sf_fields(), version=version), version=version)
        assert response.status_code == 200, response.text
        assert b"<ax29:status>200</ax29:status>" in response.content
        assert last_findings(sb) == []


SF_MISTAKES = {
    "sf.soapaction-missing": lambda: (sf_envelope(sf_fields()), None),
    "sf.soapaction-wrong": lambda: (sf_envelope(sf_fields()), "urn:cancelar"),
    "sf.unqualified-children": lambda: (sf_envelope(sf_fields(), qualified=False), "urn:cancelarAsincrono"),
    "sf.children-order": lambda: (sf_envelope([sf_fields()[1], sf_fields()[0], *sf_fields()[2:]]),
                                  "urn:cancelarAsincrono"),
    "sf.uuid-lower-case": lambda: (sf_envelope(sf_fields(uuid=new_uuid().lower())), "urn:cancelarAsincrono"),
    "sf.email-missing": lambda: (sf_envelope(sf_fields(emailNotifica=None)), "urn:cancelarAsincrono"),
    "sf.test-credentials-production": lambda: (
        sf_envelope(sf_fields(usuario="productivo@pac-mock.test", password="secreto")), "urn:cancelarAsincrono"),
}


@pytest.mark.parametrize("check_id", list(SF_MISTAKES))
def test_sf_mistake_is_reported(sb, check_id):
    body, action = SF_MISTAKES[check_id]()
    sf_send(sb, body, action)
    assert_reported(sb, check_id)


# ---------------------------------------------------------------- Expide Tu Factura

XPD_TEST = "/cancelacion/CancelacionPruebas"
XPD_PROD = "/cancelacion/CancelacionProductivo"
XPD_NS = "http://service.xpd.mx/"


def dotnet_issuer(xml: bytes) -> bytes:
    """The document with X509IssuerName written the guide's way (KeyInfo is outside the digest)."""
    name = dotnet_issuer_name(fixture("csd_moral").certificate().issuer_attributes)
    return re.sub(rb"<X509IssuerName>[^<]*</X509IssuerName>",
                  b"<X509IssuerName>" + name.encode() + b"</X509IssuerName>", xml)


def xpd_signed(uuid: str | None = None, fecha: datetime = FECHA, *, algorithm: str = "sha1",
               fecha_text: str | None = None) -> bytes:
    csd = fixture("csd_moral")
    folios = [(uuid or new_uuid(), "02")]
    if fecha_text is None:
        xml = sign_cancelacion(csd.certificate(), csd.private_key(), csd.rfc, folios, fecha,
                               algorithm=algorithm, validate=False)
    else:
        root = build_cancelacion(csd.rfc, [f for f in _folios(folios)], fecha, "2022")
        root.set("Fecha", fecha_text)
        xml = sign_enveloped(root, csd.certificate(), csd.private_key())
    return dotnet_issuer(xml)


def _folios(items):
    from mockserver.sat.cancelacion import Folio

    return [Folio(u, m) for u, m in items]


def xpd_envelope(xml: bytes, *, user: str = "pruebas", token: str = "123456", qualified: bool = False,
                 order: tuple[str, ...] = ("usuario", "token", "xmlBytes")) -> bytes:
    values = {"usuario": user, "token": token, "xmlBytes": base64.b64encode(xml).decode()}
    prefix = "x:" if qualified else ""
    children = "".join(f"<{prefix}{k}>{values[k]}</{prefix}{k}>" for k in order)
    return (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="{XPD_NS}"><s:Body>'
            f"<x:cancelar>{children}</x:cancelar></s:Body></s:Envelope>").encode()


def xpd_code(response) -> str:
    return etree.fromstring(response.content).findtext(".//return/codEstatus")


def test_xpd_correct_client_sees_no_findings(sb):
    response = sb.post_soap(XPD_TEST, xpd_envelope(xpd_signed()))
    assert xpd_code(response) == "200", response.text
    assert last_findings(sb) == []
    # Line breaks after the root element are no part of the document (XPD-19).
    sb.post_soap(XPD_TEST, xpd_envelope(xpd_signed() + b"\n"))
    assert last_findings(sb) == []


def _c14n_variant() -> bytes:
    return xpd_signed().replace(b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
                                b"http://www.w3.org/2001/10/xml-exc-c14n#", 1)


XPD_MISTAKES = {
    "xpd.soapaction": lambda: (XPD_TEST, xpd_envelope(xpd_signed()), "urn:cancelar"),
    "xpd.qualified-children": lambda: (XPD_TEST, xpd_envelope(xpd_signed(), qualified=True), None),
    "xpd.children-order": lambda: (XPD_TEST, xpd_envelope(xpd_signed(), order=("token", "usuario", "xmlBytes")),
                                   None),
    "xpd.uuid-lower-case": lambda: (XPD_TEST, xpd_envelope(xpd_signed(new_uuid().lower())), None),
    "xpd.line-breaks": lambda: (XPD_TEST, xpd_envelope(xpd_signed().replace(b"><Folios", b">\n<Folios", 1)), None),
    "xpd.signature-method": lambda: (XPD_TEST, xpd_envelope(xpd_signed(algorithm="sha256")), None),
    "xpd.c14n": lambda: (XPD_TEST, xpd_envelope(_c14n_variant()), None),
    "xpd.fecha-zone": lambda: (XPD_TEST, xpd_envelope(xpd_signed(fecha_text=(FECHA + timedelta(hours=6))
                                                                 .isoformat() + "Z")), None),
    "xpd.fecha-window-edge": lambda: (XPD_TEST, xpd_envelope(xpd_signed(fecha=NOW - timedelta(hours=71, minutes=30))),
                                      None),
    "xpd.issuer-name-form": lambda: (XPD_TEST, xpd_envelope(sign_cancelacion(
        fixture("csd_moral").certificate(), fixture("csd_moral").private_key(), fixture("csd_moral").rfc,
        [new_uuid()], FECHA)), None),
    "xpd.test-credentials-production": lambda: (XPD_PROD, xpd_envelope(xpd_signed()), None),
}


@pytest.mark.parametrize("check_id", list(XPD_MISTAKES))
def test_xpd_mistake_is_reported(sb, check_id):
    path, body, action = XPD_MISTAKES[check_id]()
    sb.post_soap(path, body, action=action)
    assert_reported(sb, check_id)


def test_xpd_fecha_ahead_of_the_clock_is_near_the_edge(sb):
    sb.post_soap(XPD_TEST, xpd_envelope(xpd_signed(fecha=NOW + timedelta(minutes=2))))
    assert_reported(sb, "xpd.fecha-window-edge")


# ---------------------------------------------------------------- MYSuite

MYS_PATH = "/mx.com.fact.wsfront/factwsfront.asmx"
MYS_NS = "http://www.fact.com.mx/schema/ws"
MYS_ACTION = f"{MYS_NS}/RequestTransaction"
REQUESTOR = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
ENTITY = "JES900109Q90"


@pytest.fixture(scope="module")
def document() -> str:
    return base64.b64encode(native_document(1_500_000)).decode("ascii")


def mys_envelope(transaction: str, data1: str = "", data2: str = "", *, qualified: bool = True,
                 order: tuple[str, ...] | None = None) -> bytes:
    values = {"Requestor": REQUESTOR, "Transaction": transaction, "Country": "MX", "Entity": ENTITY,
              "User": REQUESTOR, "UserName": "MX.JES900109Q90.Juan", "Data1": data1, "Data2": data2, "Data3": ""}
    prefix = "ws:" if qualified else ""
    children = "".join(f"<{prefix}{k}>{values[k]}</{prefix}{k}>" for k in (order or values))
    return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="{MYS_NS}">'
            f"<soap:Body><ws:RequestTransaction>{children}</ws:RequestTransaction></soap:Body></soap:Envelope>"
            ).encode()


def mys_send(sandbox, body: bytes, action: str | None = MYS_ACTION) -> etree._Element:
    response = sandbox.post_soap(MYS_PATH, body, action=action)
    assert response.status_code == 200, response.text[:300]
    return etree.fromstring(response.content)


def mys_convert(sandbox, document: str, data2: str | None = None) -> str:
    root = mys_send(sandbox, mys_envelope("ASYNC_CONVERT_NATIVE_XML", document, data2 or new_uuid()))
    assert root.findtext(f".//{{{MYS_NS}}}Result") == "true", etree.tostring(root)[:500]
    return root.findtext(f".//{{{MYS_NS}}}ResponseData1")


def test_mysuite_correct_client_sees_no_findings(sb, document):
    request_id = mys_convert(sb, document)
    assert last_findings(sb) == []
    sb.admin("POST", "clock", json={"advance": "10s"})
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", request_id))
    assert last_findings(sb) == []
    sb.admin("POST", "clock", json={"advance": "10s"})
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", request_id))
    assert last_findings(sb) == []


def test_mys_soapaction(sb):
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", new_uuid().lower()), action=None)
    assert_reported(sb, "mys.soapaction")


def test_mys_unqualified_children(sb):
    body = mys_envelope("ASYNC_CONVERT_VERIFY", new_uuid().lower(), qualified=False)
    mys_send(sb, body.replace(b"<ws:RequestTransaction>", b'<ws:RequestTransaction xmlns="">'))
    assert_reported(sb, "mys.unqualified-children")


def test_mys_children_order(sb):
    order = ("Requestor", "Transaction", "Entity", "Country", "User", "UserName", "Data1", "Data2", "Data3")
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", new_uuid().lower(), order=order))
    assert_reported(sb, "mys.children-order")


def test_mys_data1_size_edge(sb):
    near = base64.b64encode(native_document(1_020_000)).decode("ascii")
    mys_send(sb, mys_envelope("ASYNC_CONVERT_NATIVE_XML", near, new_uuid()))
    assert_reported(sb, "mys.data1-size-edge")


def test_mys_data2_reused(sb, document):
    internal = new_uuid()
    mys_convert(sb, document, internal)
    assert last_findings(sb) == []
    root = mys_send(sb, mys_envelope("ASYNC_CONVERT_NATIVE_XML", document, internal))
    assert root.findtext(f".//{{{MYS_NS}}}Code") == "3196"
    assert_reported(sb, "mys.data2-reused")


def test_mys_verify_polling(sb, document):
    request_id = mys_convert(sb, document)
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", request_id))
    assert last_findings(sb) == []
    sb.admin("POST", "clock", json={"advance": "1s"})
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", request_id))
    assert_reported(sb, "mys.verify-polling")


def test_mys_test_credentials_production(sb):
    sb.admin("PUT", "scenarios", data="providers:\n  mysuite:\n    environment: productivo\n",
             headers={"Content-Type": "application/yaml"}).raise_for_status()
    mys_send(sb, mys_envelope("ASYNC_CONVERT_VERIFY", new_uuid().lower()))
    assert_reported(sb, "mys.test-credentials-production")


def test_every_check_has_a_mistake_test():
    tested = {*SF_MISTAKES, *XPD_MISTAKES, "mys.soapaction", "mys.unqualified-children", "mys.children-order",
              "mys.data1-size-edge", "mys.data2-reused", "mys.verify-polling", "mys.test-credentials-production"}
    assert tested == set(CHECKS)


# ---------------------------------------------------------------- summary, strict, docs


def test_session_summary_counts_by_check_with_the_first_request(sb):
    sf_send(sb, sf_envelope(sf_fields(emailNotifica=None)))
    first = sb.admin("GET", "requests?limit=1&bodies=0").json()["requests"][0]["id"]
    sf_send(sb, sf_envelope(sf_fields(emailNotifica=None)))
    sf_send(sb, sf_envelope(sf_fields()), action=None)
    summary = sb.admin("GET", "conformance").json()
    assert summary["requests"] == 3
    assert summary["requests_with_findings"] == 3
    assert summary["severities"] == {"error": 0, "warning": 1, "info": 2}
    by_check = {c["check"]: c for c in summary["checks"]}
    assert by_check["sf.email-missing"]["count"] == 2
    assert by_check["sf.email-missing"]["first"]["id"] == first
    assert by_check["sf.email-missing"]["source"] == CHECKS["sf.email-missing"].source
    assert by_check["sf.soapaction-missing"]["count"] == 1
    assert [c["check"] for c in summary["checks"]] == ["sf.soapaction-missing", "sf.email-missing"]


def test_a_scenario_turns_a_warning_into_a_refusal(sb):
    csd = fixture("csd_moral")

    def plain(uuid: str) -> bytes:  # X509IssuerName as the signer writes it (RFC 4514), not the guide's form
        return sign_cancelacion(csd.certificate(), csd.private_key(), csd.rfc, [uuid], FECHA)

    def registered(uuid: str) -> list:
        return sb.admin("GET", f"registry?uuid={uuid}").json()["uuids"]

    warned = new_uuid()
    response = sb.post_soap(XPD_TEST, xpd_envelope(plain(warned)))
    assert xpd_code(response) == "200"
    assert_reported(sb, "xpd.issuer-name-form")
    assert registered(warned)

    sb.admin("PUT", "scenarios", data="strict: [xpd.issuer-name-form]\n",
             headers={"Content-Type": "application/yaml"}).raise_for_status()
    refused = new_uuid()
    response = sb.post_soap(XPD_TEST, xpd_envelope(plain(refused)))
    assert xpd_code(response) == "303"  # the provider's own code for an IssuerName it does not take
    assert "xpd.issuer-name-form" in etree.fromstring(response.content).findtext(".//return/codMensaje")
    entry = sb.admin("GET", "requests?limit=1&bodies=0").json()["requests"][0]
    assert entry["summary"]["refused_by"] == "xpd.issuer-name-form"
    assert entry["summary"]["code"] == "303"
    assert registered(refused) == []  # refused before the service acted
    # A request without the finding is not refused by it.
    response = sb.post_soap(XPD_TEST, xpd_envelope(xpd_signed()))
    assert last_findings(sb) == []
    assert "refused_by" not in sb.admin("GET", "requests?limit=1&bodies=0").json()["requests"][0]["summary"]


def test_strict_refuses_with_the_providers_own_code_for_sf_and_mysuite(sb):
    sb.admin("PUT", "scenarios", data="strict: [sf.email-missing, mys.soapaction]\n",
             headers={"Content-Type": "application/yaml"}).raise_for_status()
    response = sf_send(sb, sf_envelope(sf_fields(emailNotifica=None)))
    assert b"<ax29:status>611</ax29:status>" in response.content
    response = sb.post_soap(MYS_PATH, mys_envelope("ASYNC_CONVERT_VERIFY", new_uuid().lower()))
    assert response.status_code == 500
    assert b"mys.soapaction" in response.content


def test_strict_names_only_known_checks(sb):
    response = sb.admin("PUT", "scenarios", data="strict: [xpd.no-such-check]\n",
                        headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
    assert "xpd.no-such-check" in response.text


def test_the_docs_list_every_check_as_the_code_declares_it():
    assert DOCS.read_text(encoding="utf-8") == markdown(), "run: python -m mockserver.conformance > docs/conformance.md"


def test_every_check_cites_a_document_line_or_the_wsdl():
    for check in all_checks():
        assert re.search(r"\d{3}_[0-9a-f]{16}\.txt:\d+|\.wsdl", check.source), check
        assert check.severity in ("error", "warning", "info")
        for wsdl in re.findall(r"(\w+\.wsdl)", check.source):
            assert list(REPO.glob(f"mockserver/providers/*/wsdl/{wsdl}")), (check.id, wsdl)


def test_cited_lines_exist_and_fidelity_ids_are_claims_of_the_table():
    ids = set(re.findall(r"^\| ([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+) \|", (REPO / "docs/fidelity.md").read_text(), re.M))
    for check in all_checks():
        assert check.fidelity is None or check.fidelity in ids, check
    docs = provider_docs_dir()
    if docs is None:
        pytest.skip("the provider documents (../shared/reference/provider-docs) are not present")
    for check in all_checks():
        for name, first, last in re.findall(r"(\d{3}_[0-9a-f]{16}\.txt):(\d+)(?:-(\d+))?", check.source):
            lines = (docs / name).read_text(encoding="utf-8").splitlines()
            for number in {int(first), int(last or first)}:  # a range may hold blank lines, not its ends
                assert 1 <= number <= len(lines) and lines[number - 1].strip(), (check.id, name, number)


# ---------------------------------------------------------------- pac-mock report


def test_report_prints_the_summary_of_a_server_and_of_a_data_directory(tmp_path, capsys):
    import json

    import requests

    from mockserver.cli import main
    from mockserver.server import BackgroundServer
    from mockserver.settings import Settings

    with BackgroundServer(Settings(port=0, data_dir=tmp_path)) as server:
        body = sf_envelope(sf_fields(emailNotifica=None))
        requests.post(server.url + SF_PATH, data=body, timeout=30,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:cancelar"})
        assert main(["report", server.url]) == 0
        text = capsys.readouterr().out
        assert main(["report", server.url, "--json", "--fail-on-error"]) == 1
        as_json = json.loads(capsys.readouterr().out)
    assert "1 of 1 requests with findings (1 error, 0 warning, 1 info)" in text
    assert f"ERROR   sf.soapaction-wrong x1  [{CHECKS['sf.soapaction-wrong'].source}]" in text
    assert "INFO    sf.email-missing x1" in text
    assert [c["check"] for c in as_json["checks"]] == ["sf.soapaction-wrong", "sf.email-missing"]
    # The same from the data directory the server left behind, and nothing for another session.
    assert main(["report", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checks"] == as_json["checks"]
    assert main(["report", str(tmp_path), "--session", "nobody"]) == 0
    assert "no findings" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_the_scenarios_schema_offers_exactly_the_declared_checks_for_strict():
    from mockserver.scenarios import schema

    assert schema()["properties"]["strict"]["items"]["enum"] == [c.id for c in all_checks()]
