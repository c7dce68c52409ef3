"""One typed Settings object: command-line flags > ``PAC_MOCK_*`` environment > a TOML settings file
(``--config`` or ``PAC_MOCK_CONFIG``) > defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENV_PREFIX = "PAC_MOCK_"
SQLITE_SCHEME = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    scenarios: Path | None = None  # None: ./scenarios.yaml when present, else the packaged default
    data_dir: Path = Path("data")
    memory: bool = False  # keep state in memory only (the in-process test server)
    # Where state lives: None = <data_dir>/pac-mock.sqlite3; "sqlite:///path" (sqlite:////abs/path);
    # "postgresql://…" for several replicas on one database (mockserver/store_pg.py).
    store: str | None = None
    # Large documents (MYSuite's): None = files under data_dir, or rows of the database when the store
    # is PostgreSQL; with replicas, a directory every replica mounts is faster (docs/replicas.md).
    documents_dir: Path | None = None
    workers: int = 2  # processes; 2 measured best on 2 cores
    threads: int = 256  # per worker: threads that run requests (waits hold one each; docs/performance.md)
    active_threads: int = 1  # per worker: of those, how many take calls at once (request_threads.py); measured best
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "notificaciones@pac-mock.local"
    admin_token: str | None = None
    max_body_mb: int = 64  # a 40 MB MYSuite document is ~54 MB of base64 inside its envelope
    journal_limit: int = 10_000
    timer_interval: float = 0.25
    log_level: str = "info"
    body_idle_timeout: float = 10.0  # seconds without a byte of the request (headers or body): 408
    body_timeout: float = 120.0  # the whole body must arrive within this: 408
    secret: str | None = None  # signs download links; a random one kept in the database when unset
    # HTTPS beside HTTP (``serve --tls``): a second listener; its certificate is made once per data
    # directory unless tls_cert/tls_key name one's own (mockserver/tls.py).
    tls: bool = False
    tls_port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def database(self) -> Path | str | None:
        """The SQLite file, the PostgreSQL URL, or None (memory)."""
        if self.memory:
            return None
        if self.store is None:
            return self.data_dir / "pac-mock.sqlite3"
        if self.store.startswith(SQLITE_SCHEME):
            return Path(self.store[len(SQLITE_SCHEME):])
        return self.store

    @property
    def shared_store(self) -> bool:
        """State lives in PostgreSQL, which several replicas may share."""
        return not self.memory and self.store is not None and self.store.startswith(POSTGRES_SCHEMES)

    @property
    def store_label(self) -> str:
        """Where state lives, fit to print (a PostgreSQL URL without its password)."""
        if self.memory:
            return "memory"
        if self.shared_store:
            from .store import printable_store_url

            return printable_store_url(str(self.store))
        return str(self.database)

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_mb * 1024 * 1024

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def tls_base_url(self) -> str:
        return self.base_url.replace("http://", "https://", 1).rsplit(":", 1)[0] + f":{self.tls_port}"

    def with_overrides(self, **values: object) -> Settings:
        """Apply non-None values (typically from command-line flags)."""
        clean = {k: _coerce(self, k, v) for k, v in values.items() if v is not None}
        return replace(self, **clean)

    @classmethod
    def load(cls, config: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
        """Defaults, then the settings file (``config`` or ``PAC_MOCK_CONFIG``), then the environment."""
        environ = dict(os.environ if environ is None else environ)
        path = config or environ.get(ENV_PREFIX + "CONFIG")
        return cls.from_env(environ, base=cls.from_file(Path(path)) if path else cls())

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """A TOML file whose keys are the settings' names (``port = 8080``, ``data_dir = "state"``).

        Relative paths in it are relative to the file. Raises ValueError naming the file and the key.
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the settings file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{path}: unknown settings {', '.join(unknown)}; known: {', '.join(known)}")
        values = {}
        for name, value in data.items():
            if "Path" in str(known[name].type) and isinstance(value, str):
                value = path.parent / value
            values[name] = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        try:
            return cls().with_overrides(**values)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, base: Settings | None = None) -> Settings:
        environ = dict(os.environ if environ is None else environ)
        base = base or cls()
        values = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        return base.with_overrides(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that rebuilds these settings in another process (server workers)."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        return env


# Counts that make no sense below one: a server with no worker, thread or turn serves nothing.
AT_LEAST_ONE = ("workers", "threads", "active_threads")


def _coerce(settings: Settings, name: str, value: object) -> object:
    value = _coerce_type(settings, name, value)
    if name in AT_LEAST_ONE and isinstance(value, int) and value < 1:
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be at least 1, not {value}")
    return value


def _coerce_type(settings: Settings, name: str, value: object) -> object:
    if name == "store" and isinstance(value, str):
        if not value.startswith((SQLITE_SCHEME, *POSTGRES_SCHEMES)) or value == SQLITE_SCHEME:
            raise ValueError(f"{ENV_PREFIX}STORE must be sqlite:///path or postgresql://…, not {value.split('://')[0]!r}")
        return value
    current = getattr(Settings, name, None)
    annotation = {f.name: f.type for f in fields(settings)}[name]
    if isinstance(value, str):
        if isinstance(current, bool) or annotation == "bool":
            lowered = value.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {value!r}")
            return lowered in ("1", "true", "yes", "on")
        if annotation in ("int",):
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be a whole number, not {value!r}") from None
        if annotation in ("float",):
            return float(value)
        if "Path" in str(annotation):
            return Path(value)
    return value
