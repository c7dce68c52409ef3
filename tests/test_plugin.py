"""The ``pac_mock`` pytest fixture, as a user's test suite sees it (it comes from the pytest11 entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime

import requests

from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.testing.plugin import PacMock

SF_PASSWORD = "timbrado.SF.16672"
UUID_211 = "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0"


def sf_status_query(transaction_id: str = UUID_211) -> str:
    return (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:getStatusCancelacionAsincrona>'
        f"<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>{SF_PASSWORD}</sf:password>"
        f"<sf:transactionId>{transaction_id}</sf:transactionId>"
        "</sf:getStatusCancelacionAsincrona></e:Body></e:Envelope>"
    )


def post_sf(mock: PacMock, body: str | None = None) -> requests.Response:
    return requests.post(
        mock.service_url("solucionfactible"),
        data=(body or sf_status_query()).encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:getStatusCancelacionAsincrona"},
        timeout=30,
    )


def test_fixture_gives_service_urls_inside_its_own_session(pac_mock):
    assert pac_mock.session and f"/__session/{pac_mock.session}" in pac_mock.url
    assert set(pac_mock.urls) >= {"solucionfactible", "expidetufactura", "mysuite"}
    assert all(url.startswith(pac_mock.url + "/") for url in pac_mock.urls.values())
    assert pac_mock.health()["session"] == pac_mock.session
    # The WSDL the session serves points back into the session.
    wsdl = requests.get(pac_mock.urls["mysuite"] + "?wsdl", timeout=30).text
    assert f'location="{pac_mock.urls["mysuite"]}"' in wsdl
    assert (pac_mock.fixtures / "csd_moral.cer").is_file()


def test_sessions_are_isolated(pac_mock):
    other = PacMock(pac_mock.root, session="other-" + uuid.uuid4().hex[:8], token=pac_mock.token)
    try:
        post_sf(pac_mock)
        post_sf(pac_mock)
        pac_mock.clock.freeze("2026-01-10T10:00:00")
        pac_mock.scenario({"version": 1, "rules": [{"id": "mine", "outcome": {"code": 500}}]})

        assert pac_mock.count() == 2
        assert other.count() == 0 and other.requests() == []
        assert other.clock.now()["mode"] != "frozen"
        assert other.call("GET", "scenarios")["overlay"] is None
        post_sf(other)
        assert (pac_mock.count(), other.count()) == (2, 1)
    finally:
        other.reset()


def test_journal_lists_and_counts_requests_newest_first_with_secrets_redacted(pac_mock):
    assert pac_mock.requests() == [] and pac_mock.count() == 0
    for transaction_id in (UUID_211, "38FB9AC9-DD3E-4601-B211-EB02C007C3BA"):
        assert post_sf(pac_mock, sf_status_query(transaction_id)).status_code == 200
    requests.post(pac_mock.service_url("expidetufactura"), data=b"<not-soap/>",
                  headers={"Content-Type": "text/xml"}, timeout=30)

    assert pac_mock.count() == 3
    assert pac_mock.count(provider="solucionfactible") == 2
    assert pac_mock.count(provider="solucionfactible", operation="getStatusCancelacionAsincrona") == 2
    assert pac_mock.count(provider="mysuite") == 0
    entries = pac_mock.requests(provider="solucionfactible")
    assert [e["operation"] for e in entries] == ["getStatusCancelacionAsincrona"] * 2
    assert entries[0]["id"] > entries[1]["id"]  # newest first
    assert "38FB9AC9-DD3E-4601-B211-EB02C007C3BA" in entries[0]["request"]
    assert all(SF_PASSWORD not in e["request"] for e in entries)
    assert len(pac_mock.requests(limit=1)) == 1


def test_clock_freeze_and_advance_drive_the_session_time(pac_mock):
    frozen = pac_mock.clock.freeze("2026-01-10T10:00:00")  # Mexico City time
    assert frozen["mode"] == "frozen"
    assert datetime.fromisoformat(frozen["now"]) == datetime.fromisoformat("2026-01-10T16:00:00+00:00")
    post_sf(pac_mock)
    assert pac_mock.requests()[0]["at"] == frozen["now"]  # the journal stamps requests with mock time

    advanced = pac_mock.clock.advance("72h")
    assert datetime.fromisoformat(advanced["now"]) == datetime.fromisoformat("2026-01-13T16:00:00+00:00")
    assert pac_mock.clock.now()["now"] == advanced["now"]  # frozen: it does not move by itself
    post_sf(pac_mock)
    assert pac_mock.requests()[0]["at"] == advanced["now"]

    assert pac_mock.clock.reset()["mode"] != "frozen"


def test_scenario_overlay_changes_answers_until_cleared(pac_mock):
    pac_mock.scenario(
        """
        version: 1
        rules:
          - id: sf-down-once
            provider: solucionfactible
            operation: getStatusCancelacionAsincrona
            times: 1
            outcome: {fault: {kind: http_status, status: 503, body: maintenance}}
        """
    )
    first, second = post_sf(pac_mock), post_sf(pac_mock)
    assert (first.status_code, first.text) == (503, "maintenance")
    assert second.status_code == 200
    assert pac_mock.requests()[-1]["summary"].get("injected") == "http_status"

    pac_mock.scenario({"version": 1, "rules": [{"id": "sf-fault", "provider": "solucionfactible",
                                                "outcome": {"fault": {"kind": "soap_fault",
                                                                      "faultstring": "sandbox says no"}}}]})
    faulted = post_sf(pac_mock)
    assert faulted.status_code == 500 and "sandbox says no" in faulted.text

    pac_mock.clear_scenario()
    assert pac_mock.call("GET", "scenarios")["overlay"] is None
    assert post_sf(pac_mock).status_code == 200


def test_reset_forgets_the_session(pac_mock):
    post_sf(pac_mock)
    pac_mock.scenario({"version": 1, "rules": [{"id": "r", "outcome": {"code": 500}}]})
    pac_mock.reset()
    assert pac_mock.count() == 0
    assert pac_mock.call("GET", "scenarios")["overlay"] is None


INNER_TESTS = '''
import pathlib, requests

def _touch(pac_mock, name):
    requests.post(pac_mock.service_url("solucionfactible"), data=b"<x/>", headers={"Content-Type": "text/xml"})
    assert pac_mock.count() == 1  # only this test's own request, whatever runs beside it
    pathlib.Path(OUT, name).write_text(pac_mock.root + " " + pac_mock.session)

def test_one(pac_mock):
    _touch(pac_mock, "one")

def test_two(pac_mock):
    _touch(pac_mock, "two")
'''


def _run_inner(tmp_path, env_extra: dict[str, str]) -> list[tuple[str, str]]:
    """Run a user's suite with two workers; the fixture must come from the entry point alone."""
    suite = tmp_path / "suite"
    out = tmp_path / "out"
    suite.mkdir(parents=True)
    out.mkdir()
    (suite / "test_user.py").write_text(f"OUT = {str(out)!r}\n" + textwrap.dedent(INNER_TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAC_MOCK_", "PYTEST_"))}
    env.update(env_extra)
    result = subprocess.run(
        # Unrelated plugins of this environment are left out: they only slow the start of each worker.
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:faker", "--rootdir", str(suite), str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    return [tuple((out / name).read_text().split(" ")) for name in ("one", "two")]


def test_a_users_suite_under_xdist_against_an_external_sandbox(tmp_path):
    """PAC_MOCK_URL: the fixture uses a sandbox that already runs (docker, a CI service). The in-process
    sandbox under xdist is what this file itself runs on."""
    with BackgroundServer(Settings(port=0, memory=True)) as external:
        ran = _run_inner(tmp_path, {"PAC_MOCK_URL": external.url})
        assert [root for root, _ in ran] == [external.url] * 2
        (_, one), (_, two) = ran
        assert one != two
        # Each test's session was reset when it ended.
        assert external.runtime.journal.count(one) == external.runtime.journal.count(two) == 0
