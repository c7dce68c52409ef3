"""The converter: a per-process thread that turns ready MYSuite jobs into CFDIs.

Timers only mark a job ready (their handlers run inside the store's write transaction and must be
quick); converting a 40 MB native document takes seconds, so it happens here, outside any
transaction. The thread starts when a timer fires and stops after a minute without work. Claims
on the job row keep two threads or processes from converting the same job at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from .models import blobs_for, ready_jobs
from .service import STALE_CONVERSION_S, convert

if TYPE_CHECKING:
    from ...runtime import Runtime

log = logging.getLogger("pac_mock.mysuite")

IDLE_EXIT_S = 60.0
SWEEP_EVERY_S = 600.0


class Converter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._swept = 0.0
        self._stopped = False

    def stop(self) -> None:
        """End the thread (the runtime is shutting down and its store is about to close)."""
        with self._lock:
            self._stopped = True
            self._event.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def wake(self) -> None:
        """Called after timers fire: convert whatever became ready (in the background)."""
        with self._lock:
            self._event.set()
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="pac-mock-mysuite-converter", daemon=True
                )
                self._thread.start()

    def run_once(self) -> int:
        """Convert every ready job no one holds. Returns how many this call converted."""
        done = 0
        while True:
            with self.runtime.store.read() as conn:
                batch = ready_jobs(conn, time.time() - STALE_CONVERSION_S)
            converted = sum(1 for session, guid in batch if convert(self.runtime, session, guid))
            done += converted
            if not converted:
                break
        if time.monotonic() - self._swept > SWEEP_EVERY_S:
            self._swept = time.monotonic()
            blobs_for(self.runtime).sweep()
        return done

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            self._event.wait(timeout=5.0)
            self._event.clear()
            if self._stopped:
                return
            try:
                if self.run_once():
                    idle_since = time.monotonic()
            except Exception:  # keep converting later jobs whatever this round did
                log.exception("MYSuite converter round failed")
            with self._lock:
                if not self._event.is_set() and time.monotonic() - idle_since > IDLE_EXIT_S:
                    self._thread = None
                    return
