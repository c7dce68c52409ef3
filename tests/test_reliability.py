"""Reliability under load and secrecy, against the production server (granian, 2 workers, one file).

- 100 concurrent identical MYSuite internal ids: exactly one accepted (3196 for the rest).
- Mixed load from several threads (SF, XPD, MYSuite) leaves a consistent store: every accepted SF
  cancellation resolves once with one e-mail, every MYSuite job completes once.
- Passwords, CSD keys and key passwords never show in the journal, admin API, dashboard data or logs.
``PAC_MOCK_LONG=1`` runs the mixed load for a minute instead of a few seconds.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests
from lxml import etree
from test_mysuite import envelope

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.testing.mysuite import native_document

from helpers import ServeProcess

LOAD_SECONDS = 60 if os.environ.get("PAC_MOCK_LONG") == "1" else 6
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
MS_NS = "http://www.fact.com.mx/schema/ws"
SF_USER, SF_PASSWORD, RFC = "testing@solucionfactible.com", "timbrado.SF.16672", "MOC900101AB1"
NOW = datetime(2026, 6, 1, 12, 0, 0)
KEY_PASSWORD = fixture("csd_moral").password


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """``pac-mock serve --workers 2`` with its output captured for the log scan."""
    log_path = tmp_path_factory.mktemp("logs") / "server.log"
    with ServeProcess(tmp_path_factory.mktemp("data"), "--workers", "2", log=log_path) as server:
        yield server.url, log_path


class Client:
    def __init__(self, base: str, session: str) -> None:
        self.url = f"{base}/__session/{session}"
        self.http = requests.Session()

    def post(self, path: str, body: str) -> etree._Element:
        r = self.http.post(self.url + path, data=body.encode(), headers={"Content-Type": "text/xml"}, timeout=60)
        return etree.fromstring(r.content)

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return self.http.request(method, f"{self.url}/__admin/{path}", timeout=60, **kw)

    def sf_cancel(self, uuid: str, with_csd: bool = False) -> str:
        csd = ""
        if with_csd:
            info = fixture("csd_moral")
            csd = (f"<s:csdCer>{base64.b64encode(info.cer_bytes()).decode()}</s:csdCer>"
                   f"<s:csdKey>{base64.b64encode(info.key_bytes()).decode()}</s:csdKey>"
                   f"<s:csdPassword>{info.password}</s:csdPassword>")
        body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
                f"<s:usuario>{SF_USER}</s:usuario><s:password>{SF_PASSWORD}</s:password>"
                f"<s:uuid>{uuid}|02|</s:uuid><s:rfcEmisor>{RFC}</s:rfcEmisor>"
                f"<s:emailNotifica>erp@example.test</s:emailNotifica>{csd}</s:cancelarAsincrono></e:Body></e:Envelope>")
        return self.post("/ws/services/Cancelacion", body).findtext(".//{*}status")

    def xpd_cancel(self, uuid: str, token: str = "123456") -> str:
        info = fixture("csd_moral")
        xml = sign_cancelacion(info.certificate(), info.private_key(), RFC, [uuid], NOW - timedelta(minutes=5))
        body = (f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
                f"<usuario>pruebas</usuario><token>{token}</token>"
                f"<xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes></x:cancelar></e:Body></e:Envelope>")
        return self.post("/cancelacion/CancelacionPruebas", body).findtext(".//codEstatus")

    def mysuite(self, transaction: str, data1: str = "", data2: str = "") -> etree._Element:
        return self.post("/mx.com.fact.wsfront/factwsfront.asmx", envelope(transaction, data1, data2).decode())


def _ms(answer: etree._Element, path: str) -> str | None:
    return answer.findtext(f".//{{{MS_NS}}}{path}")


@pytest.fixture(scope="module")
def native_b64() -> str:
    return base64.b64encode(native_document(1_100_000)).decode()


def test_a_hundred_concurrent_identical_internal_ids_have_one_winner(production, native_b64):
    client = Client(production[0], "dup" + uuid_module.uuid4().hex[:8])
    barrier = threading.Barrier(100)

    def submit(_):
        barrier.wait()
        answer = client.mysuite("ASYNC_CONVERT_NATIVE_XML", native_b64, "FACTURA-0001")
        return _ms(answer, "Result"), _ms(answer, "Code"), _ms(answer, "ResponseData1")

    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(submit, range(100)))
    winners = [r for r in results if r[0] == "true"]
    assert len(winners) == 1
    assert {r[1] for r in results if r[0] == "false"} == {"3196"}
    assert {r[2] for r in results} == {winners[0][2]}  # every loser is told the winner's id
    assert len(client.admin("GET", "jobs").json()["mysuite"]["jobs"]) == 1


def test_mixed_load_leaves_a_consistent_store(production, native_b64):
    client = Client(production[0], "mixed" + uuid_module.uuid4().hex[:8])
    client.admin("POST", "clock", json={"freeze": NOW.isoformat()})
    accepted_sf: list[str] = []
    accepted_jobs: set[str] = set()
    xpd_cancelled: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + LOAD_SECONDS
    counts = {"requests": 0}

    def worker(n: int) -> None:
        rnd = random.Random(n)
        while time.monotonic() < stop_at:
            kind = rnd.choice(["sf", "sf", "sf-repeat", "xpd", "mysuite", "status"])
            uuid = str(uuid_module.uuid4()).upper()
            if kind == "sf":
                if client.sf_cancel(uuid) == "200":
                    with lock:
                        accepted_sf.append(uuid)
            elif kind == "sf-repeat" and accepted_sf:
                assert client.sf_cancel(rnd.choice(accepted_sf)) == "701"
            elif kind == "xpd":
                assert client.xpd_cancel(uuid) == "200"
                with lock:
                    xpd_cancelled.append(uuid)
            elif kind == "mysuite" and rnd.random() < 0.3:
                answer = client.mysuite("ASYNC_CONVERT_NATIVE_XML", native_b64, f"MIX-{n}-{rnd.randint(0, 3)}")
                with lock:
                    accepted_jobs.add(_ms(answer, "ResponseData1"))
            else:
                client.admin("GET", "requests", params={"limit": 5, "bodies": 0})
            with lock:
                counts["requests"] += 1

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(worker, range(6)))
    print(f"\nmixed load: {counts['requests']} requests in {LOAD_SECONDS} s")
    assert accepted_sf and xpd_cancelled and accepted_jobs

    client.admin("POST", "clock", json={"advance": "1h"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = client.admin("GET", "jobs").json()
        done = [j for j in jobs["mysuite"]["jobs"] if j["status"] == 2]
        if len(done) == len(accepted_jobs) and not client.admin("GET", "timers").json()["pending"]:
            break
        time.sleep(0.5)
    assert jobs["solucionfactible"]["by_status"] == {"200": len(accepted_sf)}  # every one, resolved once
    listed = {c["uuid"] for c in jobs["solucionfactible"]["cancellations"]}
    assert listed <= set(accepted_sf) and len(listed) == min(200, len(accepted_sf))
    assert {j["request_id"] for j in jobs["mysuite"]["jobs"]} == accepted_jobs
    assert all(j["status"] == 2 for j in jobs["mysuite"]["jobs"])
    mail = client.admin("GET", "mail").json()["messages"]
    assert sorted(m["uuid"] for m in mail) == sorted(accepted_sf)  # each e-mail once
    for uuid in xpd_cancelled[:20]:
        (entry,) = client.admin("GET", "registry", params={"uuid": uuid}).json()["uuids"]
        assert entry["status"] == "cancelado"


def test_secrets_never_show_in_journal_admin_api_or_logs(production):
    url, log_path = production
    client = Client(url, "secrets" + uuid_module.uuid4().hex[:8])
    info = fixture("csd_moral")
    key_b64 = base64.b64encode(info.key_bytes()).decode()
    client.sf_cancel(str(uuid_module.uuid4()).upper(), with_csd=True)
    # wrong key password and wrong user password: the error messages must not echo them
    body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
            f"<s:usuario>{SF_USER}</s:usuario><s:password>Wr0ng-Pa55word!</s:password>"
            f"<s:uuid>{uuid_module.uuid4()}|02|</s:uuid><s:rfcEmisor>{RFC}</s:rfcEmisor>"
            f"<s:csdCer>{base64.b64encode(info.cer_bytes()).decode()}</s:csdCer><s:csdKey>{key_b64}</s:csdKey>"
            "<s:csdPassword>N0t-The-Key-Pa55</s:csdPassword></s:cancelarAsincrono></e:Body></e:Envelope>")
    answers = [etree.tostring(client.post("/ws/services/Cancelacion", body)).decode()]
    answers.append(etree.tostring(client.post("/ws/services/Cancelacion", body.replace(
        "Wr0ng-Pa55word!", SF_PASSWORD))).decode())
    client.xpd_cancel(str(uuid_module.uuid4()).upper(), token="T0ken-Secret-9")
    broken = body.replace("</e:Envelope>", "")  # malformed: redacted by the text fallback
    answers.append(client.http.post(client.url + "/ws/services/Cancelacion", data=broken,
                                    headers={"Content-Type": "text/xml"}, timeout=30).text)
    dashboard = client.http.get(client.url + "/__admin/", timeout=30).text
    views = [client.admin("GET", p).text for p in ("requests", "jobs", "mail", "registry", "timers", "health",
                                                   "scenarios")]
    time.sleep(0.5)
    logs = log_path.read_text(encoding="utf-8", errors="replace")
    secrets = [SF_PASSWORD, "Wr0ng-Pa55word!", KEY_PASSWORD, "N0t-The-Key-Pa55", "T0ken-Secret-9", key_b64[:40]]
    journal = client.admin("GET", "requests").json()["requests"]
    assert len(journal) >= 5
    for place, text in [("logs", logs), ("dashboard", dashboard), *(("admin", v) for v in views),
                        *(("answer", a) for a in answers)]:
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {place}"
