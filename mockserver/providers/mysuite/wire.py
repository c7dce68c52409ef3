"""MYSuite ``RequestTransaction``: WSDL operation ⇄ Python."""

from __future__ import annotations

from pathlib import Path

from ...soap.service import Operation, SoapService, not_implemented

NS = "http://www.fact.com.mx/schema/ws"

SERVICE = SoapService(
    provider="mysuite",
    name="FactWSFront",
    wsdl_file=Path(__file__).parent / "wsdl" / "FactWSFront.wsdl",
    operations=[Operation("RequestTransaction", NS, not_implemented)],
    extra_paths=("/factwsfront.asmx",),
    case_insensitive=True,
    huge=True,
)
