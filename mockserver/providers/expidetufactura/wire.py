"""Expide Tu Factura ``cancelar``: WSDL operation ⇄ Python.

Request ``{http://service.xpd.mx/}cancelar`` with unqualified ``usuario``, ``token``, ``xmlBytes``
(base64 of the signed SAT Cancelacion); response ``cancelarResponse/return`` =
``respuestaCancelacion{acuse, codEstatus, codMensaje, estatusUUIDs*, uuids*}``, every child
unqualified, as CXF writes it. Children are also found when a client qualifies them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from ...conformance import Conformance, Finding
from ...soap.envelope import SOAP11
from ...soap.faults import SoapFault
from ...soap.service import Call, Operation, SoapService
from ...soap.xml import text_of
from ..errors import ProviderError
from . import codes
from . import conformance as checks
from .service import CancelarRequest, RespuestaCancelacion, cancelar, rule_fields

NS = "http://service.xpd.mx/"
WSDL_DIR = Path(__file__).parent / "wsdl"


def read_cancelar(payload: etree._Element) -> CancelarRequest:
    """The three parameters; ``xmlBytes`` decoded (a reason instead when absent or not base64)."""
    values: dict[str, str | None] = {}
    for child in payload:
        if isinstance(child.tag, str):
            values.setdefault(etree.QName(child).localname, text_of(child))
    text = values.get("xmlBytes")
    if text is None or not text.strip():
        return CancelarRequest(values.get("usuario"), values.get("token"), None, codes.NO_XML)
    try:
        xml = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return CancelarRequest(values.get("usuario"), values.get("token"), None, codes.BAD_BASE64)
    return CancelarRequest(values.get("usuario"), values.get("token"), xml)


def write_respuesta(respuesta: RespuestaCancelacion) -> etree._Element:
    """``cancelarResponse`` with its ``return`` (children in schema order, unqualified)."""
    response = etree.Element(f"{{{NS}}}cancelarResponse", nsmap={"ns2": NS})
    ret = etree.SubElement(response, "return")
    if respuesta.acuse is not None:
        etree.SubElement(ret, "acuse").text = respuesta.acuse
    etree.SubElement(ret, "codEstatus").text = respuesta.cod_estatus
    etree.SubElement(ret, "codMensaje").text = respuesta.cod_mensaje
    for _, estatus in respuesta.folios:
        etree.SubElement(ret, "estatusUUIDs").text = estatus
    for uuid, _ in respuesta.folios:
        etree.SubElement(ret, "uuids").text = uuid
    return response


def answer(call: Call) -> RespuestaCancelacion:
    """The ``respuestaCancelacion`` for a call: the service's, or the refusal it raised."""
    try:
        respuesta = cancelar(call.ctx, call.service.environment, call.data, call.outcome, call.summary)
    except ProviderError as error:
        return refusal(error, call.summary)
    respuesta.summary = call.summary
    return respuesta


def refusal(error: ProviderError, summary: dict[str, Any]) -> RespuestaCancelacion:
    """The one place a refusal becomes Expide Tu Factura's answer: its code and message, nothing else;
    ``summary`` (the journal's) gets them and becomes the answer's."""
    respuesta = RespuestaCancelacion(str(error.code), error.message)
    summary.update(code=respuesta.cod_estatus, message=respuesta.cod_mensaje)
    respuesta.summary = summary
    return respuesta


def handle(call: Call) -> etree._Element:
    return write_respuesta(answer(call))


def _fields(environment: str) -> Callable[[CancelarRequest], dict]:
    def fields(request: CancelarRequest) -> dict:
        return rule_fields(request, environment)

    return fields


def refuse(call: Call, finding: Finding) -> etree._Element:
    """A request a scenario's ``strict`` refuses, answered with the check's own code."""
    code = CONFORMANCE.check(finding.check).refusal
    if not code.isdigit():
        raise SoapFault(f"{finding.message} ({finding.check}, {finding.source})", code="Sender")
    return write_respuesta(refusal(codes.refuse(code, f"{finding.message} ({finding.check})"), call.summary))


CONFORMANCE = Conformance(checks.CHECKS, checks.inspect, refuse)


def _service(name: str, environment: str) -> SoapService:
    return SoapService(
        provider="expidetufactura",
        name=name,
        wsdl_file=WSDL_DIR / f"{name}.wsdl",
        operations=[Operation("cancelar", NS, handle, _fields(environment), read_cancelar)],
        versions=(SOAP11,),
        environment=environment,
        conformance=CONFORMANCE,
        mtom=True,  # CXF reads MTOM/XOP requests; it answers in plain SOAP unless MTOM is enabled
    )


SERVICES = (_service("CancelacionPruebas", "pruebas"), _service("CancelacionProductivo", "productivo"))
