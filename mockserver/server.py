"""Running the app: granian for ``pac-mock serve``, a background thread for in-process tests.

granian (Rust HTTP) serves the sandbox through its ASGI interface: the front (``front.py``) reads
request bodies on the event loop with time limits, then runs the Flask app in a pool of threads
(docs/performance.md, "Request model"); worker processes share state through the SQLite file and
end with the main process (``lifeline.py``). Start-up checks the port and the data directory before
any worker starts and turns what it finds into one line (``StartupError``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import lifeline
from .app import create_app, runtime_of
from .settings import Settings

# Waits for the health check and prints the banner. A separate process, because granian forks its
# workers from this one: a thread of ours caught mid-import at that moment left the child holding an
# import lock forever (a hung worker in 15 of 15 starts, bench). It ends with the server.
_ANNOUNCER = """
import sys, time, urllib.request
from mockserver import lifeline
url, banner, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
lifeline.die_with_parent(parent)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                print(banner, flush=True)
                break
    except OSError:
        time.sleep(0.05)
"""


STOP_GRACE_SECONDS = 3  # what a stop leaves requests in flight before workers are killed


class StartupError(Exception):
    """Start-up cannot go on; the message is one line that names the port or the path."""


def serve(settings: Settings, banner: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM with granian; ``banner`` is printed once /__admin/health answers.

    Raises StartupError before any worker starts when a port or the data directory is unusable.
    """
    guards = [claim_port(settings.host, settings.port)]
    try:
        if settings.tls:
            guards.append(claim_port(settings.host, settings.tls_port))
        if not settings.memory:
            check_data_dir(settings.data_dir)
            recover(settings)
        os.environ.update(settings.to_env())
        os.environ[lifeline.PARENT_ENV] = str(os.getpid())  # the HTTPS server and the announcer die with us
        https = _start_https(settings) if settings.tls else None
        announcer = None
        if banner is not None:
            announcer = subprocess.Popen(
                [sys.executable, "-c", _ANNOUNCER, settings.base_url + "/__admin/health", banner, str(os.getpid())]
            )
        try:
            run_granian(settings, settings.port)
        finally:
            if announcer is not None and announcer.poll() is None:
                announcer.kill()
            if https is not None:
                from . import tls

                tls.stop_https(https)
    finally:
        for guard in guards:
            guard.close()


def _start_https(settings: Settings) -> subprocess.Popen:
    from . import tls

    try:
        return tls.start_https(settings)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"cannot prepare HTTPS: {exc}") from None


def run_granian(settings: Settings, port: int, **ssl: object) -> None:
    """One granian server on ``port`` (``ssl``: granian's ssl_* arguments) whose workers run the front
    and die with this process."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    os.environ[lifeline.PARENT_ENV] = str(os.getpid())  # what the workers watch
    server = Granian(
        "mockserver.front:create_front_from_env",
        address=settings.host,
        port=port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        factory=True,
        log_level=LogLevels(settings.log_level.lower()),
        # Slow headers are granian's to time out (its own event loop); slow bodies are the front's.
        http1_settings=HTTP1Settings(header_read_timeout=max(1, int(settings.body_idle_timeout * 1000))),
        respawn_failed_workers=True,
        # Calls still running this long after a stop (a mail wait, a delay) are cut: the worker is killed.
        workers_kill_timeout=STOP_GRACE_SECONDS,
        **ssl,
    )
    server.serve()


def claim_port(host: str, port: int) -> socket.socket:
    """Refuse a port someone already listens on, then hold it for this server's workers.

    granian's workers each bind the port with SO_REUSEPORT, which would let them share it with
    another pac-mock (calls would split at random between two states). So first a bind without
    SO_REUSEPORT, which fails when anyone listens there; then a guard socket bound with SO_REUSEPORT
    and never listening, held as long as the server runs: our workers may join it, a second
    pac-mock's first bind fails on it. SO_REUSEADDR lets a restart reuse the port at once while
    connections of the previous server are still in TIME_WAIT.
    """
    if not 1 <= port <= 65535:
        raise StartupError(f"port {port} is not a TCP port (1-65535)")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(f"cannot listen on {host}:{port}: unknown host ({exc})") from None
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
        guard = socket.socket(family, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_REUSEPORT"):
                guard.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            guard.bind(address)
        except OSError:
            guard.close()
            raise
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another pac-mock or another program); "
                "stop it or choose another --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"cannot listen on {host}:{port}: permission denied (ports below 1024 need privileges)") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartupError(f"cannot listen on {host}:{port}: {host} is not an address of this machine") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return guard


def check_data_dir(path: Path) -> None:
    """The data directory exists (or can be made) and this user can create files in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StartupError(f"data directory {path} is a file, not a directory") from None
    except OSError as exc:
        raise StartupError(f"cannot create the data directory {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise StartupError(f"data directory {path} is not a directory")
    probe = path / f".pac-mock-write-check.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        owner = ""
        with contextlib.suppress(OSError):
            stat = path.stat()
            owner = f" (owned by uid {stat.st_uid}, this process runs as uid {os.getuid()})"
        raise StartupError(f"cannot write in the data directory {path}{owner}: {exc.strerror or exc}") from None
    database = path / "pac-mock.sqlite3"
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        raise StartupError(f"cannot read and write the database {database}: permission denied")


def recover(settings: Settings) -> None:
    """After a crash: what the dead server left behind, dealt with before any worker starts.

    Temporary files of writes that never finished (ENOSPC, kill -9) are removed, and work that a
    process of the dead server had claimed is released, so it is taken up at once instead of after
    the claim's time-out. Only this process runs now (the port check found no server alive).
    """
    from .providers import all_providers
    from .store import Store

    for tmp in settings.data_dir.rglob("*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
    try:
        store = Store(settings.database, [p.schema for p in all_providers() if p.schema])
    except Exception as exc:  # sqlite3.Error and OSError: a damaged or unreadable file
        raise StartupError(f"cannot open the database {settings.store_label}: {exc}") from None
    if store.shared:
        # Other replicas may be alive: their claims are theirs until they expire.
        store.close()
        return
    try:
        for provider in all_providers():
            if provider.on_server_start is not None:
                provider.on_server_start(store)
    finally:
        store.close()


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
        self.runtime.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
