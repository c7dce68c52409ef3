"""A throw-away PostgreSQL server for tests and benchmarks: Debian's binaries (the project's
scripts/postgres-deps.sh installs them; scripts/test-deps.sh runs it), a cluster made by initdb in a temporary directory, listening on a
Unix socket only, with durability off (fsync) since it is thrown away.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb, pg_ctl and postgres (the newest installed), or None."""
    found = shutil.which("initdb")
    candidates = [str(Path(found).resolve().parent)] if found else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if all((Path(folder) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def missing() -> str | None:
    """Why no PostgreSQL server can be started here, or None when one can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg and psycopg_pool are not installed (pip install -e '.[test]')"
    if binaries() is None:
        return ("PostgreSQL is not installed (scripts/postgres-deps.sh installs Debian's postgresql package as root; "
                "scripts/test-deps.sh runs it)")
    return None


class PostgresServer:
    """``start()`` makes and starts a cluster; ``database()`` gives the URL of a new empty database."""

    def __init__(self, durable: bool = False) -> None:
        """``durable``: keep PostgreSQL's defaults (fsync, full page writes), as a real server would (bench)."""
        self.durable = durable
        self.bin = binaries()
        assert self.bin is not None, missing()
        # Not under pytest's tmp folder: its parents are closed to the server's user when we are root.
        self.dir = Path(tempfile.mkdtemp(prefix="pac-mock-pg-"))
        self.data = self.dir / "data"
        self.socket_dir = self.dir
        self.port = 5432  # only names the socket file: the server listens on no TCP port
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                self.user = pwd.getpwnam("nobody")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups",
                       *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", *([] if self.durable else ["--no-sync"]))
        options = f"-k {self.socket_dir} -c listen_addresses='' -p {self.port} -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
