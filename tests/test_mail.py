"""The outbox: recorded in the caller's transaction, delivered over SMTP once per claim, admin routes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from mockserver.mail import SCHEMA, Attachment, Mail, Outbox
from mockserver.settings import Settings
from mockserver.store import Store
from mockserver.testing.client import AdminClient

from helpers import smtp_server

AT = datetime(2026, 1, 10, 16, 0, tzinfo=UTC)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        self.received.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = _Inbox()
    with smtp_server(inbox) as controller:
        yield controller, inbox


def _mail(n: int = 1) -> Mail:
    return Mail(to=f"dest{n}@example.mx", subject=f"asunto {n}", body="cuerpo ñ\n",
                headers={"X-Prueba": str(n)}, uuid="abc-" + str(n), provider="test")


def _outbox(store: Store, **settings) -> Outbox:
    return Outbox(store, Settings(memory=True, **settings), backoff_seconds=0.0, max_attempts=3)


def test_record_only_without_smtp():
    store = Store(None, [SCHEMA])
    outbox = _outbox(store)
    with store.tx() as conn:
        outbox.enqueue(conn, "s1", _mail(1), at=AT)
        outbox.enqueue(conn, "s2", _mail(2), at=AT)
    [m] = outbox.messages("s1")
    assert m["status"] == "recorded" and m["to"] == "dest1@example.mx" and m["headers"] == {"X-Prueba": "1"}
    assert m["uuid"] == "ABC-1" and m["created_at"] == AT.isoformat()
    assert outbox.messages("s1", uuid="abc-1") == [m] and outbox.messages("s1", to="DEST1@example.mx") == [m]
    assert outbox.messages("s1", to="other@example.mx") == []
    assert outbox.claim_due() == []  # nothing to deliver
    assert outbox.clear("s1") == 1 and outbox.messages("s1") == [] and len(outbox.messages("s2")) == 1


def test_record_rolls_back_with_the_callers_transaction():
    store = Store(None, [SCHEMA])
    outbox = _outbox(store)
    with pytest.raises(RuntimeError), store.tx() as conn:
        outbox.enqueue(conn, "s", _mail(), at=AT)
        raise RuntimeError("the state change failed")
    assert outbox.messages("s") == []


def test_delivery_over_smtp(smtp):
    controller, inbox = smtp
    store = Store(None, [SCHEMA])
    outbox = _outbox(store, smtp_host="127.0.0.1", smtp_port=controller.port, mail_from="de@pac-mock.test")
    with store.tx() as conn:
        outbox.enqueue(conn, "s", _mail(), at=AT)
    assert outbox.messages("s")[0]["status"] == "pending"
    assert outbox.deliver_due() == 1
    [(rcpt, content)] = inbox.received
    assert rcpt == ["dest1@example.mx"] and b"X-Prueba: 1" in content and b"From: de@pac-mock.test" in content
    [m] = outbox.messages("s")
    assert (m["status"], m["attempts"], m["last_error"]) == ("sent", 1, None) and m["sent_at"]
    assert outbox.deliver_due() == 0  # never twice


def test_attachments_are_recorded_delivered_and_forgotten_with_their_message(smtp):
    from email import message_from_bytes, policy

    controller, inbox = smtp
    store = Store(None, [SCHEMA])
    outbox = _outbox(store, smtp_host="127.0.0.1", smtp_port=controller.port)
    files = (Attachment("f.xml", "application/xml", b"<a/>"), Attachment("f.pdf", "application/pdf", b"%PDF-1"))
    with store.tx() as conn:
        outbox.enqueue(conn, "s", Mail(to="a@example.mx, b@example.mx", subject="s", body="b\n",
                                       attachments=files), at=AT)  # fmt: skip
    [m] = outbox.messages("s")
    assert m["attachments"] == [{"filename": "f.xml", "content_type": "application/xml", "size": 4},
                                {"filename": "f.pdf", "content_type": "application/pdf", "size": 6}]  # fmt: skip
    assert outbox.deliver_due() == 1
    [(rcpt, content)] = inbox.received
    assert rcpt == ["a@example.mx", "b@example.mx"]
    parts = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
             for p in message_from_bytes(content, policy=policy.default).iter_attachments()]  # fmt: skip
    assert parts == [("f.xml", "application/xml", b"<a/>"), ("f.pdf", "application/pdf", b"%PDF-1")]
    assert outbox.clear("s") == 1
    with store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox_attachments").fetchone()[0] == 0


def test_retries_with_backoff_then_fails_keeping_the_record(free_port):
    store = Store(None, [SCHEMA])
    outbox = _outbox(store, smtp_host="127.0.0.1", smtp_port=free_port)  # nobody listens there
    outbox.smtp_timeout = 2
    with store.tx() as conn:
        outbox.enqueue(conn, "s", _mail(), at=AT)
    for expected in ("pending", "pending", "failed"):
        assert outbox.deliver_due() == 0
        m = outbox.messages("s")[0]
        assert m["status"] == expected and "ConnectionRefused" in m["last_error"]
    assert m["attempts"] == 3 and outbox.claim_due() == []


def test_backoff_delays_the_next_attempt(free_port):
    store = Store(None, [SCHEMA])
    outbox = Outbox(store, Settings(memory=True, smtp_host="127.0.0.1", smtp_port=free_port),
                    backoff_seconds=60)
    with store.tx() as conn:
        outbox.enqueue(conn, "s", _mail(), at=AT)
    outbox.deliver_due()
    assert outbox.claim_due() == []  # the next try is a minute away
    assert outbox.messages("s")[0]["status"] == "pending"


def test_several_processes_never_claim_one_row_twice(tmp_path):
    path = tmp_path / "shared.sqlite3"
    settings = Settings(smtp_host="127.0.0.1", smtp_port=1)
    writer = Outbox(Store(path, [SCHEMA]), settings)
    with writer.store.tx() as conn:
        for n in range(200):
            writer.enqueue(conn, "s", _mail(n), at=AT)
    workers = [Outbox(Store(path, [SCHEMA]), settings) for _ in range(4)]
    claimed: list[list[int]] = [[] for _ in workers]

    def drain(i: int) -> None:
        while batch := workers[i].claim_due(limit=7):
            claimed[i].extend(r["id"] for r in batch)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for c in claimed for i in c]
    assert len(ids) == 200 and len(set(ids)) == 200


def test_an_abandoned_claim_is_taken_again():
    store = Store(None, [SCHEMA])
    outbox = Outbox(store, Settings(memory=True, smtp_host="127.0.0.1"), claim_seconds=0)
    with store.tx() as conn:
        outbox.enqueue(conn, "s", _mail(), at=AT)
    assert len(outbox.claim_due()) == 1
    time.sleep(0.01)
    [again] = outbox.claim_due()
    assert again["attempts"] == 2


def test_admin_routes_and_the_client_helper(server, sandbox):
    from mockserver.mail import outbox_for

    client = AdminClient(server.url, session=sandbox.session)
    outbox = outbox_for(server.runtime)
    assert client.mail.messages() == []
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="0 of 1 messages"):
        client.mail.wait(count=1, timeout=0.3)
    assert time.monotonic() - started >= 0.3

    def later() -> None:
        time.sleep(0.2)
        with server.runtime.store.tx() as conn:
            outbox.enqueue(conn, sandbox.session, _mail(1), at=AT)
            outbox.enqueue(conn, sandbox.session, _mail(2), at=AT)

    threading.Thread(target=later).start()
    found = client.mail.wait(count=2, timeout=10)
    assert [m["to"] for m in found] == ["dest1@example.mx", "dest2@example.mx"]
    assert [m["subject"] for m in client.mail.messages(to="dest2@example.mx")] == ["asunto 2"]
    assert len(client.mail.messages(uuid="ABC-1")) == 1
    other = AdminClient(server.url, session=sandbox.session + "x")
    assert other.mail.messages() == []  # sessions are separate
    r = sandbox.admin("GET", "mail/wait", params={"count": "many"})
    assert r.status_code == 400
    client.mail.clear()
    assert client.mail.messages() == []
