"""Solución Factible conformance checks: where a ``Cancelacion`` request departs from the
``cancelarAsincrono`` page (``000_dc309966f5a8eca7.txt``) or the published WSDL (Axis2 ADB,
``elementFormDefault="qualified"``, ``soapAction="urn:<operation>"``), even when the sandbox answered.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from ...conformance import Check, Exchange, Finding, element_order, wsdl_sequences
from ...sat.cancelacion import UUID_TEXT
from . import codes
from .messages import PROVIDER

DOC = "000_dc309966f5a8eca7.txt"
WSDL = "Cancelacion.wsdl"
NS = "http://ws.cfdi.solucionfactible.com"
WSDL_FILE = Path(__file__).parent / "wsdl" / WSDL
# Operations whose result the service e-mails to emailNotifica.
NOTIFYING = ("cancelarAsincrono", "enviarSolicitudCancelacionAsincrono")
# Elements that carry UUIDs (``UUID|Motivo|FolioSustitucion`` in ``uuid``/``uuids``).
UUID_FIELDS = ("uuid", "uuids", "transactionId")

SOAPACTION_WRONG = Check(
    "sf.soapaction-wrong", PROVIDER, "error", f"{DOC}:13, {WSDL} soap:operation soapAction=\"urn:<operation>\"",
    "a SOAPAction naming another operation: Axis2 dispatches on SOAPAction before the body",
    refusal="SOAP fault (Client)", fidelity="SF-EN-09")
SOAPACTION_MISSING = Check(
    "sf.soapaction-missing", PROVIDER, "warning", f"{DOC}:13",
    "no SOAPAction (SOAP 1.1 header or SOAP 1.2 action parameter): the page names urn:<operation>; "
    "Axis2 then falls back on the body", refusal="SOAP fault (Client)", fidelity="SF-EN-09")
UNQUALIFIED = Check(
    "sf.unqualified-children", PROVIDER, "error", f"{WSDL} elementFormDefault=\"qualified\"",
    "parameters outside the service namespace: Axis2's generated reader refuses an unexpected "
    "subelement", refusal=str(codes.INCOMPLETE))
ORDER = Check(
    "sf.children-order", PROVIDER, "error", f"{DOC}:17-25, {DOC}:64",
    "parameters out of the WSDL's order: 611 \"incomplete, or out of place\"", refusal=str(codes.INCOMPLETE),
    fidelity="SF-EN-43")
UUID_CASE = Check(
    "sf.uuid-lower-case", PROVIDER, "warning", f"{DOC}:32, {DOC}:74-84",
    "a lower-case UUID: the page writes them upper case, the sandbox upper-cases it for you",
    refusal=str(codes.INVALID_DATA), fidelity="SF-EN-13")
EMAIL_MISSING = Check(
    "sf.email-missing", PROVIDER, "info", f"{DOC}:21-22, {DOC}:29-37",
    "no emailNotifica on an asynchronous cancellation: no notification e-mail will come", refusal=str(codes.INCOMPLETE),
    fidelity="SF-EN-15")
TEST_CREDENTIALS = Check(
    "sf.test-credentials-production", PROVIDER, "error", f"{DOC}:67",
    "an account of the testing environment used against production (or the other way round): 633",
    refusal=str(codes.WRONG_ENVIRONMENT), fidelity="SF-EN-48")

CHECKS = (SOAPACTION_WRONG, SOAPACTION_MISSING, UNQUALIFIED, ORDER, UUID_CASE, EMAIL_MISSING, TEST_CREDENTIALS)

_LOWER_UUID = re.compile(rf"\b{UUID_TEXT}\b")


def inspect(ex: Exchange) -> list[Finding]:
    found: list[Finding] = []
    expected = f"urn:{ex.operation}"
    if not ex.action:
        found.append(SOAPACTION_MISSING.finding(f"no SOAPAction; {ex.operation} is {expected}"))
    elif ex.action != expected:
        found.append(SOAPACTION_WRONG.finding(f"SOAPAction '{ex.action}' for {ex.operation} (expected {expected})"))
    children = [c for c in ex.payload if isinstance(c.tag, str)]
    stray = [etree.QName(c).localname for c in children if etree.QName(c).namespace != NS]
    if stray:
        found.append(UNQUALIFIED.finding(f"{', '.join(stray)} not in {NS}"))
    order = wsdl_sequences(WSDL_FILE).get(ex.operation, ())
    names = element_order(ex.payload, order)
    if names:
        found.append(ORDER.finding(f"sent {', '.join(names)}; the WSDL's order is {', '.join(order)}"))
    values = {etree.QName(c).localname: (c.text or "").strip() for c in children}
    lower = [u for c in children if etree.QName(c).localname in UUID_FIELDS
             for u in _LOWER_UUID.findall(c.text or "") if u != u.upper()]
    if lower:
        found.append(UUID_CASE.finding(f"lower-case UUID {lower[0]}"))
    if ex.operation in NOTIFYING and not values.get("emailNotifica"):
        found.append(EMAIL_MISSING.finding("emailNotifica is absent or empty"))
    user = values.get("usuario")
    account_env = ex.account_environment(user)
    if account_env is not None and account_env != ex.environment:
        found.append(TEST_CREDENTIALS.finding(f"usuario '{user}' is an account of '{account_env}'; "
                                              f"this endpoint plays '{ex.environment}'"))
    return found
