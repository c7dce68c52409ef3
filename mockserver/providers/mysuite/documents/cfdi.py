"""The stamped CFDI 4.0 of a native document, with a ``tfd:TimbreFiscalDigital`` 1.1.

``Sello`` signs the cadena original of the Comprobante and ``SelloSAT`` the cadena original of the
TFD, both RSA-SHA256 by a :class:`Signer`. The cadenas follow SAT's XSLT field order for the
attributes this module emits (it emits no complements other than the TFD), so they are the real
cadenas for these documents. The CFDI is streamed out, never held as a tree.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ....sat.cancelacion import is_uuid
from ....sat.certificates import certificate_number_of
from .common import (
    CFDI_NS,
    CFDI_SCHEMA_LOCATION,
    MEXICO_TZ,
    TFD_NS,
    TFD_SCHEMA_LOCATION,
    XSI_NS,
    safe_parser_options,
)
from .native import Concepto, Impuesto, NativeDocument, Receptor, check_entity

_TWO_PLACES = Decimal("0.01")


class Signer(Protocol):
    """A certificate and its private key. ``sign`` returns an RSA PKCS#1 v1.5 SHA-256 signature."""

    certificate_number: str
    certificate_der: bytes

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RsaSigner:
    """:class:`Signer` over a ``cryptography`` RSA key and its DER certificate."""

    key: rsa.RSAPrivateKey
    certificate_der: bytes
    certificate_number: str = ""

    def __post_init__(self) -> None:
        if not self.certificate_number:
            serial = x509.load_der_x509_certificate(self.certificate_der).serial_number
            object.__setattr__(self, "certificate_number", certificate_number_of(serial))

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def __repr__(self) -> str:  # never print key material
        return f"RsaSigner(certificate_number={self.certificate_number!r})"


def _sat_datetime(moment: datetime) -> str:
    """CFDI dates are Mexico local time without offset."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(MEXICO_TZ)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _money(value: Decimal) -> str:
    return str(value.quantize(_TWO_PLACES, rounding=ROUND_HALF_UP))


def _attrs(pairs: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """Attributes in SAT order, dropping the absent optional ones."""
    return [(name, value) for name, value in pairs if value is not None]


def _cadena(groups: Iterable[list[tuple[str, str]]]) -> str:
    """SAT cadena original: ``||v1|v2|...||`` with whitespace collapsed in each value."""
    values = (" ".join(value.split()) for attrs in groups for _, value in attrs)
    return "||" + "|".join(values) + "||"


def _impuesto_attrs(tax: Impuesto) -> list[tuple[str, str]]:
    return _attrs(
        [
            ("Base", tax.base),
            ("Impuesto", tax.impuesto),
            ("TipoFactor", tax.tipo_factor),
            ("TasaOCuota", tax.tasa_o_cuota),
            ("Importe", tax.importe),
        ]
    )


def _retencion_attrs(tax: Impuesto) -> list[tuple[str, str]]:
    return _impuesto_attrs(tax)


@dataclass(slots=True)
class _Resumen:
    """Comprobante-level Impuestos: the Conceptos' taxes summed by tax, factor and rate."""

    traslados: dict[tuple[str, str, str | None], list[Decimal]] = field(default_factory=dict)
    retenciones: dict[str, Decimal] = field(default_factory=dict)

    def add(self, concepto: Concepto) -> None:
        for tax in concepto.traslados:
            sums = self.traslados.setdefault(
                (tax.impuesto, tax.tipo_factor, tax.tasa_o_cuota), [Decimal(0)] * 2
            )
            sums[0] += Decimal(tax.base)
            if tax.importe is not None:
                sums[1] += Decimal(tax.importe)
        for tax in concepto.retenciones:
            self.retenciones[tax.impuesto] = self.retenciones.get(tax.impuesto, Decimal(0)) + Decimal(
                tax.importe or 0
            )

    def comprobante_attrs(self) -> list[tuple[str, str]]:
        trasladados = [sums[1] for (_, factor, _), sums in self.traslados.items() if factor != "Exento"]
        return _attrs(
            [
                (
                    "TotalImpuestosRetenidos",
                    _money(sum(self.retenciones.values())) if self.retenciones else None,
                ),
                ("TotalImpuestosTrasladados", _money(sum(trasladados)) if trasladados else None),
            ]
        )

    def retencion_attrs(self) -> list[list[tuple[str, str]]]:
        return [
            [("Impuesto", code), ("Importe", _money(total))]
            for code, total in sorted(self.retenciones.items())
        ]

    def traslado_attrs(self) -> list[list[tuple[str, str]]]:
        rows = []
        for (code, factor, rate), (base, importe) in sorted(
            self.traslados.items(), key=lambda kv: str(kv[0])
        ):
            exento = factor == "Exento"
            rows.append(
                _attrs(
                    [
                        ("Base", _money(base)),
                        ("Impuesto", code),
                        ("TipoFactor", factor),
                        ("TasaOCuota", None if exento else rate),
                        ("Importe", None if exento else _money(importe)),
                    ]
                )
            )
        return rows


def _concepto_groups(concepto: Concepto) -> list[list[tuple[str, str]]]:
    """Attributes of a Concepto and its taxes, in cadena order."""
    groups = [
        _attrs(
            [
                ("ClaveProdServ", concepto.clave_prod_serv),
                ("NoIdentificacion", concepto.no_identificacion),
                ("Cantidad", concepto.cantidad),
                ("ClaveUnidad", concepto.clave_unidad),
                ("Unidad", concepto.unidad),
                ("Descripcion", concepto.descripcion),
                ("ValorUnitario", concepto.valor_unitario),
                ("Importe", concepto.importe),
                ("Descuento", concepto.descuento),
                ("ObjetoImp", concepto.objeto_imp),
            ]
        )
    ]
    groups += [_impuesto_attrs(t) for t in concepto.traslados]
    groups += [_retencion_attrs(t) for t in concepto.retenciones]
    return groups


def build_cfdi(
    native: NativeDocument,
    *,
    entity: str,
    uuid: str,
    fecha_timbrado: datetime,
    serie: str | None,
    folio: str | None,
    signer: Signer,
    faker,
    sat_signer: Signer | None = None,
    rfc_prov_certif: str = "AAA010101AAA",
) -> bytes:
    """The stamped CFDI 4.0 (UTF-8 bytes) for ``native``.

    ``Emisor.Rfc`` is ``entity`` (must equal the native RFCEmisor, else :class:`NativeDocumentError`);
    Receptor and totals come from the native document, missing Receptor data from ``faker`` (a
    ``Faker`` instance, seed it for reproducible output). ``serie``/``folio`` of ``None`` fall back to
    the native AsignacionSolicitada. ``Sello`` is signed by ``signer`` (the issuer's CSD);
    ``SelloSAT``/``NoCertificadoSAT`` by ``sat_signer`` (defaults to ``signer``).
    """
    check_entity(native.rfc_emisor, entity)
    if not is_uuid(uuid):
        raise ValueError(f"not a UUID: {uuid!r}")
    sat_signer = sat_signer or signer
    fecha = _sat_datetime(native.fecha_emision or fecha_timbrado)
    totales = native.totales
    receptor = native.receptor or Receptor()

    comprobante = _attrs(
        [
            ("Version", "4.0"),
            ("Serie", serie if serie is not None else native.serie),
            ("Folio", folio if folio is not None else native.folio),
            ("Fecha", fecha),
            ("FormaPago", totales.forma_pago if native.tipo_de_comprobante in "IE" else None),
            ("NoCertificado", signer.certificate_number),
            ("SubTotal", totales.subtotal),
            ("Descuento", totales.descuento),
            ("Moneda", totales.moneda),
            ("TipoCambio", totales.tipo_cambio if totales.moneda not in ("MXN", "XXX") else None),
            ("Total", totales.total),
            ("TipoDeComprobante", native.tipo_de_comprobante),
            ("Exportacion", native.exportacion),
            ("MetodoPago", native.metodo_pago if native.tipo_de_comprobante in "IE" else None),
            ("LugarExpedicion", native.lugar_expedicion or faker.numerify("#####")),
        ]
    )
    emisor = [
        ("Rfc", entity.strip().upper()),
        ("Nombre", native.razon_social_emisor or faker.company().upper()),
        ("RegimenFiscal", native.regimen_fiscal_emisor or "601"),
    ]
    receptor_attrs = [
        ("Rfc", receptor.rfc or _fake_rfc(faker)),
        ("Nombre", receptor.nombre or faker.company().upper()),
        ("DomicilioFiscalReceptor", receptor.domicilio_fiscal or faker.numerify("#####")),
        ("RegimenFiscalReceptor", receptor.regimen_fiscal or "601"),
        ("UsoCFDI", receptor.uso_cfdi or "G03"),
    ]
    resumen = _Resumen()
    for concepto in native.conceptos:
        resumen.add(concepto)

    # Sello: cadena original of the Comprobante (SAT's XSLT order; NoCertificado is in it,
    # Sello and Certificado are not).
    cadena = _cadena(_comprobante_groups(comprobante, emisor, receptor_attrs, native.conceptos, resumen))
    sello = base64.b64encode(signer.sign(cadena.encode("utf-8"))).decode("ascii")
    del cadena  # up to tens of MB for large documents
    certificado = base64.b64encode(signer.certificate_der).decode("ascii")

    tfd = _attrs(
        [
            ("Version", "1.1"),
            ("UUID", uuid.upper()),
            ("FechaTimbrado", _sat_datetime(fecha_timbrado)),
            ("RfcProvCertif", rfc_prov_certif),
            ("SelloCFD", sello),
            ("NoCertificadoSAT", sat_signer.certificate_number),
        ]
    )
    sello_sat = base64.b64encode(sat_signer.sign(_cadena([tfd]).encode("utf-8"))).decode("ascii")
    tfd.append(("SelloSAT", sello_sat))

    root_attrs: list[tuple[str, str]] = []
    for name, value in comprobante:  # the usual layout: Sello after Fecha, Certificado after NoCertificado
        root_attrs.append((name, value))
        if name == "Fecha":
            root_attrs.append(("Sello", sello))
        elif name == "NoCertificado":
            root_attrs.append(("Certificado", certificado))
    return _write_cfdi(root_attrs, emisor, receptor_attrs, native.conceptos, resumen, tfd)


def _comprobante_groups(comprobante, emisor, receptor, conceptos, resumen) -> Iterator[list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    yield comprobante
    yield emisor
    yield receptor
    for concepto in conceptos:
        yield from _concepto_groups(concepto)
    impuestos = resumen.comprobante_attrs()
    # SAT order: Retenciones, TotalImpuestosRetenidos, Traslados, TotalImpuestosTrasladados.
    yield from resumen.retencion_attrs()
    yield [(k, v) for k, v in impuestos if k == "TotalImpuestosRetenidos"]
    yield from resumen.traslado_attrs()
    yield [(k, v) for k, v in impuestos if k == "TotalImpuestosTrasladados"]


def _fake_rfc(faker) -> str:  # type: ignore[no-untyped-def]
    """A company-shaped RFC drawn only from ``faker``'s own random (so a seed reproduces it)."""
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    founded = faker.date_between(start_date=date(1970, 1, 1), end_date=date(2015, 12, 31))
    return (
        faker.bothify("???", letters=upper) + founded.strftime("%y%m%d") + faker.bothify("??#", letters=upper)
    )


def _write_cfdi(root_attrs, emisor, receptor, conceptos, resumen, tfd) -> bytes:  # type: ignore[no-untyped-def]
    """Stream the CFDI with lxml's incremental writer (no full tree in memory).

    Every element goes through ``xf.element`` so the root's namespace declarations stay in scope
    (a written standalone element would repeat them).
    """
    out = io.BytesIO()
    cfdi = f"{{{CFDI_NS}}}"
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        attrs = {f"{{{XSI_NS}}}schemaLocation": CFDI_SCHEMA_LOCATION, **dict(root_attrs)}
        with xf.element(f"{cfdi}Comprobante", attrs, nsmap={"cfdi": CFDI_NS, "xsi": XSI_NS}):
            _leaf(xf, f"{cfdi}Emisor", emisor)
            _leaf(xf, f"{cfdi}Receptor", receptor)
            with xf.element(f"{cfdi}Conceptos"):
                for concepto in conceptos:
                    _write_concepto(xf, concepto)
            impuestos_attrs = resumen.comprobante_attrs()
            if impuestos_attrs:
                with xf.element(f"{cfdi}Impuestos", dict(impuestos_attrs)):
                    if resumen.retenciones:
                        with xf.element(f"{cfdi}Retenciones"):
                            for attrs_ in resumen.retencion_attrs():
                                _leaf(xf, f"{cfdi}Retencion", attrs_)
                    if resumen.traslados:
                        with xf.element(f"{cfdi}Traslados"):
                            for attrs_ in resumen.traslado_attrs():
                                _leaf(xf, f"{cfdi}Traslado", attrs_)
            with xf.element(f"{cfdi}Complemento"):
                tfd_attrs = {f"{{{XSI_NS}}}schemaLocation": TFD_SCHEMA_LOCATION, **dict(tfd)}
                with xf.element(f"{{{TFD_NS}}}TimbreFiscalDigital", tfd_attrs, nsmap={"tfd": TFD_NS}):
                    pass
    return out.getvalue()


def _leaf(xf, tag: str, attrs: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    with xf.element(tag, dict(attrs)):
        pass


def _write_concepto(xf, concepto: Concepto) -> None:  # type: ignore[no-untyped-def]
    cfdi = f"{{{CFDI_NS}}}"
    groups = _concepto_groups(concepto)
    with xf.element(f"{cfdi}Concepto", dict(groups[0])):
        if concepto.traslados or concepto.retenciones:
            with xf.element(f"{cfdi}Impuestos"):
                if concepto.traslados:
                    with xf.element(f"{cfdi}Traslados"):
                        for tax in concepto.traslados:
                            _leaf(xf, f"{cfdi}Traslado", _impuesto_attrs(tax))
                if concepto.retenciones:
                    with xf.element(f"{cfdi}Retenciones"):
                        for tax in concepto.retenciones:
                            _leaf(xf, f"{cfdi}Retencion", _retencion_attrs(tax))


def cfdi_header(cfdi: bytes) -> dict:
    """Comprobante, Emisor and Receptor attributes of a CFDI we wrote (reads only its first elements)."""
    found: dict[str, dict] = {}
    for _, elem in etree.iterparse(io.BytesIO(cfdi), events=("start",), **safe_parser_options()):
        name = etree.QName(elem).localname
        if name in ("Comprobante", "Emisor", "Receptor"):
            found[name] = dict(elem.attrib)
        if name == "Receptor":
            break
    comprobante, emisor, receptor = (found.get(k, {}) for k in ("Comprobante", "Emisor", "Receptor"))
    return {
        "serie": comprobante.get("Serie", ""),
        "folio": comprobante.get("Folio", ""),
        "fecha": comprobante.get("Fecha", ""),
        "total": comprobante.get("Total", ""),
        "moneda": comprobante.get("Moneda", ""),
        "emisor_nombre": emisor.get("Nombre", ""),
        "receptor_rfc": receptor.get("Rfc", ""),
        "receptor_nombre": receptor.get("Nombre", ""),
    }
