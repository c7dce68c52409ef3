"""The journal's group commit: entries of concurrent calls share a write transaction, and each call
returns only once its own entry is committed (readable from another connection at once)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from mockserver.journal import Entry, Journal
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


def test_a_failed_batch_raises_in_every_caller_and_writes_nothing(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    journal = Journal(store)
    with store.tx() as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'full'); END")
    with pytest.raises(Exception, match="full"):
        journal.record(_entry(1))
    with store.tx() as conn:
        conn.execute("DROP TRIGGER refuse")
    assert journal.count("s") == 0
    assert journal.record(_entry(2)) > 0  # the next call writes again


def test_mentions_finds_a_text_among_the_latest_entries_only(tmp_path):
    journal = Journal(Store(tmp_path / "db.sqlite"))
    for n in range(5):
        journal.record(_entry(n))
    assert [e["summary"]["n"] for e in journal.query("s", limit=5, mentions="req-1")] == [1]
    assert journal.query("s", limit=3, mentions="req-1") == []  # older than the look-back
    assert journal.query("s", limit=5, mentions="%") == []  # a wildcard is a character like any other
    assert journal.query("s", limit=5, mentions="REQ_") == []
