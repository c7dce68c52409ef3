"""SQLite writers of several processes take turns on a file lock, not on SQLite's busy handler."""

from __future__ import annotations

import fcntl
import gc
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from mockserver import store as store_module
from mockserver.store import Store


def _holding_the_turn(store: Store):
    """Another process's writer, as far as this one can tell: the same lock on another open file."""
    fd = os.open(store.path.with_name(store.path.name + ".writer"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_writer_waits_for_the_turn_and_goes_on_within_milliseconds_of_its_release(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    fd = _holding_the_turn(store)
    done = threading.Event()
    ended_at: list[float] = []

    def write() -> None:
        store.increment("s", "k")
        ended_at.append(time.monotonic())
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert not done.wait(0.3)  # it waits while the other writer holds the turn
    released_at = time.monotonic()
    os.close(fd)
    assert done.wait(5)
    # SQLite's busy handler would look again only after up to 100 ms; the turn is looked at each ms.
    # A generous bound, for a loaded machine: what matters is that it went on, not how fast.
    assert ended_at[0] - released_at < 1.0
    assert store.counter("s", "k") == 1


def test_a_writer_that_never_gets_the_turn_fails_like_a_locked_database(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "WRITE_WAIT_S", 0.2)
    store = Store(tmp_path / "db.sqlite3")
    fd = _holding_the_turn(store)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            store.increment("s", "k")
    finally:
        os.close(fd)
    assert store.increment("s", "k") == 1  # nothing half-done was left behind


def test_writers_of_two_processes_take_turns(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = Store(path)
    child = (
        "import sys; from mockserver.store import Store\n"
        "with Store(sys.argv[1]).tx() as conn:\n"
        "    conn.execute(\"INSERT INTO counters(session, key, n) VALUES ('s', 'child', 1)\")\n"
        "print('in', flush=True)\n"
    )
    with store.tx():
        # Another worker process starts writing while this one holds the write turn.
        other = subprocess.Popen([sys.executable, "-c", child, str(path)], stdout=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=1.0)  # it waits for its turn
    out, _ = other.communicate(timeout=30)
    assert out == "in\n" and other.returncode == 0
    assert store.counter("s", "child") == 1


def test_a_store_dropped_without_close_leaves_no_descriptor_open(tmp_path):
    fds = len(os.listdir("/proc/self/fd"))
    for i in range(20):
        Store(tmp_path / f"db{i}.sqlite3").increment("s", "k")  # each opens its writer lock file
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= fds + 1
