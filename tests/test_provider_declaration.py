"""A provider declares itself: a provider defined here, outside the package, registered in-process with
one line, is served, validated in scenarios, journaled with its secret blanked, and listed.

Nothing outside ``mockserver/providers/`` names it: everything below reads its declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from mockserver.app import create_app, runtime_of
from mockserver.providers import Provider, all_providers, registered
from mockserver.scenarios import check_file, load_text
from mockserver.settings import Settings
from mockserver.soap.service import Call, Operation, SoapService
from mockserver.testing.client import _check_names, known_operations

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
            runtime_of(app).store.close()


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
