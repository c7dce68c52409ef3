"""``pac_mock.conformance()`` and the ``--pac-mock-strict`` option (and ini setting), as a user's suite
sees them: pytester runs a small suite whose client makes an ``error`` mistake in one test only."""

from __future__ import annotations

import requests

pytest_plugins = ["pytester"]

SUITE = '''
import requests

def status_query(action):
    body = (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:getStatusCancelacionAsincrona>'
        "<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>timbrado.SF.16672</sf:password>"
        "<sf:transactionId>C5E58106-6C1E-41C9-A211-FB8BAD1CABB0</sf:transactionId>"
        "</sf:getStatusCancelacionAsincrona></e:Body></e:Envelope>"
    )
    return body.encode(), {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}

def test_wrong_soapaction(pac_mock):
    body, headers = status_query("urn:cancelar")
    assert requests.post(pac_mock.service_url("solucionfactible"), data=body, headers=headers).status_code == 200

def test_correct_client(pac_mock):
    body, headers = status_query("urn:getStatusCancelacionAsincrona")
    assert requests.post(pac_mock.service_url("solucionfactible"), data=body, headers=headers).status_code == 200
    assert pac_mock.conformance() == []
'''


def test_strict_option_fails_only_the_test_with_an_error_finding(pytester):
    pytester.makepyfile(test_client=SUITE)
    result = pytester.runpytest_subprocess("--pac-mock-strict", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*conformance error(s)*",
        "*sf.soapaction-wrong [[]000_dc309966f5a8eca7.txt:13, Cancelacion.wsdl*]*urn:cancelar*",
        "FAILED test_client.py::test_wrong_soapaction*",
    ])
    assert "test_correct_client FAILED" not in result.stdout.str()


def test_strict_ini_setting_and_without_it_nothing_fails(pytester):
    pytester.makepyfile(test_client=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    pytester.makeini("[pytest]\npac_mock_strict = true\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_conformance_lists_the_sessions_findings_oldest_first(pac_mock):
    url = pac_mock.service_url("solucionfactible")
    body = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:getStatusCancelacionAsincrona>'
        b"<sf:password>timbrado.SF.16672</sf:password><sf:usuario>testing@solucionfactible.com</sf:usuario>"
        b"<sf:transactionId>c5e58106-6c1e-41c9-a211-fb8bad1cabb0</sf:transactionId>"
        b"</sf:getStatusCancelacionAsincrona></e:Body></e:Envelope>"
    )
    requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    found = pac_mock.conformance()
    assert [f["check"] for f in found] == ["sf.soapaction-missing", "sf.children-order", "sf.uuid-lower-case"]
    assert {f["request"] for f in found} == {pac_mock.last()["id"]}
    assert [f["check"] for f in pac_mock.conformance("error")] == ["sf.children-order"]
    summary = pac_mock.conformance_summary()
    assert summary["requests"] == 1 and summary["severities"] == {"error": 1, "warning": 2, "info": 0}
