"""The emulated providers. Each package exposes ``PROVIDER``: its SOAP services, its own tables, and
an ``install`` hook that registers timer handlers and the like on the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..soap.service import SoapService

if TYPE_CHECKING:
    from flask import Blueprint

    from ..runtime import Context, Runtime
    from ..store import Store


@dataclass
class Provider:
    id: str
    title: str
    services: list[SoapService]
    schema: str = ""
    install: Callable[[Runtime], None] | None = None
    blueprints: list[Blueprint] = field(default_factory=list)
    # What the dashboard and ``GET /__admin/jobs`` show of this provider's state in a session.
    state: Callable[[Context], dict] | None = None
    # Called after ``POST /__admin/reset`` (session None: everything) for state kept outside the store.
    on_reset: Callable[[Runtime, str | None], None] | None = None
    # Called once by ``pac-mock serve`` before its workers start, when no process of an earlier
    # server is alive: release what a crashed server held (claims on work, say).
    on_server_start: Callable[[Store], None] | None = None


def all_providers() -> list[Provider]:
    from .expidetufactura import PROVIDER as expidetufactura
    from .mysuite import PROVIDER as mysuite
    from .solucionfactible import PROVIDER as solucionfactible

    return [solucionfactible, expidetufactura, mysuite]
