"""Solución Factible ``cancelarAsincrono`` against its document, with raw SOAP (requests + lxml only).

Each test quotes the claim of ``000_dc309966f5a8eca7.txt`` / ``001_1b6735b33e1a6107.txt`` it proves;
``docs/fidelity.md`` names these tests row by row.
"""

from __future__ import annotations

import base64
import uuid as uuidlib
from datetime import datetime

import pytest
from lxml import etree

from mockserver.providers.solucionfactible import codes
from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

NS = "http://ws.cfdi.solucionfactible.com"
SOAP = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
PATHS = {
    "1.1": "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/",
    "1.2": "/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/",
}
USER, PASSWORD = "testing@solucionfactible.com", "timbrado.SF.16672"
RFC = "MOC900101AB1"
REFUSED_BY_RECIPIENT = "00000000-0000-4000-8000-00000000A213"  # default scenarios: con_aceptacion, rechaza, 10m
MAGIC_204 = ("E329DD15-7D0B-44E9-A204-51A7443D1FBE", "5B4B180D-5B6C-4392-B204-252215A1AB84",
             "51D8A114-2BA6-40B8-C204-B9721791863B", "1BCA95C3-DA01-44C2-D204-59A9114F94BE",
             "F4621025-0864-4E62-E204-59EE41B1101E")  # fmt: skip
MAGIC_211 = ("C5E58106-6C1E-41C9-A211-FB8BAD1CABB0", "38FB9AC9-DD3E-4601-B211-EB02C007C3BA",
             "CB917CA9-60D3-4A81-C211-76BD1A6B756D", "7C34D543-E6C9-4990-D211-3F767E0B5142",
             "0D62B12C-BC6C-4626-E211-FC8FE727A5BC")  # fmt: skip
# The document's descriptions, verbatim (000_dc309966f5a8eca7.txt:52-72).
DOCUMENTED = {
    200: "The cancelation process completed successfully.",
    306: "The keys used do not match any CSD.",
    308: "The CSD certificate was not issued by the SAT.",
    305: "The cancelation's date-time is not within the issuer's CSDvalid range.",
    303: "The CSD certificate does not match the issuer's RFC.",
    500: "An error ocurred. The validation and certification proccess was not completed.",
    501: "Data Base conection error.",
    601: "Authentication error, username and/or password are incorrect.",
    602: "This user's account has been blocked.",
    603: "This user's password has expired.",
    604: "Maximum login attempts exceeded.",
    605: "This user is inactive",
    611: "The parameters received are either incomplete, or out of place.",
    620: "Permission denied.",
    621: "Invalid data.",
    633: "Either a production account is being used in the testing environment, or a testing account is being "
         "used in the production environment.",
    701: "An asynchronous transaction for the specified UUID already exists.",
    204: "The invoice cannot be canceled",
    211: "The cancelation is currently being processed",
    213: "The cancelation request was denied by the invoice's recipient",
}  # fmt: skip


def new_uuid() -> str:
    return str(uuidlib.uuid4()).upper()


def material(name: str = "csd_moral") -> dict[str, str]:
    info = fixture(name)
    return {"csdCer": base64.b64encode(info.cer_bytes()).decode(), "csdKey": base64.b64encode(info.key_bytes()).decode(),
            "csdPassword": info.password}  # fmt: skip


def post(sandbox, operation: str, children: list[tuple[str, str]], *, version: str = "1.1",
         qualified: bool = True) -> tuple[int, str | None, etree._Element]:  # fmt: skip
    """One raw SOAP call; returns (status, mensaje, the return element)."""
    prefix = "ws:" if qualified else ""
    body = "".join(f"<{prefix}{name}>{value}</{prefix}{name}>" for name, value in children)
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP[version]}" xmlns:ws="{NS}"><soapenv:Body>'
        f"<ws:{operation}>{body}</ws:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    action = f"urn:{operation}" if version == "1.1" else None
    response = sandbox.post_soap(PATHS[version], envelope, version=version, action=action)
    assert response.status_code == 200, response.text[:500]
    root = etree.fromstring(response.content)
    ret = root.find(f"{{{SOAP[version]}}}Body/{{{NS}}}{operation}Response/{{{NS}}}return")
    assert ret is not None, response.text[:500]
    status = int(ret.findtext("{*}status"))
    mensaje = ret.find("{*}mensaje")
    return status, (None if mensaje is None else mensaje.text), ret


def asincrono(sandbox, uuid: str, *, version: str = "1.1", user: str = USER, password: str = PASSWORD,
              csd: dict | None = None, email: str | None = None) -> tuple[int, str | None]:  # fmt: skip
    children = [("usuario", user), ("password", password), ("uuid", uuid), ("rfcEmisor", RFC)]
    if email:
        children.append(("emailNotifica", email))
    children += list((csd or {}).items())
    status, mensaje, _ = post(sandbox, "cancelarAsincrono", children, version=version)
    return status, mensaje


def status_of(sandbox, uuid: str, *, version: str = "1.1") -> tuple[int, str | None, str | None]:
    status, mensaje, ret = post(sandbox, "getStatusCancelacionAsincrona",
                                [("usuario", USER), ("password", PASSWORD), ("transactionId", uuid)], version=version)
    acuse = ret.find("{*}acuseSat")
    return status, mensaje, (None if acuse is None else acuse.text)


def registry(sandbox, uuid: str) -> str | None:
    found = sandbox.admin("GET", "registry", params={"uuid": uuid}).json()["uuids"]
    return found[0]["status"] if found else None


@pytest.fixture
def sf(sandbox):
    assert sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:00:00"}).ok
    return sandbox


def advance(sandbox, by: str) -> None:
    assert sandbox.admin("POST", "clock", json={"advance": by}).ok


# ---------------------------------------------------------------- parameters (611)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_children_in_the_wsdl_order_are_accepted_qualified_or_not(sf, version):
    assert asincrono(sf, u := new_uuid(), version=version) == (200, u.lower())
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", v := new_uuid()), ("rfcEmisor", RFC),
                ("emailNotifica", "a@b.mx"), *material().items(), ("properties", "")]  # fmt: skip
    assert post(sf, "cancelarAsincrono", children, version=version, qualified=False)[:2] == (200, v.lower())


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_children_out_of_order_answer_611(sf, version):
    children = [("usuario", USER), ("password", PASSWORD), ("rfcEmisor", RFC), ("uuid", u := new_uuid())]
    status, mensaje, _ = post(sf, "cancelarAsincrono", children, version=version)
    assert status == 611 and mensaje.startswith(DOCUMENTED[611].rstrip("."))
    assert "rfcEmisor" in mensaje and "uuid" in mensaje
    assert sf.admin("GET", "jobs").json()["solucionfactible"]["total"] == 0
    # The same request in the WSDL's order is accepted: nothing was registered by the refused one.
    assert asincrono(sf, u) == (200, u.lower())


def test_an_unknown_child_answers_611(sf):
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", new_uuid()), ("rfcEmisor", RFC),
                ("motivo", "02")]  # fmt: skip
    status, mensaje, _ = post(sf, "cancelarAsincrono", children)
    assert status == 611 and "motivo" in mensaje


def test_a_repeated_single_child_answers_611(sf):
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", new_uuid()), ("uuid", new_uuid()),
                ("rfcEmisor", RFC)]  # fmt: skip
    assert post(sf, "cancelarAsincrono", children)[0] == 611


def test_out_of_place_is_611_on_the_status_query_too(sf):
    children = [("transactionId", new_uuid()), ("usuario", USER), ("password", PASSWORD)]
    assert post(sf, "getStatusCancelacionAsincrona", children)[0] == 611
    # The layout is read before the credentials: a wrong password out of place is still 611.
    children = [("transactionId", new_uuid()), ("usuario", USER), ("password", "incorrecta")]
    assert post(sf, "getStatusCancelacionAsincrona", children)[0] == 611


@pytest.mark.parametrize("missing", ["usuario", "password", "uuid", "rfcEmisor"])
def test_missing_required_parameters_answer_611(sf, missing):
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", new_uuid()), ("rfcEmisor", RFC)]
    status, mensaje, _ = post(sf, "cancelarAsincrono", [c for c in children if c[0] != missing])
    assert status == 611 and mensaje.startswith(DOCUMENTED[611].rstrip("."))


def test_optional_parameters_may_be_left_out_or_nil(sf):
    # emailNotifica, the CSD (the issuer's stored one is used) and properties are optional (000:21-26).
    u = new_uuid()
    nil = ' xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", u), ("rfcEmisor", RFC)]
    body = "".join(f"<ws:{n}>{v}</ws:{n}>" for n, v in children) + "".join(
        f"<ws:{n}{nil}/>" for n in ("emailNotifica", "csdCer", "csdKey", "csdPassword"))  # fmt: skip
    envelope = (f'<soapenv:Envelope xmlns:soapenv="{SOAP["1.1"]}" xmlns:ws="{NS}"><soapenv:Body>'
                f"<ws:cancelarAsincrono>{body}</ws:cancelarAsincrono></soapenv:Body></soapenv:Envelope>")  # fmt: skip
    response = sf.post_soap(PATHS["1.1"], envelope, action="urn:cancelarAsincrono")
    assert etree.fromstring(response.content).findtext(".//{*}status") == "200"


@pytest.mark.parametrize("code", [500, 501])
def test_server_side_codes_come_from_scenario_rules(sf, code):
    rule = {"rules": [{"id": "caida", "provider": "solucionfactible", "operation": "cancelarAsincrono",
                       "outcome": {"code": code}}]}  # fmt: skip
    assert sf.admin("PUT", "scenarios", json=rule).status_code == 200
    assert asincrono(sf, new_uuid()) == (code, DOCUMENTED[code])


# ---------------------------------------------------------------- codes, end to end


def starts_with_description(mensaje: str | None, code: int) -> bool:
    """The document's description, maybe followed by ": <detail>"."""
    text = DOCUMENTED[code]
    return mensaje == text or (mensaje or "").startswith(text.rstrip(".") + ": ")


@pytest.mark.parametrize(("user", "password", "code"), [
    ("nadie@pac-mock.test", "x", 601),
    (USER, "incorrecta", 601),
    ("bloqueado@pac-mock.test", "secreto", 602),
    ("caducado@pac-mock.test", "secreto", 603),
    ("inactivo@pac-mock.test", "secreto", 605),
    ("productivo@pac-mock.test", "secreto", 633),
])  # fmt: skip
def test_account_codes_with_the_documents_descriptions(sf, user, password, code):
    status, mensaje = asincrono(sf, new_uuid(), user=user, password=password)
    assert status == code and starts_with_description(mensaje, code)


def test_604_after_too_many_failed_log_ins(sf):
    assert [asincrono(sf, new_uuid(), password=f"mal-{i}")[0] for i in range(5)] == [601, 601, 601, 601, 604]
    status, mensaje = asincrono(sf, new_uuid())  # even with the right password, for a while
    assert status == 604 and starts_with_description(mensaje, 604)
    advance(sf, "14m")
    assert asincrono(sf, new_uuid())[0] == 604
    advance(sf, "1m")  # the lock lapses after 15 minutes of mock time
    assert asincrono(sf, new_uuid())[0] == 200


def test_620_when_the_user_may_not_use_the_stored_csd(sf):
    status, mensaje = asincrono(sf, new_uuid(), user="sin-permisos@pac-mock.test", password="secreto")
    assert status == 620 and starts_with_description(mensaje, 620)


@pytest.mark.parametrize(("uuid", "rfc"), [("1234", RFC), (None, "NO-ES-RFC")])
def test_621_for_invalid_data(sf, uuid, rfc):
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", uuid or new_uuid()), ("rfcEmisor", rfc)]
    status, mensaje, _ = post(sf, "cancelarAsincrono", children)
    assert status == 621 and starts_with_description(mensaje, 621)


@pytest.mark.parametrize(("fixture_name", "rfc", "password", "code"), [
    ("csd_moral", RFC, "equivocada", 306),  # the key does not open: the keys do not match a CSD
    ("fiel_moral", RFC, None, 306),  # a FIEL is not a CSD
    ("csd_expired", "CAD850101AB3", None, 305),
    ("csd_moral", "PEFM800101AB2", None, 303),
])  # fmt: skip
def test_csd_codes_with_the_documents_descriptions(sf, fixture_name, rfc, password, code):
    csd = material(fixture_name)
    if password:
        csd["csdPassword"] = password
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", new_uuid()), ("rfcEmisor", rfc), *csd.items()]
    status, mensaje, _ = post(sf, "cancelarAsincrono", children)
    assert status == code and starts_with_description(mensaje, code)


def test_308_for_a_csd_not_issued_by_the_sat(sf):
    assert sf.admin("PUT", "scenarios", json={"trust": {"accept_sat_issuers": False}}).status_code == 200
    children = [("usuario", USER), ("password", PASSWORD), ("uuid", new_uuid()), ("rfcEmisor", "UNT900101AA4"),
                *material("csd_untrusted").items()]  # fmt: skip
    status, mensaje, _ = post(sf, "cancelarAsincrono", children)
    assert status == 308 and starts_with_description(mensaje, 308)


def test_701_while_a_transaction_for_the_uuid_is_in_process(sf):
    u = new_uuid()
    assert asincrono(sf, u)[0] == 200
    status, mensaje = asincrono(sf, u, version="1.2")
    assert status == 701 and starts_with_description(mensaje, 701) and u in mensaje


# ---------------------------------------------------------------- messages


def test_every_documented_code_has_the_documents_description():
    assert set(DOCUMENTED) == codes.DOCUMENTED  # the catalogue knows which codes the document lists
    for code, text in DOCUMENTED.items():
        assert codes.message(code) == text, code


def test_200_message_is_the_uuid_of_the_invoice(sf):
    u = new_uuid()
    status, mensaje = asincrono(sf, u)
    assert status == 200 and mensaje == u.lower()


# ---------------------------------------------------------------- lifecycle


def test_first_200_means_accepted_and_in_process_everywhere(sf):
    u = new_uuid()
    assert asincrono(sf, u, email="erp@example.mx") == (200, u.lower())
    # Accepted, not yet cancelled: the registry and the status call agree.
    assert registry(sf, u) == "en_proceso"
    assert status_of(sf, u) == (211, DOCUMENTED[211], None)
    job = next(c for c in sf.admin("GET", "jobs").json()["solucionfactible"]["cancellations"] if c["uuid"] == u)
    assert (job["status"], job["mensaje"], job["resolved_at"]) == (211, DOCUMENTED[211], None)
    assert sf.admin("GET", "mail").json()["messages"] == []  # no notification before the outcome
    advance(sf, "5m")
    status, mensaje, acuse = status_of(sf, u)
    assert (status, mensaje) == (200, u.lower()) and acuse
    assert registry(sf, u) == "cancelado"


@pytest.mark.parametrize("uuid", MAGIC_211)
def test_magic_211_wording_is_the_same_in_both_operations(sf, uuid):
    status, mensaje = asincrono(sf, uuid)
    assert (status, mensaje) == (211, DOCUMENTED[211])
    assert status_of(sf, uuid)[:2] == (211, mensaje)
    assert registry(sf, uuid) == "en_proceso"
    advance(sf, "5m")  # then it resolves like any other transaction
    assert status_of(sf, uuid)[:2] == (200, uuid.lower()) and registry(sf, uuid) == "cancelado"


@pytest.mark.parametrize("uuid", MAGIC_204)
def test_magic_204_uuids_in_the_test_environment(sf, uuid):
    assert asincrono(sf, uuid) == (204, DOCUMENTED[204])
    assert registry(sf, uuid) is None


def test_magic_uuids_are_ordinary_outside_the_test_environment(sf):
    r = sf.admin("PUT", "scenarios", json={"providers": {"solucionfactible": {"environment": "productivo"}}})
    assert r.status_code == 200, r.text
    production = {"user": "productivo@pac-mock.test", "password": "secreto", "csd": material()}
    assert asincrono(sf, MAGIC_204[0], **production) == (200, MAGIC_204[0].lower())
    assert asincrono(sf, MAGIC_211[0], **production) == (200, MAGIC_211[0].lower())
    # ...and the test user is the other environment's account there (633).
    assert asincrono(sf, new_uuid())[0] == 633


def test_a_new_request_after_the_recipient_refused_is_a_new_transaction(sf):
    u = REFUSED_BY_RECIPIENT
    assert asincrono(sf, u) == (211, DOCUMENTED[211])
    assert asincrono(sf, u)[0] == 701  # still in process: one transaction per UUID
    advance(sf, "10m")
    assert status_of(sf, u)[:2] == (213, DOCUMENTED[213])
    assert registry(sf, u) == "rechazado"  # SAT: the request was refused, the CFDI stays valid...
    assert asincrono(sf, u) == (211, DOCUMENTED[211])  # ...and the issuer may ask again
    assert status_of(sf, u)[:2] == (211, DOCUMENTED[211])
    assert registry(sf, u) == "en_proceso"


def test_a_request_after_a_cancellation_is_previously_cancelled(sf):
    u = new_uuid()
    assert asincrono(sf, u)[0] == 200
    advance(sf, "5m")
    assert status_of(sf, u)[0] == 200
    status, _ = asincrono(sf, u)
    assert status == codes.PREVIOUSLY_CANCELLED  # SAT's 202, not 701
    # The finished transaction (and its acuse) is what the status call still reports.
    status, mensaje, acuse = status_of(sf, u)
    assert (status, mensaje) == (200, u.lower()) and acuse


# ---------------------------------------------------------------- notification e-mail


def test_notification_headers_for_a_successful_and_an_unsuccessful_attempt(sf):
    cancelled, refused = new_uuid(), REFUSED_BY_RECIPIENT
    assert asincrono(sf, cancelled, email="conta@example.mx")[0] == 200
    assert asincrono(sf, refused, email="conta@example.mx")[0] == 211
    assert asincrono(sf, new_uuid())[0] == 200  # no emailNotifica: no mail (000:21 "No")
    advance(sf, "10m")
    messages = sf.admin("GET", "mail/wait", params={"count": 2, "timeout": 10}).json()["messages"]
    headers = {m["uuid"]: m["headers"] for m in messages}
    assert len(messages) == 2 and all(m["to"] == "conta@example.mx" for m in messages)
    # 000:30-37: X-SFService, X-UUIDCancelacion (upper case, as the example), X-StatusCancelacion OK/ERROR.
    assert headers[cancelled] == {"X-SFService": "Cancelar", "X-UUIDCancelacion": cancelled,
                                  "X-StatusCancelacion": "OK"}  # fmt: skip
    assert headers[refused] == {"X-SFService": "Cancelar", "X-UUIDCancelacion": refused,
                                "X-StatusCancelacion": "ERROR"}  # fmt: skip


# ---------------------------------------------------------------- codes the document does not list


def test_sat_codes_and_702_beyond_the_documents_list(sf):
    # SAT's answers passed through: 205 unknown, 203 another issuer (the default scenarios' seeds).
    assert asincrono(sf, "00000000-0000-4000-8000-000000000205") == (205, "UUID no encontrado")
    assert asincrono(sf, "00000000-0000-4000-8000-000000000203") == (203, "UUID no corresponde al emisor")
    info = fixture("csd_moral")
    cert = info.certificate()
    assert sf.admin("PUT", "scenarios", json={"sat": {"revoked_certificates": [cert.certificate_number]}}).ok
    assert asincrono(sf, new_uuid(), csd=material())[0] == 304
    assert sf.admin("DELETE", "scenarios").ok
    # Signed requests: 301 malformed, 302 a seal that does not verify.
    u = new_uuid()
    signed = sign_cancelacion(cert, info.private_key(), cert.rfc, [(u, "02")], datetime(2026, 1, 10, 4, 0))
    tampered = signed.replace(u.encode(), new_uuid().encode())
    for solicitud, code in ((b"<Cancelacion", 301), (tampered, 302), (signed, 200)):
        children = [("usuario", USER), ("password", PASSWORD),
                    ("solicitud", base64.b64encode(solicitud).decode())]  # fmt: skip
        assert post(sf, "enviarSolicitudCancelacionAsincrono", children)[0] == code
    # The status query for a UUID without a transaction.
    assert status_of(sf, new_uuid())[0] == codes.ASYNC_UNKNOWN


def test_a_new_transaction_is_not_resolved_by_what_was_left_of_the_old_one(sf):
    u = new_uuid()
    seed = {"sat": {"cfdis": [{"uuid": u, "cancelable": "con_aceptacion", "recipient": "acepta",
                               "recipient_after": "10m"}]}}  # fmt: skip
    assert sf.admin("PUT", "scenarios", json=seed).status_code == 200
    assert asincrono(sf, u)[0] == 211  # the recipient would accept at minute 10...
    assert sf.admin("POST", f"solucionfactible/cancellations/{u}/deny").ok  # ...but refuses now
    advance(sf, "3m")
    assert asincrono(sf, u)[0] == 211  # a new request: its recipient answers at minute 13
    advance(sf, "7m")
    assert status_of(sf, u)[:2] == (211, DOCUMENTED[211])  # minute 10: the old timer is gone
    advance(sf, "3m")
    assert status_of(sf, u)[0] == 200


# ---------------------------------------------------------------- unforeseen errors (500, 501)


def test_a_database_error_answers_501(sf, monkeypatch):
    import sqlite3

    from mockserver.providers.solucionfactible import models

    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(models, "get", locked)
    u = new_uuid()
    assert asincrono(sf, u) == (codes.ASYNC_DB, codes.message(codes.ASYNC_DB))
    monkeypatch.undo()
    assert registry(sf, u) is None  # nothing was registered
    assert asincrono(sf, u)[0] == codes.OK  # and the same request goes through once the store answers


def test_an_unforeseen_error_answers_500(sf, monkeypatch):
    from mockserver.providers.solucionfactible import lifecycle

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(lifecycle, "sat_verdict", broken)
    u = new_uuid()
    assert asincrono(sf, u) == (codes.INTERNAL, codes.message(codes.INTERNAL))
    assert registry(sf, u) is None
