"""Background work of one runtime: firing timers, delivering mail, a provider's slow conversions.

Each piece of work is a :class:`Work`: one round that does what is due now, run again every
``every`` seconds or sooner when something wakes it. The :class:`Runner` gives each its own thread
(one slow SMTP server must not hold timers back), starts them with the runtime and stops them before
the store closes; a round that takes long asks :meth:`Runner.stopping` between its pieces of work.
Work declared ``idle_stop`` ends its thread after that long without anything to do
and a wake starts it again, even in an app that was never started (in-process tests). Rounds that
must happen once across worker processes guard themselves in the store (timers and mail claim rows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("pac_mock.background")


@dataclass(frozen=True)
class Work:
    name: str
    # One round: does what is due now; a true result (e.g. a count above 0) means it found work.
    run: Callable[[], object]
    every: float  # seconds between rounds when nothing wakes it
    # End the thread after this many seconds without work; a wake starts it again.
    idle_stop: float | None = None
    # Woken when timers fired (their handlers may have queued mail or made a job ready).
    after_timers: bool = False
    enabled: bool = True  # False: never run (mail without an SMTP server)
    stop_timeout: float = 5.0  # how long ``stop`` waits for a round in progress


class _Task:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.event = threading.Event()
        self.thread: threading.Thread | None = None


class Runner:
    """The background threads of one runtime."""

    def __init__(self) -> None:
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def add(self, work: Work) -> None:
        if work.name in self._tasks:
            raise ValueError(f"background work {work.name!r} is already registered")
        self._tasks[work.name] = _Task(work)

    def names(self) -> list[str]:
        return list(self._tasks)

    def running(self) -> list[str]:
        """The work whose thread is alive now."""
        with self._lock:
            return [n for n, t in self._tasks.items() if t.thread is not None and t.thread.is_alive()]

    def start(self) -> None:
        with self._lock:
            self._stopped = False
            for task in self._tasks.values():
                self._ensure_thread(task)

    def wake(self, name: str) -> None:
        """Run ``name`` soon (starting its thread if it stopped while idle)."""
        task = self._tasks.get(name)
        if task is None:
            return
        with self._lock:
            task.event.set()
            if task.work.idle_stop is not None:
                self._ensure_thread(task)

    def timers_fired(self) -> None:
        for name, task in self._tasks.items():
            if task.work.after_timers:
                self.wake(name)

    def stopping(self) -> bool:
        """Whether ``stop`` was called: a long round checks it between its pieces of work and returns."""
        return self._stopped

    def stop(self) -> list[str]:
        """End every thread, waiting up to each work's ``stop_timeout`` for a round in progress; wakes
        after this start nothing. Returns (and logs) the work whose thread had not ended by then."""
        with self._lock:
            self._stopped = True
            threads = []
            for task in self._tasks.values():
                task.event.set()
                if task.thread is not None:
                    threads.append((task.thread, task.work.stop_timeout))
        for thread, timeout in threads:
            thread.join(timeout=timeout)
        left = self.running()
        if left:
            log.warning("background work did not end within its stop timeout: %s", ", ".join(left))
        return left

    def _ensure_thread(self, task: _Task) -> None:  # under self._lock
        if self._stopped or not task.work.enabled or (task.thread is not None and task.thread.is_alive()):
            return
        task.thread = threading.Thread(target=self._loop, args=(task,), name=f"pac-mock-{task.work.name}",
                                       daemon=True)
        task.thread.start()

    def _loop(self, task: _Task) -> None:
        work = task.work
        idle_since = time.monotonic()
        while True:
            with self._lock:
                if task.thread is not threading.current_thread():
                    return
                if self._stopped:
                    task.thread = None  # ending: a start from now on makes a new thread
                    return
            task.event.clear()  # before the round: a wake during it brings the next one at once
            try:
                if work.run():
                    idle_since = time.monotonic()
            except Exception:  # one bad round must not end the work
                log.exception("background round of %s failed", work.name)
            task.event.wait(work.every)
            with self._lock:
                idle = work.idle_stop is not None and time.monotonic() - idle_since > work.idle_stop
                if idle and not task.event.is_set() and task.thread is threading.current_thread():
                    task.thread = None
                    return
