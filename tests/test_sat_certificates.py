"""Certificates, keys, trust and the fake SAT PKI."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from mockserver.sat import (
    CertificateExpired,
    CertificateFormatError,
    CertificateNotYetValid,
    KeyFormatError,
    KeyMismatch,
    TrustStore,
    UntrustedIssuer,
    WrongKeyPassword,
    ensure_key_matches,
    load_certificate,
    load_private_key,
)
from mockserver.sat.certificates import certificate_number_of
from mockserver.sat.names import names_equal, parse_name
from mockserver.sat.pki import FIXTURE_NAMES, PASSWORD, export, fixture, generate_pki, packaged_dir

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_csd_persona_moral_fields() -> None:
    info = fixture("csd_moral")
    cert = load_certificate(info.cer_bytes())
    assert cert.kind == "CSD"
    assert cert.rfc == "MOC900101AB1" == info.rfc
    assert cert.rfc_representante == "PEFM800101AB2"
    assert cert.legal_name == "MOCK ORGANIZACION COMERCIAL SA DE CV"
    assert cert.branch == "Matriz"
    assert len(cert.certificate_number) == 20 and cert.certificate_number.isdigit()
    assert cert.certificate_number == info.certificate_number
    assert cert.serial.to_bytes(20, "big") == cert.certificate_number.encode()
    assert cert.not_before.tzinfo is not None and cert.not_after.tzinfo is not None
    assert cert.issuer_name.endswith("O=SERVICIO DE ADMINISTRACION TRIBUTARIA,CN=AC UAT FAKE")
    assert ("2.5.4.3", "AC UAT FAKE") in cert.issuer_attributes
    assert cert.der == info.cer_bytes()


def test_persona_fisica_fiel_and_other_kinds() -> None:
    fisica = fixture("csd_fisica").certificate()
    assert (fisica.kind, fisica.rfc, fisica.rfc_representante) == ("CSD", "PEFM800101AB2", None)
    fiel = fixture("fiel_moral").certificate()
    assert (fiel.kind, fiel.rfc, fiel.branch) == ("FIEL", "MOC900101AB1", None)
    assert fixture("ac_uat").certificate().kind == "OTHER"


def test_load_certificate_accepts_der_pem_and_base64() -> None:
    der = fixture("csd_moral").cer_bytes()
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    b64 = base64.b64encode(der)
    wrapped = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    for data in (der, pem, b64, wrapped, b"  " + b64 + b"\r\n"):
        assert load_certificate(data).der == der


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"\x30\x03\x02\x01\x00", b"-----BEGIN CERTIFICATE-----\n!!\n"]
)
def test_load_certificate_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CertificateFormatError):
        load_certificate(data)


def test_certificate_number_of_non_sat_serial() -> None:
    assert certificate_number_of(int.from_bytes(b"30001000000400002434", "big")) == "30001000000400002434"
    assert certificate_number_of(0x1234ABCD) == str(0x1234ABCD)


def _t61_certificate() -> bytes:
    """A certificate whose subject holds latin-1 'Ñ' in a T61String, like some real SAT CSDs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "COMPAXIA SANTA MARIA", _type=_ASN1Type.T61String),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "COMPAXIA SANTA MARIA", _type=_ASN1Type.T61String),
            x509.NameAttribute(
                NameOID.X500_UNIQUE_IDENTIFIER, "CSM010101AB1", _type=_ASN1Type.PrintableString
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sucursal", _type=_ASN1Type.PrintableString),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC")]))
        .public_key(key.public_key())
        .serial_number(int.from_bytes(b"00001000000413053762", "big"))
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    # Same length substitution: the signature breaks, the structure does not.
    return cert.public_bytes(serialization.Encoding.DER).replace(b"COMPAXIA", b"COMPA\xd1IA")


def test_undecodable_subject_falls_back_instead_of_crashing() -> None:
    der = _t61_certificate()
    with pytest.raises(ValueError):
        _ = x509.load_der_x509_certificate(der).subject  # what cryptography does on its own
    cert = load_certificate(der)
    assert cert.legal_name == "COMPAÑIA SANTA MARIA"
    assert cert.rfc == "CSM010101AB1"
    assert cert.certificate_number == "00001000000413053762"
    assert cert.kind == "OTHER"  # no KeyUsage in this synthetic certificate


def test_trust_store_default_and_errors() -> None:
    trust = TrustStore.default()
    trust.verify(fixture("csd_moral").certificate(), NOW)
    trust.verify(fixture("fiel_moral").certificate(), NOW)
    with pytest.raises(CertificateExpired):
        trust.verify(fixture("csd_expired").certificate(), NOW)
    with pytest.raises(CertificateNotYetValid):
        trust.verify(fixture("csd_moral").certificate(), datetime(2019, 6, 1, tzinfo=UTC))
    with pytest.raises(UntrustedIssuer):  # same issuer name as the root, different key
        trust.verify(fixture("csd_untrusted").certificate(), NOW)
    # naive datetimes are read as UTC
    trust.verify(fixture("csd_moral").certificate(), datetime(2026, 1, 1))


def test_trust_store_sat_named_and_empty() -> None:
    untrusted = fixture("csd_untrusted").certificate()
    TrustStore([], accept_sat_named_issuers=True).verify(untrusted, NOW)
    # ...but not when the store holds the CA it names and that CA did not sign it
    with pytest.raises(UntrustedIssuer):
        TrustStore([fixture("ac_uat").cer_bytes()], accept_sat_named_issuers=True).verify(untrusted, NOW)
    with pytest.raises(UntrustedIssuer):
        TrustStore([]).verify(fixture("csd_moral").certificate(), NOW)
    with pytest.raises(UntrustedIssuer):  # issuer check comes before validity
        TrustStore([]).verify(fixture("csd_expired").certificate(), NOW)


def test_issuer_name_parsing_accepts_both_orders_and_dotted_oids() -> None:
    cert = fixture("csd_moral").certificate()
    reversed_form = cert.issuer_name
    forward = ",".join(reversed(reversed_form.split(",")))
    dotted = reversed_form.replace("x500UniqueIdentifier=", "2.5.4.45=").replace("emailAddress=", "E=")
    for text in (reversed_form, forward, dotted):
        assert names_equal(parse_name(text), cert.issuer_attributes)
    assert not names_equal(parse_name("CN=AC UAT FAKE"), cert.issuer_attributes)


def test_private_keys() -> None:
    info = fixture("csd_moral")
    key = load_private_key(info.key_bytes(), PASSWORD)
    ensure_key_matches(info.certificate(), key)
    with pytest.raises(KeyMismatch):
        ensure_key_matches(fixture("csd_fisica").certificate(), key)
    with pytest.raises(WrongKeyPassword) as exc:
        load_private_key(info.key_bytes(), "not-the-password")
    assert "not-the-password" not in str(exc.value)
    with pytest.raises(WrongKeyPassword):
        load_private_key(info.key_bytes(), "")
    for garbage in (b"", b"not a key", info.cer_bytes(), b"\x30\x82\x01\x00" + b"\x00" * 256):
        with pytest.raises(KeyFormatError):
            load_private_key(garbage, PASSWORD)
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError):
        load_private_key(plain, PASSWORD)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"otra"),
    )
    assert load_private_key(pem, "otra").public_key().public_numbers() == key.public_key().public_numbers()
    with pytest.raises(WrongKeyPassword):
        load_private_key(pem, PASSWORD)


def test_fixtures_directory_is_the_packaged_set(tmp_path: Path) -> None:
    written = export(tmp_path)
    assert {p.name for p in written} == {p.name for p in (REPO / "fixtures").iterdir()}
    for path in written:
        assert path.read_bytes() == (REPO / "fixtures" / path.name).read_bytes(), path.name


def test_manifest_describes_every_file() -> None:
    manifest = json.loads((packaged_dir() / "manifest.json").read_text())
    assert manifest["password"] == PASSWORD
    assert set(manifest["certificates"]) == set(FIXTURE_NAMES)
    for name in FIXTURE_NAMES:
        info = fixture(name)
        cert = info.certificate()
        assert cert.certificate_number == info.certificate_number
        assert (cert.not_before, cert.not_after) == (info.not_before, info.not_after)
        ensure_key_matches(cert, info.private_key())
    assert fixture("csd_expired").not_after.year == 2023
    assert fixture("csd_moral").not_after.year >= 2035
    with pytest.raises(KeyError):
        fixture("nope")


def test_generate_pki_makes_a_fresh_consistent_set(tmp_path: Path) -> None:
    generate_pki(tmp_path)
    fresh = fixture("csd_moral", tmp_path)
    assert fresh.certificate().der != fixture("csd_moral").cer_bytes()
    trust = TrustStore([(tmp_path / "ac_uat.cer").read_bytes()])
    trust.verify(fresh.certificate(), NOW)
    with pytest.raises(UntrustedIssuer):  # the packaged root does not know the new one
        TrustStore.default().verify(fresh.certificate(), NOW)
    ensure_key_matches(fresh.certificate(), fresh.private_key())
