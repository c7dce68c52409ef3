"""A readable PDF of a stamped CFDI (the first :data:`PDF_MAX_CONCEPTOS` Conceptos)."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

from lxml import etree

from .common import CFDI_NS, TFD_NS, NativeDocumentError, safe_parser_options, syntax_message

PDF_MAX_CONCEPTOS = 200


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
    context = etree.iterparse(io.BytesIO(cfdi_xml), events=("end",), tag=tags, **safe_parser_options())
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
        raise NativeDocumentError(f"El CFDI no está bien formado: {syntax_message(exc)}") from None
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
