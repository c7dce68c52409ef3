"""Solución Factible ``Cancelacion``: WSDL operations ⇄ Python.

Requests: wrapper and children qualified in ``http://ws.cfdi.solucionfactible.com`` (unqualified
children are read too); ``xsi:nil`` reads as absent. The children must follow the operation's
``xs:sequence`` in the WSDL, which is the order zeep, suds, .NET proxies, PHP ``SoapClient`` and
Axis2 stubs write them in; a child out of that order, repeated where the sequence allows one, or
unknown to the operation is reported to the service, which answers 611 ("out of place"). Responses as Axis2 writes them:
``<ns:<op>Response><ns:return xsi:type=...>`` with the children in the return type's namespace and
``xsi:nil="true"`` for nulls.

Scenario fields (for rules): ``user``, ``uuid`` (without the ``|Motivo|Folio`` suffix), ``motivo``,
``folio_sustitucion``, ``rfc``, ``email``, ``certificate_number``, ``transaction_id``. For operations
with several UUIDs (``cancelar``, ``enviarSolicitud*``) the request is matched with its first UUID by
the dispatcher, and every further UUID is matched again on its own.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from lxml import etree

from ...conformance import Conformance, Finding
from ...sat import Folio, SatError, load_certificate, parse_cancelacion
from ...soap.faults import SoapFault
from ...soap.service import Call, Operation, SoapService
from ...soap.xml import text_of
from . import codes, messages, service
from . import conformance as checks
from .messages import PROVIDER, Answer, Csd, refused

NS = "http://ws.cfdi.solucionfactible.com"
ASYNC_NS = "http://ws.cfdi.solucionfactible.com/xsd"
STATUS_NS = "http://response.cancelacion.commons.timbrado.solucionfactible.com/xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL_FILE = Path(__file__).parent / "wsdl" / "Cancelacion.wsdl"


def _sequences(wsdl: Path) -> dict[str, tuple[tuple[str, bool], ...]]:
    """Each request element's children as the WSDL orders them: (name, may repeat)."""
    root = etree.parse(str(wsdl), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    found: dict[str, tuple[tuple[str, bool], ...]] = {}
    for schema in root.iterfind(f".//{{{XS}}}schema[@targetNamespace='{NS}']"):
        for element in schema.iterfind(f"{{{XS}}}element"):
            sequence = element.find(f"{{{XS}}}complexType/{{{XS}}}sequence")
            if sequence is not None:
                found[element.get("name")] = tuple(
                    (c.get("name"), c.get("maxOccurs") == "unbounded") for c in sequence.iterfind(f"{{{XS}}}element")
                )
    return found


SEQUENCES = _sequences(WSDL_FILE)


def misplaced(payload: etree._Element, operation: str) -> str | None:
    """What is out of place among the children of ``operation``'s element, or None when nothing is."""
    sequence = SEQUENCES.get(operation, ())
    names = [name for name, _ in sequence]
    position = -1
    for child in payload:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace not in (NS, None) or qname.localname not in names:
            return f"{qname.localname} is not a parameter of {operation} (parameters: {', '.join(names)})"
        index = names.index(qname.localname)
        if index < position or (index == position and not sequence[index][1]):
            return f"{qname.localname} is out of place (the order is {', '.join(names)})"
        position = index
    return None


# ---------------------------------------------------------------- reading requests


def _one(payload: etree._Element, name: str) -> str | None:
    element = payload.find(f"{{{NS}}}{name}")
    if element is None:
        element = payload.find(name)
    return text_of(element)


def _many(payload: etree._Element, name: str) -> tuple[str, ...]:
    found = payload.findall(f"{{{NS}}}{name}") or payload.findall(name)
    return tuple(t for t in (text_of(e) for e in found) if t is not None)


def _split_uuid(text: str | None) -> dict[str, str | None]:
    if not text:
        return {}
    parts = [p.strip() for p in text.split("|")]
    return {
        "uuid": parts[0].upper(),
        "motivo": parts[1] if len(parts) > 1 and parts[1] else None,
        "folio_sustitucion": parts[2].upper() if len(parts) > 2 and parts[2] else None,
    }


def _certificate_number(b64: str | None) -> str | None:
    if not b64:
        return None
    try:
        return load_certificate(base64.b64decode("".join(b64.split()), validate=True)).certificate_number
    except (SatError, binascii.Error, ValueError):
        return None


def _solicitud_fields(b64: str | None) -> tuple[dict[str, str | None], list[Folio]]:
    """Unverified look at a signed Cancelacion, only to match rules (the service verifies it)."""
    try:
        cancelacion = parse_cancelacion(base64.b64decode("".join((b64 or "").split()), validate=True))
    except (SatError, binascii.Error, ValueError):
        return {}, []
    first = cancelacion.folios[0]
    fields = {"rfc": cancelacion.rfc_emisor, "uuid": first.uuid, "motivo": first.motivo,
              "folio_sustitucion": first.folio_sustitucion}
    return fields, list(cancelacion.folios)


# Every key the readers below fill (plus ``environment``, which the dispatcher adds).
RULE_FIELDS = frozenset({
    "user", "environment", "uuid", "rfc", "motivo", "folio_sustitucion", "transaction_id", "email",
    "certificate_number",
})


def fields_cancelar_asincrono(payload: etree._Element) -> dict:
    return {
        "user": _one(payload, "usuario"),
        **_split_uuid(_one(payload, "uuid")),
        "rfc": (_one(payload, "rfcEmisor") or "").upper() or None,
        "email": _one(payload, "emailNotifica"),
        "certificate_number": _certificate_number(_one(payload, "csdCer")),
    }


def fields_status(payload: etree._Element) -> dict:
    transaction = _one(payload, "transactionId")
    return {"user": _one(payload, "usuario"), "transaction_id": transaction, **_split_uuid(transaction)}


def fields_cancelar(payload: etree._Element) -> dict:
    uuids = _many(payload, "uuids")
    return {
        "user": _one(payload, "usuario"),
        **_split_uuid(uuids[0] if uuids else None),
        "rfc": (_one(payload, "rfcEmisor") or "").upper() or None,
        "certificate_number": _certificate_number(_one(payload, "derCertCSD")),
    }


def fields_solicitud(payload: etree._Element) -> dict:
    found, _ = _solicitud_fields(_one(payload, "solicitud"))
    return {"user": _one(payload, "usuario"), "email": _one(payload, "emailNotifica"), **found}


def fields_sector_primario(payload: etree._Element) -> dict:
    return {"user": _one(payload, "usuario"), **_split_uuid(_one(payload, "uuid"))}


def _outcome_for(call: Call, base_fields: dict):
    """Per-UUID rule lookup: the dispatcher's outcome for the first UUID, a new match for the others."""
    first = base_fields.get("uuid")

    def lookup(uuid: str, folio: Folio):
        if first is None or uuid.upper() == first:
            return call.outcome
        fields = {"environment": call.ctx.scenarios.environment(PROVIDER), **base_fields, "uuid": uuid.upper(),
                  "motivo": folio.motivo, "folio_sustitucion": folio.folio_sustitucion}
        return call.ctx.outcome(PROVIDER, call.operation.name, fields)

    return lookup


# ---------------------------------------------------------------- writing responses


def _value(parent: etree._Element, tag: str, text: str | None) -> None:
    element = etree.SubElement(parent, tag)
    if text is None:
        element.set(f"{{{XSI}}}nil", "true")
    else:
        element.text = text


def async_response(operation: str, answer: Answer) -> etree._Element:
    """``<op>Response/return`` of type CancelacionAsincronoResponse {mensaje, status}."""
    root = etree.Element(f"{{{NS}}}{operation}Response", nsmap={"ns": NS})
    ret = etree.SubElement(root, f"{{{NS}}}return", nsmap={"ax29": ASYNC_NS, "xsi": XSI})
    ret.set(f"{{{XSI}}}type", "ax29:CancelacionAsincronoResponse")
    _value(ret, f"{{{ASYNC_NS}}}mensaje", answer.mensaje)
    _value(ret, f"{{{ASYNC_NS}}}status", str(answer.status))
    return root


def status_response(operation: str, answer: Answer) -> etree._Element:
    """``<op>Response/return`` of type StatusCancelacionResponse {acuseSat, mensaje, status}."""
    root = etree.Element(f"{{{NS}}}{operation}Response", nsmap={"ns": NS})
    ret = etree.SubElement(root, f"{{{NS}}}return", nsmap={"ax27": STATUS_NS, "xsi": XSI})
    ret.set(f"{{{XSI}}}type", "ax27:StatusCancelacionResponse")
    acuse = base64.b64encode(answer.acuse).decode("ascii") if answer.acuse else None
    _value(ret, f"{{{STATUS_NS}}}acuseSat", acuse)
    _value(ret, f"{{{STATUS_NS}}}mensaje", answer.mensaje)
    _value(ret, f"{{{STATUS_NS}}}status", str(answer.status))
    return root


def _finish(call: Call, answer: Answer, build) -> etree._Element:
    call.summary.update({k: v for k, v in answer.summary.items() if v is not None})
    return build(call.operation.name, answer)


# ---------------------------------------------------------------- handlers


def _csd(payload: etree._Element, cer: str, key: str, password: str) -> Csd:
    return Csd(_one(payload, cer), _one(payload, key), _one(payload, password))


def cancelar_asincrono(call: Call) -> etree._Element:
    p = call.payload
    req = messages.CancelarAsincronoRequest(
        usuario=_one(p, "usuario"), password=_one(p, "password"), uuid=_one(p, "uuid"),
        rfc_emisor=_one(p, "rfcEmisor"), email=_one(p, "emailNotifica"),
        csd=_csd(p, "csdCer", "csdKey", "csdPassword"), misplaced=misplaced(p, call.operation.name),
    )
    return _finish(call, service.cancelar_asincrono(call.ctx, req, call.outcome), async_response)


def get_status(call: Call) -> etree._Element:
    p = call.payload
    req = messages.StatusRequest(_one(p, "usuario"), _one(p, "password"), _one(p, "transactionId"),
                                misplaced(p, call.operation.name))
    return _finish(call, service.status_cancelacion(call.ctx, req, call.outcome), status_response)


def enviar_solicitud_asincrono(call: Call) -> etree._Element:
    p = call.payload
    req = messages.SolicitudRequest(_one(p, "usuario"), _one(p, "password"), _one(p, "solicitud"),
                                   _one(p, "emailNotifica"), misplaced(p, call.operation.name))
    lookup = _outcome_for(call, fields_solicitud(p))
    return _finish(call, service.enviar_solicitud_asincrono(call.ctx, req, lookup), async_response)


def cancelar(call: Call) -> etree._Element:
    p = call.payload
    req = messages.CancelarRequest(
        usuario=_one(p, "usuario"), password=_one(p, "password"), rfc_emisor=_one(p, "rfcEmisor"),
        uuids=_many(p, "uuids"), csd=_csd(p, "derCertCSD", "derKeyCSD", "contrasenaCSD"),
        misplaced=misplaced(p, call.operation.name),
    )
    lookup = _outcome_for(call, fields_cancelar(p))
    return _finish(call, service.cancelar(call.ctx, req, lookup), status_response)


def enviar_solicitud(call: Call) -> etree._Element:
    p = call.payload
    req = messages.SolicitudRequest(_one(p, "usuario"), _one(p, "password"), _one(p, "solicitud"),
                                   misplaced=misplaced(p, call.operation.name))
    lookup = _outcome_for(call, fields_solicitud(p))
    return _finish(call, service.enviar_solicitud(call.ctx, req, lookup), status_response)


def cancelar_sector_primario(call: Call) -> etree._Element:
    p = call.payload
    req = messages.SectorPrimarioRequest(_one(p, "usuario"), _one(p, "password"), _one(p, "uuid"),
                                        misplaced(p, call.operation.name))
    return _finish(call, service.cancelar_sector_primario(call.ctx, req, call.outcome), status_response)


def refuse(call: Call, finding: Finding) -> etree._Element:
    """A request a scenario's ``strict`` refuses, answered with the check's own status code."""
    code = CONFORMANCE.check(finding.check).refusal
    if not code.isdigit():
        raise SoapFault(f"{finding.message} ({finding.check}, {finding.source})", code="Sender")
    answer = refused(codes.refuse(int(code), f"{finding.message} ({finding.check})"), call.summary)
    build = async_response if call.operation.name in ASYNC_OPERATIONS else status_response
    return _finish(call, answer, build)


ASYNC_OPERATIONS = ("cancelarAsincrono", "enviarSolicitudCancelacionAsincrono")
CONFORMANCE = Conformance(checks.CHECKS, checks.inspect, refuse)

OPERATIONS = (
    Operation("cancelarAsincrono", NS, cancelar_asincrono, fields_cancelar_asincrono),
    Operation("getStatusCancelacionAsincrona", NS, get_status, fields_status),
    Operation("enviarSolicitudCancelacionAsincrono", NS, enviar_solicitud_asincrono, fields_solicitud),
    Operation("cancelar", NS, cancelar, fields_cancelar),
    Operation("enviarSolicitudCancelacion", NS, enviar_solicitud, fields_solicitud),
    Operation("cancelarSectorPrimario", NS, cancelar_sector_primario, fields_sector_primario),
)

SERVICE = SoapService(
    provider=PROVIDER,
    name="Cancelacion",
    wsdl_file=WSDL_FILE,
    operations=list(OPERATIONS),
    # Axis2 also answers on the service path and on the plain-http twins of the HTTPS ports.
    extra_paths=(
        "/ws/services/Cancelacion",
        "/ws/services/Cancelacion.CancelacionHttpSoap11Endpoint/",
        "/ws/services/Cancelacion.CancelacionHttpSoap12Endpoint/",
    ),
    plain_xml=True,
    mtom=True,
    sender_fault_400=True,
    conformance=CONFORMANCE,
)
