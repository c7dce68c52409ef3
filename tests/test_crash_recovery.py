"""Crash recovery: ``kill -9`` the production server while cancellations are pending, restart it on the
same data directory, and every pending item resolves exactly once; the SQLite file stays sound."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from lxml import etree

from helpers import ServeProcess, living_processes

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
USER, PASSWORD, RFC = "testing@solucionfactible.com", "timbrado.SF.16672", "MOC900101AB1"
CRASH_CYCLES = 3
PER_CYCLE = 15
ORPHAN_ROUNDS = 10


class Server(ServeProcess):
    """On a port reserved for the test (``helpers.reserved_port``): no other program can take it over, so
    "nothing listens there" speaks of this server alone."""

    def __init__(self, data_dir) -> None:
        super().__init__(data_dir, "--workers", "2", log=data_dir.parent / f"{data_dir.name}-server.log")

    def kill9_main(self) -> None:
        """SIGKILL to the main process alone, as the OOM killer or ``kill -9 <pid>`` would send it."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cancel(self, uuid: str, timeout: float = 30) -> str:
        body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
                f"<s:usuario>{USER}</s:usuario><s:password>{PASSWORD}</s:password><s:uuid>{uuid}|02|</s:uuid>"
                f"<s:rfcEmisor>{RFC}</s:rfcEmisor><s:emailNotifica>erp@example.test</s:emailNotifica>"
                "</s:cancelarAsincrono></e:Body></e:Envelope>")
        r = requests.post(self.url + "/ws/services/Cancelacion", data=body,
                          headers={"Content-Type": "text/xml"}, timeout=timeout)
        return etree.fromstring(r.content).findtext(".//{*}status")

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}/__admin/{path}", timeout=30, **kw)


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    yield srv
    srv.close()


def test_pending_cancellations_survive_kill_9_and_resolve_once(server):
    server.start()
    server.admin("POST", "clock", json={"freeze": "2026-05-04T10:00:00"})
    accepted: list[str] = []
    for cycle in range(CRASH_CYCLES):
        uuids = [str(uuid_module.uuid4()).upper() for _ in range(PER_CYCLE)]
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(server.cancel, uuids))
        assert statuses == ["200"] * PER_CYCLE
        accepted += uuids
        if cycle == 1:
            # Make earlier work due and crash while the workers may be firing it.
            requests.post(server.url + "/__admin/clock", json={"advance": "6m"}, timeout=30)
        server.kill9()
        server.start()

    server.admin("POST", "clock", json={"advance": "10m"})
    jobs = server.admin("GET", "jobs").json()["solucionfactible"]
    states = {c["uuid"]: c for c in jobs["cancellations"]}
    assert set(states) == set(accepted)
    assert {c["status"] for c in states.values()} == {200}
    assert server.admin("GET", "timers").json()["pending"] == []
    mail = server.admin("GET", "mail").json()["messages"]
    by_uuid = [m["uuid"] for m in mail]
    assert sorted(by_uuid) == sorted(accepted)  # one notification each, none lost, none twice
    registry = {e["uuid"]: e["status"] for e in server.admin("GET", "registry").json()["uuids"]}
    assert all(registry[u] == "cancelado" for u in accepted)
    server.stop()
    with sqlite3.connect(server.data_dir / "pac-mock.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
def test_workers_die_with_a_killed_main_process_and_the_restart_resolves_work_once(server):
    server.start()
    server.admin("POST", "clock", json={"freeze": "2026-05-04T10:00:00"})
    accepted: list[str] = []
    sent: list[str] = []
    for round_ in range(ORPHAN_ROUNDS):
        halt = threading.Event()

        def load(halt=halt) -> None:
            while not halt.is_set():
                u = str(uuid_module.uuid4()).upper()
                sent.append(u)
                try:
                    if server.cancel(u, timeout=10) == "200":
                        accepted.append(u)
                except (requests.RequestException, etree.XMLSyntaxError):
                    return  # the server died under this request: it may or may not have kept it

        with ThreadPoolExecutor(3) as pool:
            for _ in range(3):
                pool.submit(load)
            while len(sent) < (round_ + 1) * 12:
                time.sleep(0.01)
            if round_ % 3 == 1:  # make earlier work due while the workers may be firing it
                server.admin("POST", "clock", json={"advance": "6m"})
            group = server.proc.pid
            server.kill9_main()  # requests are in flight now
            deadline = time.monotonic() + 2
            while living_processes(group) and time.monotonic() < deadline:
                time.sleep(0.02)
            left = living_processes(group)
            halt.set()
        assert left == [], f"round {round_}: processes of the killed server still alive: {left}"
        assert _refused(server.port), f"round {round_}: something still accepts connections on the port"
        server.start()

    server.admin("POST", "clock", json={"advance": "10m"})
    assert server.admin("GET", "timers").json()["pending"] == []
    jobs = server.admin("GET", "jobs").json()["solucionfactible"]["cancellations"]
    registry = {e["uuid"]: e["status"] for e in server.admin("GET", "registry", params={"limit": 10_000}).json()["uuids"]}
    mail = [m["uuid"] for m in server.admin("GET", "mail", params={"limit": 10_000}).json()["messages"]]
    assert len(accepted) >= ORPHAN_ROUNDS * 5
    assert all(registry.get(u) == "cancelado" for u in accepted)  # none lost
    assert set(mail) >= set(accepted)  # every acknowledged one notified ...
    assert len(mail) == len(set(mail))  # ... and nothing twice
    assert {c["status"] for c in jobs} == {200}
    server.stop()
    with sqlite3.connect(server.data_dir / "pac-mock.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
