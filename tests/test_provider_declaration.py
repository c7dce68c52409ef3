"""A provider declares itself: a provider defined here, outside the package, registered in-process with
one line, is served, validated in scenarios, journaled with its secret blanked, and listed.

Nothing outside ``mockserver/providers/`` names it: everything below reads its declaration.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from mockserver import registry
from mockserver.app import create_app, runtime_of
from mockserver.background import Work
from mockserver.providers import Provider, all_providers, registered
from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.scenarios import check_file, load_text
from mockserver.settings import Settings
from mockserver.soap.service import Call, Operation, SoapService
from mockserver.testing.client import AdminClient, _check_names, known_operations
from mockserver.tls import server_names

NS = "urn:example:ping"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PIN = "4711-SECRET-PIN"

WSDL = f"""<?xml version="1.0" encoding="utf-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
             xmlns:tns="{NS}" targetNamespace="{NS}">
  <service name="Ping">
    <port name="PingPort" binding="tns:PingBinding">
      <soap:address location="http://localhost/ping/Ping"/>
    </port>
  </service>
</definitions>
"""

# The provider's one code: the pong.
PONG = 7
CODES = {PONG: "pong"}


def ping(call: Call) -> etree._Element:
    settings = call.ctx.scenarios.provider("ping")
    outcome = call.outcome
    code = outcome.code if outcome is not None and outcome.code is not None else PONG
    answer = etree.Element(f"{{{NS}}}pingResponse")
    etree.SubElement(answer, "code").text = str(code)
    etree.SubElement(answer, "greeting").text = settings.greeting
    call.summary["code"] = code
    return answer


@dataclass(frozen=True)
class PingSettings:
    greeting: str = "hola"


def read_settings(reader, base: tuple[str, ...], raw: dict) -> PingSettings:
    if raw.get("greeting") == "":
        reader.error((*base, "greeting"), "providers.ping.greeting: say something")
    return PingSettings(**{k: v for k, v in raw.items() if k == "greeting"})


def fields(payload: etree._Element) -> dict:
    return {"user": payload.findtext("user")}


HOST = "ping.example.test"
LATER = "ping-later"  # its timer: a pinged UUID is stamped (registered as vigente) an hour later
ROUNDS: list[str] = []  # what its background work did, round by round
WOKEN = threading.Event()


def install(runtime) -> None:
    def stamp(firing) -> None:
        registry.set_status(firing.conn, firing.session, firing.payload["uuid"], registry.VIGENTE,
                            at=firing.due_at, provider="ping")

    runtime.timers.register(LATER, stamp)


def background(runtime) -> list[Work]:
    def tidy() -> int:
        ROUNDS.append("tidy")
        WOKEN.set()
        return 0

    return [Work("ping-tidy", tidy, every=3600.0, after_timers=True)]


def ping_provider(tmp_path: Path) -> Provider:
    wsdl = tmp_path / "Ping.wsdl"
    wsdl.write_text(WSDL, encoding="utf-8")
    service = SoapService(provider="ping", name="Ping", wsdl_file=wsdl,
                          operations=[Operation("ping", NS, ping, fields)])
    return Provider(
        id="ping", title="Ping", services=[service],
        fields=frozenset({"user", "environment"}),
        settings_schema={"greeting": {"type": "string"}},
        settings=read_settings,
        secrets=frozenset({"pin"}),
        codes=CODES,
        code_meaning=lambda summary: (str(summary["code"]), "ok" if summary["code"] == PONG else "bad"),
        install=install,
        background=background,
        hosts=(HOST,),
        paths={"ping": "/ping/Ping", "ping_again": "/ping/Ping"},
        stamps=True,
    )


SCENARIOS = """\
version: 1
providers:
  ping:
    greeting: buenos días
    accounts:
      - user: ana
rules:
  - id: ping-ana
    provider: ping
    operation: ping
    match: {user: ana}
    outcome: {code: 42}
"""


def envelope(user: str) -> bytes:
    return (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><p:ping xmlns:p="{NS}"><user>{user}</user>'
            f"<pin>{PIN}</pin></p:ping></s:Body></s:Envelope>").encode()


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(SCENARIOS, encoding="utf-8")
    with registered(ping_provider(tmp_path)):
        app = create_app(Settings(memory=True, scenarios=path))
        try:
            yield app.test_client(), path
        finally:
            runtime_of(app).close()


def post(client, user: str) -> etree._Element:
    answer = client.post("/ping/Ping", data=envelope(user),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return etree.fromstring(answer.data).find(f".//{{{NS}}}pingResponse")


def test_the_registered_provider_is_served_with_its_settings_and_rules(served):
    client, _ = served
    by_rule = post(client, "ana")
    assert by_rule.findtext("code") == "42"  # the rule naming its operation and field applied
    assert by_rule.findtext("greeting") == "buenos días"  # its own setting, from the scenarios file
    assert post(client, "beto").findtext("code") == str(PONG)


def test_its_calls_are_journaled_with_the_declared_secret_blanked(served):
    client, _ = served
    post(client, "ana")
    entries = client.get("/__admin/requests?provider=ping").get_json()["requests"]
    assert [(e["provider"], e["operation"]) for e in entries] == [("ping", "ping")]
    assert entries[0]["summary"]["rules"][0]["id"] == "ping-ana"
    assert entries[0]["meaning"] == {"text": "42", "kind": "bad"}  # as the provider reads its code
    assert PIN not in entries[0]["request"]
    assert "<pin>***</pin>" in entries[0]["request"]


def test_it_is_listed_by_health_the_admin_api_and_the_test_client(served):
    client, _ = served
    health = client.get("/__admin/health").get_json()
    assert "ping" in [p["id"] for p in health["providers"]]
    declared = {p["id"]: p for p in client.get("/__admin/providers").get_json()["providers"]}
    assert declared["ping"]["operations"] == ["ping"]
    assert declared["ping"]["secrets"] == ["pin"]
    assert declared["ping"]["codes"] == [{"code": PONG, "message": "pong"}]
    assert known_operations()["ping"] == {"ping"}
    _check_names("ping", "ping")
    with pytest.raises(ValueError, match="unknown operation 'pong' for ping"):
        _check_names("ping", "pong")


def test_its_host_names_paths_and_stamps_come_from_its_declaration(served):
    client, _ = served
    assert HOST in server_names()  # the local TLS certificate names it
    pac_mock = AdminClient("http://sandbox.test", session="s1")
    assert pac_mock.service_url("ping_again") == "http://sandbox.test/__session/s1/ping/Ping"
    declared = {p["id"]: p for p in client.get("/__admin/providers").get_json()["providers"]}
    assert declared["ping"]["hosts"] == [HOST] and declared["ping"]["stamps"] is True
    assert "ping" in runtime_of(client.application).stampers


def test_its_timers_fire_when_a_context_is_made_and_its_work_runs_in_the_runner(served):
    client, _ = served
    rt = runtime_of(client.application)
    uuid = "5B7E4A10-0C39-4D52-8E61-3F2A9B8C7D64"
    start = rt.clock_for("t").now()
    with rt.store.tx() as conn:
        rt.timers.schedule(conn, "t", LATER, start + timedelta(hours=1), {"uuid": uuid})
    assert "ping-tidy" in rt.background.names() and rt.background.running() == []  # not started yet
    WOKEN.clear()
    answer = client.post("/__session/t/__admin/clock", json={"advance": "2h"})
    assert answer.status_code == 200, answer.get_json()
    with rt.store.read() as conn:  # the clock's move made the timer due, and it fired on return
        assert registry.stamped_since(conn, "t", [uuid], start, stampers=rt.stampers) == {uuid}
        assert registry.stamped_since(conn, "t", [uuid], start, stampers=()) == set()
    rt.start()
    assert WOKEN.wait(30)  # the runner ran the declared work
    assert "ping-tidy" in rt.background.running()
    rt.stop()
    assert rt.background.running() == []


def test_scenarios_are_checked_against_its_declaration(served, tmp_path):
    _, good = served
    assert check_file(good) == []
    settings = tmp_path / "settings.yaml"
    settings.write_text(SCENARIOS.replace("greeting:", "greting:"), encoding="utf-8")
    assert check_file(settings) == [
        f"{settings}:4: providers.ping.greting: unknown key 'greting' (allowed: accounts, environment, greeting)"]
    rule = tmp_path / "rule.yaml"
    rule.write_text(SCENARIOS.replace("operation: ping", "operation: pong")
                    .replace("match: {user: ana}", "match: {pin: '1'}"), encoding="utf-8")
    silent = tmp_path / "silent.yaml"
    silent.write_text(SCENARIOS.replace("greeting: buenos días", "greeting: ''"), encoding="utf-8")
    assert check_file(silent) == [f"{silent}:4: providers.ping.greeting: say something"]
    errors = check_file(rule)
    assert any(e.startswith(f"{rule}:10: rules[0].operation: unknown operation 'pong' for ping") for e in errors), errors
    assert any(e.startswith(f"{rule}:11: rules[0].match: unknown field 'pin'") for e in errors), errors


def test_its_settings_have_their_defaults_when_the_file_leaves_them_out(served):
    assert load_text("version: 1\nextends: none\n").provider("ping").greeting == "hola"


def test_outside_the_block_the_provider_is_gone(tmp_path):
    with registered(ping_provider(tmp_path)):
        assert "ping" in [p.id for p in all_providers()]
    assert "ping" not in [p.id for p in all_providers()]
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIOS, encoding="utf-8")
    assert any("providers.ping" in e or "'ping'" in e for e in check_file(path))


# ---- the fields each provider declares are the fields its readers fill ---------------------------


UUID = "6A3F1C2E-93B1-4C4E-9B1D-2F8E4D6C7A10"
# MYSuite reads some fields only for some transactions.
TRANSACTIONS = ("ASYNC_CONVERT_NATIVE_XML", "ASYNC_CONVERT_VERIFY")


def full_payload(operation: Operation, signed: bytes, transaction: str) -> etree._Element:
    """A request element holding every child any reader looks at, each with a readable value."""
    csd = fixture("csd_moral")
    cert = base64.b64encode(csd.certificate().der).decode()
    document = base64.b64encode(signed).decode()
    values = {
        # Solución Factible
        "usuario": "ana", "uuid": f"{UUID}|01|{UUID}", "uuids": f"{UUID}|01|", "rfcEmisor": csd.rfc,
        "emailNotifica": "a@example.com", "csdCer": cert, "derCertCSD": cert, "solicitud": document,
        "transactionId": "t-1",
        # Expide Tu Factura
        "token": "t", "xmlBytes": document,
        # MYSuite
        "Requestor": UUID, "Transaction": transaction, "Country": "MX", "Entity": csd.rfc, "User": UUID,
        "UserName": f"MX.{csd.rfc}.ana", "Data1": UUID, "Data2": "internal-1",
    }
    payload = etree.Element(operation.qname)
    for name, text in values.items():
        etree.SubElement(payload, f"{{{operation.namespace}}}{name}").text = text
    return payload


@pytest.mark.parametrize("provider", [p for p in all_providers() if p.fields], ids=lambda p: p.id)
def test_every_field_reader_fills_only_declared_fields(provider):
    csd = fixture("csd_moral")
    signed = sign_cancelacion(csd.certificate(), csd.private_key(), csd.rfc, [(UUID, "01", UUID)],
                              datetime(2026, 1, 10, 4, 0))
    filled: set[str] = set()
    for operation in (op for service in provider.services for op in service.operations):
        for transaction in TRANSACTIONS:
            payload = full_payload(operation, signed, transaction)
            found = operation.fields(operation.reader(payload) if operation.reader else payload)
            assert set(found) <= provider.fields, (operation.name, set(found) - provider.fields)
            filled |= {k for k, v in found.items() if v is not None}
    # And every declared field is one some reader fills (the dispatcher adds ``environment``).
    assert provider.fields - filled - {"environment"} == NOT_READ.get(provider.id, set())


# Declared, yet no request carries it: MYSuite's uuid (accepted for rules written for several providers).
NOT_READ = {"mysuite": {"uuid"}}


@pytest.mark.parametrize(("provider", "summary", "meaning"), [
    ("solucionfactible", {"code": 200}, ("200", "ok")),
    ("solucionfactible", {"code": 211}, ("211", "wait")),
    ("solucionfactible", {"code": 601}, ("601", "bad")),
    ("expidetufactura", {"code": "200", "estatus": {"201": 2}}, ("200", "ok")),
    ("expidetufactura", {"code": "200", "estatus": {"201": 1, "202": 1, "205": 1}}, ("200 (202, 205)", "wait")),
    ("expidetufactura", {"code": "301"}, ("301", "bad")),
    ("mysuite", {"code": 1, "result": True}, ("1", "ok")),
    ("mysuite", {"code": 1, "result": True, "status": 1}, ("1 · status 1", "wait")),
    ("mysuite", {"code": 1, "result": True, "status": 3}, ("1 · status 3", "bad")),
    ("mysuite", {"code": 1, "result": True, "status": 2}, ("1 · status 2", "ok")),
    ("mysuite", {"code": 3102, "result": False}, ("3102", "bad")),
])
def test_each_provider_says_what_its_codes_mean(provider, summary, meaning):
    declared = next(p for p in all_providers() if p.id == provider)
    assert declared.code_meaning(summary) == meaning
