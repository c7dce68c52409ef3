"""Expide Tu Factura against its cancellation guide (document 003), claim by claim, over raw SOAP.

Every request here is an envelope written by hand and posted with ``requests``; every answer is
validated against the project's WSDL. ``docs/fidelity.md`` names these tests.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from lxml import etree
from test_expidetufactura import new_uuid, signed

from mockserver.providers.expidetufactura import codes
from mockserver.sat import verify_acuse
from mockserver.sat.cancelacion import Folio, build_cancelacion
from mockserver.sat.certificates import load_certificate
from mockserver.sat.names import parse_name, same_name
from mockserver.sat.pki import fixture
from mockserver.sat.signature import sign_enveloped

from helpers import provider_docs_dir
from wsdl_schema import assert_valid_body

REPO = Path(__file__).resolve().parent.parent
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XPD = "http://service.xpd.mx/"
WSDL = REPO / "mockserver/providers/expidetufactura/wsdl/CancelacionPruebas.wsdl"
NOW = datetime(2026, 6, 1, 12, 0, 0)  # mock clock, Mexico City wall time
FECHA = NOW - timedelta(minutes=5)
PRODUCTIVO = "providers:\n  expidetufactura:\n    accounts:\n      - {user: prod, password: s3creto, environment: productivo}\n"

# The fixture CA's issuer name as each common writer prints it (the CA is mockserver/sat/pki/ac_uat.cer).
DOTNET_ISSUER = (  # X500DistinguishedName.Name: reversed, ", ", S/E/PostalCode/STREET, OID.x for the rest
    "OID.1.2.840.113549.1.9.2=responsable: ACDMA-SAT FAKE, OID.2.5.4.45=2.5.4.45, L=COYOACAN, "
    "S=CIUDAD DE MEXICO, C=MX, PostalCode=06370, STREET=Calle Falsa 123, E=ac-uat-fake@pac-mock.invalid, "
    "OU=SAT-IES Authority, O=SERVICIO DE ADMINISTRACION TRIBUTARIA, CN=AC UAT FAKE"
)
RFC4514_ISSUER = (  # OpenSSL -nameopt RFC2253 / cryptography
    "unstructuredName=responsable: ACDMA-SAT FAKE,x500UniqueIdentifier=2.5.4.45,L=COYOACAN,ST=CIUDAD DE MEXICO,"
    "C=MX,postalCode=06370,street=Calle Falsa 123,emailAddress=ac-uat-fake@pac-mock.invalid,"
    "OU=SAT-IES Authority,O=SERVICIO DE ADMINISTRACION TRIBUTARIA,CN=AC UAT FAKE"
)
JAVA_ISSUER = (  # X500Principal.toString(): reversed, ", ", EMAILADDRESS, OID.x for postalCode and the rest
    'OID.1.2.840.113549.1.9.2="responsable: ACDMA-SAT FAKE", OID.2.5.4.45=2.5.4.45, L=COYOACAN, '
    "ST=CIUDAD DE MEXICO, C=MX, OID.2.5.4.17=06370, STREET=Calle Falsa 123, "
    "EMAILADDRESS=ac-uat-fake@pac-mock.invalid, OU=SAT-IES Authority, O=SERVICIO DE ADMINISTRACION TRIBUTARIA, "
    "CN=AC UAT FAKE"
)
# The document's own example (003:110), for the CA built by doc_example_ca().
DOC_ISSUER = (
    "OID.1.2.840.113549.1.9.2=Responsable: Héctor Arciga, OID.2.5.4.45=SAT974801NN3, L=Coyoacán, "
    'S=Distrito Federal, C=MX, PostalCode=06300, STREET="Av. Insurgentes 77, Col. Margarita", '
    "E=asisnet@pruebas.sat.gob.mx, OU=Administración de Seguridad de la Información, "
    "O=Servicio de Administración Tributaria, CN=pruebas"
)


def with_issuer_name(xml: bytes, issuer: str) -> bytes:
    """The same signed document with another X509IssuerName (KeyInfo is not signed)."""
    root = etree.fromstring(xml)
    element = root.find(".//{http://www.w3.org/2000/09/xmldsig#}X509IssuerName")
    element.text = issuer
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def envelope(xml: bytes | None, usuario: str = "pruebas", token: str = "123456") -> str:
    xml_bytes = "" if xml is None else f"<xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes>"
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ser="{XPD}"><soapenv:Body><ser:cancelar>'
        f"<usuario>{usuario}</usuario><token>{token}</token>{xml_bytes}"
        "</ser:cancelar></soapenv:Body></soapenv:Envelope>"
    )


class Answer:
    """``respuestaCancelacion`` as read from the raw response."""

    def __init__(self, ret: etree._Element) -> None:
        self.cod_estatus = ret.findtext("codEstatus")
        self.cod_mensaje = ret.findtext("codMensaje")
        self.acuse = ret.findtext("acuse")
        self.estatus = [e.text for e in ret.findall("estatusUUIDs")]
        self.uuids = [e.text for e in ret.findall("uuids")]

    def __repr__(self) -> str:
        return f"<{self.cod_estatus} {self.cod_mensaje!r} {self.estatus}>"


class Xpd:
    def __init__(self, sandbox) -> None:  # type: ignore[no-untyped-def]
        self.sandbox = sandbox

    def post(self, body: str | bytes, env: str = "Pruebas") -> requests.Response:
        return self.sandbox.post_soap(f"/cancelacion/Cancelacion{env}", body, action='""')

    def cancelar(self, xml: bytes | None, usuario: str = "pruebas", token: str = "123456",
                 env: str = "Pruebas") -> Answer:
        response = self.post(envelope(xml, usuario, token), env)
        assert response.status_code == 200, response.text
        payload = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")[0]
        assert_valid_body(WSDL, payload)
        return Answer(payload.find("return"))

    def productivo(self, xml: bytes) -> Answer:
        return self.cancelar(xml, "prod", "s3creto", env="Productivo")

    def overlay(self, text: str) -> None:
        r = self.sandbox.admin("PUT", "scenarios", data=text, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 200, r.text

    def freeze(self, at: datetime) -> None:
        r = self.sandbox.admin("POST", "clock", json={"freeze": at.isoformat()})
        assert r.status_code == 200, r.text


@pytest.fixture
def reference_doc() -> str:
    """Document 003 as published, when the reference folder is present."""
    docs = provider_docs_dir()
    if docs is None:
        pytest.skip("the provider documents (../shared/reference/provider-docs) are not present")
    return (docs / "003_b399c2fb398e203e.txt").read_text(encoding="utf-8")


@pytest.fixture
def xpd(sandbox) -> Xpd:  # type: ignore[no-untyped-def]
    x = Xpd(sandbox)
    x.freeze(NOW)
    return x


# --- X509IssuerName: compared as a distinguished name --------------------------------------------


@pytest.mark.parametrize("issuer", [DOTNET_ISSUER, RFC4514_ISSUER, JAVA_ISSUER], ids=["dotnet", "rfc4514", "java"])
def test_issuer_name_in_each_writers_form_is_accepted(xpd, issuer):
    u = new_uuid()
    r = xpd.cancelar(with_issuer_name(signed(folios=[u]), issuer))
    assert (r.cod_estatus, r.uuids, r.estatus) == ("200", [u], ["201"]), r


def java_rfc2253(der: bytes) -> str:
    """What X500Principal.getName() prints: RFC 2253 keywords, else the OID with the value's DER in hex."""
    keywords = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.8": "ST",
                "2.5.4.7": "L", "2.5.4.9": "STREET"}
    parts = []
    for rdn in ax509.Certificate.load(der)["tbs_certificate"]["subject"].chosen:
        for atv in rdn:
            seq = core.Sequence.load(atv.dump())  # generic: asn1crypto's own types do not fit SAT's
            oid, value = seq[0].dotted, seq[1]
            parts.append(f"{keywords[oid]}={value.native}" if oid in keywords else f"{oid}=#{value.dump().hex()}")
    return ",".join(reversed(parts))


def test_issuer_name_java_rfc2253_hex_values_are_read_as_ber(xpd):
    text = java_rfc2253(fixture("ac_uat").cer_bytes())
    assert "2.5.4.45=#13" in text  # a PrintableString, in hex
    u = new_uuid()
    r = xpd.cancelar(with_issuer_name(signed(folios=[u]), text))
    assert (r.cod_estatus, r.estatus) == ("200", ["201"]), r


@pytest.mark.parametrize(
    "issuer",
    [
        DOTNET_ISSUER.replace("CN=AC UAT FAKE", "CN=AC UAT OTRA"),  # another CA, same layout
        DOTNET_ISSUER.replace("OU=SAT-IES Authority, ", ""),  # an attribute missing
        RFC4514_ISSUER + ",DC=extra",  # an attribute too many
        "CN=AC UAT FAKE",
        "Servicio de Administración Tributaria Pruebas",  # the document's abbreviated example, not a name
        "",
    ],
    ids=["other-cn", "missing-ou", "extra-dc", "cn-only", "not-a-dn", "empty"],
)
def test_a_different_issuer_name_is_303(xpd, issuer):
    r = xpd.cancelar(with_issuer_name(signed(), issuer))
    assert (r.cod_estatus, r.cod_mensaje) == ("303", f"{codes.CODES['303']}: IssuerName incorrecto"), r


def doc_example_ca(tmp_path: Path) -> tuple[Path, bytes]:
    """A CA named exactly like the document's example issuer, and a CSD it issued, signed into a request."""
    def attr(oid: ObjectIdentifier, value: str) -> x509.NameAttribute:
        return x509.NameAttribute(oid, value, _type=_ASN1Type.UTF8String)

    subject = x509.Name([  # DER order; .NET prints it reversed
        attr(NameOID.COMMON_NAME, "pruebas"),
        attr(NameOID.ORGANIZATION_NAME, "Servicio de Administración Tributaria"),
        attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "Administración de Seguridad de la Información"),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, "asisnet@pruebas.sat.gob.mx"),
        attr(NameOID.STREET_ADDRESS, "Av. Insurgentes 77, Col. Margarita"),
        attr(NameOID.POSTAL_CODE, "06300"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "MX"),
        attr(NameOID.STATE_OR_PROVINCE_NAME, "Distrito Federal"),
        attr(NameOID.LOCALITY_NAME, "Coyoacán"),
        attr(NameOID.X500_UNIQUE_IDENTIFIER, "SAT974801NN3"),
        attr(NameOID.UNSTRUCTURED_NAME, "Responsable: Héctor Arciga"),
    ])
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
    ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_subject = x509.Name([
        attr(NameOID.COMMON_NAME, "MOCK SA DE CV"),
        attr(NameOID.ORGANIZATION_NAME, "MOCK SA DE CV"),
        attr(NameOID.X500_UNIQUE_IDENTIFIER, "MOC900101AB1"),
        attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "Matriz"),
    ])
    leaf = (x509.CertificateBuilder().subject_name(leaf_subject).issuer_name(subject)
            .public_key(leaf_key.public_key()).serial_number(int.from_bytes(b"30001000000500000099", "big"))
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = tmp_path / "doc_example_ca.cer"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.DER))
    cert = load_certificate(leaf.public_bytes(serialization.Encoding.DER))
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    return ca_file, sign_enveloped(root, cert, leaf_key)


def test_the_documents_example_issuer_name_is_accepted_for_a_ca_of_that_name(xpd, tmp_path):
    ca_file, xml = doc_example_ca(tmp_path)
    # An overlay gives a CA outside the scenarios folder inline, as PEM (JSON is YAML too).
    pem = x509.load_der_x509_certificate(ca_file.read_bytes()).public_bytes(serialization.Encoding.PEM)
    xpd.overlay(json.dumps({"trust": {"ca_files": [pem.decode()]}}))
    r = xpd.cancelar(with_issuer_name(xml, DOC_ISSUER))
    assert (r.cod_estatus, r.estatus) == ("200", ["201"]), r
    # the quoted STREET really was read as one value with its comma
    assert ("2.5.4.9", "Av. Insurgentes 77, Col. Margarita") in parse_name(DOC_ISSUER)


def test_distinguished_name_reading_of_each_dialect():
    ca = fixture("ac_uat").certificate()
    for text in (DOTNET_ISSUER, RFC4514_ISSUER, JAVA_ISSUER, ca.issuer_name):
        assert same_name(parse_name(text), ca.subject_attributes), text
    # phpcfdi writes certificate order; accepted in either direction, never shuffled
    forward = ",".join(reversed(RFC4514_ISSUER.split(",")))
    assert same_name(parse_name(forward), ca.subject_attributes)
    shuffled = RFC4514_ISSUER.split(",")
    shuffled[0], shuffled[1] = shuffled[1], shuffled[0]
    assert not same_name(parse_name(",".join(shuffled)), ca.subject_attributes)
    # values compare as X.500 directory strings: case and repeated blanks do not count; content does
    assert same_name(parse_name(DOTNET_ISSUER.lower().replace("ac uat", "ac   uat")), ca.subject_attributes)
    assert not same_name(parse_name(DOTNET_ISSUER.replace("06370", "06371")), ca.subject_attributes)
    # quoting and escaping rules of each writer
    assert parse_name('STREET="a, ""b"""') == (("2.5.4.9", 'a, "b"'),)  # .NET doubles quotes
    assert parse_name(r'STREET="a, \"b\""') == (("2.5.4.9", 'a, "b"'),)  # Java escapes them
    assert parse_name(r"street=a\, b,CN=x\2Cy") == (("2.5.4.9", "a, b"), ("2.5.4.3", "x,y"))  # RFC 4514
    assert parse_name("cn = AC UAT ;  o=SAT") == (("2.5.4.3", "AC UAT"), ("2.5.4.10", "SAT"))  # RFC 1779
    for bad in ("no es un nombre", "CN=a,", "XX=1", 'CN="sin cerrar'):
        with pytest.raises(ValueError):
            parse_name(bad)


# --- UUIDs: upper-case hexadecimal, else [500] UUID inválido ------------------------------------

UUID_ANSWER = ("500", "UUID inválido, favor de verificar: No se tiene un UUID válido para cancelar")


@pytest.mark.parametrize("fmt", ["2022", "legacy"])
def test_a_lower_case_uuid_is_500_uuid_invalido(xpd, fmt):
    lower = new_uuid().lower()
    r = xpd.cancelar(signed(folios=[new_uuid(), lower], fmt=fmt, validate=False))
    assert (r.cod_estatus, r.cod_mensaje) == UUID_ANSWER, r
    assert r.uuids == [] and r.acuse is None
    assert xpd.cancelar(signed(folios=[lower.upper()], fmt=fmt)).estatus == ["201"]  # nothing was cancelled


@pytest.mark.parametrize("bad", ["NO-ES-UN-UUID", "C27B8C6B-C527-FE84-99A1-F5859FB05A0", "G27B8C6B-C527-FE84-99A1-F5859FB05A0B"])
def test_a_malformed_uuid_is_500_uuid_invalido(xpd, bad):
    r = xpd.cancelar(signed(folios=[bad], fmt="legacy", validate=False))
    assert (r.cod_estatus, r.cod_mensaje) == UUID_ANSWER, r


def test_a_lower_case_folio_sustitucion_is_500_uuid_invalido(xpd):
    r = xpd.cancelar(signed(folios=[(new_uuid(), "01", new_uuid().lower())], validate=False))
    assert (r.cod_estatus, r.cod_mensaje) == UUID_ANSWER, r


def test_the_documents_example_uuids_are_valid(xpd):
    # 003:18 and 003:21, in the document's own (legacy) layout; production, where 205 is possible
    xpd.overlay(PRODUCTIVO)
    r = xpd.productivo(signed(folios=["C27B8C6B-C527-FE84-99A1-F5859FB05A0B", "9A12A6D8-45D0-40CA-B7A5-B6DB2AADF707"],
                              fmt="legacy"))
    assert (r.cod_estatus, r.estatus) == ("200", ["201", "201"]), r


def _sub(pattern: bytes, repl: bytes, data: bytes) -> bytes:
    out, n = re.subn(pattern, repl, data, count=1)
    assert n == 1
    return out


# --- strictness: rsa-sha1/sha1 and no line breaks (scenario providers.expidetufactura.strict) ------


def test_rsa_sha256_is_302_by_default_and_accepted_when_not_strict(xpd):
    r = xpd.cancelar(signed(algorithm="sha256"))
    assert r.cod_estatus == "302" and r.cod_mensaje.startswith(codes.CODES["302"] + ": se requiere rsa-sha1 y sha1"), r
    xpd.overlay("providers:\n  expidetufactura:\n    strict: {sha1_only: false}\n")
    assert xpd.cancelar(signed(algorithm="sha256")).estatus == ["201"]
    assert xpd.cancelar(signed()).estatus == ["201"]  # rsa-sha1 is still fine


def signed_pretty(fmt: str = "legacy") -> bytes:
    """Built indented and signed as it stands: the seal is valid, the document has line breaks."""
    info = fixture("csd_moral")
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA, fmt)
    root = etree.fromstring(etree.tostring(root, pretty_print=True))
    return sign_enveloped(root, info.certificate(), info.private_key())


def wrapped_base64(xml: bytes) -> bytes:
    """SignatureValue wrapped at 64 columns with CR LF references, as .NET and Java signers do."""
    def wrap(m: re.Match[bytes]) -> bytes:
        text = m.group(2)
        return m.group(1) + b"&#13;\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + m.group(3)
    return re.sub(rb"(<SignatureValue>)([^<]+)(</SignatureValue>)", wrap, xml, count=1)


@pytest.mark.parametrize("make", [signed_pretty, lambda: wrapped_base64(signed())], ids=["indented", "wrapped-base64"])
def test_line_breaks_are_301_by_default_and_accepted_when_not_strict(xpd, make):
    xml = make()
    r = xpd.cancelar(xml)
    assert (r.cod_estatus, r.cod_mensaje) == ("301", codes.mensaje("301", None, codes.LINE_BREAKS)), r
    xpd.overlay("providers:\n  expidetufactura:\n    strict: {no_line_breaks: false}\n")
    assert xpd.cancelar(xml).estatus == ["201"]


def test_line_breaks_outside_the_root_element_are_not_part_of_the_document(xpd):
    xml = signed()
    declaration, rest = xml.split(b"?>", 1)
    rest = rest.strip()
    assert b"\n" not in rest
    r = xpd.cancelar(declaration + b"?>\r\n" + rest + b"\n")
    assert (r.cod_estatus, r.estatus) == ("200", ["201"]), r


def test_the_xml_must_be_utf8(xpd):
    # the same signed bytes declared as latin-1 (all ASCII, so the seal still verifies)
    latin = _sub(rb"encoding=.UTF-8.", b"encoding='ISO-8859-1'", signed())
    r = xpd.cancelar(latin)
    assert (r.cod_estatus, r.cod_mensaje) == ("301", codes.mensaje("301", None, codes.NOT_UTF8)), r
    r = xpd.cancelar(b"<Cancelacion RfcEmisor='\xd1'/>")
    assert r.cod_estatus == "301" and codes.NOT_UTF8 in r.cod_mensaje


# --- codes and messages of the guide -------------------------------------------------------------


def test_the_code_table_is_the_documents(reference_doc):
    lines = reference_doc.splitlines()
    table = dict(re.match(r"^(\d{3})\t(.+?)(?: \(.*\))?$", lines[n - 1]).groups() for n in range(145, 161))
    assert {c: t for c, t in codes.CODES.items() if c != "200"} == table
    estatus = dict(re.match(r"^(.+)\t(\d{3})$", lines[n - 1]).groups()[::-1] for n in range(165, 170))
    assert estatus == codes.ESTATUS_UUID


def test_every_answer_starts_with_the_tables_text(xpd):
    cases = [
        (b"<Cancelacion", "301"), (signed(rfc="PEFM800101AB2"), "303"), (signed("csd_expired"), "304"),
        (signed("fiel_moral"), "306"), (signed("csd_untrusted"), "308"),
        (signed(fecha=NOW - timedelta(hours=73)), "401"), (signed(fecha=datetime(2011, 12, 31, 23)), "403"),
    ]
    for xml, code in cases:
        r = xpd.cancelar(xml)
        assert r.cod_estatus == code and r.cod_mensaje.startswith(codes.CODES[code]), r
    assert xpd.cancelar(signed(), token="otro").cod_mensaje == "Usuario y/o contraseña inválidos"


def test_verificar_estructura_del_xml_for_a_syntax_error(xpd):
    r = xpd.cancelar(b"<Cancelacion xmlns='http://cancelacfd.sat.gob.mx'><Folios></Cancelacion>")
    assert r.cod_estatus == "301" and r.cod_mensaje.startswith("XML mal formado: Verificar estructura del xml ("), r


def test_acceso_denegado_for_an_account_not_active(xpd):
    xpd.overlay("providers:\n  expidetufactura:\n    accounts:\n      - {user: baja, password: x, state: inactive}\n")
    r = xpd.cancelar(signed(), "baja", "x")
    assert (r.cod_estatus, r.cod_mensaje) == ("502", "Usuario no autorizado: Acceso Denegado"), r
    r = xpd.cancelar(signed(), "no-autorizado", "123456")  # active, but may not cancel
    assert (r.cod_estatus, r.cod_mensaje) == ("502", "Usuario no autorizado"), r


def test_es_necesario_recontractar_without_stamps(xpd):
    r = xpd.cancelar(signed(), "sin-timbres", "123456")
    assert (r.cod_estatus, r.cod_mensaje) == ("503", "No hay timbres disponibles: Es necesario recontractar"), r


@pytest.mark.parametrize(
    ("fecha_text", "detail"),
    [("2026-06-01 11:55:00", "aaaa-MM-ddThh:mm:ss"), ("01/06/2026T11:55:00", "aaaa-MM-ddThh:mm:ss"),
     (None, codes.FECHA_VENCIDA), ("future", codes.FECHA_FUTURA)],
    ids=["space", "dmy", "over-72h", "future"],
)
def test_fecha_invalida(xpd, fecha_text, detail):
    info = fixture("csd_moral")
    fecha = {None: NOW - timedelta(hours=72, minutes=1), "future": NOW + timedelta(hours=1)}.get(fecha_text, FECHA)
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], fecha)
    if fecha_text not in (None, "future"):
        root.set("Fecha", fecha_text)
    r = xpd.cancelar(sign_enveloped(root, info.certificate(), info.private_key()))
    assert r.cod_estatus == "401", r
    assert r.cod_mensaje.startswith("Fecha y hora de generación fuera de rango: Fecha inválida (") and detail in r.cod_mensaje


def test_fecha_window_is_the_last_72_hours(xpd):
    assert xpd.cancelar(signed(fecha=NOW - timedelta(hours=71, minutes=59))).estatus == ["201"]
    assert xpd.cancelar(signed(fecha=NOW - timedelta(hours=72))).estatus == ["201"]
    assert xpd.cancelar(signed(fecha=NOW - timedelta(hours=72, seconds=1))).cod_estatus == "401"
    # hh is read on a 24-hour clock, in Mexico City time: 17:55 at 18:00 is five minutes ago
    evening = NOW.replace(hour=18)
    xpd.freeze(evening)
    xml = signed(fecha=evening - timedelta(minutes=5))
    assert b'Fecha="2026-06-01T17:55:00"' in xml
    assert xpd.cancelar(xml).estatus == ["201"]
    assert xpd.cancelar(signed(fecha=evening + timedelta(minutes=4))).estatus == ["201"]  # a clock a little ahead
    assert xpd.cancelar(signed(fecha=evening + timedelta(minutes=6))).cod_estatus == "401"


def _certificate_replaced(xml: bytes, text: bytes) -> bytes:
    return _sub(rb"<X509Certificate>[^<]+</X509Certificate>", b"<X509Certificate>" + text + b"</X509Certificate>", xml)


@pytest.mark.parametrize(
    "make",
    [lambda: _certificate_replaced(signed(), b"@@ no es base64 @@"),
     lambda: _certificate_replaced(signed(), base64.b64encode(b"no es un certificado DER")),
     lambda: signed_by_a_certificate_without_rfc()],
    ids=["not-base64", "not-a-certificate", "no-rfc-in-it"],
)
def test_no_fue_posible_procesar_el_certificado(xpd, make):
    r = xpd.cancelar(make())
    assert r.cod_estatus == "302", r
    assert r.cod_mensaje.startswith("Sello mal formado o inválido: No fue posible procesar el certificado"), r


def signed_by_a_certificate_without_rfc() -> bytes:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIN RFC")])
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(7).not_valid_before(start).not_valid_after(end).sign(ca_key, hashes.SHA256()))
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    return sign_enveloped(root, load_certificate(cert.public_bytes(serialization.Encoding.DER)), ca_key)


def test_rfc_and_serial_number_not_of_the_certificate(xpd):
    r = xpd.cancelar(signed(rfc="PEFM800101AB2"))
    assert (r.cod_estatus, r.cod_mensaje) == ("303", "Sello no corresponde a emisor: RFC no corresponde al del certificado")
    r = xpd.cancelar(_sub(rb"<X509SerialNumber>[^<]+<", b"<X509SerialNumber>12345<", signed()))
    assert (r.cod_estatus, r.cod_mensaje) == ("303", "Sello no corresponde a emisor: SerialNumber no corresponde al certificado")


def test_the_serial_number_as_decimal_or_as_the_certificate_number(xpd):
    cert = fixture("csd_moral").certificate()
    xml = signed()
    assert f"<X509SerialNumber>{cert.serial}<".encode() in xml  # the document's example form (003:46)
    assert xpd.cancelar(xml).estatus == ["201"]
    xml = _sub(rb"<X509SerialNumber>[^<]+<", f"<X509SerialNumber>{cert.certificate_number}<".encode(), signed())
    assert xpd.cancelar(xml).estatus == ["201"]


def test_sello_mal_formado_when_the_signature_does_not_verify(xpd):
    r = xpd.cancelar(_sub(rb"<SignatureValue>[A-Za-z0-9+/]{8}", b"<SignatureValue>AAAAAAAA", signed()))
    assert r.cod_estatus == "302" and r.cod_mensaje.startswith("Sello mal formado o inválido: "), r
    r = xpd.cancelar(_sub(rb'UUID="[^"]+"', b'UUID="' + new_uuid().encode() + b'"', signed()))
    assert r.cod_estatus == "302" and "DigestValue" in r.cod_mensaje, r


@pytest.mark.parametrize(
    ("failure", "plain"),
    [("comunicacion", "Error en la comunicación"), ("base_de_datos", "Intente de nuevo más tarde"),
     ("no_previsto", "No fue posible atender la solicitud")],
)
def test_failures_a_scenario_asks_for(xpd, failure, plain):
    u = new_uuid()
    xpd.overlay(f"rules:\n  - {{provider: expidetufactura, match: {{uuid: {u}}}, times: 1, "
                f"outcome: {{extra: {{failure: {failure}}}}}}}\n")
    r = xpd.cancelar(signed(folios=[u]))
    assert (r.cod_estatus, r.cod_mensaje) == ("500", f"Intento de nuevo más tarde: {plain}"), r
    assert r.uuids == [] and r.acuse is None
    assert xpd.cancelar(signed(folios=[u])).estatus == ["201"]  # nothing was cancelled meanwhile


def test_a_database_error_is_500_intente_de_nuevo_mas_tarde(xpd, monkeypatch):
    from mockserver.providers.expidetufactura import models

    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(models, "take_stamp", locked)
    r = xpd.cancelar(signed())
    assert (r.cod_estatus, r.cod_mensaje) == ("500", "Intento de nuevo más tarde: Intente de nuevo más tarde"), r


def test_an_unforeseen_error_is_500_no_fue_posible_atender_la_solicitud(xpd, monkeypatch):
    from mockserver.providers.expidetufactura import service

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "build_acuse", broken)
    r = xpd.cancelar(signed())
    assert (r.cod_estatus, r.cod_mensaje) == ("500", "Intento de nuevo más tarde: No fue posible atender la solicitud")


@pytest.mark.parametrize("code", ["307", "504"])
def test_stamping_codes_only_by_a_rule(xpd, code):
    xpd.overlay(f"rules:\n  - {{provider: expidetufactura, outcome: {{code: {code}}}}}\n")
    r = xpd.cancelar(signed())
    assert (r.cod_estatus, r.cod_mensaje) == (code, codes.CODES[code])


def test_402_for_an_rfc_not_in_the_taxpayer_registry(xpd):
    xpd.overlay("sat:\n  not_taxpayers: [MOC900101AB1]\n")
    r = xpd.cancelar(signed())
    assert (r.cod_estatus, r.cod_mensaje) == ("402", codes.CODES["402"])


def test_revoked_certificate_is_304(xpd):
    xpd.overlay(f"sat:\n  revoked_certificates: ['{fixture('csd_moral').certificate_number}']\n")
    r = xpd.cancelar(signed())
    assert r.cod_estatus == "304" and r.cod_mensaje.startswith("Certificado revocado o caduco: "), r


# --- the answer: 200, estatusUUIDs, uuids, acuse --------------------------------------------------


def test_a_successful_answer_carries_codes_uuids_and_the_acuse(xpd):
    us = [new_uuid() for _ in range(3)]
    r = xpd.cancelar(signed(folios=us))
    assert (r.cod_estatus, r.cod_mensaje) == ("200", codes.CODES["200"])
    assert r.uuids == us and r.estatus == ["201"] * 3  # one code per UUID, in the order sent
    acuse = verify_acuse(r.acuse.encode("utf-8"))  # a string: SAT's acuse, sealed by the fake SAT
    assert acuse.rfc_emisor == "MOC900101AB1" and acuse.folios == tuple(zip(us, ["201"] * 3, strict=True))


def test_between_1_and_500_folios(xpd):
    assert xpd.cancelar(signed(folios=[new_uuid() for _ in range(500)])).cod_estatus == "200"
    r = xpd.cancelar(signed(folios=[new_uuid() for _ in range(501)]))
    assert r.cod_estatus == "301" and "500" in r.cod_mensaje
    r = xpd.cancelar(signed(folios=[], validate=False))
    assert r.cod_estatus == "301" and "no contiene folios" in r.cod_mensaje


def test_a_document_without_signature_or_in_another_namespace_is_refused(xpd):
    root = build_cancelacion("MOC900101AB1", [Folio(new_uuid(), "02")], FECHA)
    r = xpd.cancelar(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert r.cod_estatus == "302" and "Signature" in r.cod_mensaje
    r = xpd.cancelar(_sub(rb"http://cancelacfd.sat.gob.mx", b"http://otro.example", signed()))
    assert r.cod_estatus == "301", r


def test_another_canonicalization_or_reference_is_302(xpd):
    r = xpd.cancelar(_sub(rb"REC-xml-c14n-20010315", b"REC-xml-c14n11", signed()))
    assert r.cod_estatus == "302" and "CanonicalizationMethod" in r.cod_mensaje, r
    r = xpd.cancelar(_sub(rb'URI=""', b'URI="#otro"', signed()))
    assert r.cod_estatus == "302", r


# --- the test environment: 201 and 202 only; 205 for a CFDI stamped moments ago -------------------

U202, U203, U204, U205 = (f"00000000-0000-4000-8000-000000000{c}" for c in (202, 203, 204, 205))


def test_pruebas_answers_only_201_and_202_unless_a_scenario_asks_for_more(xpd):
    xpd.overlay(PRODUCTIVO)
    r = xpd.productivo(signed(folios=[U203, U204, U205, U202, new_uuid()]))
    assert r.estatus == ["203", "204", "205", "202", "201"], r
    r = xpd.cancelar(signed(folios=[U203, U204, U205, U202, new_uuid()]))
    assert r.estatus == ["201", "201", "201", "202", "201"], r
    # a rule asks for more
    u = new_uuid()
    xpd.overlay(f"rules:\n  - {{provider: expidetufactura, outcome: {{uuid_codes: {{'{u}': 204}}}}}}\n")
    assert xpd.cancelar(signed(folios=[u])).estatus == ["204"]
    # ...or the strictness is relaxed: SAT's codes in the test environment too
    a, b, c = new_uuid(), new_uuid(), new_uuid()
    xpd.overlay("providers:\n  expidetufactura:\n    strict: {pruebas_201_202: false}\n"
                f"sat:\n  cfdis:\n    - {{uuid: {a}, issuer: OTR900101AA1}}\n"
                f"    - {{uuid: {b}, cancelable: no_cancelable}}\n    - {{uuid: {c}, status: no_encontrado}}\n")
    assert xpd.cancelar(signed(folios=[a, b, c])).estatus == ["203", "204", "205"]


def test_a_cfdi_stamped_moments_ago_is_205_in_production(xpd, server):
    from mockserver import registry
    from mockserver.sat import verdict as sat_verdict
    from mockserver.sat.cancelacion import MEXICO_TZ

    xpd.overlay(PRODUCTIVO)
    recent, older = new_uuid(), new_uuid()
    now = NOW.replace(tzinfo=MEXICO_TZ)
    with server.runtime.store.tx() as conn:  # what MYSuite registers when it stamps a CFDI
        registry.set_status(conn, xpd.sandbox.session, recent, sat_verdict.VIGENTE, at=now - timedelta(minutes=4),
                            rfc_emisor="MOC900101AB1", provider="mysuite")
        registry.set_status(conn, xpd.sandbox.session, older, sat_verdict.VIGENTE, at=now - timedelta(minutes=6),
                            rfc_emisor="MOC900101AB1", provider="mysuite")
    assert xpd.productivo(signed(folios=[recent, older])).estatus == ["205", "201"]
    xpd.freeze(NOW + timedelta(minutes=2))
    assert xpd.productivo(signed(folios=[recent])).estatus == ["201"]  # SAT knows it now


# --- the service's shape -------------------------------------------------------------------------


def test_the_wsdl_is_served_where_the_guide_says(xpd):
    response = requests.get(f"{xpd.sandbox.url}/cancelacion/CancelacionPruebas?wsdl", timeout=30)
    assert response.status_code == 200
    wsdl = etree.fromstring(response.content)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types = {t.get("name"): [e.get("name") for e in t.iter(f"{xs}element")]
             for t in wsdl.iter(f"{xs}complexType") if t.get("name")}
    assert types["cancelar"] == ["usuario", "token", "xmlBytes"]  # Id, token, the xml in bytes
    assert types["respuestaCancelacion"] == ["acuse", "codEstatus", "codMensaje", "estatusUUIDs", "uuids"]
    ops = [o.get("name") for o in wsdl.iter("{http://schemas.xmlsoap.org/wsdl/}operation")]
    assert set(ops) == {"cancelar"}
    assert requests.get(f"{xpd.sandbox.url}/cancelacion/CancelacionProductivo?wsdl", timeout=30).status_code == 200
