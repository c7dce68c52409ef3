"""MYSuite documents: native XML in, stamped CFDI 4.0, PDF and ZIP out.

Pure functions (no HTTP, no database). The service layer decides when to call them and turns a
:class:`NativeDocumentError` into ``Status 3`` with its message as ``ErrorMsg``.

- :func:`read_native` reads a MYSuite native document (``fx:FactDocMX``, ``fx:Version`` 8) in one
  streaming pass; Conceptos are released as soon as they are read, so a 40 MB document costs
  little more than its own bytes.
- :func:`build_cfdi` writes the CFDI 4.0 with a ``tfd:TimbreFiscalDigital`` 1.1. ``Sello`` signs
  the cadena original of the Comprobante and ``SelloSAT`` the cadena original of the TFD, both
  RSA-SHA256 by the ``signer`` object. The cadenas follow SAT's XSLT field order for the
  attributes this module emits (it emits no complements other than the TFD), so they are the
  real cadenas for these documents.
- :func:`render_pdf` prints a readable invoice (first :data:`PDF_MAX_CONCEPTOS` Conceptos).
- :func:`zip_single` packs one file. (Sample native documents: :mod:`mockserver.testing.mysuite`.)

Mail distribution: a native document asks MYSuite to e-mail the generated CFDI with
``fx:Procesamiento/fx:Dictionary[@name="email"]/fx:Entry[@k="to"]/@v`` (addresses separated by ``;``
or ``,``), the element public MYSuite client code writes right after ``fx:Identificacion``; the
addresses end up in :attr:`NativeDocument.distribution`.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ...sat.cancelacion import is_uuid
from ...sat.certificates import certificate_number_of

FX_NS = "http://www.fact.com.mx/schema/fx"
CFDI_NS = "http://www.sat.gob.mx/cfd/4"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CFDI_SCHEMA_LOCATION = f"{CFDI_NS} http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
TFD_SCHEMA_LOCATION = (
    f"{TFD_NS} http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"
)
NATIVE_VERSION = "8"  # fx:Version for CFDI 4.0 (7 was CFDI 3.3)
PDF_MAX_CONCEPTOS = 200
MEXICO_TZ = ZoneInfo("America/Mexico_City")

# Native TipoDeComprobante names (and the SAT letters themselves) → c_TipoDeComprobante.
TIPOS_DE_COMPROBANTE = {
    "FACTURA": "I",
    "INGRESO": "I",
    "HONORARIOS": "I",
    "ARRENDAMIENTO": "I",
    "NOTA_DE_CARGO": "I",
    "NOTA_CARGO": "I",
    "NOTA_DE_CREDITO": "E",
    "NOTA_CREDITO": "E",
    "EGRESO": "E",
    "TRASLADO": "T",
    "NOMINA": "N",
    "RECIBO_DE_NOMINA": "N",
    "PAGO": "P",
    "RECIBO_DE_PAGO": "P",
    **{letter: letter for letter in "IETNP"},
}
IMPUESTOS = {"ISR": "001", "IVA": "002", "IEPS": "003", "001": "001", "002": "002", "003": "003"}

_TWO_PLACES = Decimal("0.01")


class NativeDocumentError(ValueError):
    """The native document cannot be turned into a CFDI; ``message`` is fit for ``ErrorMsg``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


# --- native document -----------------------------------------------------------------------------


@dataclass(slots=True)
class Impuesto:
    """A Traslado or Retencion of a Concepto (SAT codes; Exento has no rate and no amount)."""

    base: str
    impuesto: str
    tipo_factor: str
    tasa_o_cuota: str | None
    importe: str | None


@dataclass(slots=True)
class Concepto:
    clave_prod_serv: str
    no_identificacion: str | None
    cantidad: str
    clave_unidad: str
    unidad: str | None
    descripcion: str
    valor_unitario: str
    importe: str
    descuento: str | None
    objeto_imp: str
    traslados: list[Impuesto] = field(default_factory=list)
    retenciones: list[Impuesto] = field(default_factory=list)


@dataclass(slots=True)
class Receptor:
    rfc: str | None = None
    nombre: str | None = None
    domicilio_fiscal: str | None = None
    regimen_fiscal: str | None = None
    uso_cfdi: str | None = None


@dataclass(slots=True)
class Totales:
    moneda: str
    tipo_cambio: str | None
    subtotal: str
    descuento: str | None
    total: str
    total_en_letra: str | None
    forma_pago: str | None


@dataclass(slots=True)
class NativeDocument:
    """What the mock needs from a native document; numbers are kept as their validated text."""

    version: str
    tipo_de_comprobante: str  # SAT letter
    rfc_emisor: str
    razon_social_emisor: str | None
    serie: str | None
    folio: str | None
    fecha_emision: datetime | None
    exportacion: str
    lugar_expedicion: str | None
    regimen_fiscal_emisor: str | None
    receptor: Receptor | None
    conceptos: list[Concepto]
    totales: Totales
    metodo_pago: str | None
    distribution: tuple[str, ...] = ()  # addresses the CFDI is e-mailed to (fx:Procesamiento)


def _safe_parser_options() -> dict:
    # No DTD, no entities, no network; huge_tree because Data1 documents reach 40 MB.
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": True}


def read_native(xml: bytes, *, entity: str | None = None) -> NativeDocument:
    """Read a MYSuite native XML document (``fx:FactDocMX``, version 8).

    When ``entity`` is given, ``RFCEmisor`` must equal it. Raises :class:`NativeDocumentError` for a
    malformed document, a DOCTYPE, a wrong root or version, a missing required section
    (Identificacion, Conceptos with at least one Concepto, Totales) or a non-numeric amount.
    """
    if not isinstance(xml, bytes | bytearray | memoryview) or not len(xml):
        raise NativeDocumentError("El XML nativo está vacío.")
    sections: dict[str, etree._Element] = {}
    conceptos: list[Concepto] = []
    wanted = [f"{{{FX_NS}}}{name}" for name in _SECTIONS] + [f"{{{FX_NS}}}Concepto"]
    context = etree.iterparse(io.BytesIO(xml), events=("end",), tag=wanted, **_safe_parser_options())
    checked_root = False
    try:
        for _, elem in context:
            if not checked_root:
                _check_root(elem.getroottree())
                checked_root = True
            local = etree.QName(elem).localname
            if local == "Concepto":
                conceptos.append(_concepto(elem, len(conceptos) + 1))
                # Release what was read: keeps memory flat for tens of thousands of Conceptos.
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                while elem.getprevious() is not None:
                    del parent[0]
            elif elem.getparent() is not None and elem.getparent().getparent() is None:
                sections[local] = elem  # only top-level sections (not Concepto/ImpuestosSAT)
    except etree.XMLSyntaxError as exc:
        raise NativeDocumentError(f"El XML nativo no está bien formado: {_syntax_message(exc)}") from None
    if not checked_root:
        _check_root(context.root.getroottree() if context.root is not None else None)
    return _native_document(sections, conceptos, entity)


_SECTIONS = ("Version", "Identificacion", "Procesamiento", "Emisor", "Receptor", "Totales", "ComprobanteEx")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _distribution(procesamiento: etree._Element | None) -> tuple[str, ...]:
    """The "to" addresses of the ``email`` dictionary; what is not an address is left out."""
    if procesamiento is None:
        return ()
    found: list[str] = []
    for dictionary in procesamiento.iterfind(f"{{{FX_NS}}}Dictionary"):
        if (dictionary.get("name") or "").strip().lower() != "email":
            continue
        for entry in dictionary.iterfind(f"{{{FX_NS}}}Entry"):
            if (entry.get("k") or "").strip().lower() == "to":
                found += [a.strip() for a in re.split(r"[;,]", entry.get("v") or "") if _EMAIL.match(a.strip())]
    return tuple(dict.fromkeys(found))


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    line = f" (línea {exc.lineno})" if exc.lineno else ""
    return f"{exc.msg}{line}"


def _check_root(tree: etree._ElementTree | None) -> None:
    if tree is None:
        raise NativeDocumentError("El XML nativo no tiene elemento raíz.")
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise NativeDocumentError("El XML nativo no puede contener DOCTYPE.")
    root = tree.getroot()
    if root.tag != f"{{{FX_NS}}}FactDocMX":
        raise NativeDocumentError(
            f"El documento no es un XML nativo de MYSuite: se esperaba fx:FactDocMX en {FX_NS}, "
            f"se recibió {etree.QName(root).localname}."
        )


def _text(elem: etree._Element | None, path: str) -> str | None:
    if elem is None:
        return None
    found = elem.find(path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _required(elem: etree._Element, path: str, where: str) -> str:
    value = _text(elem, path)
    if value is None:
        raise NativeDocumentError(f"Falta {where}/{path.replace('{*}', '')} en el XML nativo.")
    return value


def _amount(value: str | None, where: str, *, required: bool = True) -> str | None:
    """Validate a non-negative decimal amount, keeping its text (SAT keeps the issuer's precision)."""
    if value is None:
        if required:
            raise NativeDocumentError(f"Falta el importe {where} en el XML nativo.")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise NativeDocumentError(f"El importe {where} no es numérico: {value[:40]!r}.") from None
    if not number.is_finite() or number < 0:
        raise NativeDocumentError(f"El importe {where} no es un número válido: {value[:40]!r}.")
    return value


def _concepto_amount(fields: dict[str, str], name: str, index: int, *, required: bool = True) -> str | None:
    return _amount(fields.get(name), f"Concepto[{index}]/{name}", required=required)


_TAX_GROUPS = {"Traslados": "Traslado", "Retenciones": "Retencion"}


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _impuesto(node: etree._Element, kind: str, number: int, index: int) -> Impuesto:
    label = f"Concepto[{index}]/{kind}[{number}]"
    code = IMPUESTOS.get((node.get("Impuesto") or "").strip().upper())
    if code is None:
        raise NativeDocumentError(
            f"{label}: Impuesto desconocido {node.get('Impuesto')!r} (ISR, IVA o IEPS)."
        )
    tipo_factor = (node.get("TipoFactor") or "Tasa").strip()
    exento = tipo_factor == "Exento"
    return Impuesto(
        base=_amount(node.get("Base"), f"{label}@Base"),
        impuesto=code,
        tipo_factor=tipo_factor,
        tasa_o_cuota=None if exento else _amount(node.get("TasaOCuota"), f"{label}@TasaOCuota"),
        importe=None if exento else _amount(node.get("Importe"), f"{label}@Importe"),
    )


def _concepto(elem: etree._Element, index: int) -> Concepto:
    # One pass over the children: this runs tens of thousands of times for large documents.
    fields: dict[str, str] = {}
    traslados: list[Impuesto] = []
    retenciones: list[Impuesto] = []
    for child in elem:
        name = _local(child.tag)
        if name == "ImpuestosSAT":
            for group in child:
                kind = _TAX_GROUPS.get(_local(group.tag))
                if kind is None:
                    continue
                target = traslados if kind == "Traslado" else retenciones
                for node in group:
                    if _local(node.tag) == kind:
                        target.append(_impuesto(node, kind, len(target) + 1, index))
        elif child.text is not None:
            text = " ".join(child.text.split())
            if text:
                fields[name] = text
    descripcion = fields.get("Descripcion")
    if descripcion is None:
        raise NativeDocumentError(f"Falta Concepto[{index}]/Descripcion en el XML nativo.")
    return Concepto(
        clave_prod_serv=fields.get("ClaveProdServ", "01010101"),
        no_identificacion=fields.get("Codigo"),
        cantidad=_concepto_amount(fields, "Cantidad", index),
        clave_unidad=fields.get("ClaveUnidad", "H87"),
        unidad=fields.get("UnidadDeMedida"),
        descripcion=descripcion,
        valor_unitario=_concepto_amount(fields, "ValorUnitario", index),
        importe=_concepto_amount(fields, "Importe", index),
        descuento=_concepto_amount(fields, "Descuento", index, required=False),
        objeto_imp=fields.get("ObjetoImp") or ("02" if traslados or retenciones else "01"),
        traslados=traslados,
        retenciones=retenciones,
    )


def _native_document(
    sections: dict[str, etree._Element], conceptos: list[Concepto], entity: str | None
) -> NativeDocument:
    version = _text(sections.get("Version"), ".")
    if version is None:
        raise NativeDocumentError("Falta fx:Version en el XML nativo.")
    if version != NATIVE_VERSION:
        raise NativeDocumentError(
            f"fx:Version {version} no es compatible: se espera {NATIVE_VERSION} (CFDI 4.0)."
        )
    ident = sections.get("Identificacion")
    if ident is None:
        raise NativeDocumentError("Falta la sección fx:Identificacion en el XML nativo.")
    if not conceptos:
        raise NativeDocumentError("El XML nativo no tiene Conceptos (fx:Conceptos/fx:Concepto).")
    totales_elem = sections.get("Totales")
    if totales_elem is None:
        raise NativeDocumentError("Falta la sección fx:Totales en el XML nativo.")

    tipo_text = _required(ident, "{*}TipoDeComprobante", "Identificacion")
    tipo = TIPOS_DE_COMPROBANTE.get(tipo_text.upper())
    if tipo is None:
        raise NativeDocumentError(
            f"TipoDeComprobante {tipo_text!r} no reconocido (p. ej. FACTURA, NOTA_DE_CREDITO, PAGO, TRASLADO)."
        )
    rfc_emisor = _required(ident, "{*}RFCEmisor", "Identificacion").upper()
    if entity is not None:
        _check_entity(rfc_emisor, entity)

    receptor_elem = sections.get("Receptor")
    receptor = None
    if receptor_elem is not None:
        receptor = Receptor(
            rfc=(_text(receptor_elem, "{*}RFCReceptor") or "").upper() or None,
            nombre=_text(receptor_elem, "{*}NombreReceptor"),
            domicilio_fiscal=_text(receptor_elem, "{*}DomicilioFiscalReceptor"),
            regimen_fiscal=_text(receptor_elem, "{*}RegimenFiscalReceptor"),
            uso_cfdi=_text(receptor_elem, "{*}UsoCFDI"),
        )

    # CFDI SubTotal is before discounts: MYSuite's SubTotalBruto when given.
    subtotal = _text(totales_elem, "{*}SubTotalBruto") or _text(totales_elem, "{*}SubTotal")
    totales = Totales(
        moneda=(_text(totales_elem, "{*}Moneda") or "MXN").upper(),
        tipo_cambio=_amount(
            _text(totales_elem, "{*}TipoDeCambioVenta"), "Totales/TipoDeCambioVenta", required=False
        ),
        subtotal=_amount(subtotal, "Totales/SubTotal"),
        descuento=_amount(_text(totales_elem, "{*}Descuento"), "Totales/Descuento", required=False),
        total=_amount(_text(totales_elem, "{*}Total"), "Totales/Total"),
        total_en_letra=_text(totales_elem, "{*}TotalEnLetra"),
        forma_pago=_text(totales_elem, "{*}FormaDePago"),
    )
    return NativeDocument(
        version=version,
        tipo_de_comprobante=tipo,
        rfc_emisor=rfc_emisor,
        razon_social_emisor=_text(ident, "{*}RazonSocialEmisor"),
        serie=_text(ident, "{*}AsignacionSolicitada/{*}Serie"),
        folio=_text(ident, "{*}AsignacionSolicitada/{*}Folio"),
        fecha_emision=_datetime(_text(ident, "{*}AsignacionSolicitada/{*}TiempoDeEmision")),
        exportacion=_text(ident, "{*}Exportacion") or "01",
        lugar_expedicion=_text(ident, "{*}LugarExpedicion"),
        regimen_fiscal_emisor=_text(sections.get("Emisor"), "{*}RegimenFiscal/{*}Regimen"),
        receptor=receptor,
        conceptos=conceptos,
        totales=totales,
        metodo_pago=_text(sections.get("ComprobanteEx"), "{*}TerminosDePago/{*}MetodoDePago"),
        distribution=_distribution(sections.get("Procesamiento")),
    )


def _check_entity(rfc_emisor: str, entity: str) -> None:
    if rfc_emisor != entity.strip().upper():
        raise NativeDocumentError(
            f"El RFCEmisor del XML nativo ({rfc_emisor}) no corresponde a la entidad de la solicitud ({entity})."
        )


def _datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None  # TiempoDeEmision is also used for non-dates; the stamp time is used instead


# --- CFDI ----------------------------------------------------------------------------------------


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
    _check_entity(native.rfc_emisor, entity)
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


# --- PDF -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _CfdiView:
    comprobante: dict[str, str] = field(default_factory=dict)
    emisor: dict[str, str] = field(default_factory=dict)
    receptor: dict[str, str] = field(default_factory=dict)
    conceptos: list[dict[str, str]] = field(default_factory=list)
    conceptos_total: int = 0
    impuestos: dict[str, str] = field(default_factory=dict)
    tfd: dict[str, str] = field(default_factory=dict)


def _read_cfdi_for_pdf(cfdi_xml: bytes, max_conceptos: int) -> _CfdiView:
    view = _CfdiView()
    cfdi = f"{{{CFDI_NS}}}"
    tags = [f"{cfdi}{t}" for t in ("Emisor", "Receptor", "Concepto", "Impuestos")]
    tags.append(f"{{{TFD_NS}}}TimbreFiscalDigital")
    context = etree.iterparse(io.BytesIO(cfdi_xml), events=("end",), tag=tags, **_safe_parser_options())
    try:
        for _, elem in context:
            tag = etree.QName(elem).localname
            parent = elem.getparent()
            if tag == "Concepto":
                view.conceptos_total += 1
                if len(view.conceptos) < max_conceptos:
                    view.conceptos.append(dict(elem.attrib))
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:
                    del parent[0]
            elif tag == "Emisor":
                view.emisor = dict(elem.attrib)
            elif tag == "Receptor":
                view.receptor = dict(elem.attrib)
            elif tag == "Impuestos" and parent is not None and parent.getparent() is None:
                view.impuestos = dict(elem.attrib)
            elif tag == "TimbreFiscalDigital":
                view.tfd = dict(elem.attrib)
    except etree.XMLSyntaxError as exc:
        raise NativeDocumentError(f"El CFDI no está bien formado: {_syntax_message(exc)}") from None
    root = context.root
    if root is None or root.tag != f"{cfdi}Comprobante":
        raise NativeDocumentError("El documento no es un CFDI 4.0 (cfdi:Comprobante).")
    if root.getroottree().docinfo.doctype:
        raise NativeDocumentError("El CFDI no puede contener DOCTYPE.")
    view.comprobante = dict(root.attrib)
    return view


def _latin1(text: object) -> str:
    """Core PDF fonts are Latin-1: keep accents and ñ, replace anything else."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


@functools.cache
def _invoice_pdf_class() -> type:
    # fpdf costs 0.3-0.5 s to import: load it when the first PDF is wanted, not at server start.
    from fpdf import FPDF

    class InvoicePdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=7)
            self.cell(0, 8, _latin1(f"Este documento es una representación impresa de un CFDI - página {self.page_no()}"),
                      align="C")  # fmt: skip

    return InvoicePdf


def render_pdf(cfdi_xml: bytes, *, max_conceptos: int = PDF_MAX_CONCEPTOS) -> bytes:
    """A readable PDF of a stamped CFDI: issuer, receiver, Conceptos (first ``max_conceptos``,
    then a "... N more" line), totals, UUID and seals. Raises :class:`NativeDocumentError` if the
    bytes are not a CFDI."""
    view = _read_cfdi_for_pdf(cfdi_xml, max_conceptos)
    c, tfd = view.comprobante, view.tfd
    pdf = _invoice_pdf_class()(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_latin1(f"CFDI {tfd.get('UUID', '')}"))
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(width, 8, _latin1(view.emisor.get("Nombre", "")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(width, 5, _latin1(f"RFC: {view.emisor.get('Rfc', '')}   Régimen fiscal: {view.emisor.get('RegimenFiscal', '')}"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(width, 5, _latin1(f"Lugar de expedición: {c.get('LugarExpedicion', '')}   Fecha: {c.get('Fecha', '')}"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    serie_folio = (
        f"{c.get('Serie', '')}{'-' if c.get('Serie') and c.get('Folio') else ''}{c.get('Folio', '')}"
    )
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, _latin1(f"Comprobante {c.get('TipoDeComprobante', '')}  Serie/Folio: {serie_folio or '-'}"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(width, 6, _latin1(f"Folio fiscal (UUID): {tfd.get('UUID', '')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, "Receptor", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    r = view.receptor
    for line in (
        f"{r.get('Nombre', '')}   RFC: {r.get('Rfc', '')}",
        f"Domicilio fiscal: {r.get('DomicilioFiscalReceptor', '')}   Régimen: {r.get('RegimenFiscalReceptor', '')}"
        f"   Uso CFDI: {r.get('UsoCFDI', '')}",
    ):
        pdf.cell(width, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    columns = (("Cantidad", 0.10), ("Clave", 0.12), ("Unidad", 0.08), ("Descripción", 0.44),
               ("P. unitario", 0.13), ("Importe", 0.13))  # fmt: skip
    keys = ("Cantidad", "ClaveProdServ", "ClaveUnidad", "Descripcion", "ValorUnitario", "Importe")

    def header() -> None:
        pdf.set_font("Helvetica", "B", 8)
        pdf.set_fill_color(225, 225, 225)
        for title, share in columns:
            pdf.cell(width * share, 6, _latin1(title), border=1, fill=True)
        pdf.ln()
        pdf.set_font("Helvetica", size=8)

    header()
    for row in view.conceptos:
        if pdf.will_page_break(5):
            pdf.add_page()
            header()
        for (_, share), key in zip(columns, keys, strict=True):
            value = _latin1(row.get(key, ""))
            cell_width = width * share
            while value and pdf.get_string_width(value) > cell_width - 2:
                value = value[:-2] + "."  # truncate long descriptions to one line
            align = "R" if key in ("Cantidad", "ValorUnitario", "Importe") else "L"
            pdf.cell(cell_width, 5, value, border=1, align=align)
        pdf.ln()
    remaining = view.conceptos_total - len(view.conceptos)
    if remaining > 0:
        pdf.set_font("Helvetica", "I", 8)
        pdf.cell(width, 6, _latin1(f"... {remaining} conceptos más (total {view.conceptos_total})"), border=1,
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(3)

    pdf.set_font("Helvetica", size=9)
    totals = [("Subtotal", c.get("SubTotal")), ("Descuento", c.get("Descuento")),
              ("Impuestos trasladados", view.impuestos.get("TotalImpuestosTrasladados")),
              ("Impuestos retenidos", view.impuestos.get("TotalImpuestosRetenidos")),
              ("Total", c.get("Total"))]  # fmt: skip
    for label, value in totals:
        if value is None:
            continue
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 9)
        pdf.cell(width * 0.74, 5, _latin1(label), align="R")
        pdf.cell(
            width * 0.26,
            5,
            _latin1(f"{value} {c.get('Moneda', '')}"),
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.set_font("Helvetica", size=8)
    pdf.cell(width, 5, _latin1(f"Forma de pago: {c.get('FormaPago', '-')}   Método de pago: {c.get('MetodoPago', '-')}"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(width, 5, _latin1(f"No. de certificado del emisor: {c.get('NoCertificado', '')}   "
                               f"No. de certificado SAT: {tfd.get('NoCertificadoSAT', '')}   "
                               f"Fecha de timbrado: {tfd.get('FechaTimbrado', '')}"), new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for label, value in (
        ("Sello digital del CFDI", c.get("Sello", "")),
        ("Sello del SAT", tfd.get("SelloSAT", "")),
    ):
        pdf.set_font("Helvetica", "B", 7)
        pdf.cell(width, 4, _latin1(label), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", size=6)
        pdf.multi_cell(width, 3, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- ZIP -----------------------------------------------------------------------------------------


def zip_single(name: str, data: bytes, *, when: datetime | None = None) -> bytes:
    """A ZIP archive holding one deflated file ``name`` (dated ``when``, default now)."""
    moment = when or datetime.now()
    info = zipfile.ZipInfo(name, date_time=(max(moment.year, 1980), *moment.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_DEFLATED
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(info, data)
    return out.getvalue()




def cfdi_header(cfdi: bytes) -> dict:
    """Comprobante, Emisor and Receptor attributes of a CFDI we wrote (reads only its first elements)."""
    found: dict[str, dict] = {}
    for _, elem in etree.iterparse(io.BytesIO(cfdi), events=("start",), **_safe_parser_options()):
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
