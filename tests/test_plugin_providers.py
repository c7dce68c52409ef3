"""What a user's test looks like: only the ``pac_mock`` fixture, a cancellation through each provider,
assertions on mail and the journal. Runs under ``pytest -n 2`` like the rest of the suite."""

from __future__ import annotations

import base64
import uuid as uuid_module
from datetime import datetime, timedelta

import requests
import zeep

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.testing.mysuite import native_document

NOW = datetime(2026, 3, 2, 9, 30)


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def test_solucionfactible_cancellation_sends_its_notification(pac_mock):
    pac_mock.clock.freeze(NOW)
    client = zeep.Client(pac_mock.urls["solucionfactible"] + "?wsdl")
    service = client.bind("Cancelacion", "CancelacionHttpsSoap11Endpoint")
    uuid = new_uuid()
    answer = service.cancelarAsincrono("testing@solucionfactible.com", "timbrado.SF.16672", f"{uuid}|02|",
                                       "MOC900101AB1", "contabilidad@example.test", None, None, None)
    assert answer.status == 200 and answer.mensaje == uuid.lower()
    assert service.getStatusCancelacionAsincrona("testing@solucionfactible.com", "timbrado.SF.16672",
                                                 uuid).status == 211
    pac_mock.clock.advance("6m")
    (mail,) = pac_mock.mail.wait(1, timeout=10)
    assert mail["headers"]["X-UUIDCancelacion"] == uuid and mail["headers"]["X-StatusCancelacion"] == "OK"
    assert pac_mock.registry_status(uuid) == "cancelado"
    assert pac_mock.count("solucionfactible", "cancelarAsincrono") == 1
    assert pac_mock.last("solucionfactible")["operation"] == "getStatusCancelacionAsincrona"


def test_expidetufactura_cancellation_with_a_signed_cancelacion(pac_mock):
    pac_mock.clock.freeze(NOW)
    csd = fixture("csd_moral")
    uuid = new_uuid()
    xml = sign_cancelacion(csd.certificate(), csd.private_key(), csd.rfc, [uuid], NOW - timedelta(minutes=2))
    client = zeep.Client(pac_mock.urls["expidetufactura"] + "?wsdl")
    answer = client.service.cancelar("pruebas", "123456", xml)
    assert (answer.codEstatus, answer.uuids, answer.estatusUUIDs) == ("200", [uuid], ["201"])
    assert "<Acuse" in answer.acuse
    entry = pac_mock.last("expidetufactura", "cancelar")
    assert entry["summary"]["code"] == "200" and "123456" not in str(entry)
    assert pac_mock.registry_status(uuid) == "cancelado"


def test_mysuite_async_conversion_and_download(pac_mock):
    pac_mock.clock.freeze(NOW)
    client = zeep.Client(pac_mock.urls["mysuite"] + "?wsdl")
    common = {"Requestor": "0c320b03-d4f1-47bc-9fb4-77995f9bf33e", "Country": "MX", "Entity": "JES900109Q90",
              "User": "0c320b03-d4f1-47bc-9fb4-77995f9bf33e", "UserName": "MX.JES900109Q90.Juan"}
    native = base64.b64encode(native_document(1_200_000)).decode()
    accepted = client.service.RequestTransaction(Transaction="ASYNC_CONVERT_NATIVE_XML", Data1=native,
                                                 Data2=f"FAC-{new_uuid()[:8]}", Data3="", **common)
    assert accepted.Response.Result is True
    request_id = accepted.ResponseData.ResponseData1
    pac_mock.clock.advance("1h")
    status = client.service.RequestTransaction(Transaction="ASYNC_CONVERT_VERIFY", Data1=request_id, Data2="",
                                               Data3="", **common)
    assert b"<Status>2</Status>" in base64.b64decode(status.ResponseData.ResponseData1)
    links = client.service.RequestTransaction(Transaction="ASYNC_RETRIEVE_DOCUMENT", Data1=request_id, Data2="",
                                              Data3="", **common)
    xml_zip = requests.get(base64.b64decode(links.ResponseData.ResponseData1).decode(), timeout=60)
    assert xml_zip.status_code == 200 and xml_zip.content[:2] == b"PK"
    assert [job["status"] for job in pac_mock.jobs("mysuite")["jobs"]] == [2]
