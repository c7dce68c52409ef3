"""The journal's group commit: entries of concurrent calls share a write transaction, and each call
returns only once its own entry is committed (readable from another connection at once)."""

from __future__ import annotations

import http.client
import logging
import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from mockserver.journal import Entry, Journal, JournalError
from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.store import Store


def _entry(n: int) -> Entry:
    return Entry(session="s", at=datetime.now(UTC), method="POST", path=f"/p/{n}", status=200,
                 summary={"n": n, "request_id": f"REQ-{n}"}, request=f"<r><password>secret{n}</password></r>")


def test_every_concurrent_entry_is_committed_when_record_returns(tmp_path):
    writer = Store(tmp_path / "db.sqlite")
    other = Store(tmp_path / "db.sqlite")  # another worker process's view of the same file
    journal = Journal(writer)
    seen: dict[int, int] = {}
    missing: list[int] = []
    start = threading.Barrier(16)

    def call(n: int) -> None:
        start.wait()
        for k in range(20):
            new_id = journal.record(_entry(n * 100 + k))
            with other.read() as conn:
                row = conn.execute("SELECT path, request FROM journal WHERE id=?", (new_id,)).fetchone()
            if row is None or row["path"] != f"/p/{n * 100 + k}":
                missing.append(n * 100 + k)
            seen[new_id] = n * 100 + k

    threads = [threading.Thread(target=call, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert missing == []
    assert len(seen) == 16 * 20  # every call got its own id
    assert Journal(other).count("s") == 16 * 20
    assert all("secret" not in e["request"] for e in Journal(other).query("s", limit=1000))


def _refuse(store: Store, when: str, event: str = "INSERT") -> None:
    """Make the database refuse one kind of journal statement (``when``: a condition on NEW/OLD)."""
    with store.tx() as conn:
        if store.shared:  # PostgreSQL
            conn.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
            )
            conn.execute(f"CREATE TRIGGER refuse BEFORE {event} ON journal FOR EACH ROW "
                         f"WHEN ({when}) EXECUTE FUNCTION refuse()")
        else:
            conn.execute(f"CREATE TRIGGER refuse BEFORE {event} ON journal WHEN {when} "
                         "BEGIN SELECT RAISE(ABORT, 'refused'); END")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    target = str(tmp_path / "db.sqlite") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = Store(target)
    yield opened
    opened.close()


def _in_one_batch(journal: Journal, work: list) -> dict[int, object]:
    """Run each ``work[i]()`` on its own thread, all of their entries queued before any is written (one
    batch of the group commit); what each returned or raised."""
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            results[i] = work[i]()
        except BaseException as exc:  # what each caller got, whatever it is
            results[i] = exc

    with journal._flush_lock:  # nobody writes until every entry waits in the queue
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
        for t in threads:
            t.start()
        while len(journal._queue) < len(work):
            time.sleep(0.001)
    for t in threads:
        t.join()
    return results


def test_one_refused_entry_fails_only_its_own_caller(store):
    journal = Journal(store)
    _refuse(store, "NEW.path = '/p/3'")
    results = _in_one_batch(journal, [lambda n=n: journal.record(_entry(n)) for n in range(8)])
    assert isinstance(results[3], Exception) and "refused" in str(results[3])
    assert all(isinstance(results[n], int) for n in range(8) if n != 3)
    assert sorted(e["path"] for e in journal.query("s")) == sorted(f"/p/{n}" for n in range(8) if n != 3)


def test_a_failed_write_raises_in_its_caller_and_writes_nothing(store):
    journal = Journal(store)
    _refuse(store, "NEW.path = '/p/1'")
    with pytest.raises(Exception, match="refused"):
        journal.record(_entry(1))
    assert journal.count("s") == 0
    assert journal.record(_entry(2)) > 0  # the next call writes again


def test_a_nul_in_any_text_is_journaled_readable(store):
    journal = Journal(store)
    entry = Entry(session="s", at=datetime.now(UTC), method="PO\x00ST",
                  path="/ws/services/Cancelacion.CancelacionHttpsEndpoint/x\x00y", operation="op\x00",
                  summary={"note": "a\x00b"}, request="<a>\x00</a>", response="\x00")
    journal.record(entry)
    [row] = journal.query("s")
    assert row["path"] == "/ws/services/Cancelacion.CancelacionHttpsEndpoint/x\ufffdy"
    assert (row["method"], row["operation"]) == ("PO\ufffdST", "op\ufffd")
    assert row["summary"] == {"note": "a\x00b"}  # JSON escapes it
    assert (row["request"], row["response"]) == ("<a>\ufffd</a>", "\ufffd")


def test_a_failed_trim_keeps_the_batch_and_is_logged(store, caplog):
    journal = Journal(store, limit=1)
    _refuse(store, "OLD.id > 0", event="DELETE")
    journal.record(_entry(0))
    journal._writes = 199  # the next write trims
    with caplog.at_level(logging.ERROR, logger="mockserver.journal"):
        assert journal.record(_entry(1)) > 0
    assert journal.count("s") == 2
    assert "trim" in caplog.text


def test_an_interrupted_write_fails_every_caller_of_the_batch_clearly(tmp_path, monkeypatch):
    class Interrupted(BaseException):
        pass

    journal = Journal(Store(tmp_path / "db.sqlite"))

    def append():
        raise Interrupted

    monkeypatch.setattr(journal.store, "append", append)
    results = _in_one_batch(journal, [lambda n=n: journal.record(_entry(n)) for n in range(4)])
    assert sum(isinstance(r, Interrupted) for r in results.values()) == 1  # the writer's own
    others = [r for r in results.values() if not isinstance(r, Interrupted)]
    assert all(isinstance(r, JournalError) for r in others), others
    monkeypatch.undo()
    assert journal.record(_entry(9)) > 0


def test_the_journal_refuses_to_write_inside_a_transaction_of_its_thread(store):
    journal = Journal(store)
    assert not store.in_transaction()
    with store.tx():
        assert store.in_transaction()
        with pytest.raises(JournalError, match="transaction"):
            journal.record(_entry(1))
    assert not store.in_transaction()
    assert journal.record(_entry(2)) > 0
    assert [e["path"] for e in journal.query("s")] == ["/p/2"]


def test_mentions_finds_a_text_among_the_latest_entries_only(tmp_path):
    journal = Journal(Store(tmp_path / "db.sqlite"))
    for n in range(5):
        journal.record(_entry(n))
    assert [e["summary"]["n"] for e in journal.query("s", limit=5, mentions="req-1")] == [1]
    assert journal.query("s", limit=3, mentions="req-1") == []  # older than the look-back
    assert journal.query("s", limit=5, mentions="%") == []  # a wildcard is a character like any other
    assert journal.query("s", limit=5, mentions="REQ_") == []


def test_a_request_with_a_nul_in_its_path_is_journaled_on_postgresql(postgres_url, tmp_path):
    with BackgroundServer(Settings(port=0, store=postgres_url, data_dir=tmp_path)) as server:
        host, port = server.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/ws/services/Cancelacion.CancelacionHttpsEndpoint/x%00y", body=b"<a/>",
                     headers={"Content-Type": "text/xml; charset=utf-8"})
        answer = conn.getresponse().read()
        conn.close()
        journal = requests.get(f"{server.url}/__admin/requests", timeout=30).json()["requests"]
    assert b"<faultstring>Unknown operation a " in answer  # the provider's own fault, not a stack trace
    assert [e["path"] for e in journal] == ["/ws/services/Cancelacion.CancelacionHttpsEndpoint/x\ufffdy"]
