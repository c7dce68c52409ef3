"""The threads that run a worker's calls: a few at once, and stand-ins for calls that wait.

A worker needs many threads so that calls which wait (a scenario delay, a mail wait, a status query
waiting for a conversion) do not hold back other clients. But threads that all want the CPU at once
only fight over the GIL: with 16 connections, 256 threads per worker served about 410 SF calls a
second and 2 about 630; a semaphore in front of 256 threads, 370 (bench, docs/performance.md). So
only ``active`` threads take calls, and a call about to wait steps ``away()``: while it waits, a
stand-in takes calls in its place, up to ``most`` threads in all. When it comes back there is one
taker too many, and the next to finish a call leaves.

A call that runs long without saying so (a large conversion, a write lock held by another process)
must not hold back the calls queued behind it either: when calls are queued, a taker whose call has
run longer than ``patience`` is counted out as if it had stepped away, and a stand-in starts.

The front of ``pac-mock serve`` has one per worker. ``away()`` finds the calling thread's own;
called from any other thread (the in-process test server, background work, tools) it does nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("pac_mock.threads")

# A call that has run this long while others queue gets a stand-in (an SF call takes 2-3 ms); the
# watch looks twice as often, so a queued call waits at most about 1.5x this for a long one.
PATIENCE_S = 0.02


class _Member:
    """One thread: whether it counts as a taker now, and since when its call runs."""

    __slots__ = ("since", "taking")

    def __init__(self) -> None:
        self.taking = True
        self.since: float | None = None


class RequestThreads:
    def __init__(self, active: int, most: int, patience: float = PATIENCE_S) -> None:
        if not 1 <= active <= most:
            raise ValueError("request threads: need 1 <= active <= most")
        self.active = active
        self.most = most
        self.patience = patience
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._takers = 0  # threads taking calls (running one or waiting for one), not away
        self._members: set[_Member] = set()  # every thread, those away included
        self._queued = threading.Event()  # wakes the watch; an idle worker's watch sleeps
        self._start_failed = False
        # The threads and the watch live as long as the process (one per worker, never closed).
        watcher = threading.Thread(target=_watch, args=(weakref.ref(self), patience), daemon=True)
        watcher.name = "pac-mock-request-watch"
        watcher.start()

    def submit(self, call: Callable[[], None]) -> None:
        """Run ``call`` in a taker thread; it reports its own outcome (exceptions are logged)."""
        self._calls.put(call)
        self._queued.set()
        self._staff()

    @property
    def counts(self) -> tuple[int, int]:
        """(takers, threads) now: for tests and the curious."""
        with self._lock:
            return self._takers, len(self._members)

    def _staff(self) -> None:
        with self._lock:
            while self._takers < self.active and len(self._members) < self.most:
                member = _Member()
                thread = threading.Thread(target=self._take, args=(member,), name="pac-mock-request", daemon=True)
                try:
                    thread.start()
                except RuntimeError as exc:  # no thread to be had (a pids limit): queued calls wait
                    if not self._start_failed:
                        log.error("request threads: cannot start a thread (%s); calls wait for one", exc)
                    self._start_failed = True
                    return
                self._start_failed = False
                self._takers += 1
                self._members.add(member)

    def _take(self, me: _Member) -> None:
        _mine.threads, _mine.me = self, me
        while True:
            call = self._calls.get()
            with self._lock:
                me.since = time.monotonic()
            try:
                call()
            except BaseException:  # a call reports its own errors; this keeps the thread alive
                log.exception("request thread: a call raised")
            # Let go of the call now, not at the next one: it holds the request and its answer, and
            # the server cuts a broken answer's connection only once nothing refers to it.
            del call
            with self._lock:
                me.since = None
                if not me.taking:  # counted out while its call ran long: back now
                    me.taking = True
                    self._takers += 1
                if self._takers > self.active:  # one came back from a wait: this one leaves
                    self._takers -= 1
                    self._members.discard(me)
                    return

    def _count_out_slow(self) -> None:
        """Calls are queued: the taker whose call has run longest, if over ``patience``, gets a
        stand-in (one per look, so that a machine merely busy does not grow threads by the dozen)."""
        now = time.monotonic()
        with self._lock:
            running = [(m.since, m) for m in self._members if m.taking and m.since is not None]
            if not running:
                return
            since, slowest = min(running, key=lambda pair: pair[0])
            if now - since <= self.patience:
                return
            slowest.taking = False
            self._takers -= 1
        self._staff()

    @contextmanager
    def away(self) -> Iterator[None]:
        """The block waits (sleeps, blocks on a lock): a stand-in takes calls meanwhile."""
        me = getattr(_mine, "me", None)
        if me is None or getattr(_mine, "threads", None) is not self:
            yield  # not one of ours
            return
        with self._lock:
            stepped = me.taking  # else already away, or counted out as slow
            if stepped:
                me.taking = False
                self._takers -= 1
        try:
            if stepped:
                self._staff()
            yield
        finally:
            if stepped:
                with self._lock:
                    me.taking = True
                    me.since = time.monotonic()  # its wait is not running time
                    self._takers += 1


def _watch(threads_ref: weakref.ref[RequestThreads], patience: float) -> None:
    while True:
        threads = threads_ref()
        if threads is None:
            return  # never used, and gone
        queued = threads._queued
        del threads
        queued.wait()
        time.sleep(patience / 2)
        threads = threads_ref()
        if threads is None:
            return
        if threads._calls.empty():
            queued.clear()  # a call put meanwhile is taken all the same; the next submit wakes us
        else:
            threads._count_out_slow()
        del threads


# What the current thread is: a member of which RequestThreads.
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
