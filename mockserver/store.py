"""State in SQLite: one file shared by every worker process (WAL), or memory for in-process tests.
A ``postgresql://`` target gives the same interface on PostgreSQL (mockserver/store_pg.py), for
several replicas on one database.

Every table carries a ``session`` column so that one server can hold isolated per-test sessions and
reset one of them. Providers add their own tables by passing their DDL to :class:`Store`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    at TEXT NOT NULL,
    provider TEXT,
    operation TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    soap_version TEXT,
    status INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    summary TEXT NOT NULL DEFAULT '{}',
    request TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS journal_session ON journal(session, id);
CREATE TABLE IF NOT EXISTS clock (
    session TEXT PRIMARY KEY,
    offset_s REAL NOT NULL DEFAULT 0,
    frozen_at TEXT
);
CREATE TABLE IF NOT EXISTS overlays (
    session TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    session TEXT NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (session, key)
);
CREATE TABLE IF NOT EXISTS claims (
    session TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (session, scope, key)
);
CREATE TABLE IF NOT EXISTS server_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sat_registry (
    session TEXT NOT NULL,
    uuid TEXT NOT NULL,
    rfc_emisor TEXT,
    status TEXT NOT NULL,
    provider TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (session, uuid)
);
"""

def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is what a failed statement raises, on either engine. psycopg is looked for
    only among loaded modules: a server on SQLite never imports it (a tenth of a second per process)."""
    if isinstance(exc, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)

# Tables that belong to no session: a reset, even of everything, leaves them alone.
KEPT_ON_RESET = frozenset({"server_state"})


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
MALFORMED_POSTGRES_URL = "malformed PostgreSQL URL"


def postgres_params(url: str) -> dict[str, str]:
    """libpq's reading of a PostgreSQL URL (user, password, host, port, dbname, options).

    Raises ValueError when libpq cannot read it, or when a reserved character left unencoded moved
    part of the password into another field (``u:p@ss@h``: libpq reads host ``ss@h``). The message
    never quotes the URL: libpq's own does (``invalid percent-encoded token: "se%zzcret"``).
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.Error:
        raise ValueError(MALFORMED_POSTGRES_URL) from None
    # libpq reads user:password@host up to the first "/": a second "@" there is the password's own
    # (libpq reads host "ss@h", or drops it for ?host=); an early "/" moves it into the port or dbname.
    rest = url.split("://", 1)[-1]
    authority = rest.split("/", 1)[0] if "/" in rest else rest.split("?", 1)[0]
    if authority.count("@") > 1 or any("@" in params.get(key, "") for key in ("user", "host", "hostaddr", "port", "dbname")):
        raise ValueError(MALFORMED_POSTGRES_URL)
    if not all(port.isdigit() for port in params.get("port", "").split(",") if port):
        raise ValueError(MALFORMED_POSTGRES_URL)
    return params


def printable_store_url(url: str) -> str:
    """A PostgreSQL URL fit to print: ``scheme://user@host:port/dbname`` and nothing else, so no
    password, whether it came in the user part or as ``?password=``. Logs, the start banner and
    start-up errors print the store through this function only."""
    scheme = url.split("://", 1)[0] if url.startswith(POSTGRES_SCHEMES) else "postgresql"
    try:
        params = postgres_params(url)
    except ImportError:  # psycopg is not installed: nothing reads the URL as libpq would
        return f"{scheme}://…"
    except ValueError:
        return f"{scheme}://… (malformed URL)"
    host, socket_dir = params.get("host", ""), ""
    if host.startswith("/"):  # a Unix socket's folder
        host, socket_dir = "", host
    elif ":" in host and "," not in host:  # an IPv6 address
        host = f"[{host}]"
    user = params.get("user", "")
    port = params.get("port", "")
    text = f"{scheme}://{user + '@' if user else ''}{host}{':' + port if port else ''}/{params.get('dbname', '')}"
    return text + (f"?host={socket_dir}" if socket_dir else "")


# How long a writer waits for its turn before it fails, like SQLite's busy timeout.
WRITE_WAIT_S = 30.0


class Store:
    """SQLite access. ``tx()`` is a write transaction (BEGIN IMMEDIATE); ``read()`` a plain connection.

    With ``path=None`` the database lives in memory for this process only (the in-process test
    server); one connection is then shared under a lock.
    """

    def __new__(cls, path: str | Path | None = None, schemas: Iterable[str] = ()) -> Store:
        if cls is Store and isinstance(path, str) and path.startswith(POSTGRES_SCHEMES):
            from .store_pg import PgStore  # psycopg is needed only by those who use it

            return super().__new__(PgStore)
        return super().__new__(cls)

    def __init__(self, path: str | Path | None, schemas: Iterable[str] = ()) -> None:
        self.path = None if path in (None, ":memory:") else Path(path)
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._writer: tuple[int, int] | None = None  # (pid, fd) of this process's writer lock file
        self._writer_closer: weakref.finalize | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._shared = self._connect(":memory:")
        with self.read() as conn:
            for ddl in (CORE_SCHEMA, *schemas):
                conn.executescript(ddl)

    @property
    def in_memory(self) -> bool:
        return self.path is None

    @property
    def shared(self) -> bool:
        """Several machines may use this store (PostgreSQL); a SQLite file is one machine's."""
        return False

    def describe(self) -> str:
        return "memory" if self.path is None else str(self.path)

    def _connect(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=WRITE_WAIT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT_S * 1000)}")
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(str(self.path))
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; concurrent writers (threads or processes) queue on it.

        Threads of one process queue on a Python lock, processes on a file lock (``_writer_turn``):
        none of them meets SQLite's busy handler, whose sleeps of up to 100 ms made most of the p99.
        """
        with self._lock:
            conn = self._conn()
            if conn.in_transaction:  # nested use joins the outer transaction
                yield conn
                return
            with self._writer_turn():
                conn.execute("BEGIN IMMEDIATE")
                self._local.in_tx = True  # per thread: the in-memory store shares one connection
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                finally:
                    self._local.in_tx = False
                conn.execute("COMMIT")

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Processes take turns on a file lock before BEGIN IMMEDIATE, looking again within a
        millisecond, where SQLite's busy handler sleeps up to 100 ms between looks: most of the p99
        with two workers (bench). The wait is bounded like the busy timeout, with SQLite's error."""
        if self.path is None:
            yield
            return
        fd = self._writer_fd()
        pause, deadline = 0.0001, time.monotonic() + WRITE_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _writer_fd(self) -> int:
        # Opened per process: a descriptor inherited through fork shares its lock with the parent.
        # Called under self._lock; closed by close(), or when the store is dropped without it.
        pid = os.getpid()
        if self._writer is None or self._writer[0] != pid:
            fd = os.open(self.path.with_name(self.path.name + ".writer"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writer = (pid, fd)
            self._writer_closer = weakref.finalize(self, _close_in, pid, fd)
        return self._writer[1]

    def in_transaction(self) -> bool:
        """Whether this thread is inside ``tx()`` (or ``append()``): what it writes joins that transaction."""
        return getattr(self._local, "in_tx", False)

    @contextmanager
    def append(self) -> Iterator[sqlite3.Connection]:
        """A write transaction whose statements no other writer's outcome depends on (rows only added,
        or old ones trimmed: the journal). SQLite has one writer anyway: the same as ``tx()``."""
        with self.tx() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock if self._shared is not None else _nullcontext():
            yield self._conn()

    def tables(self) -> list[str]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        return [r["name"] for r in rows]

    def reset(self, session: str | None = None) -> None:
        """Forget everything, or one session's state only. The server's own state (``server_state``:
        secrets every session relies on) belongs to no session and survives any reset."""
        tables = [t for t in self.tables() if t not in KEPT_ON_RESET]
        with self.tx() as conn:
            for table in tables:
                if session is None:
                    conn.execute(f'DELETE FROM "{table}"')
                else:
                    conn.execute(f'DELETE FROM "{table}" WHERE session = ?', (session,))

    # Small atomic helpers shared by the providers.

    def claim(self, session: str, scope: str, key: str, value: str) -> tuple[bool, str]:
        """Atomically bind ``key`` to ``value`` once. Returns (won, value now bound)."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT INTO claims(session, scope, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session, scope, key, value),
            )
            if cur.rowcount == 1:
                return True, value
            row = conn.execute(
                "SELECT value FROM claims WHERE session=? AND scope=? AND key=?", (session, scope, key)
            ).fetchone()
            return False, row["value"]

    def server_value(self, name: str, make: Callable[[], str]) -> str:
        """The server-wide value ``name``, made once by ``make`` and then shared by every process."""
        with self.read() as conn:
            row = conn.execute("SELECT value FROM server_state WHERE name=?", (name,)).fetchone()
        if row is not None:
            return row["value"]
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO server_state(name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, make())
            )
            return conn.execute("SELECT value FROM server_state WHERE name=?", (name,)).fetchone()["value"]

    def increment(self, session: str, key: str, by: int = 1) -> int:
        """Atomically add ``by`` to a counter and return the new value."""
        with self.tx() as conn:
            row = conn.execute(
                "INSERT INTO counters(session, key, n) VALUES (?, ?, ?) "
                "ON CONFLICT(session, key) DO UPDATE SET n = counters.n + excluded.n RETURNING n",
                (session, key, by),
            ).fetchone()
            return int(row["n"])

    def counter(self, session: str, key: str) -> int:
        with self.read() as conn:
            row = conn.execute("SELECT n FROM counters WHERE session=? AND key=?", (session, key)).fetchone()
        return int(row["n"]) if row else 0

    def close(self) -> None:
        if self.in_transaction():
            raise RuntimeError("a store cannot be closed inside its own transaction")
        with self._lock:  # not while a writer of this process holds the turn
            conn = self._shared or getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
            if self._writer_closer is not None:
                self._writer_closer()
            self._writer = self._writer_closer = None


def _close_in(pid: int, fd: int) -> None:
    if os.getpid() == pid:  # a forked child opens its own; the one it inherited is left alone
        with contextlib.suppress(OSError):
            os.close(fd)


@contextmanager
def _nullcontext() -> Iterator[None]:
    yield
