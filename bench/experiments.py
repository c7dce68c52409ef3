"""App factories for measured what-ifs: the served app with one change, to size a proposed fix.

Used by the WSGI server comparison (``bench/run.py``); nothing here is used by the sandbox itself.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from mockserver import store
from mockserver.app import create_app_from_env


def create_app_serialized_writes():
    """The app, with the write transactions of one process queued on a Python lock.

    Threads of one worker then wait for each other on a lock that wakes the next one at once,
    instead of polling SQLite's write lock (SQLite's busy handler sleeps 1, 2, 5, 10 … 100 ms
    between tries, which shows up as p99 latency). Processes still share SQLite's lock.
    """
    original = store.Store.tx
    lock = threading.RLock()  # re-entrant: a nested tx joins the outer one in the same thread

    @contextmanager
    def tx(self):
        with lock, original(self) as conn:
            yield conn

    store.Store.tx = tx
    return create_app_from_env()
