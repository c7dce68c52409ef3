"""The MYSuite native document (``fx:FactDocMX``, ``fx:Version`` 8) read into a :class:`NativeDocument`.

:func:`read_native` reads it in one streaming pass; Conceptos are released as soon as they are read,
so a 40 MB document costs little more than its own bytes.

Mail distribution: a native document asks MYSuite to e-mail the generated CFDI with
``fx:Procesamiento/fx:Dictionary[@name="email"]/fx:Entry[@k="to"]/@v`` (addresses separated by ``;``
or ``,``), the element public MYSuite client code writes right after ``fx:Identificacion``; the
addresses end up in :attr:`NativeDocument.distribution`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from .common import FX_NS, NATIVE_VERSION, NativeDocumentError, safe_parser_options, syntax_message

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
    context = etree.iterparse(io.BytesIO(xml), events=("end",), tag=wanted, **safe_parser_options())
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
        raise NativeDocumentError(f"El XML nativo no está bien formado: {syntax_message(exc)}") from None
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
                found += [
                    a.strip() for a in re.split(r"[;,]", entry.get("v") or "") if _EMAIL.match(a.strip())
                ]
    return tuple(dict.fromkeys(found))


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
        check_entity(rfc_emisor, entity)

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


def check_entity(rfc_emisor: str, entity: str) -> None:
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
