"""The converter: background work that turns ready MYSuite jobs into CFDIs.

Timers only mark a job ready (their handlers run inside the store's write transaction and must be
quick); converting a 40 MB native document takes seconds, so it happens here, outside any
transaction, in the runtime's background runner. It runs when timers fire and stops after a minute
without work. Claims on the job row keep two threads or processes from converting the same job at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ...background import Work
from .conversion import STALE_CONVERSION_S, convert
from .models import blobs_for, ready_jobs

if TYPE_CHECKING:
    from ...context import Sandbox

IDLE_STOP_S = 60.0
SWEEP_EVERY_S = 600.0


class Converter:
    def __init__(self, runtime: Sandbox) -> None:
        self.runtime = runtime
        self._swept = 0.0

    def run_once(self) -> int:
        """Convert every ready job no one holds, until the runner stops (the job in progress ends
        first; the rest wait for the next start). Returns how many this call converted."""
        done = 0
        stopping = self.runtime.background.stopping
        while not stopping():
            with self.runtime.store.read() as conn:
                batch = ready_jobs(conn, time.time() - STALE_CONVERSION_S)
            converted = 0
            for session, guid in batch:
                if stopping():
                    return done + converted
                converted += convert(self.runtime, session, guid)
            done += converted
            if not converted:
                break
        if not stopping() and time.monotonic() - self._swept > SWEEP_EVERY_S:
            self._swept = time.monotonic()
            blobs_for(self.runtime).sweep()
        return done


def background(runtime: Sandbox) -> list[Work]:
    """The provider's background work: converting, woken when timers fire (and at start, for jobs
    that became ready while the server was down)."""
    converter = Converter(runtime)
    return [Work("mysuite-converter", converter.run_once, every=5.0, idle_stop=IDLE_STOP_S, after_timers=True,
                 stop_timeout=10.0)]
