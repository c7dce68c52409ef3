"""Throughput of Solución Factible ``cancelarAsincrono`` with a fresh UUID on every request.

    python bench/bench_solucionfactible.py                      # starts an in-process server
    python bench/bench_solucionfactible.py --url http://127.0.0.1:8080 --seconds 5 --concurrency 8

Prints JSON. Two workloads: the CSD sent in the request (csdCer/csdKey/csdPassword, as most clients
do) and the issuer's stored CSD (fields omitted). Every request registers a new asynchronous
transaction (claim, row, registry, timer). Each run uses its own session, reset afterwards; only
loopback servers are accepted.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import threading
import time
import uuid
from urllib.parse import urlsplit

import requests

from mockserver.sat.pki import fixture

PATH = "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS_PER_WORKER = 200_000  # a bound on the loop, whatever the duration
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


def _load(url: str, extra: str, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    codes: dict[str, int] = {}
    errors = 0
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency + 1)
    deadline = 0.0

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        seen: dict[str, int] = {}
        failed = 0
        with requests.Session() as http:
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:cancelarAsincrono"}
            start_barrier.wait()
            while time.perf_counter() < deadline and len(mine) < MAX_REQUESTS_PER_WORKER:
                body = (HEAD.format(uuid=str(uuid.uuid4()).upper()) + extra + TAIL).encode("utf-8")
                began = time.perf_counter()
                try:
                    text = http.post(url, data=body, headers=headers, timeout=30).text
                    code = text.split("status>", 1)[1].split("<", 1)[0] if "status>" in text else None
                except (requests.RequestException, IndexError):
                    code = None
                mine.append(time.perf_counter() - began)
                if code is None:
                    failed += 1
                else:
                    seen[code] = seen.get(code, 0) + 1
        with lock:
            latencies.extend(mine)
            errors += failed
            for k, v in seen.items():
                codes[k] = codes.get(k, 0) + v

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
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
    """Measure ``cancelarAsincrono`` (fresh UUIDs) against ``base_url`` (loopback only)."""
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load a non-loopback server: {base_url}")
    session_url = f"{base_url.rstrip('/')}/__session/bench-sf-{uuid.uuid4().hex[:8]}"
    requests.post(f"{session_url}/__admin/clock", json={"freeze": "now"}, timeout=10).raise_for_status()
    try:
        with_csd = _load(session_url + PATH, _csd_fields(), seconds, concurrency)
        stored = _load(session_url + PATH, "", seconds, concurrency)
    finally:
        requests.post(f"{session_url}/__admin/reset", timeout=30)
    return {
        "base_url": base_url,
        "seconds": seconds,
        "concurrency": concurrency,
        "solucionfactible_cancelarAsincrono_csd_sent": with_csd,
        "solucionfactible_cancelarAsincrono_stored_csd": stored,
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
