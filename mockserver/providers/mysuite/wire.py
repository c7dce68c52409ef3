"""MYSuite ``RequestTransaction``: WSDL operation ⇄ Python.

Reads the request elements into a :class:`~.service.TransactionRequest` and writes the
``RequestTransactionResult`` the way strict .NET (XmlSerializer/WCF) and Axis2 clients read it:
default namespace, every schema-required element present (``RequestorActive``, ``Result``,
``TimeStamp``, ``Code``), only valid GUIDs and ``Transactions`` names echoed (Guid.Empty and
``NO_TRANSACTION`` otherwise), .NET timestamps with seven fractional digits and the Mexico City
offset, and empty elements for empty strings.

Scenario rules for MYSuite name a *Transaction* as their operation (``ASYNC_*``), so the service
dispatches ``RequestTransaction`` as an operation named after the request's Transaction; the
journal shows that name too.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from ...clock import MEXICO_CITY
from ...conformance import Conformance, Finding
from ...soap.clipping import clip_text
from ...soap.envelope import SoapRequest
from ...soap.faults import SoapFault
from ...soap.service import Call, Operation, SoapService
from ...soap.xml import text_of
from ..errors import ProviderError
from . import codes
from . import conformance as checks
from .answers import AsyncRequestView, DocumentId, Refused, Reply, TransactionRequest
from .codes import ASYNC_CONVERT, ASYNC_RETRIEVE, ASYNC_VERIFY
from .credentials import requestor as requestor_account
from .ids import is_guid
from .service import request_transaction

if TYPE_CHECKING:
    from ...scenarios import Account

NS = "http://www.fact.com.mx/schema/ws"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
PROCESSOR = "PAC-MOCK-ASYNC01"
DOWNLOADS_PATH = "/mysuite/downloads/"
ECHO_LIMIT = 256  # echoed strings are clipped: an echo is not a place for megabytes

_FIELDS = ("Requestor", "Transaction", "Country", "Entity", "User", "UserName", "Data1", "Data2", "Data3")
_ATTRS = ("requestor", "transaction", "country", "entity", "user", "user_name", "data1", "data2", "data3")
_TRANSACTION_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


# --- request ---------------------------------------------------------------------------------------


def parse_request(payload: etree._Element) -> tuple[TransactionRequest, list[str]]:
    """The request's fields, and the names of children in a namespace other than MYSuite's.

    Data1's text is clipped in the tree as it is read (the journal keeps the clipped form): for a
    40 MB document that frees libxml2's copy before the service decodes the base64.
    """
    req = TransactionRequest()
    stray: list[str] = []
    for child in payload:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.localname not in _FIELDS:
            continue
        if qname.namespace != NS:
            stray.append(qname.localname)
            continue
        attr = _ATTRS[_FIELDS.index(qname.localname)]
        setattr(req, attr, text_of(child))
        if attr == "data1" and child.text:
            child.text = clip_text(child.text)
    return req, stray


def _child_text(payload: etree._Element, name: str) -> str | None:
    return text_of(payload.find(f"{{{NS}}}{name}"))


def transaction_of(payload: etree._Element) -> str | None:
    """The Transaction name when it looks like one (scenario rules match on it)."""
    name = (_child_text(payload, "Transaction") or "").strip()
    return name if _TRANSACTION_NAME.match(name) else None


# The fields a MYSuite rule may match on: what :func:`rule_fields` fills, ``environment`` (which the
# dispatcher adds) and ``uuid`` (accepted for rules written for several providers; MYSuite requests carry none).
RULE_FIELDS = frozenset({
    "user", "environment", "requestor", "entity", "user_name", "country", "internal_id", "request_id", "uuid", "rfc",
})


def rule_fields(payload: etree._Element) -> dict:
    """The request fields scenario rules match on. Data1 is read only where it is an id, never a document."""
    requestor = (_child_text(payload, "Requestor") or "").strip() or None
    entity = (_child_text(payload, "Entity") or "").strip().upper() or None
    transaction = transaction_of(payload)
    fields = {
        "user": requestor,
        "requestor": requestor,
        "entity": entity,
        "rfc": entity,
        "user_name": (_child_text(payload, "UserName") or "").strip() or None,
        "country": (_child_text(payload, "Country") or "").strip() or None,
    }
    if transaction == ASYNC_CONVERT:
        fields["internal_id"] = (_child_text(payload, "Data2") or "").strip() or None
    elif transaction in (ASYNC_VERIFY, ASYNC_RETRIEVE):
        fields["request_id"] = (_child_text(payload, "Data1") or "").strip()[:100] or None
    return fields


# --- response --------------------------------------------------------------------------------------


def dotnet_timestamp(moment: datetime) -> str:
    """``2023-03-21T10:56:25.5256369-06:00``: Mexico City time, seven fractional digits, offset."""
    local = moment.astimezone(MEXICO_CITY)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}0{offset[:3]}:{offset[3:]}"


def json_date(moment: datetime) -> str:
    """.NET JSON date: ``/Date(milliseconds since the epoch)/``."""
    return f"/Date({int(moment.timestamp() * 1000)})/"


def local_timestamp(moment: datetime) -> str:
    """``2018-11-29T11:49:15``: Mexico City time to the second, no offset (the AsyncRequest example)."""
    return moment.astimezone(MEXICO_CITY).strftime("%Y-%m-%dT%H:%M:%S")


def _b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text:  # None and "" both give an empty element
        el.text = text
    return el


def _echo(text: str | None) -> str | None:
    return (text or "").strip()[:ECHO_LIMIT] or None


def async_request_xml(view: AsyncRequestView) -> bytes:
    """The ``AsyncRequest`` record of ``ASYNC_CONVERT_VERIFY`` as the document's example writes it
    (.NET's XmlSerializer): ``xsi``/``xsd`` declared on the root, a field without value (null) left
    out, an empty string as an empty element, ErrorMsg in base64."""
    root = etree.Element("AsyncRequest", nsmap={"xsi": XSI, "xsd": XSD})
    for name, value in _async_request_items(view, json_dates=False):
        if value is None:
            continue
        el = etree.SubElement(root, name)
        if value != "":
            el.text = str(value)
    return XML_DECLARATION + b"\n" + etree.tostring(root, encoding="utf-8")


def async_request_json(view: AsyncRequestView) -> bytes:
    """The same record as JSON (the document's example: ``"/Date(ms)/"``, ``null`` for no value)."""
    return json.dumps(dict(_async_request_items(view, json_dates=True)), ensure_ascii=False).encode("utf-8")


def _async_request_items(view: AsyncRequestView, *, json_dates: bool) -> list[tuple[str, object]]:
    # Both forms show the same instant to the second, as the document's pair does.
    enrolled_at = view.enrolled_at.replace(microsecond=0)
    enrolled = json_date(enrolled_at) if json_dates else local_timestamp(enrolled_at)
    return [
        ("Entity", view.entity),
        ("Uuid", view.uuid),
        ("InternalID", view.internal_id),
        ("EnrolledTimeStamp", enrolled),
        ("Status", view.status),
        ("DocumentGUID", view.document_guid),
        ("Year", view.year),
        ("Batch", view.batch),
        ("Serial", view.serial),
        ("ErrorMsg", None if view.error_msg is None else _b64(view.error_msg)),
    ]


def _identifier(parent: etree._Element, doc: DocumentId) -> None:
    el = _sub(parent, "Identifier")
    for name, value in (
        ("Country", doc.country),
        ("Entity", doc.entity),
        ("FiscalName", doc.fiscal_name),
        ("AYear", doc.year),
        ("Batch", doc.batch),
        ("Serial", doc.serial),
        ("DocumentGUID", doc.document_guid),
        ("IssuedTimeStamp", dotnet_timestamp(doc.issued_at) if doc.issued_at else None),
        ("EnrolledTimeStamp", dotnet_timestamp(doc.enrolled_at)),
        ("InternalID", doc.internal_id),
        ("ReceiverCountry", "MX"),
        ("ReceiverTaxID", doc.receiver_tax_id),
        ("ReceiverName", doc.receiver_name),
        ("Currency", doc.currency),
        ("TotalAmount", doc.total),
        ("SuggestedFileName", doc.suggested_file_name),
    ):
        _sub(el, name, value)


def build_response(
    req: TransactionRequest, account: Account | None, reply: Reply, now: datetime, base_url: str
) -> etree._Element:
    """``RequestTransactionResponse`` for ``reply`` to ``account`` (None: no account behind Requestor;
    ``base_url`` makes the download links)."""
    stamp = dotnet_timestamp(now)
    root = etree.Element(f"{{{NS}}}RequestTransactionResponse", nsmap={None: NS})
    result = _sub(root, "RequestTransactionResult")

    request = _sub(result, "Request")
    requestor = (req.requestor or "").strip()
    user = (req.user or "").strip()
    transaction = (req.transaction or "").strip()
    _sub(request, "Requestor", requestor.lower() if is_guid(requestor) else EMPTY_GUID)
    if account is not None and account.name:
        _sub(request, "RequestorName", account.name)
    _sub(request, "RequestorActive", "true" if account is not None and account.active else "false")
    _sub(request, "Transaction", transaction if transaction in codes.transactions() else codes.NO_TRANSACTION)
    _sub(request, "Country", _echo(req.country))
    _sub(request, "Entity", _echo(req.entity))
    _sub(request, "User", user.lower() if is_guid(user) else EMPTY_GUID)
    _sub(request, "UserName", _echo(req.user_name))
    _sub(request, "Id", str(uuid.uuid4()))
    _sub(request, "TimeStamp", stamp)

    response = _sub(result, "Response")
    _sub(response, "Result", "true" if reply.result else "false")
    _sub(response, "TimeStamp", stamp)
    _sub(response, "LastResult")
    _sub(response, "Code", str(reply.code))
    _sub(response, "Description", reply.description)
    _sub(response, "Hint", reply.hint)
    _sub(response, "Data", reply.data)
    _sub(response, "Processor", PROCESSOR)
    if reply.identifier is not None:
        _identifier(response, reply.identifier)

    data1 = data2 = data3 = None
    if reply.async_request is not None:
        data1 = _b64(async_request_xml(reply.async_request))
        data2 = _b64(async_request_json(reply.async_request))
    elif reply.links is not None:
        xml_token, pdf_token = reply.links
        data1 = _b64(f"{base_url}{DOWNLOADS_PATH}{xml_token}")
        data3 = _b64(f"{base_url}{DOWNLOADS_PATH}{pdf_token}")
    else:
        data1 = reply.response_data1
    data = _sub(result, "ResponseData")
    _sub(data, "ResponseData1", data1)
    _sub(data, "ResponseData2", data2)
    _sub(data, "ResponseData3", data3)
    return root


# --- the operation ---------------------------------------------------------------------------------


def handle(call: Call) -> etree._Element:
    req, stray = parse_request(call.payload)
    account = None
    try:
        account = requestor_account(call.ctx, req)
        reply = request_transaction(call.ctx, req, account, call.outcome)
    except ProviderError as error:
        reply = Reply.refused(error)
    if stray and not reply.result and not reply.hint:
        reply.hint = (
            f"Los elementos {', '.join(sorted(set(stray)))} deben estar en el espacio de nombres {NS}; "
            "en otro espacio de nombres se ignoran."
        )
    call.summary.update(
        {
            "transaction": (req.transaction or "").strip()[:60],
            "entity": (req.entity or "").strip().upper()[:20],
            "result": reply.result,
            "code": reply.code,
            **(reply.summary or {}),
        }
    )
    if (req.transaction or "").strip() == ASYNC_CONVERT and req.data2:
        call.summary["internal_id"] = req.data2.strip()[:60]
    return build_response(req, account, reply, call.ctx.now(), call.base_url)


def refuse(call: Call, finding: Finding) -> etree._Element:
    """A request a scenario's ``strict`` refuses, answered ``Result=false`` with the check's code."""
    code = CONFORMANCE.check(finding.check).refusal
    if not code.isdigit():
        raise SoapFault(f"{finding.message} ({finding.check}, {finding.source})", code="Sender")
    req, _ = parse_request(call.payload)
    reply = Reply.refused(Refused(int(code), f"{finding.message} ({finding.check})", hint=f"Fuente: {finding.source}"))
    call.summary.update(transaction=(req.transaction or "").strip()[:60], result=False, code=int(code))
    return build_response(req, None, reply, call.ctx.now(), call.base_url)


CONFORMANCE = Conformance(checks.CHECKS, checks.inspect, refuse)


class FactWSFront(SoapService):
    """The ASMX service; dispatches ``RequestTransaction`` under the name of the request's Transaction."""

    def operation_for(self, request: SoapRequest) -> Operation:
        operation = super().operation_for(request)
        name = transaction_of(request.payload)
        return replace(operation, name=name) if name else operation


SERVICE = FactWSFront(
    provider="mysuite",
    name="FactWSFront",
    wsdl_file=Path(__file__).parent / "wsdl" / "FactWSFront.wsdl",
    operations=[Operation("RequestTransaction", NS, handle, rule_fields)],
    # The WSDL's address first (it heads the banner), then the short path the async hosts use.
    extra_paths=("/mx.com.fact.wsfront/factwsfront.asmx", "/factwsfront.asmx"),
    case_insensitive=True,
    huge=True,
    conformance=CONFORMANCE,
)
