"""How the servers are started for a measurement: ``pac-mock serve`` and the bare route (``bench/bare.py``).

Every server gets a fresh data directory (a new SQLite file) and the repository's ``scenarios.yaml``,
so each run starts from the same state. The bare route runs under the same granian interface, front
and ``PAC_MOCK_*`` settings.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mockserver import scenarios as scenario_module
from mockserver.settings import Settings

from .procs import ServerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
FACTORY = "mockserver.app:create_app_from_env"


@dataclass(frozen=True)
class ServerConfig:
    """One way to serve the app."""

    name: str
    server: str  # granian | bare
    workers: int = 1
    # pac-mock serve and bare: request threads per worker; granian WSGI (via_cli=False): blocking threads
    threads: int | None = None
    active_threads: int | None = None  # pac-mock serve and bare: of those, how many take calls at once
    via_cli: bool = True  # granian through ``pac-mock serve`` (the shipped settings)
    factory: str = FACTORY  # the app factory (bench/experiments.py has variants with one change)
    note: str = ""

    def describe(self) -> str:
        threads = f", {self.threads} threads" if self.threads else ""
        threads += f", {self.active_threads} active" if self.active_threads else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.server} {self.workers} worker{'s' if self.workers != 1 else ''}{threads}{note}"


def scenarios_path() -> Path:
    local = REPO / "scenarios.yaml"
    return local if local.exists() else scenario_module.default_path()


def fresh_data_dir(label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"pac-mock-bench-{label}-", dir="/tmp"))


def start(config: ServerConfig, log_dir: Path, timeout: float = 20.0) -> tuple[ServerProcess, str]:
    """Start ``config`` on a free loopback port with a fresh data dir; returns the process and base URL.

    A start that has not answered within ``timeout`` seconds is stopped and raises RuntimeError (a
    healthy start takes 1–2 s here; a hung one never answers).
    """
    port = free_port()
    data_dir = fresh_data_dir(config.name)
    settings = Settings(port=port, data_dir=data_dir, workers=config.workers, scenarios=scenarios_path())
    if config.threads:
        settings = settings.with_overrides(threads=config.threads)
    if config.active_threads:
        settings = settings.with_overrides(active_threads=config.active_threads)
    env = settings.to_env()
    if config.server == "granian" and config.via_cli:
        command = [
            sys.executable, "-m", "mockserver", "serve",
            "--port", str(port), "--data-dir", str(data_dir), "--workers", str(config.workers),
        ]  # fmt: skip
        if config.threads:
            command += ["--threads", str(config.threads)]
        if config.active_threads:
            command += ["--active-threads", str(config.active_threads)]
    elif config.server == "bare":
        # The same granian interface, front and thread pool as pac-mock serve; the app is bench/bare.py.
        command = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(config.workers),
            "--log-level", "warning", "bench.bare:create_front_from_env",
        ]  # fmt: skip
    elif config.server == "granian":
        command = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(config.workers),
            "--blocking-threads", str(config.threads or 1), "--log-level", "warning", config.factory,
        ]  # fmt: skip
    else:
        raise ValueError(f"unknown server {config.server!r}")
    process = ServerProcess(
        config.name,
        command,
        f"http://127.0.0.1:{port}/__admin/health",
        env=env,
        cwd=REPO,
        log_path=log_dir / f"{config.name}.log",
    )
    process.data_dir = data_dir  # type: ignore[attr-defined]
    return process.start(timeout), f"http://127.0.0.1:{port}"
