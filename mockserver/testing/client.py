"""A small admin client for a running sandbox (docker, CI service, or the in-process fixture).

Standard library only, so it adds nothing to a user's test dependencies.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any


def service_paths() -> dict[str, str]:
    """Each provider service's name for the test client and its path (``Provider.paths``)."""
    from ..providers import all_providers

    return {name: path for p in all_providers() for name, path in p.service_paths.items()}


class AdminError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"admin API answered {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    """``/__admin`` of one sandbox, optionally within one session (``/__session/<id>``)."""

    def __init__(self, base_url: str, session: str | None = None, token: str | None = None, timeout: float = 30):
        self.root = base_url.rstrip("/")
        self.session = session
        self.token = token
        self.timeout = timeout
        self.clock = _Clock(self)
        self.mail = _Mail(self)

    @property
    def url(self) -> str:
        """Base URL of the services as this client's session sees them."""
        return f"{self.root}/__session/{self.session}" if self.session else self.root

    def service_url(self, provider: str) -> str:
        paths = service_paths()
        if provider not in paths:
            raise KeyError(f"no service {provider!r}; known: {', '.join(sorted(paths))}")
        return self.url + paths[provider]

    def call(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        data = None
        headers = {}
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(f"{self.url}/__admin/{path.lstrip('/')}", data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = raw.decode("utf-8", "replace")
            raise AdminError(exc.code, detail) from None
        return json.loads(raw) if raw else None

    def health(self) -> dict:
        return self.call("GET", "health")

    def wait_until_healthy(self, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health()
            except (OSError, AdminError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def reset(self) -> None:
        self.call("POST", "reset", {})

    def scenario(self, overlay: str | dict) -> None:
        """Apply a scenarios overlay (YAML text or a dict) to this session."""
        if isinstance(overlay, str):
            self.call("PUT", "scenarios", overlay, content_type="application/yaml")
        else:
            self.call("PUT", "scenarios", overlay)

    def clear_scenario(self) -> None:
        self.call("DELETE", "scenarios")

    def add_rules(self, rules: str | dict | list) -> list[str]:
        """Add rules to this session's overlay (YAML text, a rule, or a list); a rule with an existing id
        is replaced. Returns the ids added."""
        if isinstance(rules, str):
            return self.call("POST", "scenarios/rules", rules, content_type="application/yaml")["added"]
        return self.call("POST", "scenarios/rules", rules)["added"]

    def remove_rule(self, rule_id: str) -> None:
        self.call("DELETE", f"scenarios/rules/{urllib.parse.quote(rule_id, safe='')}")

    def rules(self) -> list[dict]:
        """Active rules in the order they are tried, with ``hits`` and ``remaining`` in this session."""
        return self.call("GET", "scenarios")["rules"]

    def requests(self, provider: str | None = None, operation: str | None = None, limit: int = 100, *,
                 uuid: str | None = None) -> list[dict]:
        """Journal entries, newest first; ``uuid`` keeps those that name that UUID (any provider)."""
        _check_names(provider, operation)
        query = urllib.parse.urlencode({k: v for k, v in (("provider", provider), ("operation", operation),
                                                         ("uuid", uuid), ("limit", limit)) if v})
        return self.call("GET", f"requests?{query}")["requests"]

    def count(self, provider: str | None = None, operation: str | None = None, *, uuid: str | None = None) -> int:
        _check_names(provider, operation)
        query = urllib.parse.urlencode({k: v for k, v in (("provider", provider), ("operation", operation),
                                                         ("uuid", uuid)) if v})
        return self.call("GET", f"requests/count?{query}")["count"]

    def last(self, provider: str | None = None, operation: str | None = None) -> dict:
        """The newest journal entry (optionally of one provider or operation)."""
        entries = self.requests(provider, operation, limit=1)
        if not entries:
            raise LookupError(f"no request recorded for provider={provider} operation={operation}")
        return entries[0]

    def journal_summary(self, limit: int = 30) -> str:
        """The session's latest calls, one line each, oldest first: what a failing test's report shows."""
        entries = list(reversed(self.requests(limit=limit)))
        lines = []
        for e in entries:
            summary = e.get("summary") or {}
            code = summary.get("code", "")
            rules = ", ".join(f"{r['id']}: {r.get('did', '')}" for r in summary.get("rules", []))
            extra = "".join(
                f" {k}={summary[k]}" for k in ("uuid", "fault", "injected") if summary.get(k) not in (None, "")
            )
            lines.append(f"#{e['id']} {e['at']} {e['provider'] or '-'} {e['operation'] or '-'} "
                         f"HTTP {e['status']} code={code}{extra}" + (f" rules=[{rules}]" if rules else ""))
        return "\n".join(lines) or "(no requests in this session)"

    def conformance(self, severity: str | None = None) -> list[dict]:
        """The session's conformance findings, oldest first: ``check``, ``severity``, ``source``,
        ``message`` and the ``request`` (journal id) each belongs to (docs/conformance.md)."""
        found = self.call("GET", "conformance?findings=1")["findings"]
        return [f for f in found if severity is None or f["severity"] == severity]

    def conformance_summary(self) -> dict:
        """``GET /__admin/conformance``: findings by check, with counts and the first request of each."""
        return self.call("GET", "conformance")

    def timers(self) -> list[dict]:
        return self.call("GET", "timers")["pending"]

    def jobs(self, provider: str | None = None) -> dict:
        """Each provider's asynchronous work; one provider's when named."""
        everything = self.call("GET", "jobs")
        return everything if provider is None else everything.get(provider, {})

    def registry(self) -> list[dict]:
        return self.call("GET", "registry")["uuids"]

    def registry_status(self, uuid: str) -> str | None:
        """What SAT knows of ``uuid`` in this session (vigente, en_proceso, cancelado, rechazado) or None."""
        found = self.call("GET", f"registry?{urllib.parse.urlencode({'uuid': uuid})}")["uuids"]
        return found[0]["status"] if found else None

    # Solución Factible cancellations waiting for the recipient.

    def cancellation(self, uuid: str) -> dict:
        return self.call("GET", f"solucionfactible/cancellations/{urllib.parse.quote(uuid)}")

    def accept(self, uuid: str) -> dict:
        return self.call("POST", f"solucionfactible/cancellations/{urllib.parse.quote(uuid)}/accept", {})

    def deny(self, uuid: str) -> dict:
        return self.call("POST", f"solucionfactible/cancellations/{urllib.parse.quote(uuid)}/deny", {})


def known_operations() -> dict[str, frozenset[str]]:
    """Operation names the journal records, per provider (MYSuite: its Transaction names)."""
    from ..providers import all_providers

    return {p.id: p.recorded_operations for p in all_providers()}


def _check_names(provider: str | None, operation: str | None) -> None:
    """A misspelt provider or operation would only count zero: say so instead."""
    known = known_operations()
    if provider is not None and provider not in known:
        raise ValueError(f"unknown provider {provider!r}; valid: {', '.join(known)}")
    if operation is None:
        return
    names = known[provider] if provider else frozenset().union(*known.values())
    if operation not in names:
        raise ValueError(f"unknown operation {operation!r}{f' for {provider}' if provider else ''}; "
                         f"valid: {', '.join(sorted(names))}")


class _Clock:
    def __init__(self, client: AdminClient) -> None:
        self._c = client

    def now(self) -> dict:
        return self._c.call("GET", "clock")

    def freeze(self, at: str | datetime | None = None) -> dict:
        """Stop the clock now, or at ``at`` (an ISO text or datetime; naive means Mexico City time)."""
        value = at.isoformat() if isinstance(at, datetime) else at
        return self._c.call("POST", "clock", {"freeze": value or "now"})

    def advance(self, duration: str) -> dict:
        return self._c.call("POST", "clock", {"advance": duration})

    def reset(self) -> dict:
        return self._c.call("POST", "clock", {"reset": True})


class _Mail:
    def __init__(self, client: AdminClient) -> None:
        self._c = client

    def messages(self, **filters: str) -> list[dict]:
        query = urllib.parse.urlencode(filters)
        return self._c.call("GET", f"mail?{query}")["messages"]

    def wait(self, count: int = 1, timeout: float = 10, **filters: str) -> list[dict]:
        """Block until this session's outbox holds ``count`` messages; TimeoutError otherwise."""
        query = urllib.parse.urlencode({"count": count, "timeout": timeout, **filters})
        answer = self._c.call("GET", f"mail/wait?{query}")
        if answer.get("timed_out"):
            raise TimeoutError(f"{len(answer['messages'])} of {count} messages after {timeout} s: {answer['messages']}")
        return answer["messages"]

    def clear(self) -> None:
        self._c.call("DELETE", "mail")
