"""Shared fixtures: one in-process sandbox for the run, and a fresh session per test."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass

import pytest
import requests

from mockserver.server import BackgroundServer
from mockserver.settings import Settings

from helpers import reserved_port


def pytest_collection_modifyitems(config, items):
    """Soak runs (marker ``slow``) are deselected unless ``PAC_MOCK_LONG=1`` asks for them."""
    if os.environ.get("PAC_MOCK_LONG") == "1":
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(scope="session")
def server(request):
    """The in-process sandbox; PAC_MOCK_TEST_STORE=postgresql runs it on the test PostgreSQL server
    (the whole suite against the PostgreSQL store)."""
    settings = Settings(port=0, memory=True)
    if os.environ.get("PAC_MOCK_TEST_STORE") == "postgresql":
        url = request.getfixturevalue("postgres_server").database()
        settings = Settings(port=0, store=url, data_dir=request.getfixturevalue("tmp_path_factory").mktemp("data"))
    with BackgroundServer(settings) as srv:
        yield srv


@pytest.fixture
def free_port():
    """A port reserved for this test (``helpers.reserved_port``): a ``pac-mock serve`` started on it takes
    it, nobody else can, and until a server listens there a connection is refused."""
    with reserved_port() as number:
        yield number


@pytest.fixture
def reserve_port():
    """Call it for each port this test needs: each is reserved as ``free_port`` is, until the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(reserved_port())


@dataclass
class Sandbox:
    """A test's own session on the shared server."""

    root: str  # the server, no session prefix
    session: str

    @property
    def url(self) -> str:
        return f"{self.root}/__session/{self.session}"

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/__admin/{path.lstrip('/')}", timeout=30, **kwargs)

    def post_soap(self, path: str, body: bytes | str, *, version: str = "1.1", action: str | None = None,
                  headers: dict | None = None) -> requests.Response:
        content_type = "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"
        hdrs = {"Content-Type": content_type}
        if action is not None:
            hdrs["SOAPAction"] = action
        hdrs.update(headers or {})
        data = body.encode() if isinstance(body, str) else body
        return requests.post(self.url + path, data=data, headers=hdrs, timeout=60)


@pytest.fixture
def sandbox(server) -> Sandbox:
    return Sandbox(server.url, uuid.uuid4().hex[:12])


@pytest.fixture(scope="session")
def https(server, tmp_path_factory):  # type: ignore[no-untyped-def]
    """HTTPS beside the shared HTTP server (same app, same state), with a CA made for this run."""
    from mockserver.tls import BackgroundHttps, ensure_certificates

    with BackgroundHttps(server.app, ensure_certificates(tmp_path_factory.mktemp("tls"))) as listener:
        yield listener


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of this test run (tests/postgres.py); skipped with the reason where none can run."""
    from mockserver.testing.postgres import PostgresServer, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on the test run's PostgreSQL server."""
    return postgres_server.database()
