"""Running the app: granian for ``pac-mock serve``, a background thread for in-process tests.

granian (Rust HTTP, WSGI interface) served the sandbox's routes 2.5x faster than waitress and on a par
with gunicorn's sync workers on these machines (docs/performance.md); worker processes share state
through the SQLite file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, runtime_of
from .settings import Settings

# Waits for the health check and prints the banner. A separate process, because granian forks its
# workers from this one: a thread of ours caught mid-import at that moment left the child holding an
# import lock forever (a hung worker in 15 of 15 starts, bench).
_ANNOUNCER = """
import sys, time, urllib.request
url, banner, deadline = sys.argv[1], sys.argv[2], time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                print(banner, flush=True)
                break
    except OSError:
        time.sleep(0.05)
"""


def serve(settings: Settings, banner: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM with granian; ``banner`` is printed once /__admin/health answers."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ.update(settings.to_env())
    announcer = None
    if banner is not None:
        announcer = subprocess.Popen(
            [sys.executable, "-c", _ANNOUNCER, settings.base_url + "/__admin/health", banner]
        )
    server = Granian(
        "mockserver.app:create_app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        # Threads per worker: two keep one scenario delay from stalling a worker; more only queue on
        # the GIL and SQLite's write lock (bench: 8 threads cost 40 % throughput and p99 600 ms).
        blocking_threads=settings.threads,
        factory=True,
        log_level=LogLevels(settings.log_level.lower()),
        respawn_failed_workers=True,
    )
    server.on_startup(_remind_workers_on_shutdown)
    try:
        server.serve()
    finally:
        if announcer is not None and announcer.poll() is None:
            announcer.kill()


def _remind_workers_on_shutdown() -> None:
    """Make sure a stop request reaches every worker.

    A worker that is still starting when SIGTERM arrives misses granian's stop signal and the main
    process waits for it forever; a reminder a moment later reaches it once it has started.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(sig, frame, previous=previous):
            threading.Thread(target=_remind, daemon=True).start()
            if callable(previous):
                previous(sig, frame)

        signal.signal(signum, handler)


def _remind(grace: float = 2.0, attempts: int = 5) -> None:
    for _ in range(attempts):
        time.sleep(grace)
        workers = multiprocessing.active_children()
        if not workers:
            return
        for worker in workers:
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGTERM)
    for worker in multiprocessing.active_children():
        with contextlib.suppress(OSError):
            os.kill(worker.pid, signal.SIGKILL)


class _QuietHandler(WSGIRequestHandler):
    """The journal records every request; a test run needs no access log on stderr."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class BackgroundServer:
    """The whole sandbox in a thread of this process (in-memory state unless told otherwise)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings(port=0, memory=True)
        self.app = create_app(self.settings)
        self.runtime = runtime_of(self.app)
        self._server: BaseWSGIServer = make_server(
            self.settings.host, self.settings.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="pac-mock-http", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "") else self.settings.host
        return f"http://{host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.runtime.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.runtime.stop()
        self.runtime.store.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
