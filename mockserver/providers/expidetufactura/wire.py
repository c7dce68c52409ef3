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
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios.model import Outcome

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


def answer(
    ctx: Context,
    environment: str,
    request: CancelarRequest,
    outcome: Outcome | None = None,
    summary: dict[str, Any] | None = None,
) -> RespuestaCancelacion:
    """The ``respuestaCancelacion`` for a call: the service's, or the refusal it raised."""
    summary = {} if summary is None else summary
    try:
        respuesta = cancelar(ctx, environment, request, outcome, summary)
    except ProviderError as error:
        respuesta = refusal(error)
        summary.update(code=respuesta.cod_estatus, message=respuesta.cod_mensaje)
    respuesta.summary = summary
    return respuesta


def refusal(error: ProviderError) -> RespuestaCancelacion:
    """The one place a refusal becomes Expide Tu Factura's answer: its code and message, nothing else."""
    return RespuestaCancelacion(str(error.code), error.message)


def _handler(environment: str) -> Callable[[Call], etree._Element]:
    def handle(call: Call) -> etree._Element:
        return write_respuesta(answer(call.ctx, environment, call.data, call.outcome, call.summary))

    return handle


def _fields(environment: str) -> Callable[[CancelarRequest], dict]:
    def fields(request: CancelarRequest) -> dict:
        return rule_fields(request, environment)

    return fields


def refuse(call: Call, finding: Finding) -> etree._Element:
    """A request a scenario's ``strict`` refuses, answered with the check's own code."""
    code = CONFORMANCE.check(finding.check).refusal
    if not code.isdigit():
        raise SoapFault(f"{finding.message} ({finding.check}, {finding.source})", code="Sender")
    respuesta = refusal(codes.refuse(code, f"{finding.message} ({finding.check})"))
    call.summary.update(code=respuesta.cod_estatus, message=respuesta.cod_mensaje)
    return write_respuesta(respuesta)


CONFORMANCE = Conformance(checks.CHECKS, checks.inspect, refuse)


def _service(name: str, environment: str) -> SoapService:
    return SoapService(
        provider="expidetufactura",
        name=name,
        wsdl_file=WSDL_DIR / f"{name}.wsdl",
        operations=[Operation("cancelar", NS, _handler(environment), _fields(environment), read_cancelar)],
        versions=(SOAP11,),
        environment=environment,
        conformance=CONFORMANCE,
        mtom=True,  # CXF reads MTOM/XOP requests; it answers in plain SOAP unless MTOM is enabled
    )


SERVICES = (_service("CancelacionPruebas", "pruebas"), _service("CancelacionProductivo", "productivo"))
