"""MYSuite helpers for tests: native documents (``fx:FactDocMX``, the input of
``ASYNC_CONVERT_NATIVE_XML``) of any size.

MYSuite's asynchronous service takes documents above 1 MB (up to 4 MB in its test environment), so
a client test needs a real document of that size: ``native_document("1.5MB")`` makes one, and
``pac-mock sample mysuite --size 1.5MB`` writes one to a file.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape, quoteattr

from ..providers.mysuite.documents import FX_NS, NATIVE_VERSION
from ..scenarios.units import parse_size

_TWO_PLACES = Decimal("0.01")

_SAMPLE_PRODUCTS = (
    ("43211503", "H87", "Pieza", "Computadora portátil de 14 pulgadas"),
    ("44121618", "H87", "Pieza", "Tijeras de oficina"),
    ("81112101", "E48", "Servicio", "Servicio de soporte técnico en sitio"),
    ("50202306", "XBX", "Caja", "Caja de refrescos surtidos"),
    ("78101802", "E48", "Servicio", "Transporte de mercancía local"),
)


def native_document(
    size: int | str = "1.5MB",
    *,
    entity: str = "JES900109Q90",
    razon_social: str = "EMPRESA DE PRUEBAS SA DE CV",
    receptor_rfc: str = "XAXX010101000",
    receptor_nombre: str = "PUBLICO EN GENERAL",
    serie: str = "A",
    folio: str = "1",
    tipo: str = "FACTURA",
    seed: int = 0,
    distribution: str | None = None,
) -> bytes:
    """A valid native document (fx:Version 8) of about ``size`` (bytes, or "1.5MB", "2MiB"; at least
    one Concepto), with consistent totals (SubTotal = sum of Importe, IVA 16 %, Total = SubTotal + IVA).

    ``entity`` is the issuer's RFC (the request's Entity); ``seed`` makes the Conceptos reproducible;
    ``distribution`` (addresses separated by ``;``) asks MYSuite to e-mail the generated CFDI.
    """
    size_bytes = parse_size(size) if isinstance(size, str) else int(size)
    rng = random.Random(seed)
    conceptos: list[str] = []
    subtotal = iva = Decimal(0)
    head = _sample_head(entity, razon_social, receptor_rfc, receptor_nombre, serie, folio, tipo, distribution)
    budget = max(size_bytes - len(head) - 600, 1)
    written = 0
    while written < budget or not conceptos:
        clave, unidad_clave, unidad, descripcion = _SAMPLE_PRODUCTS[rng.randrange(len(_SAMPLE_PRODUCTS))]
        cantidad = rng.randint(1, 20)
        unitario = (Decimal(rng.randint(100, 999_999)) / 100).quantize(_TWO_PLACES)
        importe = unitario * cantidad
        impuesto = (importe * Decimal("0.16")).quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)
        subtotal += importe
        iva += impuesto
        n = len(conceptos) + 1
        text = (
            f"<fx:Concepto><fx:Cantidad>{cantidad}</fx:Cantidad><fx:ClaveUnidad>{unidad_clave}</fx:ClaveUnidad>"
            f"<fx:UnidadDeMedida>{unidad}</fx:UnidadDeMedida><fx:ClaveProdServ>{clave}</fx:ClaveProdServ>"
            f"<fx:Codigo>SKU-{n:07d}</fx:Codigo><fx:Descripcion>{escape(descripcion)} #{n}</fx:Descripcion>"
            f"<fx:ValorUnitario>{unitario}</fx:ValorUnitario><fx:Importe>{importe}</fx:Importe>"
            f"<fx:ObjetoImp>02</fx:ObjetoImp><fx:ImpuestosSAT><fx:Traslados><fx:Traslado Base={quoteattr(str(importe))}"
            f' Importe="{impuesto}" Impuesto="IVA" TasaOCuota="0.160000" TipoFactor="Tasa"/></fx:Traslados>'
            f"</fx:ImpuestosSAT></fx:Concepto>"
        )
        conceptos.append(text)
        written += len(text.encode("utf-8"))
    total = subtotal + iva
    tail = (
        f'</fx:Conceptos><fx:ImpuestosSAT TotalTraslados="{iva}"><fx:Traslados><fx:Traslado Base="{subtotal}"'
        f' Importe="{iva}" Impuesto="IVA" TasaOCuota="0.160000" TipoFactor="Tasa"/></fx:Traslados></fx:ImpuestosSAT>'
        f"<fx:Totales><fx:Moneda>MXN</fx:Moneda><fx:TipoDeCambioVenta>1</fx:TipoDeCambioVenta>"
        f"<fx:SubTotalBruto>{subtotal}</fx:SubTotalBruto><fx:SubTotal>{subtotal}</fx:SubTotal>"
        f"<fx:Descuento>0</fx:Descuento><fx:Total>{total}</fx:Total>"
        f"<fx:TotalEnLetra>{_sample_total_en_letra(total)}</fx:TotalEnLetra><fx:FormaDePago>99</fx:FormaDePago>"
        f"</fx:Totales><fx:ComprobanteEx><fx:TerminosDePago><fx:MetodoDePago>PPD</fx:MetodoDePago>"
        f"</fx:TerminosDePago></fx:ComprobanteEx></fx:FactDocMX>"
    )
    return (head + "".join(conceptos) + tail).encode("utf-8")


def _sample_head(entity, razon_social, receptor_rfc, receptor_nombre, serie, folio, tipo, distribution) -> str:  # type: ignore[no-untyped-def]
    procesamiento = (
        f'<fx:Procesamiento><fx:Dictionary name="email"><fx:Entry k="to" v={quoteattr(distribution)}/>'
        "</fx:Dictionary></fx:Procesamiento>"
        if distribution
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<fx:FactDocMX xmlns:fx="{FX_NS}">'
        f"<fx:Version>{NATIVE_VERSION}</fx:Version><fx:Identificacion><fx:CdgPaisEmisor>MX</fx:CdgPaisEmisor>"
        f"<fx:TipoDeComprobante>{escape(tipo)}</fx:TipoDeComprobante><fx:RFCEmisor>{escape(entity)}</fx:RFCEmisor>"
        f"<fx:RazonSocialEmisor>{escape(razon_social)}</fx:RazonSocialEmisor><fx:Usuario>Juan</fx:Usuario>"
        f"<fx:AsignacionSolicitada><fx:Serie>{escape(serie)}</fx:Serie><fx:Folio>{escape(folio)}</fx:Folio>"
        f"<fx:TiempoDeEmision>0</fx:TiempoDeEmision></fx:AsignacionSolicitada><fx:Exportacion>01</fx:Exportacion>"
        f"<fx:LugarExpedicion>64000</fx:LugarExpedicion></fx:Identificacion>{procesamiento}"
        f"<fx:Emisor><fx:RegimenFiscal><fx:Regimen>601</fx:Regimen></fx:RegimenFiscal></fx:Emisor>"
        f"<fx:Receptor><fx:CdgPaisReceptor>MX</fx:CdgPaisReceptor><fx:RFCReceptor>{escape(receptor_rfc)}"
        f"</fx:RFCReceptor><fx:NombreReceptor>{escape(receptor_nombre)}</fx:NombreReceptor>"
        f"<fx:DomicilioFiscalReceptor>64000</fx:DomicilioFiscalReceptor>"
        f"<fx:RegimenFiscalReceptor>616</fx:RegimenFiscalReceptor><fx:UsoCFDI>S01</fx:UsoCFDI></fx:Receptor>"
        f"<fx:Conceptos>"
    )


def _sample_total_en_letra(total: Decimal) -> str:
    pesos, centavos = divmod(total.quantize(_TWO_PLACES), 1)
    return f"{int(pesos)} PESOS {int(centavos * 100):02d}/100 M.N."
