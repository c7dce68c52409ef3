"""Solución Factible ``Cancelacion`` end to end: zeep built from the WSDL the sandbox serves (the same
messages as the provider's published one: test_wsdl_files), SOAP 1.1 and 1.2."""

from __future__ import annotations

import base64
import threading
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin

from mockserver.sat import sign_cancelacion, verify_acuse
from mockserver.sat.pki import fixture
from mockserver.server import BackgroundServer
from mockserver.settings import Settings

from helpers import project_wsdl, smtp_server
from wsdl_schema import assert_valid_body

REPO = Path(__file__).resolve().parent.parent
WSDL = project_wsdl("solucionfactible", "Cancelacion.wsdl")
NS = "http://ws.cfdi.solucionfactible.com"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
USER, PASSWORD = "testing@solucionfactible.com", "timbrado.SF.16672"
RFC = "MOC900101AB1"
MAGIC_204 = "E329DD15-7D0B-44E9-A204-51A7443D1FBE"
MAGIC_211 = "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0"
DENIED_LATER = "00000000-0000-4000-8000-000000000213"
PORTS = {"1.1": "CancelacionHttpsSoap11Endpoint", "1.2": "CancelacionHttpsSoap12Endpoint"}


def new_uuid() -> str:
    return str(uuidlib.uuid4()).upper()


def csd(name: str = "csd_moral") -> tuple[bytes, bytes, str]:
    info = fixture(name)
    return info.cer_bytes(), info.key_bytes(), info.password


@pytest.fixture(scope="module")
def wsdl_client(server):
    history = HistoryPlugin(maxlen=1)
    return zeep.Client(server.url + "/ws/services/Cancelacion?wsdl", plugins=[history]), history


class SF:
    """Calls one port of the sandbox with zeep and checks every answer against the WSDL's schema."""

    def __init__(self, client: zeep.Client, history: HistoryPlugin, sandbox, version: str) -> None:
        port = PORTS[version]
        binding = client.wsdl.services["Cancelacion"].ports[port].binding.name
        self.service = client.create_service(binding, f"{sandbox.url}/ws/services/Cancelacion.{port}/")
        self.history = history
        self.sandbox = sandbox
        self.version = version

    def __getattr__(self, operation: str):
        def call(*args, **kwargs):
            result = getattr(self.service, operation)(*args, **kwargs)
            envelope = self.history.last_received["envelope"]
            assert etree.QName(envelope).namespace == (SOAP11 if self.version == "1.1" else SOAP12)
            body = envelope.find(f"{{{etree.QName(envelope).namespace}}}Body")
            assert_valid_body(WSDL, body[0])
            return result

        return call

    def asincrono(self, uuid: str, rfc: str = RFC, email: str | None = None, material=None,
                  user: str = USER, password: str = PASSWORD):
        cer, key, pwd = material if material is not None else (None, None, None)
        return self.cancelarAsincrono(user, password, uuid, rfc, email, cer, key, pwd)

    def status(self, uuid: str, user: str = USER, password: str = PASSWORD):
        return self.getStatusCancelacionAsincrona(user, password, uuid)

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return self.sandbox.admin(method, path, **kw)


@pytest.fixture(params=["1.1", "1.2"])
def sf(request, sandbox, wsdl_client) -> SF:
    client, history = wsdl_client
    sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:00:00"})
    return SF(client, history, sandbox, request.param)


def overlay(sf: SF, text: str) -> None:
    r = sf.admin("PUT", "scenarios", data=text, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text


def signed_solicitud(folios, name: str = "csd_moral", fecha: datetime = datetime(2026, 1, 10, 4, 0)) -> bytes:
    info = fixture(name)
    cert = info.certificate()
    return sign_cancelacion(cert, info.private_key(), cert.rfc, folios, fecha)


# ---------------------------------------------------------------- asynchronous lifecycle


def test_accepted_request_is_registered_then_cancelled_within_five_minutes(sf):
    u = new_uuid()
    r = sf.asincrono(u + "|02|", email="conta@example.mx", material=csd())
    assert (r.status, r.mensaje) == (200, u.lower())
    r = sf.status(u)
    assert r.status == 211 and r.acuseSat is None
    sf.admin("POST", "clock", json={"advance": "4m"})
    assert sf.status(u).status == 211
    sf.admin("POST", "clock", json={"advance": "1m"})
    r = sf.status(u)
    assert r.status == 200
    acuse = verify_acuse(r.acuseSat, (REPO / "fixtures" / "sat_acuse.cer").read_bytes())
    assert acuse.rfc_emisor == RFC and [f[0] for f in acuse.folios] == [u]
    assert sf.status(u).acuseSat == r.acuseSat  # the same acuse on every query
    registry = {e["uuid"]: e["status"] for e in sf.admin("GET", "registry").json()["uuids"]}
    assert registry[u] == "cancelado"
    mail = sf.admin("GET", "mail", params={"uuid": u}).json()["messages"]
    assert len(mail) == 1 and mail[0]["to"] == "conta@example.mx" and mail[0]["status"] == "recorded"
    assert mail[0]["headers"] == {"X-SFService": "Cancelar", "X-UUIDCancelacion": u, "X-StatusCancelacion": "OK"}
    assert u in mail[0]["body"]


def test_magic_211_uuid_is_in_process_then_resolves_when_the_clock_moves(sf):
    r = sf.asincrono(MAGIC_211, email="a@example.mx")
    assert r.status == 211
    assert sf.status(MAGIC_211).status == 211
    jobs = sf.admin("GET", "jobs").json()["solucionfactible"]
    assert [c["uuid"] for c in jobs["cancellations"]] == [MAGIC_211] and jobs["by_status"] == {"211": 1}
    sf.admin("POST", "clock", json={"advance": "5m"})
    r = sf.status(MAGIC_211)
    assert r.status == 200 and r.acuseSat
    assert sf.admin("GET", "jobs").json()["solucionfactible"]["by_status"] == {"200": 1}


def test_magic_204_uuid_is_not_cancelable_and_nothing_is_registered(sf):
    r = sf.asincrono(MAGIC_204, email="a@example.mx")
    assert r.status == 204
    assert sf.status(MAGIC_204).status == 204
    assert sf.asincrono(MAGIC_204).status == 204  # never 701: nothing was registered
    assert sf.admin("GET", "mail").json()["messages"] == []


def test_rule_transition_denies_by_the_recipient_ten_minutes_later(sf):
    assert sf.asincrono(DENIED_LATER, email="a@example.mx").status == 211
    sf.admin("POST", "clock", json={"advance": "9m"})
    assert sf.status(DENIED_LATER).status == 211
    sf.admin("POST", "clock", json={"advance": "1m"})
    r = sf.status(DENIED_LATER)
    assert r.status == 213 and r.acuseSat is None
    [mail] = sf.admin("GET", "mail/wait", params={"count": 1, "timeout": 5}).json()["messages"]
    assert mail["headers"]["X-StatusCancelacion"] == "ERROR"


def test_recipient_decides_through_the_admin_api(sf):
    overlay(sf, "sat:\n  cfdis:\n    - {uuid: 'AAAA*', cancelable: con_aceptacion, recipient: sin_respuesta}\n")
    accepted, denied = "AAAA" + new_uuid()[4:], "AAAA" + new_uuid()[4:]
    assert sf.asincrono(accepted, email="x@example.mx").status == 211
    assert sf.asincrono(denied, email="x@example.mx").status == 211
    sf.admin("POST", "clock", json={"advance": "1h"})
    assert sf.status(accepted).status == 211  # nobody answers by itself
    r = sf.admin("POST", f"solucionfactible/cancellations/{accepted}/accept")
    assert r.status_code == 200 and r.json()["status"] == 200
    assert sf.admin("POST", f"solucionfactible/cancellations/{denied}/deny").json()["status"] == 213
    assert sf.admin("POST", f"solucionfactible/cancellations/{denied}/accept").status_code == 409
    assert sf.admin("POST", f"solucionfactible/cancellations/{new_uuid()}/accept").status_code == 404
    assert sf.status(accepted).status == 200 and sf.status(denied).status == 213
    statuses = {m["uuid"]: m["headers"]["X-StatusCancelacion"] for m in sf.admin("GET", "mail").json()["messages"]}
    assert statuses == {accepted: "OK", denied: "ERROR"}


def test_repeated_uuid_is_701_and_unknown_transaction_is_702(sf):
    u = new_uuid()
    assert sf.asincrono(u, material=csd()).status == 200
    r = sf.asincrono(u + "|03|", material=csd())
    assert r.status == 701 and u in r.mensaje
    assert sf.status(new_uuid()).status == 702


def test_701_under_concurrency_has_exactly_one_winner(sandbox):
    u = new_uuid()
    body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{NS}"><e:Body><s:cancelarAsincrono>'
            f"<s:usuario>{USER}</s:usuario><s:password>{PASSWORD}</s:password><s:uuid>{u}|02|</s:uuid>"
            f"<s:rfcEmisor>{RFC}</s:rfcEmisor></s:cancelarAsincrono></e:Body></e:Envelope>")
    barrier = threading.Barrier(100)

    def post(_):
        barrier.wait()
        text = sandbox.post_soap("/ws/services/Cancelacion", body).content
        return etree.fromstring(text).findtext(".//{*}status")

    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(post, range(100)))
    assert sorted(set(statuses)) == ["200", "701"] and statuses.count("200") == 1
    assert len(sandbox.admin("GET", "solucionfactible/cancellations").json()["cancellations"]) == 1


# ---------------------------------------------------------------- codes


@pytest.mark.parametrize(("user", "password", "code"), [
    ("nadie@pac-mock.test", "x", 601),
    (USER, "incorrecta", 601),
    ("bloqueado@pac-mock.test", "secreto", 602),
    ("caducado@pac-mock.test", "secreto", 603),
    ("inactivo@pac-mock.test", "secreto", 605),
    ("productivo@pac-mock.test", "secreto", 633),
    (USER, None, 611),
])
def test_account_codes(sf, user, password, code):
    assert sf.asincrono(new_uuid(), user=user, password=password).status == code
    assert sf.status(new_uuid(), user=user, password=password).status == code


def test_too_many_failed_log_ins_give_604_even_with_the_right_password(sf):
    codes = [sf.status(new_uuid(), password=f"mal-{i}").status for i in range(5)]
    assert codes == [601, 601, 601, 601, 604]
    assert sf.status(new_uuid()).status == 604
    sf.admin("POST", "clock", json={"advance": "15m"})
    assert sf.status(new_uuid()).status == 702  # the lock lapses; the right password works again


def test_permission_codes(sf):
    other = ("sin-permisos@pac-mock.test", "secreto")
    r = sf.asincrono(new_uuid(), user=other[0], password=other[1])
    assert r.status == 620 and "CSD" in r.mensaje  # stored CSDs need use_stored_csd
    assert sf.asincrono(new_uuid(), material=csd(), user=other[0], password=other[1]).status == 200
    assert sf.cancelarSectorPrimario(*other, new_uuid()).status == 620


@pytest.mark.parametrize(("uuid", "rfc", "email", "code"), [
    (None, RFC, None, 611),
    ("1234", RFC, None, 621),
    ("{u}|99|", RFC, None, 621),
    ("{u}|01|", RFC, None, 621),  # motive 01 needs the substitute
    ("{u}|02|{u}", RFC, None, 621),  # a substitute only goes with 01
    ("{u}|01|{u}|x", RFC, None, 621),
    ("{u}", "NO-ES-RFC", None, 621),
    ("{u}", RFC, "no es correo", 621),
    ("{u}", "CAD850101AB3", None, 611),  # no CSD sent and none stored for the issuer
    ("{u}|01|{u}", RFC, None, 200),
])
def test_parameter_codes(sf, uuid, rfc, email, code):
    u = new_uuid()
    text = uuid.format(u=u) if uuid else None
    assert sf.cancelarAsincrono(USER, PASSWORD, text, rfc, email, None, None, None).status == code


@pytest.mark.parametrize(("material", "rfc", "code"), [
    (lambda: (csd()[0], csd()[1], "equivocada"), RFC, 306),  # wrong key password
    (lambda: (csd()[0], csd("csd_fisica")[1], csd()[2]), RFC, 306),  # key of another CSD
    (lambda: csd("fiel_moral"), RFC, 306),  # a FIEL is not a CSD
    (lambda: (b"not a certificate", csd()[1], csd()[2]), RFC, 306),
    (lambda: csd("csd_expired"), "CAD850101AB3", 305),
    (lambda: csd(), "PEFM800101AB2", 303),
    (lambda: csd("csd_fisica"), "PEFM800101AB2", 200),
    (lambda: (csd()[0], None, None), RFC, 611),
])
def test_csd_codes(sf, material, rfc, code):
    assert sf.asincrono(new_uuid(), rfc=rfc, material=material()).status == code


def test_308_for_a_certificate_not_issued_by_a_trusted_ca(sf):
    overlay(sf, "trust: {accept_sat_issuers: false}\n")
    assert sf.asincrono(new_uuid(), rfc="UNT900101AA4", material=csd("csd_untrusted")).status == 308


def test_bad_base64_is_621(sf):
    body = (f'<e:Envelope xmlns:e="{SOAP11 if sf.version == "1.1" else SOAP12}" xmlns:s="{NS}"><e:Body>'
            f"<s:cancelarAsincrono><s:usuario>{USER}</s:usuario><s:password>{PASSWORD}</s:password>"
            f"<s:uuid>{new_uuid()}</s:uuid><s:rfcEmisor>{RFC}</s:rfcEmisor><s:csdCer>@@no base64@@</s:csdCer>"
            "<s:csdKey>AAAA</s:csdKey><s:csdPassword>x</s:csdPassword></s:cancelarAsincrono></e:Body></e:Envelope>")
    response = sf.sandbox.post_soap(f"/ws/services/Cancelacion.{PORTS[sf.version]}/", body, version=sf.version)
    payload = etree.fromstring(response.content).find("{*}Body")[0]
    assert_valid_body(WSDL, payload)
    assert payload.findtext(".//{*}status") == "621" and "csdCer" in payload.findtext(".//{*}mensaje")
    assert payload.find(".//{*}mensaje").get("{http://www.w3.org/2001/XMLSchema-instance}nil") is None


# ---------------------------------------------------------------- signed requests and synchronous operations


def test_enviar_solicitud_asincrono_verifies_the_seal(sf):
    u = new_uuid()
    xml = signed_solicitud([(u, "02")])
    r = sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, xml, "a@example.mx")
    assert (r.status, r.mensaje) == (200, u.lower())
    assert sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, xml, None).status == 701
    sf.admin("POST", "clock", json={"advance": "5m"})
    assert sf.status(u).status == 200
    tampered = xml.replace(u.encode(), new_uuid().encode())
    assert sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, tampered, None).status == 302
    assert sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, b"<Cancelacion", None).status == 301
    assert sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, None, None).status == 611
    expired = signed_solicitud([new_uuid()], "csd_expired", datetime(2022, 6, 1, 10, 0))
    assert sf.enviarSolicitudCancelacionAsincrono(USER, PASSWORD, expired, None).status == 305


def test_enviar_solicitud_cancels_now_with_an_acuse(sf):
    u1, u2 = new_uuid(), new_uuid()
    r = sf.enviarSolicitudCancelacion(USER, PASSWORD, signed_solicitud([u1, u2]))
    assert r.status == 200
    acuse = verify_acuse(r.acuseSat, (REPO / "fixtures" / "sat_acuse.cer").read_bytes())
    assert sorted(acuse.folios) == sorted([(u1, "201"), (u2, "201")])
    r = sf.enviarSolicitudCancelacion(USER, PASSWORD, signed_solicitud([u1]))
    assert r.status == 202 and r.acuseSat
    assert sf.enviarSolicitudCancelacion(USER, PASSWORD, signed_solicitud([MAGIC_204])).status == 204


def test_cancelar_sync_with_csd_or_stored_csd(sf):
    u1, u2 = new_uuid(), new_uuid()
    cer, key, pwd = csd()
    r = sf.cancelar(USER, PASSWORD, RFC, [u1 + "|02|", u2 + "|03|"], cer, key, pwd)
    assert r.status == 200 and r.mensaje == "The cancelation process completed successfully."
    assert sf.cancelar(USER, PASSWORD, RFC, [u1 + "|02|"], None, None, None).status == 202
    r = sf.cancelar(USER, PASSWORD, RFC, [MAGIC_211 + "|02|"], None, None, None)
    assert r.status == 211 and r.acuseSat is None
    r = sf.cancelar(USER, PASSWORD, RFC, [new_uuid(), MAGIC_204], None, None, None)
    assert r.status == 200 and "204" in r.mensaje
    assert sf.cancelar(USER, PASSWORD, RFC, [], None, None, None).status == 611
    assert sf.cancelar(USER, PASSWORD, RFC, [u1], b"x", None, None).status == 611


def test_cancelar_sector_primario(sf):
    u = new_uuid()
    r = sf.cancelarSectorPrimario(USER, PASSWORD, u)
    assert r.status == 200 and r.acuseSat
    assert sf.cancelarSectorPrimario(USER, PASSWORD, u).status == 202
    assert sf.cancelarSectorPrimario(USER, PASSWORD, None).status == 611
    assert sf.cancelarSectorPrimario(USER, PASSWORD, "x").status == 621


def test_rule_code_500_and_per_uuid_codes(sf):
    overlay(sf, "rules:\n  - {id: down, provider: solucionfactible, match: {rfc: PEFM800101AB2}, outcome: {code: 500}}\n")
    assert sf.asincrono(new_uuid(), rfc="PEFM800101AB2").status == 500
    assert sf.cancelar(USER, PASSWORD, "PEFM800101AB2", [new_uuid()], None, None, None).status == 500


def test_secrets_stay_out_of_the_journal(sf):
    sf.asincrono(new_uuid(), material=csd())
    raw = sf.admin("GET", "requests").text
    assert PASSWORD not in raw and fixture("csd_moral").password not in raw
    assert base64.b64encode(csd()[1]).decode()[:40] not in raw


# ---------------------------------------------------------------- e-mail over real SMTP


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        from email import message_from_bytes

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def test_notification_reaches_a_real_smtp_server(wsdl_client):
    inbox = _Inbox()
    with smtp_server(inbox) as controller:
        settings = Settings(port=0, memory=True, smtp_host="127.0.0.1", smtp_port=controller.port,
                            mail_from="avisos@pac-mock.test")
        with BackgroundServer(settings) as srv:
            from conftest import Sandbox

            sandbox = Sandbox(srv.url, "smtp")
            client, history = wsdl_client
            sf = SF(client, history, sandbox, "1.2")
            u = new_uuid()
            assert sf.asincrono(u, email="conta@example.mx").status == 200
            sf.admin("POST", "clock", json={"advance": "5m"})
            [message] = sf.admin("GET", "mail/wait", params={"count": 1, "timeout": 10}).json()["messages"]
            for _ in range(100):
                if inbox.messages:
                    break
                threading.Event().wait(0.05)
            [(rcpt, mail)] = inbox.messages
            assert rcpt == ["conta@example.mx"] and mail["From"] == "avisos@pac-mock.test"
            assert mail["X-SFService"] == "Cancelar"
            assert mail["X-UUIDCancelacion"] == u
            assert mail["X-StatusCancelacion"] == "OK"
            assert u in mail.get_payload(decode=True).decode("utf-8")
            for _ in range(100):
                message = sf.admin("GET", "mail").json()["messages"][0]
                if message["status"] == "sent":
                    break
                threading.Event().wait(0.05)
            assert message["status"] == "sent" and message["attempts"] == 1
