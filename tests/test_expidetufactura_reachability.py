"""Every code of Expide Tu Factura's catalogue is reached through the wire (raw SOAP).

One case per code, each by the condition the guide gives for it where the sandbox can produce it
(credentials, the document, the seal, the certificate, the dates, SAT's registry). A scenario rule
is used only for the two stamping codes (307, 504), which ``cancelar`` has no condition for, and SAT
data a scenario seeds (taxpayer registry, a CFDI SAT does not know or that cannot be cancelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from lxml import etree
from test_expidetufactura import new_uuid, signed
from test_expidetufactura_fidelity import NOW, PRODUCTIVO, Answer, Xpd

from mockserver.providers.expidetufactura import codes
from mockserver.sat.cancelacion import Folio as SatFolio
from mockserver.sat.cancelacion import build_cancelacion


@pytest.fixture
def xpd(sandbox) -> Xpd:  # type: ignore[no-untyped-def]
    x = Xpd(sandbox)
    x.freeze(NOW)
    x.overlay(PRODUCTIVO)  # SAT's per-UUID codes beyond 201/202 answer in production (003:162)
    return x


def _unsigned() -> bytes:
    root = build_cancelacion("MOC900101AB1", [SatFolio(new_uuid(), "02")], NOW - timedelta(minutes=5))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _twice(x: Xpd) -> Answer:
    u = new_uuid()
    assert x.productivo(signed(folios=[u])).estatus == ["201"]
    return x.productivo(signed(folios=[u]))


def _another_issuers(x: Xpd) -> Answer:
    u = new_uuid()
    assert x.productivo(signed(folios=[u])).estatus == ["201"]  # cancelled by MOC900101AB1
    return x.productivo(signed("csd_fisica", folios=[u]))


def _seeded(text: str) -> Callable[[Xpd], Answer]:
    def reach(x: Xpd) -> Answer:
        u = new_uuid()
        x.overlay(PRODUCTIVO + f"sat:\n  cfdis:\n    - {{uuid: {u}, {text}}}\n")
        return x.productivo(signed(folios=[u]))

    return reach


def _overlay(text: str, make: Callable[[], bytes], **call: str) -> Callable[[Xpd], Answer]:
    def reach(x: Xpd) -> Answer:
        x.overlay(PRODUCTIVO + text)
        return x.cancelar(make(), **call)

    return reach


def _at(clock: datetime, make: Callable[[], bytes]) -> Callable[[Xpd], Answer]:
    def reach(x: Xpd) -> Answer:
        x.freeze(clock)
        return x.cancelar(make())

    return reach


def _rule(code: int) -> Callable[[Xpd], Answer]:
    return _overlay(f"rules:\n  - {{provider: expidetufactura, outcome: {{code: {code}}}}}\n", signed)


@dataclass(frozen=True)
class Reach:
    how: Callable[[Xpd], Answer]
    per_uuid: bool = False  # the code is a folio's estatusUUID, in a 200 answer


REACH: dict[str, Reach] = {
    codes.OK: Reach(lambda x: x.cancelar(signed())),
    # per UUID (production)
    codes.CANCELADO: Reach(lambda x: x.productivo(signed()), per_uuid=True),
    codes.PREVIAMENTE_CANCELADO: Reach(_twice, per_uuid=True),
    codes.NO_DEL_EMISOR: Reach(_another_issuers, per_uuid=True),
    codes.NO_APLICABLE: Reach(_seeded("cancelable: no_cancelable"), per_uuid=True),
    codes.NO_EXISTE: Reach(_seeded("status: no_encontrado"), per_uuid=True),
    # the document, the seal, the certificate
    codes.XML_MAL_FORMADO: Reach(lambda x: x.cancelar(b"<Cancelacion")),
    codes.SELLO_INVALIDO: Reach(lambda x: x.cancelar(_unsigned())),
    codes.SELLO_NO_CORRESPONDE: Reach(lambda x: x.cancelar(signed(rfc="PEFM800101AB2"))),
    codes.CERTIFICADO_REVOCADO_O_CADUCO: Reach(lambda x: x.cancelar(signed("csd_expired"))),
    codes.FUERA_DE_VIGENCIA: Reach(_at(datetime(2020, 1, 2, 6, 0), lambda: signed(fecha=datetime(2019, 12, 31, 17, 30)))),
    codes.NO_ES_CSD: Reach(lambda x: x.cancelar(signed("fiel_moral"))),
    codes.TIMBRE_PREVIO: Reach(_rule(307)),  # a stamping code: no condition of cancelar gives it
    codes.NO_EXPEDIDO_POR_SAT: Reach(lambda x: x.cancelar(signed("csd_untrusted"))),
    # the dates and the taxpayer registry
    codes.FECHA_FUERA_DE_RANGO: Reach(lambda x: x.cancelar(signed(fecha=NOW - timedelta(hours=73)))),
    codes.NO_CONTRIBUYENTE: Reach(_overlay("sat:\n  not_taxpayers: [MOC900101AB1]\n", signed)),
    codes.ANTERIOR_A_2012: Reach(lambda x: x.cancelar(signed(fecha=datetime(2011, 12, 31, 23, 0)))),
    # the service and the account
    codes.ERROR_DEL_SERVICIO: Reach(lambda x: x.cancelar(signed(folios=[new_uuid().lower()], validate=False))),
    codes.CREDENCIALES_INVALIDAS: Reach(lambda x: x.cancelar(signed(), token="otro")),
    codes.NO_AUTORIZADO: Reach(lambda x: x.cancelar(signed(), "no-autorizado", "123456")),
    codes.SIN_TIMBRES: Reach(lambda x: x.cancelar(signed(), "sin-timbres", "123456")),
    codes.TIMBRADO_PREVIAMENTE: Reach(_rule(504)),  # a stamping code: no condition of cancelar gives it
}


@pytest.mark.parametrize("code", sorted(REACH))
def test_the_code_is_reached_through_the_wire(xpd, code):
    reach = REACH[code]
    r = reach.how(xpd)
    if reach.per_uuid:
        assert (r.cod_estatus, r.estatus[-1:]) == (codes.OK, [code]), r
        assert r.acuse
    else:
        assert r.cod_estatus == code, r
        assert r.cod_mensaje, r
        if code != codes.OK:
            assert r.estatus == [] and r.acuse is None, r
    entry = xpd.sandbox.admin("GET", "requests", params={"provider": "expidetufactura", "limit": 1}).json()
    assert entry["requests"][0]["summary"]["code"] == (codes.OK if reach.per_uuid else code)


def test_the_cases_cover_the_whole_catalogue():
    assert set(REACH) == set(codes.CODES) | set(codes.ESTATUS_UUID)
