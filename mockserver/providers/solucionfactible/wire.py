"""Solución Factible ``Cancelacion``: WSDL operations ⇄ Python."""

from __future__ import annotations

from pathlib import Path

from ...soap.service import Operation, SoapService, not_implemented

NS = "http://ws.cfdi.solucionfactible.com"
OPERATIONS = (
    "cancelarAsincrono",
    "getStatusCancelacionAsincrona",
    "enviarSolicitudCancelacionAsincrono",
    "cancelar",
    "enviarSolicitudCancelacion",
    "cancelarSectorPrimario",
)

SERVICE = SoapService(
    provider="solucionfactible",
    name="Cancelacion",
    wsdl_file=Path(__file__).parent / "wsdl" / "Cancelacion.wsdl",
    operations=[Operation(name, NS, not_implemented) for name in OPERATIONS],
    extra_paths=("/ws/services/Cancelacion",),
    secret_fields=frozenset({"password", "csdKey", "csdPassword", "derKeyCSD", "contrasenaCSD"}),
)
