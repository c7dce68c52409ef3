"""The fixture's scenarios (environment, ini option, marker), its signer on the mock clock, name checks,
and the journal a failing test's report shows."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
import uuid as uuid_module
from datetime import datetime

import pytest
import requests

XPD_ENVELOPE = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
    '<x:cancelar xmlns:x="http://service.xpd.mx/"><usuario>pruebas</usuario><token>123456</token>'
    "<xmlBytes>{xml}</xmlBytes></x:cancelar></e:Body></e:Envelope>"
)


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def test_sign_cancelacion_signs_at_the_sessions_mock_time(pac_mock):
    pac_mock.clock.freeze("2026-03-02T09:30:00")
    uuid = new_uuid()
    xml = pac_mock.sign_cancelacion([uuid], motivo="02", cer="csd_moral")
    assert b'Fecha="2026-03-02T09:30:00"' in xml and b"MOC900101AB1" in xml
    body = XPD_ENVELOPE.format(xml=base64.b64encode(xml).decode())
    answer = requests.post(pac_mock.urls["expidetufactura"], data=body.encode(), timeout=30,
                           headers={"Content-Type": "text/xml; charset=utf-8"})
    assert "<codEstatus>200</codEstatus>" in answer.text
    assert pac_mock.registry_status(uuid) == "cancelado"
    # Signed by the wall clock instead, the same request is outside the frozen session's window.
    late = pac_mock.sign_cancelacion(new_uuid(), fecha=datetime(2026, 3, 9, 9, 30))
    body = XPD_ENVELOPE.format(xml=base64.b64encode(late).decode())
    answer = requests.post(pac_mock.urls["expidetufactura"], data=body.encode(), timeout=30,
                           headers={"Content-Type": "text/xml; charset=utf-8"})
    assert "<codEstatus>401</codEstatus>" in answer.text


def test_count_and_requests_reject_unknown_names(pac_mock):
    with pytest.raises(ValueError, match="unknown provider 'solucionfactibel'; valid: solucionfactible, "
                                         "expidetufactura, mysuite"):
        pac_mock.count("solucionfactibel")
    with pytest.raises(ValueError, match=r"unknown operation 'cancelarAsync' for solucionfactible; valid: .*"
                                         r"cancelarAsincrono"):
        pac_mock.requests("solucionfactible", "cancelarAsync")
    with pytest.raises(ValueError, match="ASYNC_CONVERT_NATIVE_XML"):
        pac_mock.count("mysuite", "ASYNC_CONVERT")
    assert pac_mock.count("mysuite", "ASYNC_CONVERT_VERIFY") == 0
    assert pac_mock.count(operation="cancelar") == 0


def test_native_document_helper(pac_mock):
    from mockserver.providers.mysuite.documents import read_native

    document = pac_mock.mysuite.native_document("1.2MB", folio="77")
    assert 1_195_000 < len(document) < 1_205_000
    assert read_native(document, entity="JES900109Q90").version == "8"


INNER = '''
import pytest, requests

XPD = "/cancelacion/CancelacionPruebas"

def accounts(pac_mock):
    return pac_mock.call("GET", "scenarios")["summary"]["accounts"]["expidetufactura"]

def test_base_from_ini_builds_on_the_defaults(pac_mock):
    assert accounts(pac_mock)[:1] == ["pruebas"] and EXPECTED_USER in accounts(pac_mock)

@pytest.mark.pac_mock_scenarios("extra.yaml")
def test_marker_file(pac_mock):
    assert [r["id"] for r in pac_mock.rules()][:1] == ["from-marker"]

@pytest.mark.pac_mock_scenarios({"rules": [{"id": "inline", "provider": "expidetufactura",
                                            "outcome": {"code": 310}}]})
def test_marker_dict_and_a_failure_shows_the_journal(pac_mock):
    requests.post(pac_mock.urls["expidetufactura"], data=b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body><x:cancelar xmlns:x='http://service.xpd.mx/'><usuario>pruebas</usuario><token>123456</token><xmlBytes>PHg+PC94Pg==</xmlBytes></x:cancelar></e:Body></e:Envelope>",
                  headers={"Content-Type": "text/xml"}, timeout=30)
    assert pac_mock.count() == 99, "deliberate failure"
'''


def run_inner(tmp_path, expected_user: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\npac_mock_scenarios = config/base.yaml\n")
    (suite / "config").mkdir()
    (suite / "config" / "base.yaml").write_text(
        "version: 1\nproviders:\n  expidetufactura:\n    accounts: [{user: from-ini, password: x}]\n")
    (suite / "other.yaml").write_text(
        "version: 1\nproviders:\n  expidetufactura:\n    accounts: [{user: from-env, password: x}]\n")
    (suite / "extra.yaml").write_text("rules:\n  - {id: from-marker, provider: mysuite, outcome: {code: 1}}\n")
    (suite / "test_user.py").write_text(f"EXPECTED_USER = {expected_user!r}\n" + textwrap.dedent(INNER))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAC_MOCK_", "PYTEST_"))}
    env.update({k: v.replace("@SUITE@", str(suite)) for k, v in env_extra.items()})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:faker", "-rN", str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_users_suite_takes_its_scenarios_from_the_ini_and_markers(tmp_path):
    result = run_inner(tmp_path, "from-ini", {})
    out = result.stdout
    assert "1 failed, 2 passed" in out, out + result.stderr
    assert "deliberate failure" in out
    journal = out.split("pac-mock journal (session ")[1]
    # The request's document is no signed Cancelacion: 301 before the marker's rule could apply.
    assert "expidetufactura cancelar HTTP 200 code=301" in journal
    assert "rules=[inline: not reached: the call was answered before rules apply]" in journal


def test_the_environment_wins_over_the_ini(tmp_path):
    result = run_inner(tmp_path, "from-env", {"PAC_MOCK_SCENARIOS": "@SUITE@/other.yaml"})
    assert "1 failed, 2 passed" in result.stdout, result.stdout + result.stderr
