"""Helpers shared by the tests (import as ``from helpers import ...``).

Ports: a server in this process binds port 0 and reports its port (``BackgroundServer.port``,
``smtp_server``); a ``pac-mock serve`` process gets a port reserved for it by ``reserved_port``. No
helper binds a port, releases it and hopes it is still free when a server binds it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = ROOT / "mockserver" / "providers"


# --- the providers' WSDLs ----------------------------------------------------------------------


def project_wsdl(provider: str, name: str) -> Path:
    """One of the WSDL files the sandbox serves (``mockserver/providers/<provider>/wsdl/<name>``)."""
    return PROVIDERS / provider / "wsdl" / name


def reference_dir() -> Path | None:
    """The providers' published WSDLs and notes, when present: ``PAC_MOCK_REFERENCE_DIR``, else
    ``../shared/reference`` beside the repository. Only the conformance tests read it."""
    env = os.environ.get("PAC_MOCK_REFERENCE_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "reference"]:
        if (candidate / "wsdl").is_dir():
            return candidate
    return None


def provider_docs_dir() -> Path | None:
    """The four provider documents (``../shared/reference/provider-docs``), when present."""
    env = os.environ.get("PAC_MOCK_REFERENCE_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "reference"]:
        if (candidate / "provider-docs").is_dir():
            return candidate / "provider-docs"
    return None


def reference_file(name: str) -> Path:
    """A file of the reference folder (``wsdl/<provider>-<name>.wsdl``, notes); skips the test when the
    folder is absent."""
    ref = reference_dir()
    if ref is None:
        pytest.skip("the providers' published WSDLs are not present: a conformance check against "
                    "../shared/reference (or PAC_MOCK_REFERENCE_DIR)")
    return ref / name


def reference_wsdl(name: str) -> Path:
    """A published provider WSDL (``reference/wsdl/<name>``); skips the test when it is absent."""
    return reference_file(f"wsdl/{name}")


# --- ports and servers -------------------------------------------------------------------------


@contextlib.contextmanager
def reserved_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port that stays ours until the block ends: bound with SO_REUSEADDR and SO_REUSEPORT, never
    listening.

    ``pac-mock serve`` checks the port with a SO_REUSEADDR bind (it fails only where someone listens),
    then its granian workers bind it with SO_REUSEPORT (Linux): a server started inside the block takes
    the port. The kernel never hands the port out for port 0 or an outgoing connection, and a bind
    without those options fails. Until a server listens there, a connection to the port is refused.
    """
    with _reservation(host) as sock:
        yield sock.getsockname()[1]


_held = contextlib.ExitStack()


def held_port() -> int:
    """A port reserved as by :func:`reserved_port` and held until this test process ends, for code that
    cannot take the ``reserve_port`` fixture."""
    return _held.enter_context(reserved_port())


def _reservation(host: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def server_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's ``PAC_MOCK_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAC_MOCK_")}
    env.update(extra)
    return env


def wait_until_healthy(base: str, proc: subprocess.Popen, log: Path | None = None, timeout: float = 60) -> dict:
    """Wait for ``base``/__admin/health to answer 200 and return its JSON.

    Fails the test, with the server's output, when the process exits or the time runs out: a test
    never goes on against a server that did not start.
    """
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/__admin/health", timeout=2) as response:
                if response.status == 200:
                    return json.loads(response.read())
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    output = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
    state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not healthy after {timeout:.0f} s"
    raise AssertionError(f"pac-mock serve {state}:\n{output}")


class ServeProcess:
    """``pac-mock serve`` in a process group of its own, on a port reserved for the object's lifetime
    (so a restart gets the same port), with its output in ``log``."""

    def __init__(self, data_dir: Path, *args: str, log: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.args = args
        self.log = log or self.data_dir / "server.log"
        self._reservation = _reservation("127.0.0.1")
        self.port = self._reservation.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.health: dict = {}

    def start(self) -> ServeProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port), "--data-dir",
                 str(self.data_dir), *self.args],
                cwd=ROOT, env=server_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self.health = wait_until_healthy(self.url, self.proc, self.log)
        except AssertionError:
            self.stop()
            raise
        return self

    def kill9(self) -> None:
        """The main process and its workers, with no clean-up."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_server(self.proc)

    def close(self) -> None:
        """Stop the server and give the port back."""
        try:
            self.stop()
        finally:
            self._reservation.close()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def stop_server(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM a ``pac-mock serve`` process and wait; kill it and its workers if it does not stop."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # servers started in a session of their own
        except (PermissionError, ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"the server did not stop within {grace} s of SIGTERM") from None


@contextlib.contextmanager
def smtp_server(handler: object) -> Iterator[object]:
    """An aiosmtpd server on a socket bound to port 0 before it starts; ``.port`` is its port."""
    from aiosmtpd.controller import Controller

    class _BoundController(Controller):
        def __init__(self) -> None:
            self._socket = socket.create_server(("127.0.0.1", 0))
            super().__init__(handler, hostname="127.0.0.1", port=self._socket.getsockname()[1])

        def _create_server(self):  # aiosmtpd's hook for where the server listens
            return self.loop.create_server(self._factory_invoker, sock=self._socket, ssl=self.ssl_context)

    controller = _BoundController()
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def living_processes(group: int) -> list[int]:
    """Processes of process group ``group`` not yet dead. A killed process whose main thread is a
    zombie may still have threads exiting, holding its sockets: it counts until all its threads are."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                pgrp = int(fh.read().rsplit(")", 1)[1].split()[2])
            if pgrp != group:
                continue
            states = []
            for task in os.listdir(f"/proc/{entry}/task"):
                with open(f"/proc/{entry}/task/{task}/stat") as fh:
                    states.append(fh.read().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        if any(state not in ("Z", "X") for state in states):
            alive.append(int(entry))
    return alive
