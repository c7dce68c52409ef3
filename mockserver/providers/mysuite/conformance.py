"""MYSuite conformance checks: where a ``RequestTransaction`` departs from the "Grandes Asíncrono"
guide (``002_5031d2d2256e8619.txt``) or the published WSDL (ASMX, ``elementFormDefault="qualified"``,
``soapAction="http://www.fact.com.mx/schema/ws/RequestTransaction"``), even when the sandbox answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from lxml import etree

from ...conformance import Check, Exchange, Finding, element_order, wsdl_sequences
from . import codes
from .codes import ASYNC_CONVERT, ASYNC_VERIFY
from .settings import DEFAULT_SIZE_LIMITS

PROVIDER = "mysuite"
DOC = "002_5031d2d2256e8619.txt"
WSDL = "FactWSFront.wsdl"
NS = "http://www.fact.com.mx/schema/ws"
ACTION = f"{NS}/RequestTransaction"
WSDL_FILE = Path(__file__).parent / "wsdl" / WSDL
# Within this share of a size limit, a document is one edit away from being refused.
SIZE_MARGIN = 0.05
# A request the guide says takes longer the bigger it is (line 18) needs no status query more often.
POLL_INTERVAL = timedelta(seconds=5)
HISTORY = 200

SOAPACTION = Check(
    "mys.soapaction", PROVIDER, "error", f"{WSDL} soap:operation soapAction=\"{ACTION}\"",
    "SOAP 1.1 without the WSDL's SOAPAction: ASMX dispatches on it (\"Server did not recognize the value "
    "of HTTP Header SOAPAction\")", refusal="SOAP fault (Client)", fidelity="MYS-21")
UNQUALIFIED = Check(
    "mys.unqualified-children", PROVIDER, "error", f"{DOC}:28, {WSDL} elementFormDefault=\"qualified\"",
    "RequestTransaction children outside http://www.fact.com.mx/schema/ws: .NET ignores them, the "
    "values arrive empty", refusal=str(codes.REQUESTOR_INVALID), fidelity="MYS-20")
ORDER = Check(
    "mys.children-order", PROVIDER, "warning", f"{DOC}:28, {WSDL} RequestTransaction xs:sequence",
    "RequestTransaction children out of the WSDL's order: XmlSerializer may skip what comes out of "
    "place", refusal=str(codes.REQUESTOR_INVALID), fidelity="MYS-20")
DATA1_EDGE = Check(
    "mys.data1-size-edge", PROVIDER, "warning", f"{DOC}:10, {DOC}:11, {DOC}:17, {DOC}:19",
    "a Data1 document within 5% of a size gate (above 1 MB; at most 4 MB in testing, 40 MB in "
    "production): a small change moves it to the other side", refusal=str(codes.SIZE_NOT_ALLOWED), fidelity="MYS-06")
DATA2_REUSED = Check(
    "mys.data2-reused", PROVIDER, "warning", f"{DOC}:30, {DOC}:33, {DOC}:76",
    "ASYNC_CONVERT_NATIVE_XML with a Data2 (internal number) already accepted in this session: the "
    "answer is 3196 and the existing request's id, not a new CFDI", refusal=str(codes.DUPLICATE_INTERNAL_ID), fidelity="MYS-27")
POLLING = Check(
    "mys.verify-polling", PROVIDER, "warning", f"{DOC}:18, {DOC}:34-37",
    "ASYNC_CONVERT_VERIFY of the same request less than 5 seconds (mock time) after the previous one",
    refusal=str(codes.REQUEST_PENDING), fidelity="MYS-13")
TEST_CREDENTIALS = Check(
    "mys.test-credentials-production", PROVIDER, "error", f"{DOC}:4, {DOC}:7-8, {DOC}:14-15",
    "a Requestor of the testing platform sent to production (or the other way round)", refusal=str(codes.WRONG_ENVIRONMENT),
    fidelity="MYS-03")

CHECKS = (SOAPACTION, UNQUALIFIED, ORDER, DATA1_EDGE, DATA2_REUSED, POLLING, TEST_CREDENTIALS)


def inspect(ex: Exchange) -> list[Finding]:
    found: list[Finding] = []
    if ex.soap_version == "1.1" and ex.action != ACTION:
        found.append(SOAPACTION.finding(f"SOAPAction '{ex.action or ''}'; the WSDL's is {ACTION}"))
    children = [c for c in ex.payload if isinstance(c.tag, str)]
    stray = [etree.QName(c).localname for c in children if etree.QName(c).namespace != NS]
    if stray:
        found.append(UNQUALIFIED.finding(f"{', '.join(stray)} not in {NS}"))
    order = wsdl_sequences(WSDL_FILE).get("RequestTransaction", ())
    names = element_order(ex.payload, order)
    if names:
        found.append(ORDER.finding(f"sent {', '.join(names)}; the WSDL's order is {', '.join(order)}"))
    mine = {etree.QName(c).localname: c for c in children if etree.QName(c).namespace == NS}

    def text(name: str) -> str:
        el = mine.get(name)
        return (el.text or "").strip() if el is not None else ""

    requestor = text("Requestor")
    account_env = ex.account_environment(requestor) if requestor else None
    if account_env is not None and account_env != ex.environment:
        found.append(TEST_CREDENTIALS.finding(f"Requestor {requestor} belongs to '{account_env}'; "
                                              f"this platform is '{ex.environment}'"))
    transaction = text("Transaction")
    if transaction == ASYNC_CONVERT:
        found += _inspect_convert(ex, mine.get("Data1"), text("Data2"))
    elif transaction == ASYNC_VERIFY:
        found += _inspect_verify(ex, text("Data1"))
    return found


def _inspect_convert(ex: Exchange, data1: etree._Element | None, internal_id: str) -> list[Finding]:
    found: list[Finding] = []
    # The decoded size, estimated from the base64 length (blanks in it are rare and within the margin);
    # the text is read once: lxml copies it on every access, and it may be 50 MB.
    size = len(data1.text or "") * 3 // 4 if data1 is not None else 0
    if size:
        limit = DEFAULT_SIZE_LIMITS.get(ex.environment, DEFAULT_SIZE_LIMITS["pruebas"])
        for gate in (limit.above, limit.max):
            if abs(size - gate) <= gate * SIZE_MARGIN:
                found.append(DATA1_EDGE.finding(f"Data1 holds about {size} bytes, within 5% of the "
                                                f"{gate}-byte gate of '{ex.environment}'"))
                break
    if internal_id:
        for entry in ex.history(operation=ASYNC_CONVERT, limit=HISTORY, mentions=internal_id[:60]):
            summary = entry.get("summary") or {}
            if summary.get("internal_id") == internal_id[:60] and summary.get("result") is True:
                found.append(DATA2_REUSED.finding(f"Data2 '{internal_id[:60]}' was accepted by request "
                                                  f"#{entry['id']} ({summary.get('request_id')})"))
                break
    return found


def _inspect_verify(ex: Exchange, request_id: str) -> list[Finding]:
    if not request_id:
        return []
    for entry in ex.history(operation=ASYNC_VERIFY, limit=HISTORY, mentions=request_id):
        summary = entry.get("summary") or {}
        if (summary.get("request_id") or "").lower() != request_id.lower():
            continue
        previous = datetime.fromisoformat(entry["at"])
        waited = ex.now - previous
        if waited < POLL_INTERVAL:
            return [POLLING.finding(f"request {request_id} verified again {waited.total_seconds():.1f} s "
                                    f"after request #{entry['id']}")]
        return []
    return []
