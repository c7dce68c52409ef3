"""docs/admin-api.md and docs/clients.md stay in step with the app: every admin route documented,
every documented route real, every service path in the clients guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver.app import create_app
from mockserver.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(memory=True))


def _normal(path: str) -> str:
    """``<path:filename>`` and ``<filename>`` are the same placeholder."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", path)


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (method, _normal(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/__admin")
        for method in rule.methods - IGNORED_METHODS
    }


def documented_routes() -> set[tuple[str, str]]:
    """Headings like ``### `GET /__admin/clock` `` or ``### `PUT /__admin/scenarios` (also `POST`)``."""
    routes = set()
    for line in (DOCS / "admin-api.md").read_text().splitlines():
        if not line.startswith("### "):
            continue
        quoted = re.findall(r"`([^`]+)`", line)
        if not quoted or " /__admin" not in quoted[0]:
            continue
        method, path = quoted[0].split(" ", 1)
        methods = [method, *(q for q in quoted[1:] if re.fullmatch(r"[A-Z]+", q))]
        routes |= {(m, _normal(path.strip())) for m in methods}
    return routes


def test_every_admin_route_is_documented(app):
    missing = sorted(app_routes(app) - documented_routes())
    assert not missing, "add a '### `METHOD /__admin/...`' section to docs/admin-api.md for: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )


def test_every_documented_admin_route_exists(app):
    stale = sorted(documented_routes() - app_routes(app))
    assert not stale, "docs/admin-api.md documents routes the app does not have: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )


def test_clients_guide_names_every_service_path(app):
    guide = (DOCS / "clients.md").read_text()
    runtime = app.extensions["pac_mock"]
    for provider in runtime.providers:
        assert provider.id in guide
        for service in provider.services:
            # Each service's main path; the Axis2 port variants are listed by pattern.
            assert service.paths[0] in guide, f"docs/clients.md does not mention {service.paths[0]}"
