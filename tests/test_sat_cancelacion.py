"""Parsing and checking the SAT Cancelacion document (no signature involved)."""

from __future__ import annotations

from datetime import datetime

import pytest

from mockserver.sat import (
    BadFecha,
    BadMotivo,
    BadRfcEmisor,
    BadStructure,
    BadUuid,
    CancelacionError,
    FolioSustitucionForbidden,
    FolioSustitucionRequired,
    MalformedXml,
    NoFolios,
    TooManyFolios,
    WrongNamespace,
    WrongRoot,
    parse_cancelacion,
)

U1 = "6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11"
U2 = "7B9E8C37-2A54-4F2B-8E6D-1D3CAE2F6B22"
HEAD = '<Cancelacion xmlns="http://cancelacfd.sat.gob.mx" RfcEmisor="{rfc}" Fecha="{fecha}">'


def doc(body: str, rfc: str = "MOC900101AB1", fecha: str = "2026-05-01T10:00:00") -> bytes:
    return (HEAD.format(rfc=rfc, fecha=fecha) + body + "</Cancelacion>").encode()


def folio(uuid: str = U1, motivo: str | None = "02", sust: str | None = None) -> str:
    attrs = f'UUID="{uuid}"' + (f' Motivo="{motivo}"' if motivo is not None else "")
    attrs += f' FolioSustitucion="{sust}"' if sust is not None else ""
    return f"<Folios><Folio {attrs}/></Folios>"


def test_legacy_format() -> None:
    c = parse_cancelacion(doc(f"<Folios><UUID>{U1}</UUID><UUID> {U2.lower()} </UUID></Folios>"))
    assert c.format == "legacy"
    assert c.rfc_emisor == "MOC900101AB1"
    assert c.fecha == datetime(2026, 5, 1, 10, 0, 0)
    assert c.fecha_text == "2026-05-01T10:00:00"
    assert c.uuids == (U1, U2)  # normalised to upper case
    assert all(f.motivo is None and f.folio_sustitucion is None for f in c.folios)


def test_2022_format_one_folios_per_folio_and_several_per_folios() -> None:
    c = parse_cancelacion(doc(folio(U1, "01", U2) + folio(U2, "03")))
    assert c.format == "2022"
    assert [(f.uuid, f.motivo, f.folio_sustitucion) for f in c.folios] == [(U1, "01", U2), (U2, "03", None)]
    grouped = parse_cancelacion(
        doc(f'<Folios><Folio UUID="{U1}" Motivo="02"/><Folio UUID="{U2}" Motivo="04"/></Folios>')
    )
    assert grouped.uuids == (U1, U2)


def test_signature_child_is_ignored_by_the_parser() -> None:
    sig = '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>'
    assert parse_cancelacion(doc(folio() + sig)).uuids == (U1,)


@pytest.mark.parametrize(
    ("xml", "error"),
    [
        (b"", MalformedXml),
        (b"<Cancelacion", MalformedXml),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Cancelacion/>', MalformedXml),
        (b'<Cancelar xmlns="http://cancelacfd.sat.gob.mx"/>', WrongRoot),
        (b'<Cancelacion RfcEmisor="MOC900101AB1" Fecha="2026-05-01T10:00:00"/>', WrongNamespace),
        (b'<Cancelacion xmlns="http://otro" RfcEmisor="MOC900101AB1"/>', WrongNamespace),
    ],
)
def test_document_level_errors(xml: bytes, error: type[CancelacionError]) -> None:
    with pytest.raises(error) as exc:
        parse_cancelacion(xml)
    assert exc.value.reason == error.reason


def test_xxe_is_refused_not_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<Cancelacion xmlns="http://cancelacfd.sat.gob.mx" RfcEmisor="&x;"/>'
    ).encode()
    with pytest.raises(MalformedXml) as exc:
        parse_cancelacion(xml)
    assert "top secret" not in str(exc.value)


@pytest.mark.parametrize(
    ("kwargs", "body", "error"),
    [
        ({"rfc": ""}, folio(), BadRfcEmisor),
        ({"rfc": "NOTANRFC"}, folio(), BadRfcEmisor),
        ({"fecha": ""}, folio(), BadFecha),
        ({"fecha": "2026-05-01 10:00:00"}, folio(), BadFecha),
        ({"fecha": "2026-05-01T10:00:00.123"}, folio(), BadFecha),
        ({"fecha": "2026-05-01T10:00:00Z"}, folio(), BadFecha),
        ({"fecha": "2026-02-30T10:00:00"}, folio(), BadFecha),
        ({}, "", NoFolios),
        ({}, "<Folios/>", NoFolios),
        ({}, folio(uuid="not-a-uuid"), BadUuid),
        ({}, folio(uuid=U1 + "0"), BadUuid),
        ({}, f"<Folios><UUID>{U1[:-1]}G</UUID></Folios>", BadUuid),
        ({}, folio(motivo=None), BadMotivo),
        ({}, folio(motivo="05"), BadMotivo),
        ({}, folio(motivo="2"), BadMotivo),
        ({}, folio(motivo="01"), FolioSustitucionRequired),
        ({}, folio(motivo="01", sust=""), FolioSustitucionRequired),
        ({}, folio(motivo="01", sust="nope"), BadUuid),
        ({}, folio(motivo="02", sust=U2), FolioSustitucionForbidden),
        ({}, folio(motivo="03", sust=""), FolioSustitucionForbidden),
        ({}, f"<Folios><UUID>{U1}</UUID></Folios>" + folio(U2), BadStructure),
        ({}, "<Otro/>", BadStructure),
        ({}, f'<Folios><Folio UUID="{U1}" Motivo="02" Extra="x"/></Folios>', BadStructure),
        ({}, "<Folios><Algo/></Folios>", BadStructure),
    ],
)
def test_field_errors(kwargs: dict, body: str, error: type[CancelacionError]) -> None:
    with pytest.raises(error) as exc:
        parse_cancelacion(doc(body, **kwargs))
    assert type(exc.value) is error
    assert exc.value.reason == error.reason


def test_folio_count_limits() -> None:
    uuid = "6A8D7B26-1F43-4E1A-9F7C-{:012X}"
    ok = "".join(folio(uuid.format(i)) for i in range(500))
    assert len(parse_cancelacion(doc(ok)).folios) == 500
    with pytest.raises(TooManyFolios):
        parse_cancelacion(doc(ok + folio(uuid.format(500))))


def test_every_error_reason_is_distinct() -> None:
    import mockserver.sat.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SatError)]
    reasons = [c.reason for c in classes]
    assert len(reasons) == len(set(reasons))
