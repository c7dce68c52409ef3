"""A SOAP service described by its WSDL: the paths it answers on and the operations it dispatches.

Dispatch is on URL path + the Body's first element (namespace and local name); SOAPAction is read as a
hint only, and prefixes or whitespace never matter. Provider wire modules supply one handler per
operation; a handler returns the response payload element or raises :class:`SoapFault`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from .envelope import SOAP11, SOAP12, SoapRequest, SoapVersion
from .faults import NOT_IMPLEMENTED, SoapFault
from .wsdl import WsdlDocument

if TYPE_CHECKING:
    from ..context import Context


@dataclass
class Call:
    """One SOAP call on its way through: the request, the sandbox context and the scenario outcome."""

    ctx: Context
    service: SoapService
    operation: Operation
    request: SoapRequest
    outcome: Any = None
    summary: dict = field(default_factory=dict)
    base_url: str = ""
    # What the operation's ``reader`` made of the payload (the payload itself when it has none).
    data: Any = None
    # Where the request departs from the provider's documents (mockserver.conformance).
    findings: list = field(default_factory=list)

    @property
    def payload(self) -> etree._Element:
        return self.request.payload


Handler = Callable[[Call], etree._Element]
FieldReader = Callable[[Any], dict]


@dataclass
class Operation:
    name: str
    namespace: str
    handler: Handler | None = None
    # Reads the fields scenario rules match on (uuid, rfc, user, ...) from ``Call.data``.
    fields: FieldReader | None = None
    # Turns the payload into the operation's request once, for ``fields`` and the handler alike.
    reader: Callable[[etree._Element], Any] | None = None

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.name}"


def not_implemented(call: Call) -> etree._Element:
    raise SoapFault(f"{NOT_IMPLEMENTED}: {call.operation.name}", code="Receiver")


@dataclass
class SoapService:
    provider: str
    name: str
    wsdl_file: Path
    operations: list[Operation]
    versions: tuple[SoapVersion, ...] = (SOAP11, SOAP12)
    extra_paths: tuple[str, ...] = ()
    case_insensitive: bool = False
    # Allows text nodes over 10 MB (MYSuite documents).
    huge: bool = False
    environment: str | None = None
    # The provider's conformance checks (mockserver.conformance.Conformance), run on every call.
    conformance: Any = None
    # What the provider's SOAP stack does at the edges (docs/clients.md, "What each stack accepts"):
    # Axis2 answers plain XML (no envelope), MTOM is read by Axis2 and CXF but not by ASMX, and only
    # Axis2's servlet answers a SOAP 1.2 Sender fault with HTTP 400 (CXF and ASMX: 500 for every fault).
    plain_xml: bool = False
    mtom: bool = False
    sender_fault_400: bool = False

    def __post_init__(self) -> None:
        self.wsdl = WsdlDocument(self.wsdl_file)
        self._by_qname = {op.qname: op for op in self.operations}

    @property
    def paths(self) -> list[str]:
        """Every path that answers: the WSDL's port addresses plus any extra ones."""
        return list(dict.fromkeys([*self.extra_paths, *self.wsdl.paths]))

    @property
    def plain_paths(self) -> list[str]:
        """Ports with an HTTP (plain-XML) binding: their operation locations live below these paths."""
        return self.wsdl.http_paths

    def fault_status(self, version: SoapVersion, code: str) -> int:
        if self.sender_fault_400 and version is SOAP12 and code == "Sender":
            return 400
        return 500

    def operation_for(self, request: SoapRequest) -> Operation:
        qname = request.payload.tag
        op = self._by_qname.get(qname)
        if op is not None:
            return op
        local = etree.QName(qname).localname
        namesakes = [o for o in self.operations if o.name == local]
        if namesakes:
            raise SoapFault(
                f"Operation element {local} is in the wrong namespace "
                f"'{etree.QName(qname).namespace or ''}'; {self.name} expects '{namesakes[0].namespace}'"
            )
        known = ", ".join(o.name for o in self.operations)
        raise SoapFault(f"Unknown operation {qname} for service {self.name}; it offers: {known}")

    def describe(self, base_url: str = "") -> dict:
        return {
            "name": self.name,
            "environment": self.environment,
            "paths": self.paths,
            "soap_versions": [v.name for v in self.versions],
            "operations": [o.name for o in self.operations],
            "wsdl": f"{base_url}{self.wsdl.paths[0] if self.wsdl.paths else self.paths[0]}?wsdl",
        }


__all__ = ["SOAP11", "SOAP12", "Call", "Operation", "SoapService", "not_implemented"]
