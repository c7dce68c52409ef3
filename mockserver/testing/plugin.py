"""pytest plugin: the ``pac_mock`` fixture.

One in-process sandbox per test process (so it works under pytest-xdist), in memory, started on a
free port; each test gets its own session (journal, state, clock, scenario overlay) through the URL
prefix ``/__session/<id>``. Set ``PAC_MOCK_URL`` to use a sandbox that already runs (docker) instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import AdminClient


class PacMock(AdminClient):
    """What a test gets: admin helpers bound to its own session, and the service URLs."""

    @property
    def urls(self) -> dict[str, str]:
        from .client import PROVIDER_PATHS

        return {name: self.url + path for name, path in PROVIDER_PATHS.items()}

    @property
    def fixtures(self) -> Path:
        """Folder of the test certificates and keys (the sandbox's own fake SAT PKI)."""
        from ..sat import pki

        return pki.packaged_dir()


@pytest.fixture(scope="session")
def pac_mock_server() -> Iterator[str]:
    """Base URL of the sandbox for this test process."""
    external = os.environ.get("PAC_MOCK_URL")
    if external:
        AdminClient(external, token=os.environ.get("PAC_MOCK_ADMIN_TOKEN")).wait_until_healthy()
        yield external.rstrip("/")
        return
    from ..server import BackgroundServer
    from ..settings import Settings

    with BackgroundServer(Settings(port=0, memory=True)) as server:
        yield server.url


@pytest.fixture
def pac_mock(pac_mock_server: str) -> Iterator[PacMock]:
    client = PacMock(pac_mock_server, session=uuid.uuid4().hex[:16], token=os.environ.get("PAC_MOCK_ADMIN_TOKEN"))
    yield client
    client.reset()
