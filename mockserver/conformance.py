"""Conformance: where a client's request departs from what the provider documents.

A sandbox that answers is not proof that the provider will. Each provider declares checks tied to a
line of its document or of its published WSDL; they run on every request the sandbox already parsed
and say, as :class:`Finding` values kept in the journal, what would fail or behave differently in
production:

- ``error``: the provider refuses the request (or ignores what the client meant);
- ``warning``: it works today but is fragile or undocumented;
- ``info``: worth knowing (e.g. no notification e-mail will come).

A scenarios file can turn checks into refusals (``strict: [check-id, ...]``): the request is then
answered with the provider's own code or fault and does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from lxml import etree

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One departure of one request from the contract."""

    check: str
    severity: Severity
    source: str
    message: str
    fidelity: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"check": self.check, "severity": self.severity, "source": self.source, "message": self.message}
        if self.fidelity:
            out["fidelity"] = self.fidelity
        return out


@dataclass(frozen=True)
class Check:
    """A documented rule a request can break.

    ``source`` is ``FILE:LINE`` of a provider document (``provider-docs``) and/or the WSDL element it
    rests on; ``fidelity`` the id of the claim in docs/fidelity.md when one fits; ``refusal`` the
    provider's own code (or ``fault``) a scenario's ``strict`` answers with.
    """

    id: str
    provider: str
    severity: Severity
    source: str
    title: str
    refusal: str
    fidelity: str | None = None

    def finding(self, message: str) -> Finding:
        return Finding(self.id, self.severity, self.source, message, self.fidelity)


@dataclass
class Exchange:
    """What a check sees of one request: the parsed request, never the raw bytes again."""

    provider: str
    operation: str
    environment: str
    path: str
    soap_version: str
    action: str | None
    payload: etree._Element
    # What the operation's reader made of the payload (the payload itself when it has none).
    data: Any
    now: datetime
    # The environment ("pruebas"/"productivo") of the account a user name belongs to, or None.
    account_environment: Callable[[str | None], str | None] = lambda user: None
    # Earlier journal entries of this session (newest first): history(operation=..., limit=...).
    history: Callable[..., list[dict]] = lambda **kwargs: []


Inspector = Callable[[Exchange], list[Finding]]


@dataclass(frozen=True)
class Conformance:
    """A provider's checks and the function that runs them on one request."""

    checks: tuple[Check, ...]
    inspect: Inspector
    # Answers a request a scenario's ``strict`` refuses: (the wire's Call, the finding) -> the
    # response payload in the provider's own words (or raises the provider's SOAP fault).
    refuse: Callable[[Any, Finding], etree._Element] | None = None

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)


# ---------------------------------------------------------------- helpers for checks


def element_order(payload: etree._Element, expected: Sequence[str]) -> list[str] | None:
    """The children's local names when they break ``expected``'s order (unknown names ignored)."""
    names = [etree.QName(c).localname for c in payload if isinstance(c.tag, str)]
    positions = [expected.index(n) for n in names if n in expected]
    return names if positions != sorted(positions) else None


_XS = "http://www.w3.org/2001/XMLSchema"


@functools.cache
def wsdl_sequences(wsdl: Path) -> dict[str, tuple[str, ...]]:
    """Each top-level schema element of a WSDL and its children's names in the schema's order."""
    root = etree.parse(str(wsdl)).getroot()
    out: dict[str, tuple[str, ...]] = {}
    for element in root.iter(f"{{{_XS}}}element"):
        parent = element.getparent()
        if parent is None or etree.QName(parent).localname != "schema":
            continue
        out[element.get("name")] = tuple(e.get("name") for e in element.iterfind(f".//{{{_XS}}}sequence/{{{_XS}}}element"))
    return out


def strict_ids(raw: Mapping[str, Any]) -> frozenset[str]:
    """The check ids a scenarios document (its ``raw`` settings) turns into refusals."""
    return frozenset(raw.get("strict") or ())


# ---------------------------------------------------------------- the registry


def all_checks() -> list[Check]:
    """Every provider's checks, in provider order, each once."""
    from .providers import all_providers

    seen: dict[str, Check] = {}
    for provider in all_providers():
        for service in provider.services:
            declared = getattr(service, "conformance", None)
            for check in declared.checks if declared is not None else ():
                seen.setdefault(check.id, check)
    return list(seen.values())


def check_by_id(check_id: str) -> Check | None:
    return next((c for c in all_checks() if c.id == check_id), None)


# ---------------------------------------------------------------- session summaries


def summarise(entries: Iterable[Mapping[str, Any]], requests: int | None = None) -> dict[str, Any]:
    """A session's findings by check (counts, first request of each), from journal entries.

    ``entries`` are journal rows (``id``, ``at``, ``operation``, ``path``, ``summary``) in any order;
    ``requests`` the number of requests the session made, when known.
    """
    checks: dict[str, dict[str, Any]] = {}
    severities = dict.fromkeys(SEVERITIES, 0)
    with_findings = 0
    for entry in sorted(entries, key=lambda e: e.get("id") or 0):
        findings = (entry.get("summary") or {}).get("findings") or []
        if findings:
            with_findings += 1
        for f in findings:
            severities[f["severity"]] = severities.get(f["severity"], 0) + 1
            item = checks.get(f["check"])
            if item is None:
                known = check_by_id(f["check"])
                item = checks[f["check"]] = {
                    "check": f["check"],
                    "severity": f["severity"],
                    "source": f["source"],
                    "fidelity": f.get("fidelity"),
                    "title": known.title if known else f["check"],
                    "provider": entry.get("provider"),
                    "count": 0,
                    "first": {
                        "id": entry.get("id"),
                        "at": entry.get("at"),
                        "operation": entry.get("operation"),
                        "path": entry.get("path"),
                        "message": f["message"],
                    },
                }
            item["count"] += 1
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return {
        "requests": requests,
        "requests_with_findings": with_findings,
        "severities": severities,
        "checks": sorted(checks.values(), key=lambda c: (order.get(c["severity"], 9), c["check"])),
    }


def session_summary(journal: Any, session: str, *, findings: bool = False) -> dict[str, Any]:
    """:func:`summarise` for one session of a :class:`~mockserver.journal.Journal`; with ``findings``
    also every finding, oldest first, with the request it belongs to."""
    entries = journal.with_findings(session)
    out = {"session": session, **summarise(entries, journal.count(session))}
    if findings:
        out["findings"] = [
            {**f, "request": e["id"], "at": e["at"], "operation": e["operation"], "path": e["path"]}
            for e in sorted(entries, key=lambda e: e["id"])
            for f in e["summary"].get("findings", [])
        ]
    return out


def report_for(target: str, session: str = "default", *, token: str | None = None) -> dict[str, Any]:
    """The session summary of a running sandbox (``target`` is its URL) or of a data directory
    (or its SQLite file), for ``pac-mock report``."""
    if target.startswith(("http://", "https://")):
        from .testing.client import AdminClient

        client = AdminClient(target, session=None if session in ("", "default") else session, token=token)
        return client.conformance_summary()
    from .journal import Journal
    from .store import Store

    path = Path(target)
    if path.is_dir():
        path = path / "pac-mock.sqlite3"
    if not path.is_file():
        raise ValueError(f"{target}: no pac-mock data here (expected a data directory or its pac-mock.sqlite3)")
    summary = session_summary(Journal(Store(path)), "" if session == "default" else session)
    summary["session"] = session
    return summary


def report_text(summary: Mapping[str, Any], session: str = "default") -> str:
    """The summary as lines for a CI log."""
    sev = summary["severities"]
    head = (f"pac-mock conformance, session {session}: {summary['requests_with_findings']} of "
            f"{summary['requests'] if summary['requests'] is not None else '?'} requests with findings "
            f"({sev.get('error', 0)} error, {sev.get('warning', 0)} warning, {sev.get('info', 0)} info)")
    lines = [head]
    for c in summary["checks"]:
        first = c["first"]
        lines.append(f"  {c['severity'].upper():<7} {c['check']} x{c['count']}  [{c['source']}]")
        lines.append(f"          {c['title']}")
        lines.append(f"          first: request #{first['id']} {first['operation'] or ''} {first['path']}: "
                     f"{first['message']}")
    if not summary["checks"]:
        lines.append("  no findings")
    return "\n".join(lines)


# ---------------------------------------------------------------- docs/conformance.md


def markdown() -> str:
    """docs/conformance.md, generated from the checks (a test keeps the file equal to this)."""
    lines = [
        "# Conformance checks",
        "",
        "Every request the sandbox parses is checked against what the provider documents; each finding",
        "goes into the request's journal entry (`summary.findings`), `GET /__admin/conformance`",
        "summarises a session, the dashboard marks the request, and `pac-mock report` prints the summary",
        "(text or `--json`). Severities: `error` — the provider refuses it (or ignores what the client",
        "meant); `warning` — works today but is fragile or undocumented; `info` — worth knowing.",
        "",
        "In tests, `pac_mock.conformance()` returns the session's findings, and `--pac-mock-strict` (or",
        "the ini setting `pac_mock_strict = true`) fails a test whose session has an `error` finding.",
        "A scenarios file (or overlay) can turn checks into refusals: `strict: [check-id, ...]` answers",
        "the request with the code in the *refusal* column and does nothing else.",
        "",
        "Sources name a provider document line (`provider-docs/<file>.txt:LINE`, see docs/fidelity.md)",
        "or the published WSDL; *fidelity* is the claim's id in docs/fidelity.md when one fits.",
        "This file is generated from the code (`python -m mockserver.conformance`).",
        "",
        "| check | provider | severity | what it finds | source | fidelity | refusal |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in all_checks():
        title = c.title.replace("<", "&lt;").replace("|", "\\|")
        lines.append(f"| `{c.id}` | {c.provider} | {c.severity} | {title} | `{c.source}` | "
                     f"{c.fidelity or ''} | {c.refusal} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
