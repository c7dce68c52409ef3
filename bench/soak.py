"""Soak: mixed load on a real ``pac-mock serve`` for a bounded time, without and then with an attack.

Load (both phases): closed-loop SF ``cancelarAsincrono`` calls, each with a fresh UUID and a
notification address, a health probe every 50 ms, clock moves that make the cancellations due,
resets of a scratch session, and mail waits that end when the awaited mail is recorded.
Attack (second phase): connections that send headers announcing a body and then one byte (plain
and chunked), and mail waits that never end before their time-out, 200 open at once by default.

Then every acknowledged cancellation must be in the session's state exactly once, resolved, with
exactly one notification: the report counts requests, lost and duplicated ones, errors, and p50/p99
latency of the SOAP calls and of the health probe, for each phase.

    python -m bench.soak                      # about 60 s: 30 s without, 30 s with the attack
    python -m bench.soak --duration 20 --json bench/results/soak.json
    python -m bench.soak --url http://127.0.0.1:8080   # a server already running (loopback only)

Loopback only; every loop stops by itself at the phase's end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import requests

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
SF_PATH = "/ws/services/Cancelacion"
USER, PASSWORD, RFC = "testing@solucionfactible.com", "timbrado.SF.16672", "MOC900101AB1"
ACCEPTED = re.compile(rb"<(?:\w+:)?status>200</")
ROOT = Path(__file__).resolve().parents[1]


def sf_body(uuid_text: str) -> bytes:
    return (
        f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
        f"<s:usuario>{USER}</s:usuario><s:password>{PASSWORD}</s:password><s:uuid>{uuid_text}|02|</s:uuid>"
        f"<s:rfcEmisor>{RFC}</s:rfcEmisor><s:emailNotifica>soak@example.test</s:emailNotifica>"
        "</s:cancelarAsincrono></e:Body></e:Envelope>"
    ).encode()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class Phase:
    """One phase's load against ``base`` (a session prefix of its own)."""

    def __init__(self, base: str, session: str, duration: float, clients: int, attack: int) -> None:
        self.root = base
        self.base = f"{base}/__session/{session}"
        self.scratch = f"{base}/__session/{session}-scratch"
        self.duration = duration
        self.clients = clients
        self.attack = attack
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.soap_ms: list[float] = []
        self.health_ms: list[float] = []
        self.errors: Counter[str] = Counter()
        self.requests = 0
        self.attack_connections = 0

    def _error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1

    def _timed(self, session: requests.Session, method: str, url: str, **kw) -> tuple[requests.Response | None, float]:
        started = time.perf_counter()
        try:
            response = session.request(method, url, timeout=30, **kw)
        except requests.RequestException as exc:
            self._error(f"{method} {urlsplit(url).path.split('/__admin')[-1] or url}: {type(exc).__name__}")
            return None, (time.perf_counter() - started) * 1000
        with self.lock:
            self.requests += 1
        return response, (time.perf_counter() - started) * 1000

    def client(self) -> None:
        http = requests.Session()
        while not self.stop.is_set():
            u = str(uuid.uuid4()).upper()
            r, ms = self._timed(http, "POST", self.base + SF_PATH, data=sf_body(u),
                                headers={"Content-Type": "text/xml; charset=utf-8"})
            if r is None:
                continue
            if r.status_code != 200 or not ACCEPTED.search(r.content):
                self._error(f"SOAP answered {r.status_code}")
                continue
            with self.lock:
                self.acknowledged.append(u)
                self.soap_ms.append(ms)

    def health(self) -> None:
        http = requests.Session()
        while not self.stop.wait(0.05):
            r, ms = self._timed(http, "GET", self.root + "/__admin/health")
            if r is not None and r.status_code == 200:
                with self.lock:
                    self.health_ms.append(ms)
            elif r is not None:
                self._error(f"health answered {r.status_code}")

    def clock_mover(self) -> None:
        http = requests.Session()
        while not self.stop.wait(2.0):
            r, _ = self._timed(http, "POST", self.base + "/__admin/clock", json={"advance": "6m"})
            if r is not None and r.status_code != 200:
                self._error(f"clock answered {r.status_code}")

    def resetter(self) -> None:
        http = requests.Session()
        while not self.stop.wait(3.0):
            self._timed(http, "POST", self.scratch + SF_PATH, data=sf_body(str(uuid.uuid4()).upper()),
                        headers={"Content-Type": "text/xml"})
            r, _ = self._timed(http, "POST", self.scratch + "/__admin/reset", json={})
            if r is not None and r.status_code != 200:
                self._error(f"reset answered {r.status_code}")

    def waiter(self) -> None:
        """Waits that end: one notification of this phase's session, which the clock moves produce."""
        http = requests.Session()
        while not self.stop.is_set():
            r, _ = self._timed(http, "GET", self.base + "/__admin/mail/wait", params={"count": 1, "timeout": 5})
            if r is not None and r.status_code != 200:
                self._error(f"mail wait answered {r.status_code}")
            self.stop.wait(0.5)

    # The attack --------------------------------------------------------------------------------

    def slow_body(self, chunked: bool) -> None:
        host, port = urlsplit(self.root).hostname, urlsplit(self.root).port
        head = f"POST {SF_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n10\r\n<" if chunked else "Content-Length: 100000\r\n\r\n<"
        while not self.stop.is_set():
            try:
                with socket.create_connection((host, port), timeout=5) as sock:
                    sock.sendall(head.encode())
                    with self.lock:
                        self.attack_connections += 1
                    sock.settimeout(0.5)
                    while not self.stop.is_set():
                        try:
                            if not sock.recv(4096):  # the server gave up on us: come back
                                break
                        except TimeoutError:
                            continue
            except OSError:
                self.stop.wait(0.2)

    def hanging_wait(self) -> None:
        http = requests.Session()
        while not self.stop.is_set():
            with contextlib.suppress(requests.RequestException):
                http.get(self.scratch + "/__admin/mail/wait", params={"count": 1, "timeout": 20,
                                                                       "to": "nobody@example.test"}, timeout=60)
                with self.lock:
                    self.attack_connections += 1

    def run(self) -> dict:
        threads = [threading.Thread(target=self.client, daemon=True) for _ in range(self.clients)]
        threads += [threading.Thread(target=f, daemon=True)
                    for f in (self.health, self.clock_mover, self.resetter, self.waiter)]
        if self.attack:
            for i in range(self.attack):
                target = self.hanging_wait if i % 2 else (lambda chunked=(i % 4 == 2): self.slow_body(chunked))
                threads.append(threading.Thread(target=target, daemon=True))
        for t in threads:
            t.start()
        self.stop.wait(self.duration)
        self.stop.set()
        for t in threads:
            t.join(timeout=35)
        return self.settle()

    def settle(self) -> dict:
        """Resolve everything acknowledged and count what is missing or there twice."""
        http = requests.Session()
        acknowledged = set(self.acknowledged)
        status: dict[str, str] = {}
        mail: list[dict] = []
        unresolved = list(acknowledged)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http.post(self.base + "/__admin/clock", json={"advance": "1h"}, timeout=10).ok:
                    break
            except requests.RequestException:
                self._error("settling: clock not moved")
        while time.monotonic() < deadline:
            try:
                registry = http.get(self.base + "/__admin/registry", params={"limit": 10_000}, timeout=10).json()["uuids"]
                mail = http.get(self.base + "/__admin/mail", params={"limit": 10_000}, timeout=10).json()["messages"]
            except requests.RequestException:
                self._error("settling: state not read")
                continue
            status = {e["uuid"]: e["status"] for e in registry}
            unresolved = [u for u in acknowledged if status.get(u) != "cancelado"]
            if not unresolved and len(mail) >= len(acknowledged):
                break
            time.sleep(0.5)
        mailed = Counter(m["uuid"] for m in mail)
        return {
            "attack_connections": self.attack,
            "requests": self.requests,
            "soap_acknowledged": len(self.acknowledged),
            "lost": sum(1 for u in acknowledged if u not in status or mailed[u] == 0),
            "duplicated": len(self.acknowledged) - len(acknowledged) + sum(1 for u in acknowledged if mailed[u] > 1)
            + sum(1 for u in mailed if u not in acknowledged),
            "unresolved": len(unresolved),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "soap_per_s": round(len(self.soap_ms) / self.duration, 1),
            "soap_p50_ms": percentile(self.soap_ms, 0.5),
            "soap_p99_ms": percentile(self.soap_ms, 0.99),
            "health_p50_ms": percentile(self.health_ms, 0.5),
            "health_p99_ms": percentile(self.health_ms, 0.99),
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def own_server(extra: list[str], root: Path = ROOT):
    """A fresh ``pac-mock serve`` on a free loopback port with a temporary data directory."""
    data = Path(tempfile.mkdtemp(prefix="pac-mock-soak-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAC_MOCK_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data), *extra],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/__admin/health", timeout=1).ok:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds for both phases together (default 60)")
    parser.add_argument("--clients", type=int, default=4, help="closed-loop SOAP clients (default 4)")
    parser.add_argument("--attack", type=int, default=200, help="attacking connections in the second phase")
    parser.add_argument("--url", help="a running server (loopback only); default: start one")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="serve from another checkout of the project (to compare versions)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("server_args", nargs="*", help="extra `pac-mock serve` flags (after --)")
    args = parser.parse_args(argv)
    if args.url and (urlsplit(args.url).hostname or "") not in LOOPBACK:
        parser.error("loopback only")
    run_id = uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        url = args.url.rstrip("/") if args.url else stack.enter_context(own_server(args.server_args, args.server_root))
        half = max(1.0, args.duration / 2)
        results = {
            "without_attack": Phase(url, f"soak-{run_id}-calm", half, args.clients, 0).run(),
            "with_attack": Phase(url, f"soak-{run_id}-attack", half, args.clients, args.attack).run(),
        }
    keys = [k for k in results["without_attack"] if k != "error_kinds"]
    print(f"{'':28}{'without attack':>16}{'with attack':>16}")
    for key in keys:
        print(f"{key:28}{results['without_attack'][key]!s:>16}{results['with_attack'][key]!s:>16}")
    for phase, figures in results.items():
        if figures["error_kinds"]:
            print(f"errors {phase}: {figures['error_kinds']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    bad = any(r["lost"] or r["duplicated"] or r["unresolved"] for r in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
