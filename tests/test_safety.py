"""Bad or concurrent admin input keeps state whole: atomic clock moves, 4xx instead of 500, sessions
that cannot harm each other, overlays that reach nothing outside the scenarios folder."""

from __future__ import annotations

import base64
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from lxml import etree

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

from helpers import ServeProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``pac-mock serve --workers 2``: two processes sharing one SQLite file, as in production."""
    with ServeProcess(tmp_path_factory.mktemp("data"), "--workers", "2", "--threads", "4") as server:
        yield server.url


def _session_url(base: str) -> str:
    return f"{base}/__session/safety-{uuid.uuid4().hex[:8]}"


# ---- The clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "running"])
def test_fifty_parallel_advances_move_the_clock_fifty_hours(served, frozen):
    base = _session_url(served)
    start = requests.post(base + "/__admin/clock", json={"freeze": "2026-01-10T10:00:00"} if frozen
                          else {"offset": "0s"}, timeout=30).json()

    def advance(_):
        return requests.post(base + "/__admin/clock", json={"advance": "1h"}, timeout=60).status_code

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(advance, range(50))) == {200}
    clock = requests.get(base + "/__admin/clock", timeout=30).json()
    if frozen:
        moved = datetime.fromisoformat(clock["frozen_at"]) - datetime.fromisoformat(start["frozen_at"])
        assert moved.total_seconds() == 50 * 3600
    else:
        assert clock["offset_seconds"] - start["offset_seconds"] == 50 * 3600


# ---- Bad input gets its code, never a 500 -------------------------------------------------------

DS = "http://www.w3.org/2000/09/xmldsig#"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
SIGNED_AT = datetime(2026, 1, 10, 4, 0)


def _tampered(element: str, value: str) -> bytes:
    """A signed Cancelacion whose ``element`` (of the signature) holds ``value`` instead."""
    info = fixture("csd_moral")
    cert = info.certificate()
    root = etree.fromstring(sign_cancelacion(cert, info.private_key(), cert.rfc, [str(uuid.uuid4()).upper()],
                                             SIGNED_AT))
    root.find(f".//{{{DS}}}{element}").text = value
    return etree.tostring(root)


BAD_SIGNATURE_PARTS = [("SignatureValue", ""), ("SignatureValue", "!!not base64!!"), ("SignatureValue", "a"),
                       ("DigestValue", "a"), ("DigestValue", "1e5")]


@pytest.mark.parametrize(("element", "value"), BAD_SIGNATURE_PARTS)
def test_expide_tu_factura_answers_302_for_a_broken_signature_value(sandbox, element, value):
    sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:05:00"})
    body = (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
            "<usuario>pruebas</usuario><token>123456</token>"
            f"<xmlBytes>{base64.b64encode(_tampered(element, value)).decode()}</xmlBytes>"
            "</x:cancelar></s:Body></s:Envelope>")
    response = sandbox.post_soap("/cancelacion/CancelacionPruebas", body)
    assert response.status_code == 200, response.text
    assert etree.fromstring(response.content).findtext(".//codEstatus") == "302"


@pytest.mark.parametrize("operation", ["enviarSolicitudCancelacion", "enviarSolicitudCancelacionAsincrono"])
@pytest.mark.parametrize(("element", "value"), BAD_SIGNATURE_PARTS)
def test_solucion_factible_answers_302_for_a_broken_signature_value(sandbox, operation, element, value):
    sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:05:00"})
    body = (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><sf:{operation} xmlns:sf="{SF_NS}">'
            "<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>timbrado.SF.16672</sf:password>"
            f"<sf:solicitud>{base64.b64encode(_tampered(element, value)).decode()}</sf:solicitud>"
            f"</sf:{operation}></s:Body></s:Envelope>")
    response = sandbox.post_soap("/ws/services/Cancelacion", body, action=f"urn:{operation}")
    assert response.status_code == 200, response.text
    assert etree.fromstring(response.content).findtext(".//{*}status") == "302"


DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000



@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        ("PUT", "scenarios", DEEP_JSON, "application/json"),
        ("PUT", "scenarios", DEEP_OBJECT, "application/json"),
        ("PUT", "scenarios", DEEP_JSON, "application/yaml"),
        ("PUT", "scenarios", "{a: " * 50_000 + "1" + "}" * 50_000, "application/yaml"),
        ("PUT", "scenarios", "- " * 20_000 + "1", "application/yaml"),
        ("POST", "clock", DEEP_OBJECT, "application/json"),
        ("POST", "reset", DEEP_JSON, "application/json"),
        ("POST", "reset", DEEP_OBJECT, "application/json"),
    ],
    ids=["json-list", "json-object", "yaml-flow-list", "yaml-flow-map", "yaml-block", "clock", "reset-list",
         "reset-object"],
)
def test_deeply_nested_admin_bodies_are_400(sandbox, method, path, body, content_type):
    response = sandbox.admin(method, path, data=body.encode(), headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"] == "bad request"
    assert sandbox.admin("GET", "scenarios").json()["overlay"] is None


@pytest.mark.parametrize("body", [
    {"advance": "9999999999999999h"}, {"advance": 1e308}, {"advance": -1e20}, {"freeze": "9999-12-31T23:59:59"},
    {"freeze": "0001-01-01T00:00:00"}, {"offset": "-3000000d"},
], ids=["advance-huge", "advance-float", "advance-negative", "freeze-9999", "freeze-year-1", "offset"])
def test_a_clock_out_of_range_is_400_and_leaves_the_clock_alone(sandbox, body):
    sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:00:00"})
    response = sandbox.admin("POST", "clock", json=body)
    assert response.status_code == 400, response.text[:300]
    assert sandbox.admin("GET", "clock").json()["frozen_at"].startswith("2026-01-10T16:00:00")
    answer = sandbox.post_soap("/cancelacion/CancelacionPruebas",
                               f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
                               "<usuario>pruebas</usuario><token>123456</token></x:cancelar></s:Body></s:Envelope>")
    assert answer.status_code == 200, answer.text


def test_an_infinite_offset_is_400(sandbox):
    response = sandbox.admin("POST", "clock", data=b'{"offset": Infinity}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]


# ---- Sessions cannot harm each other ------------------------------------------------------------


def _download_link(sandbox) -> str:
    from test_mysuite import accept, advance, freeze, links

    from mockserver.testing.mysuite import native_document

    freeze(sandbox)
    guid = accept(sandbox, base64.b64encode(native_document("1.1MB")).decode(), "LINK-" + uuid.uuid4().hex[:6])
    advance(sandbox, "1m")
    return links(sandbox, guid)[0]


def test_resetting_another_session_keeps_this_sessions_links_working(server, sandbox):
    link = _download_link(sandbox)
    assert requests.get(link, timeout=30).status_code == 200
    # The default session alone, then another named session.
    assert requests.post(server.url + "/__admin/reset", json={"session": ""}, timeout=30).ok
    assert requests.post(server.url + "/__session/someone-else/__admin/reset", timeout=30).ok
    got = requests.get(link, timeout=30)
    assert got.status_code == 200, got.text
    assert got.content[:2] == b"PK"


def test_after_its_own_reset_a_link_is_gone_not_forged(sandbox):
    link = _download_link(sandbox)
    assert sandbox.admin("POST", "reset").ok
    sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:02:00"})
    assert requests.get(link, timeout=30).status_code == 404  # the job is gone; the link was genuine


# ---- What an overlay can reach ------------------------------------------------------------------

XPD_ENVELOPE = (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
                "<usuario>pruebas</usuario><token>123456</token><xmlBytes>{}</xmlBytes></x:cancelar>"
                "</s:Body></s:Envelope>")


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory):
    """A server whose scenarios file sits in its own folder, with a CA file and a large file beside it."""
    from mockserver.sat.pki import packaged_dir
    from mockserver.server import BackgroundServer
    from mockserver.settings import Settings

    folder = tmp_path_factory.mktemp("scenarios")
    from mockserver.scenarios import default_path

    (folder / "scenarios.yaml").write_text(default_path().read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "ca.cer").write_bytes((packaged_dir() / "ac_uat.cer").read_bytes())
    (folder / "big.cer").write_bytes(b"0" * (2 * 1024 * 1024))
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.cer").write_bytes((packaged_dir() / "ac_uat.cer").read_bytes())
    (folder / "link.cer").symlink_to(outside / "secret.cer")
    with BackgroundServer(Settings(port=0, memory=True, scenarios=folder / "scenarios.yaml")) as srv:
        yield srv, folder, outside


def _put_overlay(base: str, text: str) -> requests.Response:
    return requests.put(base + "/__admin/scenarios", data=text, headers={"Content-Type": "application/yaml"},
                        timeout=30)


def _xpd_code(base: str) -> str:
    requests.post(base + "/__admin/clock", json={"freeze": "2026-01-10T10:05:00"}, timeout=30)
    info = fixture("csd_moral")
    cert = info.certificate()
    xml = sign_cancelacion(cert, info.private_key(), cert.rfc, [str(uuid.uuid4()).upper()], SIGNED_AT)
    answer = requests.post(base + "/cancelacion/CancelacionPruebas", timeout=30,
                           data=XPD_ENVELOPE.format(base64.b64encode(xml).decode()),
                           headers={"Content-Type": "text/xml; charset=utf-8"})
    return etree.fromstring(answer.content).findtext(".//codEstatus")


def test_an_overlay_cannot_name_files_outside_the_scenarios_folder(folder_server):
    srv, _folder, outside = folder_server
    base = _session_url(srv.url)
    answers = {}
    for name in ("/etc/passwd", "/no/such/file.cer", str(outside / "secret.cer"), "../outside/secret.cer",
                 "link.cer"):
        response = _put_overlay(base, f"version: 1\ntrust:\n  ca_files: [{json_quote(name)}]\n")
        assert response.status_code == 400, (name, response.text)
        answers[name] = response.json()["errors"][0].replace(json_quote(name), "NAME").replace(name, "NAME")
    # One answer whether the file exists or not: no way to probe the server's files.
    assert len(set(answers.values())) == 1, answers
    assert "not found" not in next(iter(answers.values()))
    assert requests.get(base + "/__admin/scenarios", timeout=30).json()["overlay"] is None


def test_an_overlay_may_name_a_certificate_in_the_folder_or_inline_pem(folder_server):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from mockserver.sat.pki import packaged_dir

    srv, _folder, _outside = folder_server
    base = _session_url(srv.url)
    untrusting = "version: 1\ntrust: {fixture_ca: false, accept_sat_issuers: false}\n"
    assert _put_overlay(base, untrusting).status_code == 200
    assert _xpd_code(base) == "308"  # nothing trusted: the CSD's issuer is unknown
    in_folder = "version: 1\ntrust: {fixture_ca: false, accept_sat_issuers: false, ca_files: [ca.cer]}\n"
    assert _put_overlay(base, in_folder).status_code == 200, _put_overlay(base, in_folder).text
    assert _xpd_code(base) == "200"
    pem = x509.load_der_x509_certificate((packaged_dir() / "ac_uat.cer").read_bytes()).public_bytes(Encoding.PEM)
    inline = {"version": 1, "trust": {"fixture_ca": False, "accept_sat_issuers": False,
                                      "ca_files": [pem.decode()]}}
    assert requests.put(base + "/__admin/scenarios", json=inline, timeout=30).status_code == 200
    assert _xpd_code(base) == "200"


def test_an_overlay_cannot_make_the_server_read_a_large_file(folder_server):
    srv, _folder, _outside = folder_server
    base = _session_url(srv.url)
    response = _put_overlay(base, "version: 1\ntrust:\n  ca_files: [big.cer]\n")
    assert response.status_code == 400
    assert "1 MB" in response.json()["errors"][0]


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)


CATASTROPHIC = "version: 1\nrules:\n  - id: backtrack\n    provider: solucionfactible\n" \
               "    match: {{user: {{regex: '^(a+)+$'}}}}\n    outcome: {{fault: {{kind: http_status, status: 418}}}}\n"
N_A = int(os.environ.get("PAC_MOCK_BACKTRACK_N", "60"))  # 2**60 steps for a backtracking engine


def test_a_rule_regex_cannot_stall_the_server(sandbox):
    assert _put_overlay(sandbox.url, CATASTROPHIC.format()).status_code == 200
    body = (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><sf:getStatusCancelacionAsincrona xmlns:sf="{SF_NS}">'
            f"<sf:usuario>{'a' * N_A}!</sf:usuario><sf:password>x</sf:password>"
            "<sf:transactionId>C5E58106-6C1E-41C9-A211-FB8BAD1CABB0</sf:transactionId>"
            "</sf:getStatusCancelacionAsincrona></s:Body></s:Envelope>")
    # A backtracking engine would take years on this value; the answer (no rule applies) comes back.
    answer = sandbox.post_soap("/ws/services/Cancelacion", body, action="urn:getStatusCancelacionAsincrona")
    assert answer.status_code == 200
    body = body.replace(f"{'a' * N_A}!", "a" * N_A)
    answer = sandbox.post_soap("/ws/services/Cancelacion", body, action="urn:getStatusCancelacionAsincrona")
    assert answer.status_code == 418  # and the rule still works


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!a)b"])
def test_rule_regexes_outside_the_linear_time_dialect_are_refused(sandbox, pattern):
    text = CATASTROPHIC.format().replace("^(a+)+$", pattern)
    response = _put_overlay(sandbox.url, text)
    assert response.status_code == 400, response.text
    assert "bad regular expression" in response.json()["errors"][0]


# ---- Session ids ----------------------------------------------------------------------------------


def _raw(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """A request with its path exactly as written (clients would fold ``.`` and ``..`` away)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("session_id", [".", "..", "a" * 65, "bad%20id"])
def test_invalid_session_ids_are_refused(server, session_id):
    for method, path in (("GET", "/__admin/health"), ("POST", "/__admin/reset"),
                         ("POST", "/ws/services/Cancelacion")):
        status, body = _raw(server.url, method, f"/__session/{session_id}{path}", b"")
        assert status == 404, (session_id, path, status, body[:200])
        assert b"session id" in body


@pytest.mark.parametrize("value", ["..", ".", "a/b", 5, ["x"], {"a": 1}])
def test_reset_names_only_valid_sessions(server, value):
    response = requests.post(server.url + "/__admin/reset", json={"session": value}, timeout=30)
    assert response.status_code == 400, response.text
    assert "session id" in response.json()["message"]
    query = requests.post(server.url + "/__admin/reset", params={"session": ".."}, timeout=30)
    assert query.status_code == 400


def test_valid_session_ids_still_work(server):
    for session_id in ("a", "test-42", "x.y", "under_score", "a" * 64, "..a", "a.."):
        status, _ = _raw(server.url, "GET", f"/__session/{session_id}/__admin/health")
        assert status == 200, session_id


# ---- What health tells without the token ----------------------------------------------------------

TOKEN = "safety-token-4711"


@pytest.mark.parametrize("token", [TOKEN, None], ids=["token-set", "no-token"])
def test_health_shows_no_path_and_no_reload_error_text_without_the_token(tmp_path, token):
    from mockserver.scenarios import default_path
    from mockserver.server import BackgroundServer
    from mockserver.settings import Settings

    path = tmp_path / "private-folder" / "scenarios.yaml"
    path.parent.mkdir()
    original = default_path().read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    with BackgroundServer(Settings(port=0, memory=True, scenarios=path, admin_token=token)) as srv:
        srv.runtime.scenarios.check_every = 0
        path.write_text(original.replace("seed:", "seed: [offending-value-91]\nold_seed:", 1), encoding="utf-8")
        time.sleep(0.01)
        health = requests.get(srv.url + "/__admin/health", timeout=10)
        assert health.status_code == 200
        data = health.json()
        assert data["status"] == "ok" and data["providers"] and data["version"]
        assert data["scenarios"]["reload_failed"] is True  # what a health check needs
        for leak in ("private-folder", "offending-value-91", str(tmp_path)):
            assert leak not in health.text
        if token:
            full = requests.get(srv.url + "/__admin/health", headers={"X-Admin-Token": token}, timeout=10).json()
            assert full["scenarios"]["path"] == str(path) and "offending-value-91" in full["scenarios"]["error"]
        else:  # the open admin API has the details
            file = requests.get(srv.url + "/__admin/scenarios", timeout=10).json()["file"]
            assert file["path"] == str(path) and "offending-value-91" in file["error"]


@pytest.mark.parametrize("body", [b"\x00", b"version: 1\x10\n", b'{"version": 1, "trust": {"ca_files": ["a\\u0000b"]}}',
                                  b'{"version": 1, "trust": {"ca_files": ["\\u0000"]}}'],
                         ids=["nul", "control", "nul-in-ca-path", "nul-ca-path"])
def test_overlays_with_control_characters_are_400(sandbox, body):
    content_type = "application/json" if body.startswith(b"{") else "application/yaml"
    response = sandbox.admin("PUT", "scenarios", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text[:300]


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)) + "rules: [{id: x, provider: mysuite, outcome: {code: 1}, extra: *i}]\n"


@pytest.mark.parametrize("body", ["[" * 100_000, BILLION_LAUGHS], ids=["deep", "aliases"])
def test_rules_added_to_an_overlay_are_read_safely(sandbox, body):
    response = sandbox.admin("PATCH", "scenarios", data=body.encode(), headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400, response.text[:300]
    assert sandbox.admin("GET", "scenarios").json()["overlay"] is None
