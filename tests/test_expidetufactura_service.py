"""Expide Tu Factura rules without HTTP: the service, the catalogue and the SAT-error mapping."""

from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from mockserver import registry
from mockserver import sat as sat_module
from mockserver.clock import Clock, parse_instant
from mockserver.providers import all_providers
from mockserver.providers.expidetufactura import codes
from mockserver.providers.expidetufactura.models import Known
from mockserver.providers.expidetufactura.service import (
    CancelarRequest,
    estatus_folio,
    rule_fields,
)
from mockserver.providers.expidetufactura.wire import SERVICES, answer, read_cancelar, write_respuesta
from mockserver.runtime import Runtime
from mockserver.sat import SatError, sign_cancelacion, verify_acuse
from mockserver.sat import verdict as sat_verdict
from mockserver.sat.pki import fixture
from mockserver.scenarios.model import SatCfdi
from mockserver.settings import Settings
from mockserver.soap.service import Call

NOW = datetime(2026, 6, 1, 12, 0, 0)
FECHA = NOW - timedelta(minutes=1)


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime(Settings(port=0, memory=True), all_providers())


@pytest.fixture
def ctx(runtime):  # type: ignore[no-untyped-def]
    session = uuid_module.uuid4().hex[:10]
    runtime.set_clock(session, Clock().frozen(parse_instant(NOW.isoformat())))
    return runtime.context(session)


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def request(folios=None, usuario="pruebas", token="123456", name="csd_moral", **kw) -> CancelarRequest:  # type: ignore[no-untyped-def]
    info = fixture(name)
    cert = info.certificate()
    xml = sign_cancelacion(cert, info.private_key(), cert.rfc, folios or [new_uuid()], kw.pop("fecha", FECHA), **kw)
    return CancelarRequest(usuario, token, xml)


def cancelar(ctx, environment: str, req: CancelarRequest):  # type: ignore[no-untyped-def]
    """What the wire answers to one call on the ``environment``'s port (no HTTP, no envelope)."""
    [service] = [s for s in SERVICES if s.environment == environment]
    return answer(Call(ctx, service, service.operations[0], request=None, data=req))


# --- the service ------------------------------------------------------------------------------------


def test_success_cancels_registers_and_seals_an_acuse(ctx):
    u = new_uuid()
    # the test environment answers 201 and 202 only, even for the seed's "does not exist" UUID
    r = cancelar(ctx, "pruebas", request([u, "00000000-0000-4000-8000-000000000205"]))
    assert (r.cod_estatus, r.folios) == ("200", [(u, "201"), ("00000000-0000-4000-8000-000000000205", "201")])
    assert verify_acuse(r.acuse.encode()).folios == tuple(r.folios)
    with ctx.store.read() as conn:
        assert registry.status_of(conn, ctx.session, u) == sat_verdict.CANCELADO
    assert r.summary["estatus"] == {"201": 2}
    again = cancelar(ctx, "pruebas", request([u]))
    assert again.folios == [(u, "202")]


def test_environment_comes_from_the_caller(ctx):
    assert cancelar(ctx, "productivo", request()).cod_estatus == "501"
    assert cancelar(ctx, "pruebas", request()).cod_estatus == "200"


def test_stamps_are_used_only_by_accepted_requests(ctx, runtime):
    runtime.set_overlay(ctx.session, "providers:\n  expidetufactura:\n    accounts:\n"
                                     "      - {user: uno, password: x, stamps: 1}\n")
    ctx = runtime.context(ctx.session)
    assert cancelar(ctx, "pruebas", CancelarRequest("uno", "x", b"<a/>")).cod_estatus == "301"
    assert cancelar(ctx, "pruebas", request(usuario="uno", token="x")).cod_estatus == "200"
    assert cancelar(ctx, "pruebas", request(usuario="uno", token="x")).cod_estatus == "503"


def test_missing_xml_reports_the_wire_reason(ctx):
    r = cancelar(ctx, "pruebas", CancelarRequest("pruebas", "123456", None, codes.BAD_BASE64))
    assert (r.cod_estatus, r.cod_mensaje) == ("301", f"{codes.CODES['301']}: {codes.BAD_BASE64}")


def test_72_hour_window_edges(ctx):
    assert cancelar(ctx, "pruebas", request(fecha=NOW - timedelta(hours=72))).cod_estatus == "200"
    assert cancelar(ctx, "pruebas", request(fecha=NOW - timedelta(hours=72, seconds=1))).cod_estatus == "401"
    assert cancelar(ctx, "pruebas", request(fecha=NOW + timedelta(minutes=4))).cod_estatus == "200"
    assert cancelar(ctx, "pruebas", request(fecha=NOW + timedelta(minutes=6))).cod_estatus == "401"


def test_check_validity_off_accepts_an_expired_csd(ctx, runtime):
    assert cancelar(ctx, "pruebas", request(name="csd_expired")).cod_estatus == "304"
    runtime.set_overlay(ctx.session, "trust: {check_validity: false}\n")
    assert cancelar(runtime.context(ctx.session), "pruebas", request(name="csd_expired")).cod_estatus == "200"


# --- per-folio status (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "seed", "expected"),
    [
        (None, None, ("201", "cancelar")),
        (None, SatCfdi("U", status="no_encontrado"), ("205", None)),
        (Known("vigente", None), SatCfdi("U", status="no_encontrado"), ("201", "cancelar")),
        (None, SatCfdi("U", issuer="OTR900101AA1"), ("203", None)),
        (Known("cancelado", "OTR900101AA1"), None, ("203", None)),
        (Known("cancelado", "MOC900101AB1"), None, ("202", None)),
        (None, SatCfdi("U", status="cancelado"), ("202", None)),
        (Known("en_proceso", None), None, ("201", None)),
        (None, SatCfdi("U", cancelable="no_cancelable"), ("204", None)),
        (None, SatCfdi("U", cancelable="con_aceptacion"), ("201", "esperar")),
        (Known("rechazado", "MOC900101AB1"), None, ("201", "cancelar")),
    ],
)
def test_estatus_folio(known, seed, expected):
    assert estatus_folio(sat_verdict.verdict("MOC900101AB1", known, seed)) == expected


# --- the catalogue and the mapping ------------------------------------------------------------------


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_sat_cancellation_error_has_a_catalogue_code():
    relevant = [c for c in _subclasses(SatError) if not issubclass(c, sat_module.PrivateKeyError)]
    for cls in relevant:
        if cls is sat_module.BadUuid:
            continue
        assert cls.reason in codes.SAT_REASONS, cls.__name__
        refusal = codes.refuse_sat(cls("detalle"))
        code, message = str(refusal.code), refusal.message
        assert code in codes.CODES
        plain = codes.SAT_REASONS[cls.reason][1]
        # the table's text first, then the guide's plain message and/or the detail
        assert message.startswith(codes.CODES[code])
        assert (plain is not None and plain in message) or message.endswith("detalle")
    mismatch = codes.refuse_sat(sat_module.RfcMismatch())
    assert (mismatch.code, mismatch.message) == (
        "303", "Sello no corresponde a emisor: RFC no corresponde al del certificado")
    bad_uuid = codes.refuse_sat(sat_module.BadUuid("x"))
    assert (bad_uuid.code, bad_uuid.message) == (
        "500", "UUID inválido, favor de verificar: No se tiene un UUID válido para cancelar")


def test_rule_fields_read_the_first_uuid_and_never_raise():
    u = new_uuid()
    req = request([(u, "01", new_uuid())])
    fields = rule_fields(req, "pruebas")
    assert fields == {
        "user": "pruebas", "environment": "pruebas", "rfc": "MOC900101AB1", "uuid": u, "motivo": "01",
        "folio_sustitucion": fields["folio_sustitucion"],
        "certificate_number": fixture("csd_moral").certificate_number,
    }
    for junk in (b"", b"<x", b"\xff\xfe", b'<Cancelacion xmlns="http://cancelacfd.sat.gob.mx"/>'):
        assert rule_fields(CancelarRequest("u", "t", junk), "pruebas") == {"user": "u", "environment": "pruebas"}


# --- the wire ----------------------------------------------------------------------------------------


def _payload(children: str) -> etree._Element:
    return etree.fromstring(f'<ser:cancelar xmlns:ser="http://service.xpd.mx/">{children}</ser:cancelar>')


def test_wire_reads_and_writes():
    req = read_cancelar(_payload("<usuario>u</usuario><token>t</token><xmlBytes>PGEv\nPg==</xmlBytes>"))
    assert (req.usuario, req.token, req.xml, req.problem) == ("u", "t", b"<a/>", None)
    assert read_cancelar(_payload("<xmlBytes>!!</xmlBytes>")).problem == codes.BAD_BASE64
    assert read_cancelar(_payload("<usuario>u</usuario>")).problem == codes.NO_XML
    from mockserver.providers.expidetufactura.service import RespuestaCancelacion

    el = write_respuesta(RespuestaCancelacion("200", "ok", "<Acuse/>", [("A", "201"), ("B", "202")]))
    assert [c.tag for c in el[0]] == ["acuse", "codEstatus", "codMensaje", "estatusUUIDs", "estatusUUIDs",
                                      "uuids", "uuids"]
    assert el.tag == "{http://service.xpd.mx/}cancelarResponse" and el[0].tag == "return"


def test_acuse_fecha_is_mexico_city_time(ctx):
    r = cancelar(ctx, "pruebas", request())
    assert verify_acuse(r.acuse.encode()).fecha_text == "2026-06-01T12:00:00"
    assert ctx.now() == datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
