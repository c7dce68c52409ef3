"""Throughput of Solución Factible ``cancelarAsincrono`` with a fresh UUID on every request.

    python -m bench.bench_solucionfactible                      # starts an in-process server
    python -m bench.bench_solucionfactible --url http://127.0.0.1:8080 --seconds 5 --concurrency 8

Prints JSON. Two workloads: the CSD sent in the request (csdCer/csdKey/csdPassword, as most clients
do) and the issuer's stored CSD (fields omitted). Every request registers a new asynchronous
transaction (claim, row, registry, timer). Each run uses its own session, reset afterwards; only
loopback servers are accepted.
"""

from __future__ import annotations

import base64
import uuid

import requests

from mockserver.sat.pki import fixture

from bench.closed_loop import answer_between, run_loop, script_main, session_url

PATH = "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/"
HEAD = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ws="http://ws.cfdi.solucionfactible.com"><soapenv:Body><ws:cancelarAsincrono>'
    "<ws:usuario>testing@solucionfactible.com</ws:usuario><ws:password>timbrado.SF.16672</ws:password>"
    "<ws:uuid>{uuid}|02|</ws:uuid><ws:rfcEmisor>MOC900101AB1</ws:rfcEmisor>"
    "<ws:emailNotifica>conta@example.mx</ws:emailNotifica>"
)
TAIL = "</ws:cancelarAsincrono></soapenv:Body></soapenv:Envelope>"


def _csd_fields() -> str:
    info = fixture("csd_moral")
    cer = base64.b64encode(info.cer_bytes()).decode("ascii")
    key = base64.b64encode(info.key_bytes()).decode("ascii")
    return f"<ws:csdCer>{cer}</ws:csdCer><ws:csdKey>{key}</ws:csdKey><ws:csdPassword>{info.password}</ws:csdPassword>"


def run(base_url: str, seconds: float = 5, concurrency: int = 8) -> dict:
    """Measure ``cancelarAsincrono`` (fresh UUIDs) against ``base_url`` (loopback only)."""
    session = session_url(base_url, "sf")
    requests.post(f"{session}/__admin/clock", json={"freeze": "now"}, timeout=10).raise_for_status()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:cancelarAsincrono"}

    def load(extra: str) -> dict:
        def body(_: int) -> bytes:
            return (HEAD.format(uuid=str(uuid.uuid4()).upper()) + extra + TAIL).encode("utf-8")

        return run_loop(session + PATH, body, lambda text: answer_between(text, "status>"), headers,
                        seconds, concurrency)

    try:
        with_csd = load(_csd_fields())
        stored = load("")
    finally:
        requests.post(f"{session}/__admin/reset", timeout=30)
    return {
        "base_url": base_url,
        "seconds": seconds,
        "concurrency": concurrency,
        "solucionfactible_cancelarAsincrono_csd_sent": with_csd,
        "solucionfactible_cancelarAsincrono_stored_csd": stored,
    }


def main(argv: list[str] | None = None) -> int:
    return script_main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
