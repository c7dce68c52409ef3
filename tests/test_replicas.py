"""Two ``pac-mock serve`` replicas on one PostgreSQL database: what one accepts the other sees and
finishes, duplicates have one winner across both, mail goes out once, and when one dies by kill -9
the other keeps serving and finishes its work.

Each test has a session of its own; the replicas have data directories of their own (only the
database is shared, as on two machines).
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
import time
import uuid as uuid_module
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests
from lxml import etree
from test_mysuite import envelope

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.testing.mysuite import native_document

from helpers import ServeProcess, server_env, smtp_server

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
MS_NS = "http://www.fact.com.mx/schema/ws"
SF_USER, SF_PASSWORD, RFC = "testing@solucionfactible.com", "timbrado.SF.16672", "MOC900101AB1"


class Inbox:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.expected: set[str] = set()  # the UUIDs the tests sent

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        self.received.append(envelope.content)
        return "250 OK"

    def uuids(self) -> list[str]:
        """The UUID each received notification is about (SF writes it in the subject or body)."""
        found = []
        for message in list(self.received):
            text = message.decode("utf-8", "replace").upper()
            found += [u for u in self.expected if u in text]
        return found


@pytest.fixture(scope="module")
def inbox():
    box = Inbox()
    with smtp_server(box) as controller:
        box.port = controller.port
        yield box


@pytest.fixture(scope="module")
def replicas(postgres_server, inbox, tmp_path_factory):
    url = postgres_server.database()
    config = tmp_path_factory.mktemp("config") / "pac-mock.toml"
    config.write_text(f'smtp_host = "127.0.0.1"\nsmtp_port = {inbox.port}\ntimer_interval = 0.1\n')
    servers = [ServeProcess(tmp_path_factory.mktemp(f"replica{i}"), "--store", url, "--workers", "1",
                            "--config", str(config)) for i in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.close()


class Client:
    """One session on one replica."""

    def __init__(self, server: ServeProcess, session: str) -> None:
        self.url = f"{server.url}/__session/{session}"

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        r = requests.request(method, f"{self.url}/__admin/{path}", timeout=60, **kw)
        assert r.ok, r.text
        return r

    def sf_cancel(self, uuid: str, timeout: float = 60) -> str:
        body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
                f"<s:usuario>{SF_USER}</s:usuario><s:password>{SF_PASSWORD}</s:password>"
                f"<s:uuid>{uuid}|02|</s:uuid><s:rfcEmisor>{RFC}</s:rfcEmisor>"
                "<s:emailNotifica>erp@example.test</s:emailNotifica></s:cancelarAsincrono></e:Body></e:Envelope>")
        r = requests.post(self.url + "/ws/services/Cancelacion", data=body.encode(),
                          headers={"Content-Type": "text/xml"}, timeout=timeout)
        return etree.fromstring(r.content).findtext(".//{*}status")

    def mysuite(self, transaction: str, data1: str = "", data2: str = "") -> etree._Element:
        r = requests.post(self.url + "/mx.com.fact.wsfront/factwsfront.asmx", data=envelope(transaction, data1, data2),
                          headers={"Content-Type": "text/xml"}, timeout=60)
        return etree.fromstring(r.content)


    def xpd_cancel(self, xml: bytes) -> etree._Element:
        body = (f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
                f"<usuario>prod</usuario><token>s3creto</token>"
                f"<xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes></x:cancelar></e:Body></e:Envelope>")
        r = requests.post(self.url + "/cancelacion/CancelacionProductivo", data=body.encode(),
                          headers={"Content-Type": "text/xml"}, timeout=60)
        return etree.fromstring(r.content)


def ms(answer: etree._Element, path: str) -> str | None:
    return answer.findtext(f".//{{{MS_NS}}}{path}")


def clients(replicas: list[ServeProcess]) -> tuple[Client, Client]:
    session = uuid_module.uuid4().hex[:12]
    return Client(replicas[0], session), Client(replicas[1], session)


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def wait_for(condition, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def sent_mail(client: Client) -> list[dict]:
    return client.admin("GET", "mail", params={"limit": 10_000}).json()["messages"]


def test_a_cancellation_accepted_by_one_replica_is_resolved_and_mailed_once(replicas, inbox):
    a, b = clients(replicas)
    a.admin("POST", "clock", json={"freeze": "2026-05-04T10:00:00"})
    assert b.admin("GET", "clock").json()["mode"] == "frozen"  # one clock per session, seen by both
    uuids = [new_uuid() for _ in range(10)]
    inbox.expected |= set(uuids)
    statuses = [(a if i % 2 else b).sf_cancel(u) for i, u in enumerate(uuids)]
    assert statuses == ["200"] * 10
    b.admin("POST", "clock", json={"advance": "10m"})  # the timers of both replicas race for the work

    registry = {e["uuid"]: e["status"] for e in a.admin("GET", "registry").json()["uuids"]}
    assert all(registry[u] == "cancelado" for u in uuids)
    assert a.admin("GET", "timers").json()["pending"] == []
    wait_for(lambda: all(m["status"] == "sent" for m in sent_mail(b)) and len(sent_mail(b)) == 10,
             "every notification delivered")
    assert sorted(m["uuid"] for m in sent_mail(a)) == sorted(uuids)
    delivered = [u for u in inbox.uuids() if u in uuids]
    assert sorted(delivered) == sorted(uuids)  # each exactly once, from whichever replica claimed it


def test_a_hundred_concurrent_duplicates_have_one_winner_across_replicas(replicas):
    a, b = clients(replicas)
    u = new_uuid()
    barrier = threading.Barrier(100)

    def cancel(i: int) -> str:
        barrier.wait()
        return (a if i % 2 else b).sf_cancel(u)

    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(cancel, range(100)))
    assert statuses.count("200") == 1 and statuses.count("701") == 99

    native = base64.b64encode(native_document(1_050_000)).decode()
    barrier = threading.Barrier(100)

    def convert(i: int) -> tuple[str | None, str | None, str | None]:
        barrier.wait()
        answer = (a if i % 2 else b).mysuite("ASYNC_CONVERT_NATIVE_XML", native, "FACTURA-0001")
        return ms(answer, "Result"), ms(answer, "Code"), ms(answer, "ResponseData1")

    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(convert, range(100)))
    winners = [r for r in results if r[0] == "true"]
    assert len(winners) == 1, results[:3]
    assert {r[1] for r in results if r[0] == "false"} == {"3196"}
    assert {r[2] for r in results} == {winners[0][2]}  # every loser is told the winner's request id
    assert len(b.admin("GET", "jobs").json()["mysuite"]["jobs"]) == 1


def test_a_mysuite_document_converted_by_one_replica_is_retrieved_from_the_other(replicas):
    a, b = clients(replicas)
    a.admin("POST", "clock", json={"freeze": "2026-05-04T10:00:00"})
    native = base64.b64encode(native_document(1_050_000)).decode()
    accepted = a.mysuite("ASYNC_CONVERT_NATIVE_XML", native, "FAC-REPLICA")
    assert ms(accepted, "Result") == "true"
    guid = ms(accepted, "ResponseData1")
    b.admin("POST", "clock", json={"advance": "10s"})

    def done() -> dict | None:
        answer = b.mysuite("ASYNC_CONVERT_VERIFY", guid)
        record = json.loads(base64.b64decode(ms(answer, "ResponseData2")))
        return record if record["Status"] == 2 else None

    record = wait_for(done, "the conversion finished")
    retrieved = a.mysuite("ASYNC_RETRIEVE_DOCUMENT", guid)
    assert ms(retrieved, "Result") == "true"
    link = base64.b64decode(ms(retrieved, "ResponseData1")).decode()
    # A link signed by one replica downloads from the other: one server secret, documents in the database.
    other = link.replace(replicas[0].url, replicas[1].url)
    assert other != link
    got = requests.get(other, timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        [name] = archive.namelist()
        cfdi = archive.read(name)
    assert record["DocumentGUID"].lower().encode() in cfdi.lower()  # the stamped CFDI carries its UUID


def test_an_expide_tu_factura_cancellation_awaiting_the_recipient_is_settled_through_the_other_replica(replicas):
    a, b = clients(replicas)
    a.admin("PUT", "scenarios", data="providers:\n  expidetufactura:\n    accounts:\n"
            "      - {user: prod, password: s3creto, environment: productivo}\n",
            headers={"Content-Type": "application/yaml"})  # a session's overlay, read by both replicas
    now = datetime(2026, 6, 1, 12, 0, 0)
    a.admin("POST", "clock", json={"freeze": now.isoformat()})
    awaiting = "00000000-0000-4000-8000-00000000A213"  # the SAT seed's "the recipient must accept"
    info = fixture("csd_moral")
    xml = sign_cancelacion(info.certificate(), info.private_key(), info.certificate().rfc, [awaiting],
                           now - timedelta(minutes=5))
    answer = b.xpd_cancel(xml)
    assert answer.findtext(".//codEstatus") == "200" and answer.findtext(".//estatusUUIDs") == "201"
    status = {e["uuid"]: e["status"] for e in a.admin("GET", "registry").json()["uuids"]}
    assert status[awaiting] == "en_proceso"
    a.admin("POST", "clock", json={"advance": "10m"})  # the recipient's answer is due: a timer of either replica
    status = {e["uuid"]: e["status"] for e in b.admin("GET", "registry").json()["uuids"]}
    assert status[awaiting] == "rechazado"


def test_when_one_replica_is_killed_the_other_keeps_serving_and_finishes_its_work(replicas, inbox):
    a, b = clients(replicas)
    a.admin("POST", "clock", json={"freeze": "2026-05-04T10:00:00"})
    accepted: list[str] = []
    lost: list[str] = []
    halt = threading.Event()

    def load(client: Client) -> None:
        while not halt.is_set():
            u = new_uuid()
            inbox.expected.add(u)
            try:
                if client.sf_cancel(u, timeout=10) == "200":
                    accepted.append(u)
            except (requests.RequestException, etree.XMLSyntaxError):
                lost.append(u)  # the replica died under this request: it may or may not have kept it
                return

    with ThreadPoolExecutor(4) as pool:
        for client in (a, a, b, b):
            pool.submit(load, client)
        wait_for(lambda: len(accepted) >= 20, "some requests accepted")
        replicas[0].kill9()  # requests are in flight on it now
        after_kill = len(accepted)
        wait_for(lambda: len(accepted) >= after_kill + 20, "the other replica keeps accepting")
        halt.set()

    b.admin("POST", "clock", json={"advance": "10m"})
    assert b.admin("GET", "timers").json()["pending"] == []
    registry = {e["uuid"]: e["status"] for e in b.admin("GET", "registry", params={"limit": 10_000}).json()["uuids"]}
    assert all(registry[u] == "cancelado" for u in accepted)
    wait_for(lambda: all(m["status"] == "sent" for m in sent_mail(b)), "every notification delivered")
    mailed = [m["uuid"] for m in sent_mail(b)]
    assert set(accepted) <= set(mailed) and len(mailed) == len(set(mailed))  # once each
    kept = set(mailed)
    assert kept <= set(accepted) | set(lost)
    delivered = [u for u in inbox.uuids() if u in kept]
    assert sorted(delivered) == sorted(kept)
    replicas[0].start()  # the killed replica comes back on the same database
    assert Client(replicas[0], "x").admin("GET", "health").json()


def serve_on(url: str, tmp_path, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
         "--store", url], capture_output=True, text=True, timeout=120, env=server_env())


def test_a_database_that_cannot_be_reached_stops_the_start_in_one_line(tmp_path, free_port):
    pytest.importorskip("psycopg", reason="the PostgreSQL store is not installed (pip install -e '.[test]')")
    url = f"postgresql://pacmock:s3cret-pw@/pacmock?host={tmp_path}/no-server-here&port=5432"
    result = serve_on(url, tmp_path, free_port)
    assert result.returncode == 2
    assert f"cannot open the database postgresql://pacmock@:5432/pacmock?host={tmp_path}/no-server-here" in result.stderr
    assert "No such file or directory" in result.stderr  # libpq's reason
    assert "s3cret-pw" not in result.stderr + result.stdout


@pytest.mark.parametrize(("userinfo", "query", "secrets", "malformed"), [
    ("pacmock:s3cret-pw", "", ["s3cret-pw"], False),
    ("pacmock", "&password=s3cret-pw", ["s3cret-pw"], False),
    # Not percent-encoded: libpq takes what follows the first @ for the host.
    ("pacmock:hunter@2-pw", "", ["hunter", "2-pw"], True),
    ("pacmock:se%zzcret", "", ["se%zzcret", "zzcret"], True),  # libpq's own message quotes it
    ("pacmock", "&password=se%zzcret", ["se%zzcret", "zzcret"], True),
], ids=["userinfo", "query", "at-sign", "bad-escape", "bad-escape-in-query"])
def test_the_database_password_never_appears_whatever_its_place_in_the_url(tmp_path, free_port, userinfo, query,
                                                                           secrets, malformed):
    pytest.importorskip("psycopg", reason="the PostgreSQL store is not installed (pip install -e '.[test]')")
    url = f"postgresql://{userinfo}@/pacmock?host={tmp_path}/no-server-here&port=5432{query}"
    result = serve_on(url, tmp_path, free_port)
    assert result.returncode == 2
    assert "cannot open the database postgresql://" in result.stderr
    if malformed:
        assert "postgresql://… (malformed URL): malformed PostgreSQL URL" in result.stderr
    else:
        assert "No such file or directory" in result.stderr
    for secret in secrets:
        assert secret not in result.stderr + result.stdout
