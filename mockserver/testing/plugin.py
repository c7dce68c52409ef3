"""pytest plugin: the ``pac_mock`` fixture.

One in-process sandbox per test process (so it works under pytest-xdist), in memory, started on a
free port; each test gets its own session (journal, state, clock, scenario overlay) through the URL
prefix ``/__session/<id>``. Set ``PAC_MOCK_URL`` to use a sandbox that already runs (docker) instead.

The sandbox's scenarios: ``PAC_MOCK_SCENARIOS``, else the ``pac_mock_scenarios`` ini option (relative
to the ini file), else ``scenarios.yaml`` in the rootdir, else the built-in defaults. One test can lay
a file or YAML text over them with ``@pytest.mark.pac_mock_scenarios("slow.yaml")``.
When a test that used ``pac_mock`` fails, its report gets the session's journal, one line per call.
With ``--pac-mock-strict`` (or ``pac_mock_strict = true`` in the ini file) a test whose session has a
conformance finding of severity ``error`` fails, and its report lists them (docs/conformance.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from .client import AdminClient

INI = "pac_mock_scenarios"
STRICT_INI = "pac_mock_strict"
MARKER = "pac_mock_scenarios"


class _MySuite:
    """MYSuite helpers: ``pac_mock.mysuite.native_document("1.5MB")``."""

    @staticmethod
    def native_document(size: int | str = "1.5MB", **fields) -> bytes:
        """A valid native document of about ``size`` (MYSuite's asynchronous service takes 1–4 MB in
        its test environment); ``entity``, ``serie``, ``folio``, ``receptor_rfc``... as keywords."""
        from .mysuite import native_document

        return native_document(size, **fields)


class PacMock(AdminClient):
    """What a test gets: admin helpers bound to its own session, and the service URLs."""

    mysuite = _MySuite()

    @property
    def urls(self) -> dict[str, str]:
        from .client import service_paths

        return {name: self.url + path for name, path in service_paths().items()}

    @property
    def fixtures(self) -> Path:
        """Folder of the test certificates and keys (the sandbox's own fake SAT PKI)."""
        from ..sat import pki

        return pki.packaged_dir()

    def mock_now(self) -> datetime:
        """The session's mock time, as Mexico City wall time (what a CFDI's dates are written in)."""
        return datetime.fromisoformat(self.clock.now()["now_local"]).replace(tzinfo=None, microsecond=0)

    def sign_cancelacion(self, uuids: str | Sequence[str], motivo: str = "02", *, cer: str = "csd_moral",
                         folio_sustitucion: str | None = None, rfc: str | None = None,
                         fecha: datetime | None = None) -> bytes:
        """A SAT Cancelacion for ``uuids`` signed with the fixture CSD ``cer`` (``pac-mock fixtures``
        lists them) and dated at the session's mock time, so it stays valid under a frozen clock.
        Motivo 01 needs ``folio_sustitucion``."""
        from ..sat import sign_cancelacion
        from ..sat.pki import fixture

        csd = fixture(cer)
        folios = [(u, motivo, folio_sustitucion) for u in ([uuids] if isinstance(uuids, str) else uuids)]
        return sign_cancelacion(csd.certificate(), csd.private_key(), rfc or csd.rfc, folios,
                                fecha or self.mock_now())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "scenarios file of the in-process pac-mock sandbox (PAC_MOCK_SCENARIOS wins)", default="")
    parser.addini(STRICT_INI, "fail a test whose pac-mock session has conformance findings of severity error",
                  type="bool", default=False)
    parser.getgroup("pac-mock").addoption(
        "--pac-mock-strict", action="store_true", default=None,
        help="fail a test whose pac-mock session has conformance findings of severity error")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(file_or_yaml): lay a scenarios file (or YAML text, or a dict) over the "
                   "sandbox's scenarios for this test's session")


def base_scenarios(config: pytest.Config) -> Path | None:
    """The scenarios file the in-process sandbox loads (None: the built-in defaults)."""
    env = os.environ.get("PAC_MOCK_SCENARIOS")
    if env:
        return Path(env).resolve()
    ini = config.getini(INI)
    if ini:
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        return (base / ini).resolve()
    local = Path(config.rootpath) / "scenarios.yaml"
    return local if local.is_file() else None


@pytest.fixture(scope="session")
def pac_mock_server(pytestconfig: pytest.Config) -> Iterator[str]:
    """Base URL of the sandbox for this test process."""
    external = os.environ.get("PAC_MOCK_URL")
    if external:
        AdminClient(external, token=os.environ.get("PAC_MOCK_ADMIN_TOKEN")).wait_until_healthy()
        yield external.rstrip("/")
        return
    from .. import scenarios as scenario_module
    from ..server import BackgroundServer
    from ..settings import Settings

    path = base_scenarios(pytestconfig)
    if path is not None:
        errors = scenario_module.check_file(path)
        if errors:
            raise pytest.UsageError(f"pac-mock: {path} is not valid:\n" + "\n".join(errors))
    with BackgroundServer(Settings(port=0, memory=True, scenarios=path)) as server:
        yield server.url


def _marker_overlay(request: pytest.FixtureRequest) -> str | dict | None:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes one argument: a file, YAML text or a dict")
    value = marker.args[0]
    if isinstance(value, dict):
        return value
    if isinstance(value, os.PathLike) or ("\n" not in str(value) and str(value).endswith((".yaml", ".yml", ".json"))):
        path = Path(value)
        if not path.is_absolute():
            path = Path(request.node.path).parent / path
        return path.read_text(encoding="utf-8")
    return str(value)


@pytest.fixture
def pac_mock(pac_mock_server: str, request: pytest.FixtureRequest) -> Iterator[PacMock]:
    client = PacMock(pac_mock_server, session=uuid.uuid4().hex[:16], token=os.environ.get("PAC_MOCK_ADMIN_TOKEN"))
    overlay = _marker_overlay(request)
    if overlay is not None:
        client.scenario(overlay)
    request.node.stash[_CLIENT] = client
    yield client
    client.reset()


_CLIENT = pytest.StashKey[PacMock]()


def strict(config: pytest.Config) -> bool:
    option = config.getoption("--pac-mock-strict", default=None)
    return bool(option) if option is not None else bool(config.getini(STRICT_INI))


def describe_findings(findings: list[dict]) -> str:
    return "\n".join(f"  request #{f['request']} {f.get('operation') or ''}: {f['check']} [{f['source']}]: "
                     f"{f['message']}" for f in findings)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    client = item.stash.get(_CLIENT, None)
    if client is not None and strict(item.config):
        errors = client.conformance(severity="error")
        if errors:
            pytest.fail(f"pac-mock --pac-mock-strict: {len(errors)} conformance error(s) in session "
                        f"{client.session} (docs/conformance.md):\n{describe_findings(errors)}", pytrace=False)
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    client = item.stash.get(_CLIENT, None)
    if client is None or not report.failed or report.when not in ("call", "setup"):
        return
    try:
        text = client.journal_summary()
    except Exception as exc:  # the sandbox may be what broke; the report must still come out
        text = f"(the journal could not be read: {exc})"
    report.sections.append((f"pac-mock journal (session {client.session})", text))
