"""A worker's request threads: few take calls at once, stand-ins take over while calls wait."""

from __future__ import annotations

import threading
import time

import pytest

from mockserver import request_threads
from mockserver.request_threads import RequestThreads


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class Tally:
    """Counts calls running at once; each call holds its place until ``hold`` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.done = 0
        self.hold = threading.Event()

    def call(self, *, waits_away: bool = False) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if waits_away:
                with request_threads.away():
                    self.hold.wait(5)
            else:
                self.hold.wait(5)
        finally:
            with self.lock:
                self.running -= 1
                self.done += 1


def test_no_more_than_the_active_threads_take_calls_at_once():
    threads = RequestThreads(active=2, most=64, patience=60)  # calls that run long: below
    tally = Tally()
    for _ in range(10):
        threads.submit(tally.call)
    _wait_for(lambda: tally.running == 2)
    time.sleep(0.1)  # time for a third to start, if one could
    assert tally.running == 2
    tally.hold.set()
    _wait_for(lambda: tally.done == 10)
    assert tally.most == 2
    assert threads.counts == (2, 2)


def test_a_call_that_waits_away_lets_others_run_and_its_stand_in_leaves_afterwards():
    threads = RequestThreads(active=1, most=64)
    waiting = Tally()
    for _ in range(5):
        threads.submit(lambda: waiting.call(waits_away=True))
    _wait_for(lambda: waiting.running == 5)  # all five wait at once, with one active thread
    quick = threading.Event()
    threads.submit(quick.set)
    assert quick.wait(5), "a quick call queued behind the waits"
    assert threads.counts == (1, 6)  # five away and one taker
    waiting.hold.set()
    _wait_for(lambda: waiting.done == 5)
    # The five came back: takers beyond the one active leave as they finish.
    _wait_for(lambda: threads.counts[1] == 1)
    assert threads.counts == (1, 1)


def test_threads_never_exceed_most_and_queued_calls_run_when_one_comes_back():
    threads = RequestThreads(active=1, most=2)
    waiting = Tally()
    threads.submit(lambda: waiting.call(waits_away=True))
    threads.submit(lambda: waiting.call(waits_away=True))
    _wait_for(lambda: waiting.running == 2)
    queued = threading.Event()
    threads.submit(queued.set)
    assert not queued.wait(0.2)  # both threads are away and no third may start
    assert threads.counts == (0, 2)
    waiting.hold.set()
    assert queued.wait(5)


def test_a_call_that_runs_long_gets_a_stand_in_for_the_calls_queued_behind_it():
    threads = RequestThreads(active=1, most=64, patience=0.05)
    slow = Tally()
    threads.submit(slow.call)  # runs long without stepping away (a conversion, a held lock)
    _wait_for(lambda: slow.running == 1)
    quick = threading.Event()
    threads.submit(quick.set)
    assert quick.wait(5), "the queued call waited for the slow one"
    assert slow.running == 1
    slow.hold.set()
    _wait_for(lambda: slow.done == 1)
    _wait_for(lambda: threads.counts == (1, 1))  # the slow one came back; one taker is left


def test_a_call_that_raises_leaves_the_thread_taking_calls():
    threads = RequestThreads(active=1, most=4)

    def broken() -> None:
        raise RuntimeError("boom")

    threads.submit(broken)
    after = threading.Event()
    threads.submit(after.set)
    assert after.wait(5)
    assert threads.counts == (1, 1)


def test_away_outside_request_threads_does_nothing():
    with request_threads.away():
        pass  # the in-process server's and background threads are not request threads


def test_active_must_be_between_one_and_most():
    with pytest.raises(ValueError):
        RequestThreads(active=0, most=4)
    with pytest.raises(ValueError):
        RequestThreads(active=5, most=4)
