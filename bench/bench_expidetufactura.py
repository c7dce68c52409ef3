"""Throughput of Expide Tu Factura ``cancelar``: a 1-folio and a 500-folio signed Cancelacion.

    python bench/bench_expidetufactura.py                      # starts an in-process server
    python bench/bench_expidetufactura.py --url http://127.0.0.1:8080 --seconds 5 --concurrency 8

Prints JSON. Each run uses its own session (frozen at the server's current time, reset afterwards),
so it neither sees nor leaves state in other sessions. Only loopback servers are accepted.
Documents are signed before the clock starts; a repeated UUID answers 202, which takes the same path
(seal check, registry, acuse) as a first cancellation.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import requests

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

PATH = "/cancelacion/CancelacionPruebas"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS_PER_WORKER = 200_000  # a bound on the loop, whatever the duration
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


def _load(url: str, bodies: list[bytes], seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    codes: dict[str, int] = {}
    errors = 0
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency + 1)
    deadline = 0.0

    def worker(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        seen: dict[str, int] = {}
        failed = 0
        with requests.Session() as http:
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
            start_barrier.wait()
            i = offset
            while time.perf_counter() < deadline and len(mine) < MAX_REQUESTS_PER_WORKER:
                began = time.perf_counter()
                try:
                    response = http.post(url, data=bodies[i % len(bodies)], headers=headers, timeout=30)
                    text = response.text
                    code = (
                        text.split("<codEstatus>", 1)[1].split("<", 1)[0] if "<codEstatus>" in text else None
                    )
                except (requests.RequestException, IndexError):
                    code = None
                mine.append(time.perf_counter() - began)
                if code is None:
                    failed += 1
                else:
                    seen[code] = seen.get(code, 0) + 1
                i += 1
        with lock:
            latencies.extend(mine)
            errors += failed
            for k, v in seen.items():
                codes[k] = codes.get(k, 0) + v

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    start_barrier.wait()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "seconds": round(elapsed, 3),
        "rps": round(n / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if n else None,
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else None,
        "errors": errors,
        "codes": codes,
    }


def run(base_url: str, seconds: float = 5, concurrency: int = 8) -> dict:
    """Measure ``cancelar`` with 1 and with 500 folios against ``base_url`` (loopback only)."""
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load a non-loopback server: {base_url}")
    session_url = f"{base_url.rstrip('/')}/__session/bench-etf-{uuid.uuid4().hex[:8]}"
    clock = requests.post(f"{session_url}/__admin/clock", json={"freeze": "now"}, timeout=10)
    clock.raise_for_status()
    fecha = datetime.fromisoformat(clock.json()["now_local"]).replace(tzinfo=None, microsecond=0)
    try:
        one = _load(session_url + PATH, _bodies(fecha, 1, 64), seconds, concurrency)
        many = _load(session_url + PATH, _bodies(fecha, 500, 4), seconds, concurrency)
    finally:
        requests.post(f"{session_url}/__admin/reset", timeout=30)
    return {
        "base_url": base_url,
        "seconds": seconds,
        "concurrency": concurrency,
        "expidetufactura_cancelar_1_folio": one,
        "expidetufactura_cancelar_500_folios": many,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (loopback); default: start one in this process")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if args.url:
        result = run(args.url, args.seconds, args.concurrency)
    else:
        from mockserver.server import BackgroundServer
        from mockserver.settings import Settings

        with BackgroundServer(Settings(host="127.0.0.1", port=0, memory=True)) as server:
            result = run(server.url, args.seconds, args.concurrency)
            result["server"] = "in-process (werkzeug threads, memory store)"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
