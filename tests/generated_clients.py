"""What the tests of clients generated from the served WSDLs (JAX-WS, Mono, zeep, suds, node-soap) share:
the signed inputs they send, what every operation must answer, and the fault they must read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import export, fixture

NOW = datetime(2026, 6, 1, 12, 0, 0)
SF_OPERATIONS = ("cancelarAsincrono", "getStatusCancelacionAsincrona", "enviarSolicitudCancelacionAsincrono",
                 "cancelar", "enviarSolicitudCancelacion", "cancelarSectorPrimario")

# A maintenance fault on every SF call, with a detail each client must hand over.
MAINTENANCE_OVERLAY = """
rules:
  - id: maintenance
    provider: solucionfactible
    outcome:
      fault: {kind: soap_fault, faultcode: Server, faultstring: En mantenimiento, detail: vuelva en 5 minutos}
"""
MAINTENANCE_READ = "En mantenimiento|urn:pac-mock:fault|error|Server|vuelva en 5 minutos"


def signed_inputs(tmp_path: Path, sandbox, uuid: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The client's arguments: the test CSD's files and a Cancelacion of ``uuid`` signed at NOW, with the
    session's clock frozen there."""
    export(tmp_path / "fx")
    info = fixture("csd_moral")
    cert = info.certificate()
    signed = tmp_path / "signed.xml"
    signed.write_bytes(sign_cancelacion(cert, info.private_key(), cert.rfc, [uuid], NOW))
    assert sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()}).ok
    return [str(tmp_path / "fx" / "csd_moral.cer"), str(tmp_path / "fx" / "csd_moral.key"), str(signed), uuid]


def check_answers(results: dict[tuple[str, str], str], sf_ports: tuple[str, ...]) -> None:
    """Every operation of every port answered what the sandbox answers a well-formed call."""
    assert set(results) == {*((p, o) for p in sf_ports for o in SF_OPERATIONS),
                            ("CancelacionPruebasPort", "cancelar"), ("FactWSFrontSoap", "RequestTransaction"),
                            ("FactWSFrontSoap12", "RequestTransaction")}
    for port in sf_ports:
        assert results[port, "cancelarAsincrono"] == "200"
        assert results[port, "getStatusCancelacionAsincrona"] == "211"
        assert all(results[port, op].isdigit() for op in SF_OPERATIONS)
    assert results["CancelacionPruebasPort", "cancelar"] == "200 201"
    assert results["FactWSFrontSoap", "RequestTransaction"] == "false 3141"
    assert results["FactWSFrontSoap12", "RequestTransaction"] == "false 3141"


def read_maintenance_fault(results: dict[tuple[str, str], str]) -> None:
    assert results == {("CancelacionHttpsSoap11Endpoint", "fault"): MAINTENANCE_READ,
                       ("CancelacionHttpsSoap12Endpoint", "fault"): MAINTENANCE_READ}
