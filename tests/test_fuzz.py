"""Property-based fuzzing of every SOAP endpoint and the admin API.

Whatever arrives, the answer is a proper SOAP response or fault (or a clear HTTP error for non-SOAP
routes): never a stack trace, never an HTML error page, and the sandbox stays healthy. CI runs a few
hundred cases per target; ``PAC_MOCK_LONG=1`` runs thousands.
"""

from __future__ import annotations

import base64
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from mockserver.app import create_app
from mockserver.settings import Settings
from mockserver.soap.envelope import SOAP11_NS, SOAP12_NS

LONG = os.environ.get("PAC_MOCK_LONG") == "1"
EXAMPLES = 3000 if LONG else 150
CASES: dict[str, int] = {}

SF = "http://ws.cfdi.solucionfactible.com"
TARGETS = {
    "sf-cancelarAsincrono": ("/ws/services/Cancelacion", SF, "cancelarAsincrono",
                             ["usuario", "password", "uuid", "rfcEmisor", "emailNotifica", "csdCer", "csdKey",
                              "csdPassword"], True),
    "sf-getStatus": ("/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/", SF,
                     "getStatusCancelacionAsincrona", ["usuario", "password", "transactionId"], True),
    "sf-enviarSolicitud": ("/ws/services/Cancelacion", SF, "enviarSolicitudCancelacion",
                           ["usuario", "password", "solicitud"], True),
    "xpd-cancelar": ("/cancelacion/CancelacionPruebas", "http://service.xpd.mx/", "cancelar",
                     ["usuario", "token", "xmlBytes"], False),
    "mysuite-RequestTransaction": ("/mx.com.fact.wsfront/factwsfront.asmx", "http://www.fact.com.mx/schema/ws",
                                   "RequestTransaction",
                                   ["Requestor", "Transaction", "Country", "Entity", "User", "UserName", "Data1",
                                    "Data2", "Data3"], True),
}
VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "true", "null", "E329DD15-7D0B-44E9-A204-51A7443D1FBE",
                     "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0|02|", "0c320b03-d4f1-47bc-9fb4-77995f9bf33e",
                     "ASYNC_CONVERT_NATIVE_XML", "ASYNC_CONVERT_VERIFY", "ASYNC_RETRIEVE_DOCUMENT", "TIMBRAR",
                     "testing@solucionfactible.com", "timbrado.SF.16672", "pruebas", "123456", "JES900109Q90",
                     "MX.JES900109Q90.Juan", "!!!not-base64!!!", base64.b64encode(b"<Cancelacion/>").decode(),
                     base64.b64encode(b"\x00\xff" * 10).decode(), "<![CDATA[x]]>", "&amp;&lt;"]),
)


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(memory=True))
    return app.test_client()


def _escape(text: str) -> str:
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 0x20 and ord(ch) not in (0xFFFE, 0xFFFF))) \
        .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def envelopes(draw, target: str):
    path, ns, op, fields, two_versions = TARGETS[target]
    version = draw(st.sampled_from(["1.1", "1.2"] if two_versions else ["1.1", "1.1", "1.2"]))
    env_ns = SOAP11_NS if version == "1.1" else SOAP12_NS
    qualified = ns != "http://service.xpd.mx/"
    children = []
    for name in fields:
        action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "twice", "nil", "child"]))
        if action == "drop":
            continue
        tag = f"p:{name}" if qualified else name
        value = _escape(draw(VALUES))
        if action == "nil":
            children.append(f'<{tag} xsi:nil="true"/>')
            continue
        if action == "child":
            value = f"<p:inner>{value}</p:inner>"
        children.append(f"<{tag}>{value}</{tag}>" * (2 if action == "twice" else 1))
    if draw(st.booleans()):
        children.append(f"<extra{draw(st.integers(0, 9))}>{_escape(draw(VALUES))}</extra{0}>".replace("{0}", ""))
    children_xml = "".join(children)
    prefix = draw(st.sampled_from(["soapenv", "s", "SOAP-ENV", "e"]))
    body = (f'<{prefix}:Envelope xmlns:{prefix}="{env_ns}" xmlns:p="{ns}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><{prefix}:Body>'
            f"<p:{op}>{children_xml}</p:{op}></{prefix}:Body></{prefix}:Envelope>")
    data = body.encode()
    mutation = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip", "utf16", "swap-version", "garbage"]))
    content_type = "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"
    if mutation == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "flip":
        pos = draw(st.integers(0, len(data) - 1))
        data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1:]
    elif mutation == "utf16":
        data = ('<?xml version="1.0" encoding="utf-16"?>' + body).encode("utf-16")
    elif mutation == "swap-version":
        content_type = "application/soap+xml" if version == "1.1" else "text/xml"
    elif mutation == "garbage":
        data = draw(st.binary(max_size=200))
        content_type = draw(st.sampled_from([content_type, "application/json", "", "text/plain"]))
    return path, data, content_type


def _check_soap_answer(response, target: str) -> None:
    assert response.status_code in (200, 400, 404, 405, 413, 415, 500, 503), response.status_code
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<!doctype html" not in text.lower()
    if response.status_code >= 500 or response.status_code == 400:
        root = etree.fromstring(response.get_data())
        assert etree.QName(root).localname == "Envelope", target
        assert root.find("{*}Body/{*}Fault") is not None, text[:500]
        assert "Internal error" not in text, text[:500]  # an unexpected exception reached the dispatcher
    elif response.status_code == 200:
        etree.fromstring(response.get_data())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_soap_endpoints_answer_every_mutation_cleanly(client, target):
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not LONG,
              database=None)
    @given(case=envelopes(target))
    def run(case):
        path, data, content_type = case
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post(path, data=data, headers=headers)
        CASES[target] = CASES.get(target, 0) + 1
        _check_soap_answer(response, target)

    run()
    assert client.get("/__admin/health").json["status"] == "ok"


ADMIN_CALLS = st.tuples(
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.sampled_from(["health", "reset", "requests", "requests/count", "clock", "scenarios", "timers",
                     "timers/fire", "registry", "jobs", "mail", "mail/wait", "nothing"]),
    st.dictionaries(st.sampled_from(["limit", "provider", "operation", "count", "timeout", "bodies", "to", "uuid"]),
                    st.sampled_from(["-1", "0", "abc", "5", "99999999999", "", "0.01"]), max_size=3),
    st.one_of(st.none(), st.binary(max_size=80),
              st.sampled_from([b"{}", b"[]", b'{"advance": "x"}', b'{"freeze": "2026-13-45"}',
                               b'{"advance": "1h"}', b'{"freeze": 1}', b"rules: [1]", b"providers: {x: {}}",
                               b'{"session": 5}', b"null", b'{"offset": "-2h"}', b'{"reset": true}'])),
    st.sampled_from(["application/json", "application/yaml", "text/plain", ""]),
)


def test_admin_api_answers_every_call_with_json_or_a_clear_error(client):
    @settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=not LONG, database=None)
    @given(call=ADMIN_CALLS)
    def run(call):
        method, path, query, body, content_type = call
        if path == "mail/wait":
            query = {**query, "timeout": "0"}
        headers = {"Content-Type": content_type} if content_type else {}
        session = f"/__session/fuzz{random.randint(0, 3)}"
        response = client.open(f"{session}/__admin/{path}", method=method, query_string=query, data=body,
                               headers=headers)
        CASES["admin"] = CASES.get("admin", 0) + 1
        assert response.status_code < 500, (method, path, query, body, response.get_data(as_text=True)[:300])
        if path != "" and response.status_code != 405:
            assert response.is_json, (method, path, response.get_data(as_text=True)[:200])

    run()


def test_report_fuzz_case_counts(capsys):
    total = sum(CASES.values())
    with capsys.disabled():
        print(f"\nfuzz cases run: {total} ({', '.join(f'{k}={v}' for k, v in sorted(CASES.items()))})")
    assert total == 0 or total >= EXAMPLES  # nothing when run alone; all of it after the fuzz tests
