"""SAT's one verdict on a UUID, seen on the wire of both cancelling providers.

Solución Factible and Expide Tu Factura used to decide "what SAT knows about a UUID" each their own
way; now both map ``sat.verdict.verdict``. Where the two old precedences differed, these tests pin the
one kept (the provider documents do not order the per-UUID checks; see ``sat.verdict.verdict``).
"""

from __future__ import annotations

import base64
import uuid as uuid_module
from datetime import datetime, timedelta

import pytest
from lxml import etree

from mockserver import registry
from mockserver.sat import sign_cancelacion
from mockserver.sat import verdict as sat_verdict
from mockserver.sat.cancelacion import MEXICO_TZ
from mockserver.sat.pki import fixture

NOW = datetime(2026, 6, 1, 12, 0, 0)  # Mexico City wall time
FECHA = NOW - timedelta(minutes=5)
MORAL, FISICA = "MOC900101AB1", "PEFM800101AB2"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XPD = "http://service.xpd.mx/"
SF = "http://ws.cfdi.solucionfactible.com"
PRODUCTIVO = "providers:\n  expidetufactura:\n    accounts:\n      - {user: prod, password: s3creto, environment: productivo}\n"


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def xpd(sandbox, uuid: str, csd: str = "csd_moral") -> str:  # type: ignore[no-untyped-def]
    """Cancel ``uuid`` at Expide Tu Factura's production endpoint; its estatusUUID."""
    info = fixture(csd)
    cert = info.certificate()
    xml = sign_cancelacion(cert, info.private_key(), cert.rfc, [uuid], FECHA)
    body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:ser="{XPD}"><soapenv:Body><ser:cancelar>'
            f"<usuario>prod</usuario><token>s3creto</token><xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes>"
            "</ser:cancelar></soapenv:Body></soapenv:Envelope>")
    response = sandbox.post_soap("/cancelacion/CancelacionProductivo", body, action='""')
    ret = etree.fromstring(response.content).find(f"{{{SOAP}}}Body/{{{XPD}}}cancelarResponse/return")
    assert ret.findtext("codEstatus") == "200", etree.tostring(ret)
    return ret.findtext("estatusUUIDs")


def sf(sandbox, uuid: str, rfc: str = MORAL) -> int:  # type: ignore[no-untyped-def]
    """``cancelarAsincrono`` at Solución Factible with the issuer's stored CSD; its status."""
    body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:ws="{SF}"><soapenv:Body><ws:cancelarAsincrono>'
            "<ws:usuario>testing@solucionfactible.com</ws:usuario><ws:password>timbrado.SF.16672</ws:password>"
            f"<ws:uuid>{uuid}</ws:uuid><ws:rfcEmisor>{rfc}</ws:rfcEmisor>"
            "</ws:cancelarAsincrono></soapenv:Body></soapenv:Envelope>")
    response = sandbox.post_soap("/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/", body, action="urn:cancelarAsincrono")
    assert response.status_code == 200, response.text[:300]
    return int(etree.fromstring(response.content).findtext(".//{*}return/{*}status"))


@pytest.fixture
def both(sandbox):  # type: ignore[no-untyped-def]
    assert sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()}).ok
    r = sandbox.admin("PUT", "scenarios", data=PRODUCTIVO, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    return sandbox


def overlay(sandbox, text: str) -> None:  # type: ignore[no-untyped-def]
    r = sandbox.admin("PUT", "scenarios", data=PRODUCTIVO + text, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text


def stamped(server, sandbox, uuid: str, ago: timedelta) -> None:  # type: ignore[no-untyped-def]
    """What MYSuite registers when it stamps a CFDI."""
    with server.runtime.store.tx() as conn:
        registry.set_status(conn, sandbox.session, uuid, sat_verdict.VIGENTE, at=NOW.replace(tzinfo=MEXICO_TZ) - ago,
                            rfc_emisor=MORAL, provider="mysuite")


def test_another_issuers_cancelled_uuid_is_not_of_the_issuer_for_both(both):
    # Solución Factible answered 202 here (status before issuer); SAT tells nobody the state of
    # another issuer's CFDI, so the issuer comes first for both providers: 203.
    u = new_uuid()
    assert xpd(both, u) == "201"  # cancelled by MOC900101AB1
    assert xpd(both, u, csd="csd_fisica") == "203"
    assert sf(both, u, rfc=FISICA) == 203
    assert sf(both, u) == 202  # for its own issuer it is previously cancelled


# Solución Factible answered 205 (no_encontrado: seed before registry) and 211 (en_proceso: the
# seed's status although the registry said vigente): what happened in the sandbox wins.
@pytest.mark.parametrize("seed_status", ["no_encontrado", "en_proceso"])
def test_the_registrys_status_wins_over_the_seeds(both, server, seed_status):
    a, b = new_uuid(), new_uuid()
    overlay(both, f"sat:\n  cfdis:\n    - {{uuid: {a}, status: {seed_status}}}\n    - {{uuid: {b}, status: {seed_status}}}\n")
    stamped(server, both, a, timedelta(hours=1))
    stamped(server, both, b, timedelta(hours=1))
    assert xpd(both, a) == "201"
    assert sf(both, b) == 200


def test_a_uuid_the_sandbox_never_stamped_is_what_the_seed_says(both):
    c = new_uuid()
    overlay(both, f"sat:\n  cfdis:\n    - {{uuid: {c}, status: no_encontrado}}\n")
    assert xpd(both, c) == "205"
    assert sf(both, c) == 205


def test_a_cfdi_stamped_moments_ago_is_unknown_to_sat_for_both(both, server):
    # Only Expide Tu Factura knew this (003:171); it is SAT's delay, so Solución Factible says 205 too.
    a, b = new_uuid(), new_uuid()
    stamped(server, both, a, timedelta(minutes=2))
    stamped(server, both, b, timedelta(minutes=2))
    assert xpd(both, a) == "205"
    assert sf(both, b) == 205
    assert both.admin("POST", "clock", json={"advance": "4m"}).ok
    assert xpd(both, a) == "201"
    assert sf(both, b) == 200


def sf_status(sandbox, uuid: str) -> int:  # type: ignore[no-untyped-def]
    """``getStatusCancelacionAsincrona`` for ``uuid`` at Solución Factible; its status."""
    body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:ws="{SF}"><soapenv:Body>'
            "<ws:getStatusCancelacionAsincrona><ws:usuario>testing@solucionfactible.com</ws:usuario>"
            f"<ws:password>timbrado.SF.16672</ws:password><ws:transactionId>{uuid}</ws:transactionId>"
            "</ws:getStatusCancelacionAsincrona></soapenv:Body></soapenv:Envelope>")
    response = sandbox.post_soap("/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/", body,
                                 action="urn:getStatusCancelacionAsincrona")
    assert response.status_code == 200, response.text[:300]
    return int(etree.fromstring(response.content).findtext(".//{*}return/{*}status"))


def sat_status(sandbox, uuid: str) -> str | None:  # type: ignore[no-untyped-def]
    found = sandbox.admin("GET", "registry", params={"uuid": uuid}).json()["uuids"]
    return found[0]["status"] if found else None


def test_a_cfdi_in_process_that_the_seed_calls_not_cancelable_stays_in_process(both):
    # A cancellation already waits at SAT: a new request is told so and changes nothing. The seed's
    # no_cancelable never lets a timer cancel it.
    a, b = new_uuid(), new_uuid()
    overlay(both, f"sat:\n  cfdis:\n    - {{uuid: {a}, status: en_proceso, cancelable: no_cancelable}}\n"
                  f"    - {{uuid: {b}, status: en_proceso, cancelable: no_cancelable}}\n")
    assert sf(both, a) == 211
    assert xpd(both, b) == "201"
    assert both.admin("POST", "clock", json={"advance": "3d"}).ok
    assert sf_status(both, a) == 211
    assert sat_status(both, a) == sat_verdict.EN_PROCESO
    assert sat_status(both, b) in (None, sat_verdict.EN_PROCESO)
