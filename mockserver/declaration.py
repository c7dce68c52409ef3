"""What a provider declares: the :class:`Provider` each ``providers/<name>/`` package exposes.

The core reads these declarations (the runtime, scenarios, the journal, the admin API, the TLS
certificate, the test client); the registry that lists them is ``mockserver.providers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .soap.service import SoapService

if TYPE_CHECKING:
    from flask import Blueprint

    from .background import Work
    from .context import Context, Sandbox
    from .store import Store


@dataclass
class Provider:
    id: str
    title: str
    services: list[SoapService]
    # SQL creating the provider's own tables.
    schema: str = ""
    install: Callable[[Sandbox], None] | None = None
    blueprints: list[Blueprint] = field(default_factory=list)
    # What the dashboard and ``GET /__admin/jobs`` show of this provider's state in a session.
    state: Callable[[Context], dict] | None = None
    # Called after ``POST /__admin/reset`` (session None: everything) for state kept outside the store.
    on_reset: Callable[[Sandbox, str | None], None] | None = None
    # Work the provider's runtime does in the background (a slow conversion, say), given the running
    # sandbox; the runtime's runner starts it and stops it before the store closes.
    background: Callable[[Sandbox], Iterable[Work]] | None = None
    # The provider's real HTTPS host names (its documents and WSDLs): the local TLS certificate names them.
    hosts: tuple[str, ...] = ()
    # The test client's names for the provider's service paths (``PacMock.service_url(name)``); empty:
    # the provider's id names its first service's first path.
    paths: Mapping[str, str] = field(default_factory=dict)
    # True when the provider stamps CFDIs: the SAT registry counts its UUIDs as freshly issued.
    stamps: bool = False
    # Called once by ``pac-mock serve`` before its workers start, when no process of an earlier
    # server is alive: release what a crashed server held (claims on work, say).
    on_server_start: Callable[[Store], None] | None = None
    # Operation names a scenario rule may name; None: the names of the services' operations.
    operations: frozenset[str] | None = None
    # Names checked loosely (MYSuite's Transaction names): a rule naming one that matches is accepted.
    operation_pattern: str | None = None
    operation_hint: str = ""  # what those names are, in words (error messages)
    # Further operation names the journal records (besides those above and the services'); a function
    # gives them when first asked (MYSuite reads its Transaction names from its WSDL).
    journal_operations: frozenset[str] | Callable[[], frozenset[str]] = frozenset()
    # Request fields a rule may match on: the keys the wire's field readers (``Operation.fields``) fill.
    fields: frozenset[str] = frozenset()
    # JSON Schema of the keys of the provider's section of a scenarios file (``providers.<id>``) besides
    # ``environment`` and ``accounts``, which every provider has. ``$ref`` may name the core ``$defs``.
    settings_schema: Mapping[str, Any] = field(default_factory=dict)
    # Schema ``$defs`` the fragment refers to, added to the core schema's.
    schema_defs: Mapping[str, Any] = field(default_factory=dict)
    # Reads the section (valid against the fragment) into the provider's typed settings, with their
    # defaults for what it leaves out: (reader, path of the section, section) -> settings. Problems go
    # to ``reader.error`` as ``file:line`` errors (mockserver.scenarios.SettingsReader).
    settings: Callable[[Any, tuple[str, ...], Mapping[str, Any]], Any] | None = None
    # How an account's user compares (None: exactly as written), and what is wrong with a user name
    # (None: nothing) for the scenarios check: MYSuite's users are Requestor GUIDs, in any case.
    user_key: Callable[[str], str] | None = None
    user_problem: Callable[[str], str | None] | None = None
    # Local names of request elements whose content is secret (matched case-insensitively).
    secrets: frozenset[str] = frozenset()
    # The codes the provider answers, with their descriptions, and what the ``code`` of a journal
    # summary means for the client: (text, "ok" | "wait" | "bad") for the dashboard.
    codes: Mapping[Any, str] = field(default_factory=dict)
    code_meaning: Callable[[Mapping[str, Any]], tuple[str, str]] | None = None

    @property
    def rule_operations(self) -> frozenset[str]:
        if self.operations is not None:
            return self.operations
        return frozenset(op.name for s in self.services for op in s.operations)

    def operation_ok(self, name: str) -> bool:
        """True when a rule may name ``name`` for this provider."""
        if name in self.rule_operations:
            return True
        return self.operation_pattern is not None and re.fullmatch(self.operation_pattern, name) is not None

    @property
    def recorded_operations(self) -> frozenset[str]:
        """The operation names the journal may record for this provider."""
        served = frozenset(op.name for s in self.services for op in s.operations)
        journal = self.journal_operations
        return self.rule_operations | served | (journal() if callable(journal) else journal)

    @property
    def service_paths(self) -> dict[str, str]:
        """The test client's name of each service path (see ``paths``)."""
        if self.paths:
            return dict(self.paths)
        return {self.id: self.services[0].paths[0]} if self.services and self.services[0].paths else {}

    def describe(self) -> dict:
        """The declaration as data (``GET /__admin/providers``)."""
        return {
            "id": self.id,
            "title": self.title,
            "operations": sorted(self.recorded_operations),
            "rule_operations": sorted(self.rule_operations),
            "operation_pattern": self.operation_pattern,
            "fields": sorted(self.fields),
            "secrets": sorted(self.secrets),
            "settings": ["environment", "accounts", *self.settings_schema],
            "codes": [{"code": c, "message": m} for c, m in self.codes.items()],
            "hosts": list(self.hosts),
            "paths": self.service_paths,
            "stamps": self.stamps,
        }
