"""Cost of accepting a large MYSuite ``ASYNC_CONVERT_NATIVE_XML`` request (4 MB and 40 MB documents).

    python bench/bench_mysuite.py                              # starts an in-process server
    python bench/bench_mysuite.py --url http://127.0.0.1:8080 --server-pid 12345

Prints JSON: for each size, the wall time of each request (upload over loopback included) and, when
the server's pid is known, the server's CPU time for it and how much its resident memory (the process
and its workers) grew above what it was just before the request (peak and after; MiB). Runs in its own session, in the production
environment (40 MB is a production size), with the clock frozen so no conversion starts, and resets
the session afterwards. Only loopback servers are accepted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlsplit

import requests

from mockserver.testing.mysuite import native_document

try:
    from bench.procs import ProcessTree
except ImportError:  # run as a script from bench/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from procs import ProcessTree

PATH = "/mx.com.fact.wsfront/factwsfront.asmx"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MB = 1_000_000
REQUESTOR = "5f0e8d3c-2b1a-4c9d-8e7f-6a5b4c3d2e1f"
ENTITY = "JES900109Q90"
OVERLAY = f"""
providers:
  mysuite:
    environment: productivo
    accounts:
      - user: {REQUESTOR}
        environment: productivo
        entities: [{ENTITY}]
"""
SIZES = (4 * MB, 40 * MB)


def _document(size: int) -> bytes:
    """A real native document of ``size`` bytes: a 1.1 MB sample padded with a comment (cheap to make;
    the server does not read the document before it is due)."""
    sample = native_document(int(1.1 * MB))
    return sample + b"<!--" + b"x" * (size - len(sample) - 7) + b"-->"


def _body(size: int, internal_id: str) -> bytes:
    data1 = base64.b64encode(_document(size)).decode("ascii")
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<RequestTransaction xmlns="http://www.fact.com.mx/schema/ws">'
        f"<Requestor>{REQUESTOR}</Requestor><Transaction>ASYNC_CONVERT_NATIVE_XML</Transaction>"
        f"<Country>MX</Country><Entity>{ENTITY}</Entity><User>{REQUESTOR}</User>"
        f"<UserName>MX.{ENTITY}.bench</UserName><Data1>{data1}</Data1><Data2>{internal_id}</Data2>"
        "</RequestTransaction></soap:Body></soap:Envelope>"
    ).encode("ascii")


def _cpu_seconds(tree: ProcessTree) -> float:
    """User + system CPU time of the server's processes so far (robust to a loaded machine)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree.pids():
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def _accept_once(http: requests.Session, url: str, body: bytes, tree: ProcessTree | None) -> dict:
    before = 0
    cpu = 0.0
    if tree is not None:
        tree.reset_peaks()
        before = tree.rss()
        cpu = _cpu_seconds(tree)
    began = time.perf_counter()
    response = http.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=120)
    elapsed = time.perf_counter() - began
    accepted = response.status_code == 200 and "<Result>true</Result>" in response.text
    row: dict = {"seconds": round(elapsed, 3), "accepted": accepted}
    if not accepted:
        row["answer"] = response.text[:400]
    if tree is not None:
        row["server_cpu_s"] = round(_cpu_seconds(tree) - cpu, 3)
        time.sleep(0.05)  # let a sampler see the tail of the request
        row["peak_growth_mb"] = round((tree.peak() - before) / 2**20, 1)
        row["after_growth_mb"] = round((tree.rss() - before) / 2**20, 1)
    return row


def run(
    base_url: str, server_pid: int | None = None, repeat: int = 3, sizes: tuple[int, ...] = SIZES
) -> dict:
    """Accept ``repeat`` documents of each size against ``base_url`` (loopback only).

    ``server_pid``: the server's process (granian's main process; its workers are found as children),
    whose ``/proc/<pid>/status`` VmRSS/VmHWM give the memory growth.
    """
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load a non-loopback server: {base_url}")
    session_url = f"{base_url.rstrip('/')}/__session/bench-mysuite-{uuid.uuid4().hex[:8]}"
    tree = ProcessTree(server_pid) if server_pid else None
    results: dict = {"base_url": base_url, "server_pid": server_pid, "repeat": repeat}
    with requests.Session() as http:
        http.post(f"{session_url}/__admin/clock", json={"freeze": "now"}, timeout=10).raise_for_status()
        http.put(
            f"{session_url}/__admin/scenarios",
            data=OVERLAY,
            headers={"Content-Type": "application/yaml"},
            timeout=10,
        ).raise_for_status()
        try:
            for size in sizes:
                runs = []
                for n in range(repeat):
                    body = _body(size, f"BENCH-{size // MB}MB-{n}-{uuid.uuid4().hex[:6]}")
                    runs.append(_accept_once(http, session_url + PATH, body, tree))
                    del body
                key = f"mysuite_async_accept_{size // MB}MB"
                times = [r["seconds"] for r in runs]
                results[key] = {
                    "document_mb": size / MB,
                    "request_mb": round((((size + 2) // 3) * 4 + 600) / MB, 1),
                    "median_s": round(statistics.median(times), 3),
                    "max_s": max(times),
                    "accepted": sum(r["accepted"] for r in runs),
                    "runs": runs,
                }
                if tree is not None:
                    results[key]["max_peak_growth_mb"] = max(r["peak_growth_mb"] for r in runs)
                    results[key]["median_server_cpu_s"] = statistics.median(r["server_cpu_s"] for r in runs)
        finally:
            http.post(f"{session_url}/__admin/reset", timeout=60)
            if tree is not None:
                tree.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (loopback); default: start one in this process")
    parser.add_argument("--server-pid", type=int, help="the server's pid, to measure its memory")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.url:
        result = run(args.url, args.server_pid, args.repeat)
    else:
        from mockserver.server import BackgroundServer
        from mockserver.settings import Settings

        with BackgroundServer(Settings(host="127.0.0.1", port=0, memory=True)) as server:
            result = run(server.url, None, args.repeat)
            result["server"] = "in-process (werkzeug threads, memory store; no memory figures)"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
