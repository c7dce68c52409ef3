"""MYSuite documents: native XML → stamped CFDI 4.0 → PDF / ZIP."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from faker import Faker
from lxml import etree

from mockserver.providers.mysuite.documents import (
    CFDI_NS,
    FX_NS,
    TFD_NS,
    NativeDocumentError,
    RsaSigner,
    build_cfdi,
    certificate_number_of,
    read_native,
    render_pdf,
    zip_single,
)
from mockserver.testing.mysuite import native_document

ENTITY = "JES900109Q90"
UUID = "6e1f8a5c-2a7b-4f0e-9c1d-3b5a7e9f1c2d"
FECHA_TIMBRADO = datetime(2024, 5, 1, 12, 30, 15)
NS = {"cfdi": CFDI_NS, "tfd": TFD_NS, "fx": FX_NS}


def _signer(common_name: str, number: str) -> RsaSigner:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(number.encode("ascii"), "big"))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return RsaSigner(key, cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def csd() -> RsaSigner:
    return _signer("EMPRESA DE PRUEBAS", "30001000000500003416")


@pytest.fixture(scope="module")
def sat() -> RsaSigner:
    return _signer("SAT PRUEBAS", "30001000000500003456")


def _faker(seed: int = 7) -> Faker:
    faker = Faker("es_MX")
    faker.seed_instance(seed)
    return faker


def _build(native, csd, sat, **overrides) -> bytes:
    kwargs = dict(
        entity=ENTITY,
        uuid=UUID,
        fecha_timbrado=FECHA_TIMBRADO,
        serie=None,
        folio=None,
        signer=csd,
        sat_signer=sat,
        faker=_faker(),
    )
    kwargs.update(overrides)
    return build_cfdi(native, **kwargs)


def _verify(signer: RsaSigner, signature_b64: str, cadena: str) -> None:
    cert = x509.load_der_x509_certificate(signer.certificate_der)
    cert.public_key().verify(
        base64.b64decode(signature_b64), cadena.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


SMALL_NATIVE = f"""<?xml version="1.0" encoding="UTF-8"?>
<fx:FactDocMX xmlns:fx="{FX_NS}">
  <fx:Version>8</fx:Version>
  <fx:Identificacion>
    <fx:CdgPaisEmisor>MX</fx:CdgPaisEmisor><fx:TipoDeComprobante>FACTURA</fx:TipoDeComprobante>
    <fx:RFCEmisor>{ENTITY}</fx:RFCEmisor><fx:RazonSocialEmisor>Jiménez Estrada Salas</fx:RazonSocialEmisor>
    <fx:Usuario>Juan</fx:Usuario>
    <fx:AsignacionSolicitada><fx:Serie>B</fx:Serie><fx:Folio>15</fx:Folio></fx:AsignacionSolicitada>
    <fx:Exportacion>01</fx:Exportacion><fx:LugarExpedicion>01000</fx:LugarExpedicion>
  </fx:Identificacion>
  <fx:Emisor><fx:RegimenFiscal><fx:Regimen>612</fx:Regimen></fx:RegimenFiscal></fx:Emisor>
  RECEPTOR
  <fx:Conceptos>
    <fx:Concepto>
      <fx:Cantidad>2</fx:Cantidad><fx:ClaveUnidad>E48</fx:ClaveUnidad><fx:UnidadDeMedida>Servicio</fx:UnidadDeMedida>
      <fx:ClaveProdServ>80111600</fx:ClaveProdServ><fx:Codigo>HON-1</fx:Codigo>
      <fx:Descripcion>Honorarios   por asesoría</fx:Descripcion>
      <fx:ValorUnitario>1000.00</fx:ValorUnitario><fx:Importe>IMPORTE</fx:Importe><fx:ObjetoImp>02</fx:ObjetoImp>
      <fx:ImpuestosSAT>
        <fx:Traslados><fx:Traslado Base="2000.00" Importe="320.00" Impuesto="IVA" TasaOCuota="0.160000"
          TipoFactor="Tasa"/></fx:Traslados>
        <fx:Retenciones><fx:Retencion Base="2000.00" Importe="200.00" Impuesto="ISR" TasaOCuota="0.100000"
          TipoFactor="Tasa"/></fx:Retenciones>
      </fx:ImpuestosSAT>
    </fx:Concepto>
    <fx:Concepto>
      <fx:Cantidad>1</fx:Cantidad><fx:Descripcion>Libro &amp; revista</fx:Descripcion>
      <fx:ValorUnitario>500</fx:ValorUnitario><fx:Importe>500</fx:Importe>
      <fx:ImpuestosSAT><fx:Traslados><fx:Traslado Base="500" Impuesto="002" TipoFactor="Exento"/></fx:Traslados>
      </fx:ImpuestosSAT>
    </fx:Concepto>
  </fx:Conceptos>
  <fx:Totales>
    <fx:Moneda>MXN</fx:Moneda><fx:SubTotalBruto>2500.00</fx:SubTotalBruto><fx:SubTotal>2500.00</fx:SubTotal>
    <fx:Total>TOTAL</fx:Total><fx:FormaDePago>03</fx:FormaDePago>
  </fx:Totales>
  <fx:ComprobanteEx><fx:TerminosDePago><fx:MetodoDePago>PUE</fx:MetodoDePago></fx:TerminosDePago></fx:ComprobanteEx>
</fx:FactDocMX>"""

RECEPTOR = """<fx:Receptor><fx:CdgPaisReceptor>MX</fx:CdgPaisReceptor><fx:RFCReceptor>EKU9003173C9</fx:RFCReceptor>
    <fx:NombreReceptor>ESCUELA KEMPER URGATE</fx:NombreReceptor>
    <fx:DomicilioFiscalReceptor>42501</fx:DomicilioFiscalReceptor>
    <fx:RegimenFiscalReceptor>601</fx:RegimenFiscalReceptor><fx:UsoCFDI>G03</fx:UsoCFDI></fx:Receptor>"""


def _small(receptor: str = RECEPTOR, importe: str = "2000.00", total: str = "2620.00", **swap: str) -> bytes:
    text = SMALL_NATIVE.replace("RECEPTOR", receptor).replace("IMPORTE", importe).replace("TOTAL", total)
    for old, new in swap.items():
        text = text.replace(old, new)
    return text.encode("utf-8")


# --- round trip ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large(csd, sat):
    native_xml = native_document(1_500_000)
    native = read_native(native_xml, entity=ENTITY)
    cfdi = _build(native, csd, sat, serie="MS", folio="1001")
    return native_xml, native, cfdi


def test_native_document_has_the_requested_size_and_is_reproducible():
    sample = native_document(1_500_000)
    assert 1_450_000 <= len(sample) <= 1_550_000
    assert sample == native_document(1_500_000)
    assert sample != native_document(1_500_000, seed=1)
    tiny = read_native(native_document(10))
    assert len(tiny.conceptos) == 1


def test_large_round_trip_keeps_issuer_receptor_totals(large):
    native_xml, native, cfdi = large
    assert len(native.conceptos) > 2000
    root = etree.fromstring(cfdi, etree.XMLParser(huge_tree=True))
    assert root.tag == f"{{{CFDI_NS}}}Comprobante"
    assert root.get("Version") == "4.0"
    assert (root.get("Serie"), root.get("Folio")) == ("MS", "1001")
    assert root.find("cfdi:Emisor", NS).get("Rfc") == ENTITY
    assert root.find("cfdi:Receptor", NS).get("Rfc") == "XAXX010101000"
    fx = etree.fromstring(native_xml)
    assert root.get("SubTotal") == fx.findtext("fx:Totales/fx:SubTotal", namespaces=NS)
    assert root.get("Total") == fx.findtext("fx:Totales/fx:Total", namespaces=NS)
    assert root.get("MetodoPago") == "PPD"
    assert len(root.findall("cfdi:Conceptos/cfdi:Concepto", NS)) == len(native.conceptos)
    trasladados = root.find("cfdi:Impuestos", NS).get("TotalImpuestosTrasladados")
    assert trasladados == fx.find("fx:ImpuestosSAT", NS).get("TotalTraslados")


def test_large_round_trip_has_a_verifiable_timbre(large, csd, sat):
    _, _, cfdi = large
    root = etree.fromstring(cfdi, etree.XMLParser(huge_tree=True))
    tfd = root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS)
    assert tfd.get("Version") == "1.1"
    assert tfd.get("UUID") == UUID.upper()
    assert tfd.get("FechaTimbrado") == "2024-05-01T12:30:15"
    assert tfd.get("NoCertificadoSAT") == "30001000000500003456"
    assert tfd.get("SelloCFD") == root.get("Sello")
    assert root.get("NoCertificado") == "30001000000500003416"
    assert base64.b64decode(root.get("Certificado")) == csd.certificate_der
    cadena_tfd = "||" + "|".join(
        tfd.get(a) for a in ("Version", "UUID", "FechaTimbrado", "RfcProvCertif", "SelloCFD", "NoCertificadoSAT")
    ) + "||"  # fmt: skip
    _verify(sat, tfd.get("SelloSAT"), cadena_tfd)


def test_seals_verify_against_sat_cadena_original(csd, sat):
    """The cadenas are SAT's (checked with satcfdi's copy of SAT's XSLT), so the seals are real."""
    cfdi_module = pytest.importorskip("satcfdi.cfdi")
    cfdi = _build(read_native(_small()), csd, sat)
    parsed = cfdi_module.CFDI.from_string(cfdi)
    _verify(csd, parsed["Sello"], parsed.cadena_original())
    timbre = parsed["Complemento"]["TimbreFiscalDigital"]
    _verify(sat, timbre["SelloSAT"], timbre.cadena_original())


def test_taxes_are_summarised_by_tax_and_rate(csd, sat):
    cfdi = _build(read_native(_small()), csd, sat)
    root = etree.fromstring(cfdi)
    impuestos = root.find("cfdi:Impuestos", NS)
    assert impuestos.get("TotalImpuestosTrasladados") == "320.00"
    assert impuestos.get("TotalImpuestosRetenidos") == "200.00"
    assert [dict(t.attrib) for t in impuestos.findall("cfdi:Retenciones/cfdi:Retencion", NS)] == [
        {"Impuesto": "001", "Importe": "200.00"}
    ]
    traslados = {
        t.get("TipoFactor"): dict(t.attrib) for t in impuestos.findall("cfdi:Traslados/cfdi:Traslado", NS)
    }
    assert traslados["Exento"] == {"Base": "500.00", "Impuesto": "002", "TipoFactor": "Exento"}
    assert traslados["Tasa"]["Importe"] == "320.00"
    first, second = root.findall("cfdi:Conceptos/cfdi:Concepto", NS)
    assert first.get("Descripcion") == "Honorarios por asesoría"
    assert second.get("Descripcion") == "Libro & revista"
    assert (second.get("ClaveProdServ"), second.get("ClaveUnidad"), second.get("ObjetoImp")) == (
        "01010101",
        "H87",
        "02",
    )
    assert (root.get("Serie"), root.get("Folio"), root.get("FormaPago")) == ("B", "15", "03")
    assert root.find("cfdi:Emisor", NS).get("RegimenFiscal") == "612"


def test_missing_receptor_is_filled_with_reproducible_fake_data(csd, sat):
    native = read_native(_small(receptor=""))
    assert native.receptor is None
    first = _build(native, csd, sat, faker=_faker(11))
    assert first == _build(native, csd, sat, faker=_faker(11))
    receptor = etree.fromstring(first).find("cfdi:Receptor", NS)
    assert len(receptor.get("Rfc")) in (12, 13)
    assert receptor.get("Nombre")
    assert receptor.get("UsoCFDI") == "G03"


def test_aware_fecha_timbrado_is_written_in_mexico_local_time(csd, sat):
    moment = datetime(2024, 5, 1, 18, 30, 15, tzinfo=UTC)
    root = etree.fromstring(_build(read_native(_small()), csd, sat, fecha_timbrado=moment))
    assert (
        root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS).get("FechaTimbrado")
        == "2024-05-01T12:30:15"
    )


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "vacío"),
        (_small()[:-40], "no está bien formado"),
        (b"<FactDocMX/>", "fx:FactDocMX"),
        (_small(total="abc"), "Totales/Total no es numérico: 'abc'"),
        (_small(importe="1,000.00"), "Concepto[1]/Importe no es numérico"),
        (_small(importe="NaN"), "Concepto[1]/Importe no es un número válido"),
        (_small(importe="-5"), "Concepto[1]/Importe no es un número válido"),
        (_small(**{"<fx:Version>8</fx:Version>": "<fx:Version>7</fx:Version>"}), "fx:Version 7"),
        (_small(**{"<fx:Version>8</fx:Version>": ""}), "Falta fx:Version"),
        (_small(**{"<fx:Totales>": "<fx:TotalesX>", "</fx:Totales>": "</fx:TotalesX>"}), "fx:Totales"),
        (_small(**{'TipoFactor="Exento"': 'TipoFactor="Exento" Impuesto="IVA"'}), "no está bien formado"),
        (_small(**{'Impuesto="ISR"': 'Impuesto="XYZ"'}), "Concepto[1]/Retencion[1]: Impuesto desconocido"),
        (
            _small(**{"<fx:TipoDeComprobante>FACTURA": "<fx:TipoDeComprobante>RARO"}),
            "TipoDeComprobante 'RARO'",
        ),
        (_small(**{"<fx:Descripcion>Libro &amp; revista</fx:Descripcion>": ""}), "Concepto[2]/Descripcion"),
    ],
)
def test_bad_native_documents_give_clear_errors(document, message):
    with pytest.raises(NativeDocumentError) as error:
        read_native(document)
    assert message in error.value.message


def test_document_without_conceptos_is_rejected():
    start, end = SMALL_NATIVE.index("<fx:Conceptos>"), SMALL_NATIVE.index("</fx:Conceptos>")
    text = SMALL_NATIVE[:start] + "<fx:Conceptos>" + SMALL_NATIVE[end:]
    with pytest.raises(NativeDocumentError, match="no tiene Conceptos"):
        read_native(text.replace("RECEPTOR", "").encode())


def test_doctype_and_entities_are_refused_quickly():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        + _small().split(b"?>", 1)[1].replace(b"<fx:Usuario>Juan", b"<fx:Usuario>&lol3;")
    )
    with pytest.raises(NativeDocumentError, match="DOCTYPE"):
        read_native(bomb)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">' + _small().split(b"?>", 1)[1]
    )
    with pytest.raises(NativeDocumentError, match="DOCTYPE"):
        read_native(external)


def test_rfc_emisor_must_match_the_entity(csd, sat):
    with pytest.raises(
        NativeDocumentError, match=r"RFCEmisor .*\(JES900109Q90\) no corresponde .*\(AAA010101AAA\)"
    ):
        read_native(_small(), entity="AAA010101AAA")
    assert read_native(_small(), entity="jes900109q90").rfc_emisor == ENTITY
    with pytest.raises(NativeDocumentError, match="no corresponde a la entidad"):
        _build(read_native(_small()), csd, sat, entity="AAA010101AAA")


def test_signer_never_shows_its_key(csd):
    assert "PRIVATE" not in repr(csd) and "key" not in repr(csd)
    assert certificate_number_of(int.from_bytes(b"30001000000500003416", "big")) == "30001000000500003416"
    assert certificate_number_of(255) == "255"


# --- PDF and ZIP ---------------------------------------------------------------------------------


def test_pdf_of_a_large_cfdi_is_readable_and_capped(large):
    pypdf = pytest.importorskip("pypdf")
    _, native, cfdi = large
    pdf = render_pdf(cfdi)
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    compact = text.replace(" ", "").replace("\n", "")
    assert UUID.upper() in compact
    assert ENTITY in compact
    assert "SKU-0000200" not in text and "SKU-0000001" not in text  # NoIdentificacion is not a column
    assert f"{len(native.conceptos) - 200} conceptos más" in text
    assert "#200" in text and "#201" not in text
    assert "Sello digital del CFDI" in text
    assert len(reader.pages) < 12


def test_pdf_of_a_small_cfdi_lists_every_concepto(csd, sat):
    pypdf = pytest.importorskip("pypdf")
    pdf = render_pdf(_build(read_native(_small()), csd, sat))
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Libro & revista" in text and "Honorarios por asesoría" in text
    assert "conceptos más" not in text
    assert "2620.00" in text


def test_render_pdf_rejects_what_is_not_a_cfdi():
    with pytest.raises(NativeDocumentError, match="CFDI"):
        render_pdf(_small())
    with pytest.raises(NativeDocumentError, match="bien formado"):
        render_pdf(b"<cfdi:Comprobante")


def test_zip_single_holds_one_file():
    data = native_document(50_000)
    archive = zip_single("B-15.xml", data, when=datetime(2024, 5, 1, 12, 0, 0))
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.namelist() == ["B-15.xml"]
        assert opened.read("B-15.xml") == data
        assert opened.getinfo("B-15.xml").compress_type == zipfile.ZIP_DEFLATED
        assert opened.getinfo("B-15.xml").date_time == (2024, 5, 1, 12, 0, 0)
    assert len(archive) < len(data)


def test_native_document_takes_a_size_as_written_in_scenarios():
    sample = native_document("1.5MB", entity="MOC900101AB1")
    assert abs(len(sample) - 1_500_000) < 2_000
    assert read_native(sample, entity="MOC900101AB1").rfc_emisor == "MOC900101AB1"
    assert abs(len(native_document("1MiB")) - 1_048_576) < 2_000
