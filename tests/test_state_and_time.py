"""State, time and scenarios: durable timers, clocks, atomic claims, hot reload, overlays, injected faults."""

from __future__ import annotations

import http.client
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from mockserver.clock import Clock
from mockserver.providers import all_providers
from mockserver.runtime import Runtime
from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.store import Store

XPD = "/cancelacion/CancelacionPruebas"


def xpd_envelope(user: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<x:cancelar xmlns:x="http://service.xpd.mx/"><usuario>{user}</usuario><token>123456</token>'
        "<xmlBytes>PHg+PC94Pg==</xmlBytes></x:cancelar></s:Body></s:Envelope>"
    )


def _runtime(tmp_path: Path) -> Runtime:
    return Runtime(Settings(data_dir=tmp_path, timer_interval=0.05), all_providers())


def test_timers_survive_a_restart_and_fire_once(tmp_path):
    fired: list[dict] = []
    first = _runtime(tmp_path)
    first.set_clock("", Clock().frozen(datetime(2026, 1, 10, 12, tzinfo=UTC)))
    with first.store.tx() as conn:
        first.timers.schedule(conn, "", "probe", datetime(2026, 1, 10, 12, 5, tzinfo=UTC), {"n": 1})
    first.store.close()  # the process goes away with the timer pending

    second = _runtime(tmp_path)
    second.timers.register("probe", lambda firing: fired.append(firing.payload))
    assert second.timers.fire_due() == 0  # not due yet: the frozen clock survived the restart too
    assert [t["payload"] for t in second.timers.pending("")] == [{"n": 1}]
    second.set_clock("", second.clock_for("").advanced(timedelta(minutes=5)))
    assert fired == [{"n": 1}]
    assert second.timers.fire_due() == 0 and fired == [{"n": 1}]
    assert second.timers.pending("") == []


def test_overdue_timers_fire_at_start_up(tmp_path):
    first = _runtime(tmp_path)
    with first.store.tx() as conn:
        first.timers.schedule(conn, "", "probe", datetime.now(UTC) - timedelta(hours=1), {"late": True})
    first.store.close()
    second = _runtime(tmp_path)
    seen: list[dict] = []
    second.timers.register("probe", lambda firing: seen.append(firing.payload))
    second.start()
    try:
        assert seen == [{"late": True}]
    finally:
        second.stop()


def test_a_failing_handler_is_retried_and_does_not_block_others(tmp_path):
    rt = _runtime(tmp_path)
    calls = {"bad": 0, "good": 0}

    def bad(_firing):
        calls["bad"] += 1
        raise RuntimeError("boom")

    rt.timers.register("bad", bad)
    rt.timers.register("good", lambda _f: calls.__setitem__("good", calls["good"] + 1))
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.tx() as conn:
        rt.timers.schedule(conn, "", "bad", past, {})
        rt.timers.schedule(conn, "", "good", past, {})
    assert rt.timers.fire_due() == 1
    rt.timers.fire_due()
    assert calls == {"bad": 2, "good": 1}
    (pending,) = rt.timers.pending("")
    assert pending["kind"] == "bad" and "boom" in pending["last_error"] and pending["attempts"] == 2


def test_frozen_and_advanced_clocks_per_session(tmp_path):
    rt = _runtime(tmp_path)
    at = datetime(2025, 6, 1, 8, tzinfo=UTC)
    rt.set_clock("a", Clock().frozen(at))
    assert rt.clock_for("a").now() == at
    assert abs((rt.clock_for("b").now() - datetime.now(UTC)).total_seconds()) < 5
    rt.set_clock("a", rt.clock_for("a").advanced(timedelta(hours=72)))
    assert rt.clock_for("a").now() == at + timedelta(hours=72)
    rt.set_clock("b", Clock(timedelta(hours=-2)))
    assert abs((rt.clock_for("b").now() - datetime.now(UTC) + timedelta(hours=2)).total_seconds()) < 5
    assert rt.clock_for("a").now_local().utcoffset() == timedelta(hours=-6)


def test_a_hundred_concurrent_claims_have_exactly_one_winner(tmp_path):
    store = Store(tmp_path / "claims.sqlite3")
    barrier = threading.Barrier(100)
    results: list[tuple[bool, str]] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        barrier.wait()
        outcome = store.claim("", "internal-id", "FAC-1", f"guid-{i}")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [value for won, value in results if won]
    assert len(winners) == 1
    assert {value for _, value in results} == {winners[0]}


def test_admin_clock_api(sandbox):
    frozen = sandbox.admin("POST", "clock", json={"freeze": "2026-03-01T09:00:00"}).json()
    assert frozen["mode"] == "frozen" and frozen["now_local"].startswith("2026-03-01T09:00:00")
    advanced = sandbox.admin("POST", "clock", json={"advance": "72h"}).json()
    assert advanced["now_local"].startswith("2026-03-04T09:00:00")
    assert sandbox.admin("POST", "clock", json={"advance": "soon"}).status_code == 400
    assert sandbox.admin("POST", "clock", json={"what": 1}).status_code == 400
    assert sandbox.admin("POST", "clock", data="[", headers={"Content-Type": "application/json"}).status_code == 400
    assert sandbox.admin("POST", "clock", json={"reset": True}).json()["mode"] == "real"


def test_overlays_are_validated_and_per_session(sandbox):
    bad = sandbox.admin("PUT", "scenarios", data="rules:\n  - id: x\n    outcome: {code: nope}\n",
                        headers={"Content-Type": "application/yaml"})
    assert bad.status_code == 400
    assert any(":3:" in e for e in bad.json()["errors"])
    good = {"rules": [{"id": "x", "provider": "expidetufactura", "outcome": {"code": 500}}]}
    assert sandbox.admin("PUT", "scenarios", json=good).status_code == 200
    assert "expidetufactura" in sandbox.admin("GET", "scenarios").json()["overlay"]
    other = type(sandbox)(sandbox.root, sandbox.session + "-other")
    assert other.admin("GET", "scenarios").json()["overlay"] is None
    sandbox.admin("DELETE", "scenarios")
    assert sandbox.admin("GET", "scenarios").json()["overlay"] is None


def test_a_broken_scenarios_edit_is_refused_and_the_last_good_one_kept(tmp_path):
    from mockserver.scenarios import default_path

    path = tmp_path / "scenarios.yaml"
    original = default_path().read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    with BackgroundServer(Settings(port=0, memory=True, scenarios=path)) as srv:
        srv.runtime.scenarios.check_every = 0
        lines = original.splitlines()
        seed_line = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
        lines[seed_line] = "seed: [not, a, number]"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        time.sleep(0.01)
        error = requests.get(srv.url + "/__admin/scenarios", timeout=10).json()["file"]["error"]
        assert error and f"{path}:{seed_line + 1}:" in error
        assert srv.runtime.scenarios.get().account("expidetufactura", "pruebas") is not None
        data = yaml.safe_load(original)
        data["providers"]["expidetufactura"]["accounts"].append({"user": "nuevo", "password": "x"})
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        time.sleep(0.01)
        assert requests.get(srv.url + "/__admin/scenarios", timeout=10).json()["file"]["error"] is None
        assert srv.runtime.scenarios.get().account("expidetufactura", "nuevo") is not None


def _fault_rule(kind: str, **params) -> dict:
    return {"rules": [{"id": f"fault-{kind}", "provider": "expidetufactura", "operation": "cancelar",
                       "match": {"user": f"fault-{kind}"}, "times": 1,
                       "outcome": {"fault": {"kind": kind, **params}}}]}


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("http_status", {"status": 503, "body": "Service Unavailable"}),
        ("soap_fault", {"faultcode": "Server", "faultstring": "Base de datos no disponible"}),
        ("malformed", {}),
        ("truncate", {}),
        ("drop", {}),
        ("delay", {"seconds": "300ms"}),
    ],
)
def test_each_fault_kind_is_seen_by_a_real_http_client_once(sandbox, kind, params):
    sandbox.admin("PUT", "scenarios", json=_fault_rule(kind, **params))
    body = xpd_envelope(f"fault-{kind}")
    started = time.monotonic()
    if kind == "http_status":
        response = sandbox.post_soap(XPD, body)
        assert response.status_code == 503 and response.text == "Service Unavailable"
    elif kind == "soap_fault":
        response = sandbox.post_soap(XPD, body)
        assert response.status_code == 500
        assert "<faultstring>Base de datos no disponible</faultstring>" in response.text
        assert "soapenv:Server" in response.text
    elif kind == "malformed":
        response = sandbox.post_soap(XPD, body)
        assert response.status_code == 200
        with pytest.raises(Exception):  # noqa: B017 - any XML error will do
            from lxml import etree

            etree.fromstring(response.content)
    elif kind in ("truncate", "drop"):
        with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                            http.client.IncompleteRead)):
            sandbox.post_soap(XPD, body)
    else:
        response = sandbox.post_soap(XPD, body)
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200
    # times: 1 — the next identical call gets the provider's normal answer
    normal = sandbox.post_soap(XPD, body)
    assert normal.status_code == 200 and "codEstatus" in normal.text
    injected = [e for e in sandbox.admin("GET", "requests").json()["requests"] if e["summary"].get("injected")]
    assert [e["summary"]["injected"] for e in injected] == [kind]
