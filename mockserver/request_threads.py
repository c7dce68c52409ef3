"""The threads that run a worker's calls: a few at once, and stand-ins for calls that wait.

A worker needs many threads so that calls which wait (a scenario delay, a mail wait, a status query
waiting for a conversion) do not hold back other clients. But threads that all want the CPU at once
only fight over the GIL: with 16 connections, 256 threads per worker served about 410 SF calls a
second and 2 about 630; a semaphore in front of 256 threads, 370 (bench, docs/performance.md). So
only ``active`` threads take calls, and a call about to wait steps ``away()``: while it waits, a
stand-in takes calls in its place, up to ``most`` threads in all. When it comes back there is one
taker too many, and the next to finish a call leaves.

The front of ``pac-mock serve`` has one per worker. ``away()`` finds the calling thread's own;
called from any other thread (the in-process test server, background work, tools) it does nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("pac_mock.threads")


class RequestThreads:
    def __init__(self, active: int, most: int) -> None:
        if not 1 <= active <= most:
            raise ValueError("request threads: need 1 <= active <= most")
        self.active = active
        self.most = most
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._takers = 0  # threads taking calls (running one or waiting for one), not away
        self._threads = 0  # all of them, those away included

    def submit(self, call: Callable[[], None]) -> None:
        """Run ``call`` in a taker thread; it reports its own outcome (exceptions are logged)."""
        self._calls.put(call)
        self._staff()

    @property
    def counts(self) -> tuple[int, int]:
        """(takers, threads) now: for tests and the curious."""
        with self._lock:
            return self._takers, self._threads

    def _staff(self) -> None:
        with self._lock:
            while self._takers < self.active and self._threads < self.most:
                self._takers += 1
                self._threads += 1
                threading.Thread(target=self._take, name="pac-mock-request", daemon=True).start()

    def _take(self) -> None:
        _mine.threads = self
        _mine.taking = True
        while True:
            call = self._calls.get()
            try:
                call()
            except BaseException:  # a call reports its own errors; this keeps the thread alive
                log.exception("request thread: a call raised")
            with self._lock:
                if self._takers > self.active:  # one came back from a wait: this one leaves
                    self._takers -= 1
                    self._threads -= 1
                    return

    @contextmanager
    def away(self) -> Iterator[None]:
        """The block waits (sleeps, blocks on a lock): a stand-in takes calls meanwhile."""
        if getattr(_mine, "threads", None) is not self or not _mine.taking:
            yield  # not one of ours, or already away
            return
        _mine.taking = False
        with self._lock:
            self._takers -= 1
        self._staff()
        try:
            yield
        finally:
            with self._lock:
                self._takers += 1
            _mine.taking = True


# What the current thread is: a taker of which RequestThreads, and whether it is taking calls now.
_mine = threading.local()


@contextmanager
def away() -> Iterator[None]:
    """Around a wait in a call: lets another call run meanwhile (nothing outside request threads)."""
    threads = getattr(_mine, "threads", None)
    if threads is None:
        yield
        return
    with threads.away():
        yield
