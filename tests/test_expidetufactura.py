"""Expide Tu Factura ``cancelar`` end to end: zeep built from the WSDL the sandbox serves (the same
messages as the provider's published one: test_wsdl_files), over HTTP.

Every documented code is reached by a real signed (or deliberately broken) request, and every answer
is validated against the WSDL's schema.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid as uuid_module
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import zeep
from lxml import etree
from satcfdi.create.cancela.cancelacion import Cancelacion as SatcfdiCancelacion
from satcfdi.create.cancela.cancelacion import Folio as SatcfdiFolio
from satcfdi.models import Signer
from zeep.plugins import HistoryPlugin

from mockserver import registry
from mockserver.providers.expidetufactura import codes
from mockserver.sat import sign_cancelacion, verify_acuse
from mockserver.sat import verdict as sat_verdict
from mockserver.sat.cancelacion import NS as SAT_NS
from mockserver.sat.cancelacion import Folio, build_cancelacion
from mockserver.sat.pki import fixture
from mockserver.sat.signature import sign_enveloped

from helpers import project_wsdl
from wsdl_schema import assert_valid_body

REPO = Path(__file__).resolve().parent.parent
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XPD = "http://service.xpd.mx/"
WSDL = project_wsdl("expidetufactura", "CancelacionPruebas.wsdl")
# The mock clock in every test (Mexico City wall time) and a Fecha five minutes earlier.
NOW = datetime(2026, 6, 1, 12, 0, 0)
FECHA = NOW - timedelta(minutes=5)
U203 = "00000000-0000-4000-8000-000000000203"
U204 = "00000000-0000-4000-8000-000000000204"
U205 = "00000000-0000-4000-8000-000000000205"
U202 = "00000000-0000-4000-8000-000000000202"
U213 = "00000000-0000-4000-8000-00000000A213"


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def signed(name: str = "csd_moral", folios=None, fecha: datetime = FECHA, fmt: str = "2022", **kw) -> bytes:  # type: ignore[no-untyped-def]
    info = fixture(name)
    cert = info.certificate()
    rfc = kw.pop("rfc", cert.rfc)
    folios = [new_uuid()] if folios is None else folios
    return sign_cancelacion(cert, info.private_key(), rfc, folios, fecha, fmt, **kw)  # type: ignore[arg-type]


def signed_tree(root: etree._Element, name: str = "csd_moral") -> bytes:
    info = fixture(name)
    return sign_enveloped(root, info.certificate(), info.private_key())


def satcfdi_signed(folios: list[SatcfdiFolio], fecha: datetime = FECHA) -> bytes:
    info = fixture("csd_moral")
    signer = Signer.load(info.cer_bytes(), info.key_bytes(), info.password)
    return SatcfdiCancelacion(signer, folios, fecha=fecha).xml_bytes()


def sub(pattern: bytes, repl: bytes, xml: bytes) -> bytes:
    out, n = re.subn(pattern, repl, xml, count=1)
    assert n == 1, pattern
    return out


class Etf:
    """A zeep client per environment, from the WSDLs the sandbox serves, bound to one sandbox."""

    def __init__(self, sandbox) -> None:  # type: ignore[no-untyped-def]
        self.sandbox = sandbox
        self.history = HistoryPlugin()
        self.services = {}
        for env in ("Pruebas", "Productivo"):
            client = zeep.Client(f"{sandbox.root}/cancelacion/Cancelacion{env}?wsdl", plugins=[self.history])
            self.services[env] = client.create_service(
                f"{{{XPD}}}Cancelacion{env}SoapBinding", f"{sandbox.url}/cancelacion/Cancelacion{env}"
            )
        self.wsdl = WSDL

    def cancelar(self, xml: bytes | None, usuario: str = "pruebas", token: str = "123456", env: str = "Pruebas"):  # type: ignore[no-untyped-def]
        result = self.services[env].cancelar(usuario, token, xml)
        payload = self.history.last_received["envelope"].find(f"{{{SOAP_ENV}}}Body")[0]
        assert_valid_body(self.wsdl, payload)
        return result

    def overlay(self, text: str) -> None:
        r = self.sandbox.admin("PUT", "scenarios", data=text, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 200, r.text

    def freeze(self, at: datetime) -> None:
        r = self.sandbox.admin("POST", "clock", json={"freeze": at.isoformat()})
        assert r.status_code == 200, r.text


@pytest.fixture
def etf(sandbox) -> Etf:  # type: ignore[no-untyped-def]
    e = Etf(sandbox)
    e.freeze(NOW)
    return e


def journal(sandbox) -> list[dict]:  # type: ignore[no-untyped-def]
    return sandbox.admin("GET", "requests", params={"provider": "expidetufactura"}).json()["requests"]


# --- success ---------------------------------------------------------------------------------------


def test_cancel_one_folio_gives_201_and_an_acuse_signed_by_the_fake_sat(etf):
    u = new_uuid()
    r = etf.cancelar(signed(folios=[u]))
    assert (r.codEstatus, r.codMensaje) == ("200", codes.CODES["200"])
    assert (r.uuids, r.estatusUUIDs) == ([u], ["201"])
    acuse = verify_acuse(r.acuse.encode("utf-8"), (REPO / "fixtures" / "sat_acuse.cer").read_bytes())
    assert acuse.rfc_emisor == "MOC900101AB1"
    assert acuse.folios == ((u, "201"),)
    assert acuse.fecha_text.startswith("2026-06-01T12:00:00")
    entries = etf.sandbox.admin("GET", "registry").json()["uuids"]
    assert {"uuid": u, "status": "cancelado", "provider": "expidetufactura"}.items() <= entries[0].items()


def test_second_cancellation_of_a_uuid_gives_202(etf):
    u = new_uuid()
    assert etf.cancelar(signed(folios=[u])).estatusUUIDs == ["201"]
    r = etf.cancelar(signed(folios=[u, new_uuid()]))
    assert r.codEstatus == "200" and r.estatusUUIDs == ["202", "201"]
    assert verify_acuse(r.acuse.encode()).folios[0] == (u, "202")


PROD = "providers:\n  expidetufactura:\n    accounts:\n      - {user: prod, password: s3creto, environment: productivo}\n"


def prod(etf: Etf, xml: bytes):  # type: ignore[no-untyped-def]
    """Production, where SAT's per-UUID codes 203-205 exist (the test environment answers 201/202)."""
    etf.overlay(PROD)
    return etf.cancelar(xml, "prod", "s3creto", env="Productivo")


def test_a_uuid_cancelled_through_another_provider_is_previously_cancelled(etf, server):
    u = new_uuid()
    with server.runtime.store.tx() as conn:
        registry.set_status(conn, etf.sandbox.session, u, sat_verdict.CANCELADO, at=datetime(2026, 6, 1),
                            rfc_emisor="MOC900101AB1", provider="solucionfactible")
    assert etf.cancelar(signed(folios=[u])).estatusUUIDs == ["202"]
    # ...and one another issuer cancelled is not this issuer's
    with server.runtime.store.tx() as conn:
        registry.set_status(conn, etf.sandbox.session, u, sat_verdict.CANCELADO, at=datetime(2026, 6, 1),
                            rfc_emisor="OTR900101AA1", provider="solucionfactible")
    assert prod(etf, signed(folios=[u])).estatusUUIDs == ["203"]
    assert etf.cancelar(signed(folios=[u])).estatusUUIDs == ["202"]  # the test environment: cancelled is 202


def test_per_uuid_codes_from_the_sat_seed_in_request_order(etf):
    u = new_uuid()
    r = prod(etf, signed(folios=[U205, u, U203, U204, U202]))
    assert r.codEstatus == "200"
    assert r.uuids == [U205, u, U203, U204, U202]
    assert r.estatusUUIDs == ["205", "201", "203", "204", "202"]
    assert verify_acuse(r.acuse.encode()).folios == tuple(zip(r.uuids, r.estatusUUIDs, strict=True))


def test_legacy_format_and_persona_fisica(etf):
    us = [new_uuid(), new_uuid()]
    r = etf.cancelar(signed("csd_fisica", folios=us, fmt="legacy"))
    assert (r.codEstatus, r.uuids, r.estatusUUIDs) == ("200", us, ["201", "201"])
    assert verify_acuse(r.acuse.encode()).rfc_emisor == "PEFM800101AB2"


def test_satcfdi_signed_request_with_substitution(etf):
    u1, u2 = new_uuid(), new_uuid()
    r = etf.cancelar(satcfdi_signed([SatcfdiFolio(u1, "01", u2), SatcfdiFolio(u2, "02")]))
    assert (r.codEstatus, r.uuids, r.estatusUUIDs) == ("200", [u1, u2], ["201", "201"])


def test_500_folios_in_one_request(etf):
    us = [new_uuid() for _ in range(500)]
    us[250] = U204
    r = prod(etf, signed(folios=us))
    assert r.codEstatus == "200" and r.uuids == us
    assert r.estatusUUIDs.count("201") == 499 and r.estatusUUIDs[250] == "204"
    assert len(verify_acuse(r.acuse.encode()).folios) == 500
    entry = journal(etf.sandbox)[0]
    assert entry["summary"]["folios"] == 500 and entry["summary"]["estatus"] == {"201": 499, "204": 1}


def test_production_endpoint_takes_production_accounts(etf):
    etf.overlay("providers:\n  expidetufactura:\n    accounts:\n"
                "      - {user: prod, password: s3creto, environment: productivo}\n")
    r = etf.cancelar(signed(), "prod", "s3creto", env="Productivo")
    assert r.codEstatus == "200" and r.estatusUUIDs == ["201"]


def test_recipient_acceptance_is_pending_then_settled_by_the_clock(etf):
    r = prod(etf, signed(folios=[U213]))
    assert r.estatusUUIDs == ["201"]
    status = {e["uuid"]: e["status"] for e in etf.sandbox.admin("GET", "registry").json()["uuids"]}
    assert status[U213] == "en_proceso"
    assert etf.sandbox.admin("GET", "jobs").json()["expidetufactura"]["awaiting_recipient"][0]["uuid"] == U213
    etf.sandbox.admin("POST", "clock", json={"advance": "10m"})
    status = {e["uuid"]: e["status"] for e in etf.sandbox.admin("GET", "registry").json()["uuids"]}
    assert status[U213] == "rechazado"
    # Refused by the recipient: still vigente for SAT, so it may be requested again.
    assert prod(etf, signed(folios=[U213], fecha=NOW + timedelta(minutes=5))).estatusUUIDs == ["201"]


# --- rules ------------------------------------------------------------------------------------------


def test_rules_set_per_uuid_codes_and_match_every_uuid(etf):
    a, b, c = new_uuid(), new_uuid(), new_uuid()
    etf.overlay(
        "rules:\n"
        f"  - {{id: uc, provider: expidetufactura, match: {{uuid: {a}}}, outcome: {{uuid_codes: {{'{c}': 205}}}}}}\n"
        f"  - {{id: second, provider: expidetufactura, match: {{uuid: {b}}}, outcome: {{code: 204}}}}\n"
    )
    r = etf.cancelar(signed(folios=[a, b, c]))
    assert r.estatusUUIDs == ["201", "204", "205"]


def test_rule_code_500_answers_the_whole_request_and_changes_nothing(etf):
    a, b = new_uuid(), new_uuid()
    etf.overlay(f"rules:\n  - {{id: boom, provider: expidetufactura, match: {{uuid: {b}}}, times: 1, "
                "outcome: {code: 500}}\n")
    r = etf.cancelar(signed(folios=[a, b]))
    assert (r.codEstatus, r.codMensaje, r.uuids, r.acuse) == ("500", codes.CODES["500"], [], None)
    # The rule applied once; nothing was cancelled meanwhile.
    assert etf.cancelar(signed(folios=[a, b])).estatusUUIDs == ["201", "201"]


def test_a_rule_never_switches_the_seal_check_off(etf):
    etf.overlay("rules:\n  - {id: all-ok, provider: expidetufactura, outcome: {code: 200}}\n")
    xml = sub(rb'UUID="[^"]+"', b'UUID="' + new_uuid().encode() + b'"', signed())
    assert etf.cancelar(xml).codEstatus == "302"


# --- credentials ------------------------------------------------------------------------------------

ACCOUNTS = (
    "providers:\n  expidetufactura:\n    accounts:\n"
    "      - {user: prod, password: s3creto, environment: productivo}\n"
    "      - {user: bloqueado, password: s3creto, state: blocked}\n"
    "      - {user: limitado, password: s3creto, stamps: 2}\n"
)


@pytest.mark.parametrize(
    ("usuario", "token", "env", "code", "plain"),
    [
        ("pruebas", "654321", "Pruebas", "501", None),
        ("nadie", "123456", "Pruebas", "501", None),
        (None, None, "Pruebas", "501", None),
        ("pruebas", "123456", "Productivo", "501", None),  # a test account on production
        ("prod", "s3creto", "Pruebas", "501", None),  # a production account on test
        ("no-autorizado", "123456", "Pruebas", "502", None),
        ("bloqueado", "s3creto", "Pruebas", "502", codes.ACCESO_DENEGADO),
        ("sin-timbres", "123456", "Pruebas", "503", codes.RECONTRATAR),
    ],
)
def test_credentials(etf, usuario, token, env, code, plain):
    etf.overlay(ACCOUNTS)
    r = etf.cancelar(signed(), usuario, token, env=env)
    assert (r.codEstatus, r.codMensaje) == (code, codes.mensaje(code, plain))
    assert r.uuids == [] and r.acuse is None


def test_stamps_count_down_per_accepted_request(etf):
    etf.overlay(ACCOUNTS)
    assert etf.cancelar(b"<roto", "limitado", "s3creto").codEstatus == "301"  # refused: no stamp used
    assert etf.cancelar(signed(), "limitado", "s3creto").codEstatus == "200"
    assert etf.cancelar(signed(folios=[new_uuid() for _ in range(3)]), "limitado", "s3creto").codEstatus == "200"
    assert etf.cancelar(signed(), "limitado", "s3creto").codEstatus == "503"
    stamps = etf.sandbox.admin("GET", "jobs").json()["expidetufactura"]["stamps"]
    assert stamps["limitado"] == {"limit": 2, "used": 2}


# --- the document, the seal, the certificate, the dates ---------------------------------------------


def _two_issuers() -> bytes:
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02"), Folio(new_uuid(), "02")], FECHA)
    root[1][0].set("RfcEmisor", "OTR900101AA1")
    return signed_tree(root)


def _foreign_element() -> bytes:
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    etree.SubElement(root, f"{{{SAT_NS}}}Extra").text = "x"
    return signed_tree(root)


def _fecha_text(text: str) -> bytes:
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    root.set("Fecha", text)
    return signed_tree(root)


def _unsigned() -> bytes:
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


REVOKED = f"sat:\n  revoked_certificates: ['{fixture('csd_moral').certificate_number}']\n"
UNTRUSTED = "trust: {accept_sat_issuers: false}\n"
NOT_TAXPAYER = "sat:\n  not_taxpayers: [MOC900101AB1]\n"

# (id, document, overlay, clock, code, message: exact or a fragment)
CASES = [
    ("not-xml", lambda: b"<Cancelacion", None, None, "301", "XML mal formado"),
    ("not-cancelacion", lambda: b'<Otro xmlns="http://cancelacfd.sat.gob.mx"/>', None, None, "301", "Cancelacion"),
    ("no-folios", lambda: signed(folios=[], validate=False), None, None, "301", "no contiene folios"),
    ("501-folios", lambda: signed(folios=[new_uuid() for _ in range(501)]), None, None, "301", "500"),
    ("foreign-element", _foreign_element, None, None, "301", "Extra"),
    ("folios-of-two-issuers", _two_issuers, None, None, "301", "RfcEmisor"),
    ("bad-uuid", lambda: signed(folios=["NO-ES-UN-UUID"], validate=False), None, None, "500",
     "=UUID inválido, favor de verificar: No se tiene un UUID válido para cancelar"),
    ("bad-uuid-legacy", lambda: signed(folios=["123"], fmt="legacy", validate=False), None, None, "500",
     "=UUID inválido, favor de verificar: No se tiene un UUID válido para cancelar"),
    ("bad-motivo", lambda: signed(folios=[(new_uuid(), "09")], validate=False), None, None, "301", "Motivo"),
    ("unsigned", _unsigned, None, None, "302", "Signature"),
    ("changed-after-signing", lambda: sub(rb'UUID="[^"]+"', b'UUID="' + new_uuid().encode() + b'"', signed()),
     None, None, "302", "DigestValue"),
    ("bad-signature-value", lambda: sub(rb"<SignatureValue>[A-Za-z0-9+/]{8}", b"<SignatureValue>AAAAAAAA",
                                        signed()), None, None, "302", "SignatureValue"),
    ("rfc-not-of-certificate", lambda: signed(rfc="PEFM800101AB2"), None, None, "303",
     "=Sello no corresponde a emisor: RFC no corresponde al del certificado"),
    ("serial-number", lambda: sub(rb"<X509SerialNumber>[^<]+<", b"<X509SerialNumber>12345<", signed()),
     None, None, "303", "=Sello no corresponde a emisor: SerialNumber no corresponde al certificado"),
    ("issuer-name", lambda: sub(rb"<X509IssuerName>[^<]+<", b"<X509IssuerName>CN=Otra AC,O=Otra<", signed()),
     None, None, "303", "=Sello no corresponde a emisor: IssuerName incorrecto"),
    ("expired-csd", lambda: signed("csd_expired"), None, None, "304", "vencido"),
    ("revoked-csd", lambda: signed(), REVOKED, None, "304", "revoc"),
    ("fecha-before-csd-validity", lambda: signed(fecha=datetime(2019, 12, 31, 17, 30)), None,
     datetime(2020, 1, 2, 6, 0), "305", "vigencia"),
    ("fiel", lambda: signed("fiel_moral"), None, None, "306", "CSD"),
    ("impostor-ca", lambda: signed("csd_untrusted"), None, None, "308", "confianza"),
    ("untrusted-by-name-off", lambda: signed("csd_untrusted"), UNTRUSTED, None, "308", "confianza"),
    ("fecha-format", lambda: _fecha_text("2026-06-01 11:55:00"), None, None, "401", "Fecha inválida"),
    ("fecha-impossible", lambda: _fecha_text("2026-02-30T11:55:00"), None, None, "401", "Fecha inválida"),
    ("fecha-future", lambda: signed(fecha=NOW + timedelta(hours=1)), None, None, "401", "Fecha inválida"),
    ("fecha-over-72h", lambda: signed(fecha=NOW - timedelta(hours=72, minutes=1)), None, None, "401",
     "Fecha inválida"),
    ("not-a-taxpayer", lambda: signed(), NOT_TAXPAYER, None, "402", "=" + codes.CODES["402"]),
    ("fecha-before-2012", lambda: signed(fecha=datetime(2011, 12, 31, 23, 0)), None, None, "403",
     "=" + codes.CODES["403"]),
    ("injected-500", lambda: signed(), "rules:\n  - {provider: expidetufactura, outcome: {code: 500}}\n",
     None, "500", "=" + codes.CODES["500"]),
]


@pytest.mark.parametrize(("case", "make", "overlay", "clock", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_documented_error(etf, case, make, overlay, clock, code, message):
    if overlay:
        etf.overlay(overlay)
    if clock:
        etf.freeze(clock)
    r = etf.cancelar(make())
    assert r.codEstatus == code, r.codMensaje
    if message.startswith("="):
        assert r.codMensaje == message[1:]
    else:
        assert message in r.codMensaje
    assert r.uuids == [] and r.estatusUUIDs == [] and r.acuse is None
    assert journal(etf.sandbox)[0]["summary"]["code"] == code


def test_the_cases_reach_every_request_code_but_stamping_ones():
    reached = {c[4] for c in CASES} | {"200", "501", "502", "503"}
    assert set(codes.CODES) - reached == {"307", "504"}  # stamping codes: only a rule answers them


def test_bad_base64_and_missing_xmlbytes_are_301_not_faults(etf):
    for xml_bytes in ("@@@ no es base64 @@@", ""):
        body = (
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ser="{XPD}"><soapenv:Body><ser:cancelar>'
            f"<usuario>pruebas</usuario><token>123456</token><xmlBytes>{xml_bytes}</xmlBytes>"
            "</ser:cancelar></soapenv:Body></soapenv:Envelope>"
        )
        response = etf.sandbox.post_soap("/cancelacion/CancelacionPruebas", body, action='""')
        assert response.status_code == 200
        payload = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")[0]
        assert_valid_body(etf.wsdl, payload)
        assert payload.findtext("return/codEstatus") == "301"
        expected = codes.BAD_BASE64 if xml_bytes else codes.NO_XML
        assert payload.findtext("return/codMensaje") == f"{codes.CODES['301']}: {expected}"
    assert etf.cancelar(None).codEstatus == "301"


# --- concurrency and the journal ----------------------------------------------------------------------


def _post_many(etf: Etf, xml: bytes, n: int, usuario: str = "pruebas", token: str = "123456") -> list[etree._Element]:
    body = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ser="{XPD}"><soapenv:Body><ser:cancelar>'
        f"<usuario>{usuario}</usuario><token>{token}</token>"
        f"<xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes></ser:cancelar></soapenv:Body></soapenv:Envelope>"
    )
    results: list[etree._Element] = []
    barrier = threading.Barrier(n)

    def post() -> None:
        barrier.wait()
        response = etf.sandbox.post_soap("/cancelacion/CancelacionPruebas", body)
        results.append(etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")[0].find("return"))

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_cancellations_of_one_uuid_give_exactly_one_201(etf):
    results = _post_many(etf, signed(), 6)
    assert sorted(r.findtext("estatusUUIDs") for r in results) == ["201"] + ["202"] * 5


def test_concurrent_requests_never_exceed_the_stamps(etf):
    etf.overlay(ACCOUNTS)
    results = _post_many(etf, signed(), 6, "limitado", "s3creto")
    assert sorted(r.findtext("codEstatus") for r in results) == ["200", "200"] + ["503"] * 4


def test_journal_shows_the_decoded_cancelacion_and_no_secrets(etf):
    us = [new_uuid(), U205]
    prod(etf, signed(folios=us))
    entry = journal(etf.sandbox)[0]
    summary = entry["summary"]
    assert summary["rfc"] == "MOC900101AB1" and summary["folios"] == 2 and summary["code"] == "200"
    assert summary["format"] == "2022" and summary["user"] == "prod"
    assert summary["certificate_number"] == fixture("csd_moral").certificate_number
    assert summary["uuids"] == [f"{us[0]}:201", f"{U205}:205"]
    assert "s3creto" not in entry["request"] and "<token>***</token>" in entry["request"]
    assert "PRIVATE" not in str(entry) and fixture("csd_moral").password not in str(entry)


def test_the_cancelacion_is_read_once_for_the_rules_and_its_verification(etf, monkeypatch):
    from mockserver.sat import cancelacion as sat_cancelacion
    from mockserver.sat import signature as sat_signature

    reads = []
    original = sat_cancelacion.cancelacion_from_element

    def counted(root):  # type: ignore[no-untyped-def]
        reads.append(root)
        return original(root)

    monkeypatch.setattr(sat_cancelacion, "cancelacion_from_element", counted)
    monkeypatch.setattr(sat_signature, "cancelacion_from_element", counted)
    # A rule on the UUID makes the dispatcher read the document for matching before the service.
    uuid = new_uuid()
    etf.overlay(f"rules:\n- id: seen\n  provider: expidetufactura\n  match: {{uuid: {uuid}}}\n  outcome: {{}}\n")
    answer = etf.cancelar(signed(folios=[uuid]))
    assert (answer.codEstatus, answer.estatusUUIDs) == ("200", ["201"])
    assert len(reads) == 1
