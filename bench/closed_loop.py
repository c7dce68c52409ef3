"""A small closed-loop load generator shared by the provider scripts (``bench_<provider>.py``).

Threads post as fast as answers come back, for a bounded time and a bounded count, to loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS_PER_WORKER = 200_000  # a bound on the loop, whatever the duration


def session_url(base_url: str, name: str) -> str:
    """A fresh session of ``base_url`` for one run; refuses anything but loopback."""
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load a non-loopback server: {base_url}")
    return f"{base_url.rstrip('/')}/__session/bench-{name}-{uuid.uuid4().hex[:8]}"


def answer_between(text: str, start: str, end: str = "<") -> str | None:
    """The text between ``start`` and ``end`` in an answer (a status code), or None."""
    if start not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def run_loop(
    url: str,
    body: Callable[[int], bytes],
    code_of: Callable[[str], str | None],
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
) -> dict:
    """Post ``body(i)`` from ``concurrency`` threads for ``seconds``: requests/s, p50/p99, answer codes."""
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
            start_barrier.wait()
            i = offset
            while time.perf_counter() < deadline and len(mine) < MAX_REQUESTS_PER_WORKER:
                data = body(i)
                began = time.perf_counter()
                try:
                    code = code_of(http.post(url, data=data, headers=headers, timeout=30).text)
                except requests.RequestException:
                    code = None
                mine.append(time.perf_counter() - began)
                if code is None:
                    failed += 1
                else:
                    seen[code] = seen.get(code, 0) + 1
                i += concurrency
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


def script_main(run: Callable[[str, float, int], dict], description: str, argv: list[str] | None = None) -> int:
    """Command line of a provider script: ``--url`` a running server, or an in-process one."""
    parser = argparse.ArgumentParser(description=description)
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
