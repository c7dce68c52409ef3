"""What every store promises, on SQLite and on PostgreSQL alike.

Two Store objects on one database stand for two processes (or two replicas): each has its own
connections, so a guarantee that holds between them holds between processes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mockserver import mail
from mockserver.clock import Clock
from mockserver.journal import Entry, Journal
from mockserver.providers import all_providers
from mockserver.settings import Settings
from mockserver.store import Store
from mockserver.timers import SCHEMA as TIMERS_SCHEMA
from mockserver.timers import Timers

SCHEMAS = [TIMERS_SCHEMA, mail.SCHEMA, *(p.schema for p in all_providers() if p.schema)]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path) -> Callable[[], Store]:
    """Opens another Store on the test's one database (a fresh SQLite file or PostgreSQL database)."""
    target = str(tmp_path / "state.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened: list[Store] = []

    def open_one() -> Store:
        store = Store(target, SCHEMAS)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def together(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` for i in range(n) on n threads released at the same moment; their results."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_a_postgresql_url_opens_the_postgresql_store(open_store, request):
    store = open_store()
    kind = type(store).__name__
    assert kind == ("PgStore" if request.node.callspec.params["open_store"] == "postgresql" else "Store")
    assert store.shared is (kind == "PgStore")
    assert {"journal", "timers", "claims", "outbox", "sf_cancellations", "mysuite_jobs"} <= set(store.tables())


def test_a_claim_has_exactly_one_winner_across_processes(open_store):
    stores = [open_store(), open_store()]
    results = together(20, lambda i: stores[i % 2].claim("s1", "folio", "F-1", f"request-{i}"))
    winners = [value for won, value in results if won]
    assert len(winners) == 1
    assert {value for _won, value in results} == {winners[0]}  # the losers see the winner's value


def test_counters_lose_no_increment(open_store):
    stores = [open_store(), open_store()]
    together(10, lambda i: [stores[i % 2].increment("s1", "calls") for _ in range(5)])
    assert stores[0].counter("s1", "calls") == 50
    assert stores[1].increment("s1", "calls", by=7) == 57


def test_a_server_value_is_made_once(open_store):
    stores = [open_store(), open_store()]
    values = together(8, lambda i: stores[i % 2].server_value("secret", lambda: f"made-{i}"))
    assert len(set(values)) == 1


def test_a_failed_transaction_leaves_nothing_and_a_nested_one_joins_it(open_store):
    store = open_store()
    with pytest.raises(RuntimeError), store.tx():
        assert store.claim("s", "scope", "k", "v") == (True, "v")  # claim's own tx() joins this one
        with store.tx():  # so does this: it commits nothing of its own
            store.increment("s", "calls")
        raise RuntimeError("the handler failed")
    assert store.claim("s", "scope", "k", "again") == (True, "again")
    assert store.counter("s", "calls") == 0


def test_a_read_inside_a_transaction_sees_its_own_writes_and_others_do_not(open_store):
    store, other = open_store(), open_store()
    with store.tx():
        store.increment("s", "calls", by=3)
        assert store.counter("s", "calls") == 3  # read() on this thread: the transaction's connection
        assert other.counter("s", "calls") == 0  # another process: not committed yet
    assert other.counter("s", "calls") == 3


def test_rows_read_by_name_and_position_and_statements_say_what_they_did(open_store):
    store = open_store()
    with store.tx() as conn:
        inserted = conn.execute(
            "INSERT INTO counters(session, key, n) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING n",
            ("s", "k", 41),
        ).fetchone()
        ignored = conn.execute(
            "INSERT INTO counters(session, key, n) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", ("s", "k", 1)
        ).rowcount
        updated = conn.execute("UPDATE counters SET n = n + 1 WHERE session = ? AND key LIKE 'k%'", ("s",)).rowcount
    with store.read() as conn:
        row = conn.execute("SELECT key, n, n * 0.5 AS half FROM counters WHERE session = ?", ("s",)).fetchone()
    assert (inserted[0], ignored, updated) == (41, 0, 1)
    assert (row["key"], row[1], row["half"]) == ("k", 42, 21.0)
    assert dict(row) == {"key": "k", "n": 42, "half": 21.0} and list(row) == ["k", 42, 21.0]


def test_a_reset_forgets_one_session_and_keeps_the_server_state(open_store):
    store = open_store()
    store.server_value("secret", lambda: "kept")
    store.claim("a", "scope", "k", "v")
    store.claim("b", "scope", "k", "v")
    store.reset("a")
    assert store.claim("a", "scope", "k", "new") == (True, "new")
    assert store.claim("b", "scope", "k", "new") == (False, "v")
    store.reset()
    assert store.claim("b", "scope", "k", "new") == (True, "new")
    assert store.server_value("secret", lambda: "remade") == "kept"


def test_each_timer_fires_exactly_once_with_its_handlers_changes(open_store):
    """Two processes fire the same due timers at once: each fires once, and the handler's change is
    committed with the mark (the handler bumps a counter in the timer's own transaction)."""
    stores = [open_store(), open_store()]
    clock = Clock()
    timers = [Timers(store, lambda _session: clock) for store in stores]
    for t in timers:
        t.register("bump", lambda firing: firing.conn.execute(
            "INSERT INTO counters(session, key, n) VALUES (?, ?, 1) "
            "ON CONFLICT(session, key) DO UPDATE SET n = counters.n + 1",
            (firing.session, firing.payload["key"])))
    due = datetime.now(UTC) - timedelta(seconds=1)
    with stores[0].tx() as conn:
        for i in range(30):
            timers[0].schedule(conn, "s1", "bump", due, {"key": f"t{i}"})
    fired = together(4, lambda i: timers[i % 2].fire_due("s1"))
    assert sum(fired) == 30
    assert all(stores[1].counter("s1", f"t{i}") == 1 for i in range(30))
    assert timers[1].pending("s1") == []


def test_a_failing_timer_handler_leaves_no_change_and_is_retried(open_store):
    store = open_store()
    timers = Timers(store, lambda _session: Clock())

    def half_done(firing):
        firing.conn.execute("INSERT INTO counters(session, key, n) VALUES (?, 'half', 1)", (firing.session,))
        raise ValueError("broke midway")

    timers.register("half", half_done)
    with store.tx() as conn:
        timers.schedule(conn, "s1", "half", datetime.now(UTC) - timedelta(seconds=1), {"folio": "7"})
    assert timers.fire_due("s1") == 0
    assert store.counter("s1", "half") == 0
    [pending] = timers.pending("s1")
    assert pending["attempts"] == 1 and "broke midway" in pending["last_error"]
    with store.tx() as conn:  # cancel matches on a payload field (json_extract)
        assert timers.cancel(conn, "s1", "half", folio="8") == 0
        assert timers.cancel(conn, "s1", "half", folio="7") == 1


def test_each_mail_is_claimed_for_delivery_exactly_once(open_store):
    stores = [open_store(), open_store()]
    settings = Settings(smtp_host="127.0.0.1")
    outboxes = [mail.Outbox(store, settings) for store in stores]
    with stores[0].tx() as conn:
        for i in range(40):
            outboxes[0].enqueue(conn, "s1", mail.Mail(to=f"u{i}@example.com", subject="s", body="b",
                                                      attachments=(mail.Attachment("a.xml", "text/xml", b"<a/>"),)),
                                at=datetime.now(UTC))

    def claim_all(i: int) -> list[int]:
        taken = []
        while batch := outboxes[i % 2].claim_due(limit=3):
            taken += [row["id"] for row in batch]
        return taken

    claimed = Counter(mid for ids in together(4, claim_all) for mid in ids)
    assert len(claimed) == 40 and set(claimed.values()) == {1}
    [listed] = outboxes[1].messages("s1", to="u3@example.com")
    assert listed["attachments"] == [{"filename": "a.xml", "content_type": "text/xml", "size": 4}]


def test_the_journal_stays_bounded(open_store):
    store = open_store()
    journal = Journal(store, limit=50)
    ids = [journal.record(Entry("s1", datetime.now(UTC), "POST", "/x", status=200)) for _ in range(420)]
    assert ids == sorted(ids) and len(set(ids)) == 420
    kept = journal.count("s1")
    assert kept < 420 and kept <= 50 + 200  # trimmed every 200 writes
    assert journal.query("s1", limit=1)[0]["id"] == ids[-1]


def test_replicas_starting_together_apply_the_schema_once(postgres_url):
    url = postgres_url
    stores = together(4, lambda _i: Store(url, SCHEMAS))
    try:
        with stores[0].read() as conn:
            applied = conn.execute("SELECT COUNT(*), COUNT(DISTINCT digest) FROM schema_migrations").fetchone()
        assert applied[0] == applied[1] > 10
        assert stores[0].migrate(SCHEMAS) == 0
        assert stores[0].migrate([*SCHEMAS, "ALTER TABLE claims ADD COLUMN note TEXT"]) == 1
        assert stores[1].migrate([*SCHEMAS, "ALTER TABLE claims ADD COLUMN note TEXT"]) == 0
    finally:
        for store in stores:
            store.close()


def test_documents_kept_as_rows_are_read_by_every_process(open_store):
    from mockserver.providers.mysuite.models import Blobs

    stores = [open_store(), open_store()]
    document = bytes(range(256)) * 4096  # 1 MiB, every byte value
    with stores[0].tx() as conn:
        Blobs(stores[0], None).put(conn, "s1", "abc123", "native", document)
    with stores[0].tx() as conn:  # written again: replaced, not doubled
        Blobs(stores[0], None).put(conn, "s1", "abc123", "native", document[::-1])
    assert Blobs(stores[1], None).get("s1", "abc123", "native") == document[::-1]
    with stores[1].tx() as conn:
        Blobs(stores[1], None).delete(conn, "s1", "abc123", "native")
    assert Blobs(stores[0], None).get("s1", "abc123", "native") is None


def test_journal_entries_written_at_once_by_two_processes_are_all_kept(open_store):
    """The journal writes outside the write lock on PostgreSQL (Store.append): nothing is lost or merged."""
    journals = [Journal(open_store(), limit=10_000), Journal(open_store(), limit=10_000)]
    ids = together(8, lambda i: [journals[i % 2].record(Entry("s1", datetime.now(UTC), "POST", f"/p{i}", status=200))
                                 for _ in range(10)])
    flat = [n for batch in ids for n in batch]
    assert len(set(flat)) == 80
    assert journals[0].count("s1") == 80
    assert {e["path"] for e in journals[1].query("s1", limit=100)} == {f"/p{i}" for i in range(8)}


def test_postgresql_writes_are_as_durable_as_sqlite_wal_and_hold_no_session_state(postgres_url):
    setting = "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'"
    store = Store(postgres_url, SCHEMAS)
    try:
        with store.tx() as conn:  # SQLite's synchronous=NORMAL: no wait for the disk at commit
            assert tuple(conn.execute(setting).fetchone()) == ("off", "session")
        with store.read() as conn:  # SET LOCAL: gone with the transaction (PgBouncer may share connections)
            assert conn.execute(setting).fetchone()["source"] != "session"
    finally:
        store.close()


def test_writers_queued_behind_another_replicas_lock_leave_connections_for_reads(postgres_url):
    """Writers of one process wait for the write lock one at a time (as on SQLite), not one per pooled
    connection: with more writers waiting than the pool has connections, a read still gets one."""
    from mockserver.store_pg import POOL_SIZE

    holder, store = Store(postgres_url, SCHEMAS), Store(postgres_url, SCHEMAS)
    held, release = threading.Event(), threading.Event()
    started = threading.Semaphore(0)
    writers = POOL_SIZE + 4

    def hold() -> None:
        with holder.tx():
            held.set()
            release.wait()

    def write(i: int) -> None:
        started.release()
        store.claim("s1", "folio", f"F-{i}", "mine")

    threads = [threading.Thread(target=hold)] + [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    try:
        threads[0].start()
        held.wait()
        for t in threads[1:]:
            t.start()
        for _ in range(writers):
            started.acquire()
        with holder.read() as conn:  # a writer of `store` waits on the database's lock
            while not conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                   ).fetchone()[0]:
                threading.Event().wait(0.01)
        threading.Event().wait(0.2)  # the other writers reach the point where they wait
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    finally:
        release.set()
        for t in threads:
            t.join()
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM claims WHERE value = 'mine'").fetchone()[0] == writers
    holder.close()
    store.close()


def test_the_error_that_ended_a_transaction_is_raised_even_when_its_connection_broke(postgres_url):
    store, other = Store(postgres_url, SCHEMAS), Store(postgres_url, SCHEMAS)
    try:
        with pytest.raises(LookupError, match="the handler's own error"), store.tx() as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            with other.read() as killer:  # the connection dies under the transaction (a restart, a proxy)
                killer.execute("SELECT pg_terminate_backend(?)", (pid,))
            raise LookupError("the handler's own error")
        assert store.claim("s1", "folio", "F-1", "after")[0]  # the pool replaced the broken connection
    finally:
        store.close()
        other.close()


def test_placeholders_become_psycopgs_outside_quoted_literals_only():
    pytest.importorskip("psycopg", reason="the PostgreSQL store is not installed (pip install -e '.[test]')")
    from mockserver.store_pg import to_psycopg

    assert to_psycopg("SELECT a FROM t WHERE b = ? AND c LIKE 'x:%'") == "SELECT a FROM t WHERE b = %s AND c LIKE 'x:%%'"
    assert to_psycopg("SELECT '?', 'it''s ?', \"odd?\" FROM t WHERE d = ?") == \
        "SELECT '?', 'it''s ?', \"odd?\" FROM t WHERE d = %s"
    assert to_psycopg("SELECT 5 % ?, '%?'") == "SELECT 5 %% %s, '%%?'"


def test_a_question_mark_inside_a_literal_is_text_on_both_engines(open_store):
    store = open_store()
    with store.read() as conn:
        row = conn.execute("SELECT 'why?' AS q, 'it''s 100%' AS r, ? AS p", ("v",)).fetchone()
    assert (row["q"], row["r"], row["p"]) == ("why?", "it's 100%", "v")
