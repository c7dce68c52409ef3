"""The ERP against pac-mock, through the public fixture API only."""

from __future__ import annotations

import uuid as uuid_module

import pytest
from erp_cancel import Erp, ProviderDown

FROZEN = "2026-03-02T09:30:00"  # Mexico City time


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


@pytest.fixture
def erp(pac_mock) -> Erp:
    pac_mock.clock.freeze(FROZEN)
    return Erp(pac_mock.urls)


def test_solucionfactible_cancels_within_minutes(pac_mock, erp):
    uuid = new_uuid()
    assert erp.cancel_sf(uuid) == 200
    assert erp.sf_status(uuid) == 211  # in process
    pac_mock.clock.advance("6m")
    assert erp.sf_status(uuid) == 200
    assert pac_mock.registry_status(uuid) == "cancelado"
    assert pac_mock.count("solucionfactible", "cancelarAsincrono") == 1


def test_expidetufactura_cancels_a_cancelacion_signed_at_mock_time(pac_mock, erp):
    uuid, unknown = new_uuid(), "DEAD" + new_uuid()[4:]
    signed = pac_mock.sign_cancelacion([uuid, unknown], motivo="02", cer="csd_moral")
    assert erp.cancel_xpd(signed) == ("200", ["201", "205"])
    (entry,) = pac_mock.requests("expidetufactura", "cancelar")
    assert [(r["id"], r["did"]) for r in entry["summary"]["rules"]] == [
        ("erp-unknown-uuid", "per-UUID codes DEAD*=205")]
    assert pac_mock.registry_status(uuid) == "cancelado"


def test_mysuite_stamps_a_large_invoice(pac_mock, erp):
    document = pac_mock.mysuite.native_document("1.5MB", folio="1001")
    request_id = erp.stamp_mysuite(document, internal_id=f"ERP-{new_uuid()[:8]}")
    assert erp.mysuite_status(request_id).status == 1  # converting: mock time has not moved
    pac_mock.clock.advance("1m")
    assert erp.mysuite_status(request_id).status == 2
    assert pac_mock.count("mysuite", "ASYNC_CONVERT_VERIFY") == 2


def test_a_provider_outage_is_retried(pac_mock, erp):
    pac_mock.add_rules({"id": "sf-outage", "provider": "solucionfactible", "operation": "cancelarAsincrono",
                        "times": 1, "outcome": {"fault": {"kind": "http_status", "status": 503}}})
    uuid = new_uuid()
    assert erp.cancel_sf(uuid) == 200
    first, second = reversed(pac_mock.requests("solucionfactible", "cancelarAsincrono", uuid=uuid))
    assert first["status"] == 503 and first["summary"]["rules"][0]["id"] == "sf-outage"
    assert second["status"] == 200 and second["summary"]["rules"][0]["did"].startswith("used up")
    assert [r["remaining"] for r in pac_mock.rules() if r["id"] == "sf-outage"] == [0]


def test_a_lasting_outage_surfaces(pac_mock, erp):
    pac_mock.add_rules({"id": "sf-down", "provider": "solucionfactible",
                        "outcome": {"fault": {"kind": "http_status", "status": 503}}})
    with pytest.raises(ProviderDown):
        erp.cancel_sf(new_uuid())
    assert pac_mock.count("solucionfactible") == 3  # the first try and two retries
