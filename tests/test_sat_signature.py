"""XMLDSig on Cancelacion and Acuse: interop with satcfdi, tampering, wrapping, policy, commands."""

from __future__ import annotations

import argparse
import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from satcfdi.create.cancela.cancelacion import Cancelacion as SatcfdiCancelacion
from satcfdi.create.cancela.cancelacion import Folio as SatcfdiFolio
from satcfdi.models import Signer

from mockserver.sat import (
    BadDigest,
    BadSeal,
    CertificateExpired,
    CertificateNotYetValid,
    FechaOutsideValidity,
    InvalidSeal,
    IssuerNameMismatch,
    KeyMismatch,
    MalformedSignature,
    MalformedXml,
    NotACsd,
    RfcMismatch,
    SatError,
    SerialNumberMismatch,
    TrustStore,
    UnsignedContent,
    UntrustedIssuer,
    WrongRoot,
    build_acuse,
    read_unverified,
    sign_cancelacion,
    verify_acuse,
    verify_cancelacion,
    verify_seal,
)
from mockserver.sat.commands import register
from mockserver.sat.pki import fixture

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FECHA = datetime(2026, 6, 1, 5, 30, 0)
U1 = "6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11"
U2 = "7B9E8C37-2A54-4F2B-8E6D-1D3CAE2F6B22"
DS = "http://www.w3.org/2000/09/xmldsig#"
TRUST = TrustStore.default()


def signed(name: str = "csd_moral", folios=None, fecha: datetime = FECHA, fmt: str = "2022", **kw) -> bytes:  # type: ignore[no-untyped-def]
    info = fixture(name)
    cert = info.certificate()
    rfc = kw.pop("rfc", cert.rfc)
    return sign_cancelacion(cert, info.private_key(), rfc, folios or [U1], fecha, fmt, **kw)  # type: ignore[arg-type]


def satcfdi_signed(folios: list[SatcfdiFolio], name: str = "csd_moral") -> bytes:
    info = fixture(name)
    signer = Signer.load(info.cer_bytes(), info.key_bytes(), info.password)
    return SatcfdiCancelacion(signer, folios, fecha=FECHA).xml_bytes()


def verify(xml: bytes, at: datetime = NOW):  # type: ignore[no-untyped-def]
    return verify_cancelacion(xml, TRUST, at)


def sub(pattern: bytes, repl: bytes, xml: bytes) -> bytes:
    out, n = re.subn(pattern, repl, xml, count=1)
    assert n == 1, pattern
    return out


# --- interop and the happy paths -----------------------------------------------------------------


def test_satcfdi_signed_cancelacion_verifies() -> None:
    xml = satcfdi_signed([SatcfdiFolio(U1, "01", U2), SatcfdiFolio(U2, "02")])
    v = verify(xml)
    assert v.cancelacion.format == "2022"
    assert v.cancelacion.rfc_emisor == "MOC900101AB1"
    assert v.cancelacion.fecha == FECHA
    assert [(f.uuid, f.motivo, f.folio_sustitucion) for f in v.cancelacion.folios] == [
        (U1, "01", U2),
        (U2, "02", None),
    ]
    assert v.certificate.certificate_number == fixture("csd_moral").certificate_number
    assert (v.signature_method, v.digest_method) == ("rsa-sha1", "sha1")


def test_our_signature_is_byte_identical_to_satcfdi() -> None:
    ours = signed(folios=[(U1, "01", U2), U2])
    theirs = satcfdi_signed([SatcfdiFolio(U1, "01", U2), SatcfdiFolio(U2, "02")])
    for tag in (rb"DigestValue", rb"SignatureValue"):
        pattern = rb"<" + tag + rb">([^<]+)<"
        assert re.search(pattern, ours).group(1) == re.search(pattern, theirs).group(1)  # type: ignore[union-attr]


def test_legacy_and_sha256_and_persona_fisica() -> None:
    legacy = verify(signed(folios=[U1, U2], fmt="legacy"))
    assert legacy.cancelacion.format == "legacy" and legacy.cancelacion.uuids == (U1, U2)
    sha256 = verify(signed(algorithm="sha256"))
    assert (sha256.signature_method, sha256.digest_method) == ("rsa-sha256", "sha256")
    assert verify(signed("csd_fisica")).certificate.rfc == "PEFM800101AB2"


def test_phpcfdi_style_key_info_is_accepted() -> None:
    """Issuer in certificate order, 20-digit serial, and an RSAKeyValue next to X509Data."""
    xml = signed()
    cert = fixture("csd_moral").certificate()
    forward = ",".join(reversed(cert.issuer_name.split(",")))
    xml = sub(rb"<X509IssuerName>[^<]*<", b"<X509IssuerName>" + forward.encode() + b"<", xml)
    xml = sub(
        rb"<X509SerialNumber>[^<]*<", b"<X509SerialNumber>" + cert.certificate_number.encode() + b"<", xml
    )
    numbers = cert.public_key().public_numbers()  # type: ignore[union-attr]
    modulus = base64.b64encode(numbers.n.to_bytes(256, "big"))
    key_value = (
        b"<KeyValue><RSAKeyValue><Modulus>"
        + modulus
        + b"</Modulus><Exponent>AQAB</Exponent></RSAKeyValue></KeyValue>"
    )
    xml = sub(rb"</X509Data>", b"</X509Data>" + key_value, xml)
    assert verify(xml).cancelacion.uuids == (U1,)


def test_harmless_variations_still_verify() -> None:
    xml = signed()
    assert verify(xml + b"\r\n")  # whitespace after the root element
    cert_b64 = re.search(rb"<X509Certificate>([^<]+)<", xml).group(1)  # type: ignore[union-attr]
    wrapped = b"\n".join(cert_b64[i : i + 76] for i in range(0, len(cert_b64), 76))
    assert verify(xml.replace(cert_b64, wrapped))
    assert verify(xml.replace(b"<?xml version='1.0' encoding='UTF-8'?>\n", b""))


def test_500_folios_verify() -> None:
    """The largest Cancelacion XPD takes verifies whole (its speed is measured in bench/)."""
    uuids = [f"6A8D7B26-1F43-4E1A-9F7C-{i:012X}" for i in range(500)]
    v = verify(satcfdi_signed([SatcfdiFolio(u, "02") for u in uuids]))
    assert [f.uuid for f in v.cancelacion.folios] == uuids


# --- tampering ------------------------------------------------------------------------------------


def test_tampered_folio_and_fecha_fail_digest() -> None:
    xml = signed(folios=[U1, U2])
    with pytest.raises(BadDigest):
        verify(xml.replace(U2.encode(), U1.encode()))
    with pytest.raises(BadDigest):
        verify(xml.replace(b'Fecha="2026-06-01T05:30:00"', b'Fecha="2026-06-01T05:30:01"'))
    with pytest.raises(BadDigest):
        verify(xml.replace(b'Motivo="02"', b'Motivo="03"', 1))


def test_tampered_signature_value_fails_seal() -> None:
    xml = signed()
    value = re.search(rb"<SignatureValue>([^<]+)<", xml).group(1)  # type: ignore[union-attr]
    raw = bytearray(base64.b64decode(value))
    raw[10] ^= 1
    with pytest.raises(BadSeal):
        verify(xml.replace(value, base64.b64encode(bytes(raw))))


def _cert_b64(name: str) -> bytes:
    return base64.b64encode(fixture(name).cer_bytes())


def test_swapped_certificate() -> None:
    xml = signed()
    swapped = xml.replace(_cert_b64("csd_moral"), _cert_b64("csd_fisica"))
    with pytest.raises(SerialNumberMismatch) as exc:
        verify(swapped)
    assert str(exc.value) == "SerialNumber no corresponde al certificado"
    other = fixture("csd_fisica").certificate()
    # Also rewriting the unsigned X509IssuerSerial: now the seal itself fails.
    swapped = sub(rb"<X509SerialNumber>[^<]*<", f"<X509SerialNumber>{other.serial}<".encode(), swapped)
    with pytest.raises(BadSeal):
        verify(swapped)


def test_edited_issuer_serial() -> None:
    xml = signed()
    with pytest.raises(SerialNumberMismatch):
        verify(sub(rb"<X509SerialNumber>[^<]*<", b"<X509SerialNumber>12345<", xml))
    with pytest.raises(SerialNumberMismatch):
        verify(sub(rb"<X509SerialNumber>[^<]*<", b"<X509SerialNumber>abc<", xml))
    with pytest.raises(IssuerNameMismatch) as exc:
        verify(xml.replace(b"CN=AC UAT FAKE<", b"CN=AC UAT<"))
    assert str(exc.value) == "IssuerName incorrecto"
    with pytest.raises(IssuerNameMismatch):
        verify(sub(rb"<X509IssuerName>[^<]*<", b"<X509IssuerName>not a name<", xml))


def test_whitespace_and_comment_edits_after_signing() -> None:
    xml = signed(folios=[U1, U2])
    with pytest.raises(BadDigest):
        verify(xml.replace(b"</Folios><Folios>", b"</Folios>\n<Folios>"))
    pretty = etree.tostring(etree.fromstring(xml), pretty_print=True)
    with pytest.raises(InvalidSeal):  # SignedInfo is reformatted too, so the seal fails first
        verify(pretty)
    with pytest.raises(UnsignedContent):
        verify(xml.replace(b"</Folios><Folios>", b"</Folios><!-- x --><Folios>"))
    with pytest.raises(UnsignedContent):
        verify(xml.replace(b"?>\n<Cancelacion", b"?>\n<!-- x --><Cancelacion"))
    with pytest.raises(UnsignedContent):
        verify(xml + b"<?pi x?>")


# --- wrapping attacks -----------------------------------------------------------------------------


def _signature_block(xml: bytes) -> bytes:
    return re.search(rb"<Signature .*</Signature>", xml, re.S).group(0)  # type: ignore[union-attr]


def test_two_signatures_are_refused() -> None:
    xml = signed()
    sig = _signature_block(xml)
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b"</Cancelacion>", sig + b"</Cancelacion>"))


def test_signature_not_under_the_root() -> None:
    xml = signed()
    body = xml.split(b"?>\n", 1)[1]
    evil = (
        b'<Cancelacion xmlns="http://cancelacfd.sat.gob.mx" RfcEmisor="MOC900101AB1" '
        b'Fecha="2026-06-01T05:30:00"><Folios><Folio UUID="' + U2.encode() + b'" Motivo="02"/></Folios>'
        b"<Folios>" + body + b"</Folios></Cancelacion>"
    )
    with pytest.raises(MalformedSignature):
        verify(evil)


def test_evil_root_carrying_the_original_signature() -> None:
    xml = signed()
    sig = _signature_block(xml)
    evil = (
        xml.replace(U1.encode(), U2.encode())
        .replace(sig, b"")
        .replace(b"</Cancelacion>", sig + b"</Cancelacion>")
    )
    with pytest.raises(BadDigest):
        verify(evil)
    inner = xml.split(b"?>\n", 1)[1]
    nested = evil.replace(b"</Cancelacion>", b"<Folios>" + inner + b"</Folios></Cancelacion>", 1)
    with pytest.raises(MalformedSignature):  # two Signature elements
        verify(nested)


def test_two_references_or_other_uri() -> None:
    xml = signed()
    reference = re.search(rb"<Reference URI=\"\">.*?</Reference>", xml, re.S).group(0)  # type: ignore[union-attr]
    with pytest.raises(MalformedSignature):
        verify(xml.replace(reference, reference + reference))
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b'<Reference URI="">', b'<Reference URI="#x">'))
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b'<Reference URI="">', b"<Reference>"))


def test_unsupported_algorithms_and_transforms() -> None:
    xml = signed()
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b"xmldsig#rsa-sha1", b"xmldsig#hmac-sha1"))
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b"REC-xml-c14n-20010315", b"REC-xml-c14n-20010315#WithComments", 1))
    xpath = (
        b'<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath>1</XPath></Transform>'
    )
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b"</Transforms>", xpath + b"</Transforms>"))
    with pytest.raises(MalformedSignature):
        verify(xml.replace(b"</Signature>", b"<Object>x</Object></Signature>"))


def test_missing_parts_of_the_signature() -> None:
    xml = signed()
    with pytest.raises(MalformedSignature):
        verify(xml.replace(_signature_block(xml), b""))
    with pytest.raises(MalformedSignature):
        verify(re.sub(rb"<X509IssuerSerial>.*</X509IssuerSerial>", b"", xml, flags=re.S))
    with pytest.raises(MalformedSignature):
        verify(sub(rb"<X509Certificate>[^<]*<", b"<X509Certificate>!!!<", xml))
    with pytest.raises(MalformedSignature):
        verify(sub(rb"<X509Certificate>[^<]*<", b"<X509Certificate>QUJD<", xml))
    with pytest.raises(MalformedXml):
        verify(xml[:-20])
    with pytest.raises(WrongRoot):
        verify(b'<Acuse xmlns="http://cancelacfd.sat.gob.mx"/>')


# --- certificate and document policy --------------------------------------------------------------


def test_rfc_must_match_the_certificate() -> None:
    with pytest.raises(RfcMismatch) as exc:
        verify(signed("csd_fisica", rfc="MOC900101AB1"))
    assert str(exc.value) == "RFC no corresponde al del certificado"


def test_fiel_is_not_a_csd() -> None:
    xml = signed("fiel_moral")
    assert verify_seal(xml).certificate.kind == "FIEL"
    with pytest.raises(NotACsd):
        verify(xml)
    assert verify_cancelacion(xml, TRUST, NOW, require_csd=False).certificate.kind == "FIEL"


def test_expired_untrusted_and_not_yet_valid() -> None:
    with pytest.raises(CertificateExpired):
        verify(signed("csd_expired", fecha=datetime(2022, 6, 1)))
    # the signature itself is fine; an earlier clock accepts it
    assert verify(signed("csd_expired", fecha=datetime(2022, 6, 1)), at=datetime(2022, 6, 2, tzinfo=UTC))
    with pytest.raises(UntrustedIssuer):
        verify(signed("csd_untrusted"))
    with pytest.raises(CertificateNotYetValid):
        verify(signed(), at=datetime(2019, 6, 1, tzinfo=UTC))


def test_fecha_outside_certificate_validity() -> None:
    with pytest.raises(FechaOutsideValidity):
        verify(signed(fecha=datetime(2019, 6, 1, 10, 0, 0)))


def test_signing_with_a_key_that_is_not_the_certificates() -> None:
    with pytest.raises(KeyMismatch):
        sign_cancelacion(
            fixture("csd_moral").certificate(),
            fixture("csd_fisica").private_key(),
            "MOC900101AB1",
            [U1],
            FECHA,
        )


def test_errors_share_one_base_with_reasons() -> None:
    for error in (BadDigest, BadSeal):
        assert issubclass(error, InvalidSeal) and issubclass(error, SatError)
    assert BadDigest.reason != BadSeal.reason != InvalidSeal.reason


# --- acuse ----------------------------------------------------------------------------------------


def test_acuse_verifies_with_the_published_certificate() -> None:
    xml = build_acuse("MOC900101AB1", NOW, [(U1, "201"), (U2, "202")])
    published = (REPO / "fixtures" / "sat_acuse.cer").read_bytes()
    acuse = verify_acuse(xml, published)
    assert acuse.rfc_emisor == "MOC900101AB1"
    assert acuse.folios == ((U1, "201"), (U2, "202"))
    assert acuse.fecha_text == "2026-06-01T06:00:00"  # Mexico City wall clock
    assert b'Id="SelloSAT"' in xml
    assert verify_acuse(xml).folios == acuse.folios
    with pytest.raises(BadDigest):
        verify_acuse(xml.replace(b">202<", b">201<"))
    with pytest.raises(BadSeal):
        verify_acuse(xml, fixture("csd_moral").cer_bytes())


def test_acuse_is_byte_for_byte_what_signxml_writes_for_it() -> None:
    """The acuse is sealed without signxml's generic machinery; its bytes must not change for that."""
    from mockserver.sat.acuse import NS, XSD_NS, XSI_NS, acuse_signer, format_acuse_fecha
    from mockserver.sat.signature import sign_enveloped

    folios = [(U1, "201"), (U2, "202")]
    root = etree.Element(f"{{{NS}}}Acuse", nsmap={None: NS, "xsd": XSD_NS, "xsi": XSI_NS})
    root.set("Fecha", format_acuse_fecha(NOW))
    root.set("RfcEmisor", "MOC900101AB1")
    for uuid, estatus in folios:
        wrapper = etree.SubElement(root, f"{{{NS}}}Folios")
        etree.SubElement(wrapper, f"{{{NS}}}UUID").text = uuid
        etree.SubElement(wrapper, f"{{{NS}}}EstatusUUID").text = estatus
    by_signxml = etree.fromstring(sign_enveloped(root, *acuse_signer(), algorithm="sha256"))
    by_signxml.find("{http://www.w3.org/2000/09/xmldsig#}Signature").set("Id", "SelloSAT")
    expected = etree.tostring(by_signxml, xml_declaration=True, encoding="UTF-8")
    assert build_acuse("MOC900101AB1", NOW, folios) == expected


# --- commands -------------------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_sign_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.xml"
    info = fixture("csd_moral")
    base = ["sign", "--cer", str(info.cer_path), "--key", str(info.key_path), "--password", info.password]
    code = _cli(
        [*base, "--uuid", f"{U1}:01:{U2}", "--uuid", U2, "--fecha", "2026-06-01T05:30:00", "--out", str(out)]
    )
    assert code == 0
    assert str(out) in capsys.readouterr().err
    v = verify(out.read_bytes())
    assert [(f.uuid, f.motivo) for f in v.cancelacion.folios] == [(U1, "01"), (U2, "02")]
    assert _cli([*base, "--uuid", U1, "--format", "legacy"]) == 0
    assert verify(capsys.readouterr().out.strip().encode()).cancelacion.format == "legacy"
    bad = [
        "sign",
        "--cer",
        str(info.cer_path),
        "--key",
        str(info.key_path),
        "--password",
        "wrong-pass",
        "--uuid",
        U1,
    ]
    assert _cli(bad) == 2
    err = capsys.readouterr().err
    assert "contraseña" in err and "wrong-pass" not in err
    assert _cli([*base, "--uuid", f"{U1}:01"]) == 2
    assert "FolioSustitucion" in capsys.readouterr().err


def test_fixtures_command(tmp_path: Path) -> None:
    assert _cli(["fixtures", "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "csd_moral.cer").read_bytes() == fixture("csd_moral").cer_bytes()
    assert _cli(["fixtures", "--new", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "csd_moral.cer").read_bytes() != fixture("csd_moral").cer_bytes()
    assert fixture("csd_moral", tmp_path / "b").certificate().kind == "CSD"


# --- parse once: what was read for the rules is what was verified ---------------------------------


def _wrapping_and_tampering_cases() -> list[bytes]:
    xml = signed(folios=[U1, U2])
    sig = _signature_block(xml)
    body = xml.split(b"?>\n", 1)[1]
    evil = xml.replace(U1.encode(), U2.encode()).replace(sig, b"").replace(b"</Cancelacion>", sig + b"</Cancelacion>")
    reference = re.search(rb"<Reference URI=\"\">.*?</Reference>", xml, re.S).group(0)  # type: ignore[union-attr]
    return [
        xml,
        satcfdi_signed([SatcfdiFolio(f"6A8D7B26-1F43-4E1A-9F7C-{i:012X}", "02") for i in range(500)]),
        xml.replace(U2.encode(), U1.encode()),
        xml.replace(b'Fecha="2026-06-01T05:30:00"', b'Fecha="2026-06-01T05:30:01"'),
        xml.replace(b"</Folios><Folios>", b"</Folios><!-- x --><Folios>"),
        xml.replace(b"</Cancelacion>", sig + b"</Cancelacion>"),
        b'<Cancelacion xmlns="http://cancelacfd.sat.gob.mx" RfcEmisor="MOC900101AB1" Fecha="2026-06-01T05:30:00">'
        b'<Folios><Folio UUID="' + U2.encode() + b'" Motivo="02"/></Folios><Folios>' + body + b"</Folios></Cancelacion>",
        evil,
        evil.replace(b"</Cancelacion>", b"<Folios>" + body + b"</Folios></Cancelacion>", 1),
        xml.replace(reference, reference + reference),
        xml.replace(b'<Reference URI="">', b'<Reference URI="#x">'),
        etree.tostring(etree.fromstring(xml), pretty_print=True),
        signed(rfc="XAXX010101000"),
        xml.replace(b'RfcEmisor="', b'RfcEmisor="x'),
        xml[:-20],
    ]


@pytest.mark.parametrize("case", range(15))
def test_a_document_read_once_verifies_or_fails_exactly_as_one_read_twice(case: int) -> None:
    xml = _wrapping_and_tampering_cases()[case]

    def outcome(**kw):  # type: ignore[no-untyped-def]
        try:
            return verify_seal(xml, **kw).cancelacion
        except SatError as error:
            return type(error)

    assert outcome(read=read_unverified(xml)) == outcome()
