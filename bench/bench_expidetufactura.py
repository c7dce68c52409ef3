"""Throughput of Expide Tu Factura ``cancelar``: a 1-folio and a 500-folio signed Cancelacion.

    python -m bench.bench_expidetufactura                      # starts an in-process server
    python -m bench.bench_expidetufactura --url http://127.0.0.1:8080 --seconds 5 --concurrency 8

Prints JSON. Each run uses its own session (frozen at the server's current time, reset afterwards),
so it neither sees nor leaves state in other sessions. Only loopback servers are accepted.
Documents are signed before the clock starts; a repeated UUID answers 202, which takes the same path
(seal check, registry, acuse) as a first cancellation.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

import requests

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

from bench.closed_loop import answer_between, run_loop, script_main, session_url

PATH = "/cancelacion/CancelacionPruebas"
ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ser="http://service.xpd.mx/"><soapenv:Body><ser:cancelar><usuario>pruebas</usuario>'
    "<token>123456</token><xmlBytes>{}</xmlBytes></ser:cancelar></soapenv:Body></soapenv:Envelope>"
)


def _bodies(fecha: datetime, folios: int, count: int) -> list[bytes]:
    info = fixture("csd_moral")
    cert, key = info.certificate(), info.private_key()
    out = []
    for _ in range(count):
        uuids = [str(uuid.uuid4()).upper() for _ in range(folios)]
        xml = sign_cancelacion(cert, key, cert.rfc or "", uuids, fecha)
        out.append(ENVELOPE.format(base64.b64encode(xml).decode("ascii")).encode("utf-8"))
    return out


def run(base_url: str, seconds: float = 5, concurrency: int = 8) -> dict:
    """Measure ``cancelar`` with 1 and with 500 folios against ``base_url`` (loopback only)."""
    session = session_url(base_url, "etf")
    clock = requests.post(f"{session}/__admin/clock", json={"freeze": "now"}, timeout=10)
    clock.raise_for_status()
    fecha = datetime.fromisoformat(clock.json()["now_local"]).replace(tzinfo=None, microsecond=0)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

    def load(bodies: list[bytes]) -> dict:
        return run_loop(session + PATH, lambda i: bodies[i % len(bodies)],
                        lambda text: answer_between(text, "<codEstatus>"), headers, seconds, concurrency)

    try:
        one = load(_bodies(fecha, 1, 64))
        many = load(_bodies(fecha, 500, 4))
    finally:
        requests.post(f"{session}/__admin/reset", timeout=30)
    return {
        "base_url": base_url,
        "seconds": seconds,
        "concurrency": concurrency,
        "expidetufactura_cancelar_1_folio": one,
        "expidetufactura_cancelar_500_folios": many,
    }


def main(argv: list[str] | None = None) -> int:
    return script_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
