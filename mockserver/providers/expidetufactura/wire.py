"""Expide Tu Factura ``cancelar``: WSDL operation ⇄ Python."""

from __future__ import annotations

from pathlib import Path

from ...soap.envelope import SOAP11
from ...soap.service import Operation, SoapService, not_implemented

NS = "http://service.xpd.mx/"
WSDL_DIR = Path(__file__).parent / "wsdl"


def _service(name: str, environment: str) -> SoapService:
    return SoapService(
        provider="expidetufactura",
        name=name,
        wsdl_file=WSDL_DIR / f"{name}.wsdl",
        operations=[Operation("cancelar", NS, not_implemented)],
        versions=(SOAP11,),
        secret_fields=frozenset({"token"}),
        environment=environment,
    )


SERVICES = (_service("CancelacionPruebas", "pruebas"), _service("CancelacionProductivo", "productivo"))
