"""The emulated providers and their registry.

Each package ``providers/<name>/`` exposes one ``PROVIDER`` that declares everything the rest of the
sandbox knows about it: its SOAP services, the operation names and request fields a scenario rule may
match on, its section of the scenarios file (a JSON Schema fragment), the elements whose content is
secret, its code catalogue, its own tables, and hooks for installation, server start, reset and the dashboard. Scenarios
validation, the schema, the journal's redaction, the admin API and the test client read these
declarations; adding a provider means adding its folder and one line to :func:`all_providers`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..declaration import Provider

__all__ = ["Provider", "all_providers", "provider", "provider_ids", "registered"]


_added: list[Provider] = []


def all_providers() -> list[Provider]:
    from .expidetufactura import PROVIDER as expidetufactura
    from .mysuite import PROVIDER as mysuite
    from .solucionfactible import PROVIDER as solucionfactible

    return [solucionfactible, expidetufactura, mysuite, *_added]


def provider_ids() -> tuple[str, ...]:
    return tuple(p.id for p in all_providers())


def provider(provider_id: str) -> Provider | None:
    return next((p for p in all_providers() if p.id == provider_id), None)


@contextmanager
def registered(extra: Provider) -> Iterator[Provider]:
    """``extra`` is one of :func:`all_providers` within the block: a provider defined outside the
    package, e.g. by a test. A runtime built inside the block serves it."""
    if any(p.id == extra.id for p in all_providers()):
        raise ValueError(f"a provider {extra.id!r} is already registered")
    _added.append(extra)
    try:
        yield extra
    finally:
        _added.remove(extra)
