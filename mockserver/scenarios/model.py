"""Typed scenario objects: accounts, the SAT registry seed, provider settings, rules and outcomes."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

AccountState = Literal["active", "blocked", "password_expired", "inactive"]
Environment = Literal["pruebas", "productivo"]
FaultKind = Literal["delay", "http_status", "soap_fault", "drop", "truncate", "malformed"]

# The providers, their operation names and the request fields a rule may match on are what each
# provider declares (mockserver.providers; read through scenarios.declared).

_GLOB_CHARS = re.compile(r"[*?\[]")


def is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS.search(text))


def glob_match(pattern: str, value: str) -> bool:
    """Case-insensitive glob (``*``, ``?``, ``[...]``); UUIDs and RFCs arrive in either case."""
    return fnmatch.fnmatchcase(value.casefold(), pattern.casefold())


# ---------------------------------------------------------------- accounts


@dataclass(frozen=True)
class Account:
    """A user of one provider. For MYSuite ``user`` is the Requestor GUID."""

    provider: str
    user: str
    password: str | None = None
    state: AccountState = "active"
    environment: Environment = "pruebas"
    stamps: int | None = None  # None = unlimited
    permissions: frozenset[str] = frozenset({"*"})
    name: str | None = None
    entities: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()
    description: str | None = None
    line: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return account_key(self.provider, self.user)

    @property
    def active(self) -> bool:
        return self.state == "active"

    def allows(self, permission: str) -> bool:
        """True when the account holds ``permission`` (``"*"`` holds them all)."""
        return "*" in self.permissions or permission in self.permissions

    def check_password(self, password: str | None) -> bool:
        """Accounts without a password (MYSuite) accept any; others compare exactly."""
        return self.password is None or password == self.password


def account_key(provider: str, user: str) -> tuple[str, str]:
    # As the provider declares (MYSuite's requestors are GUIDs, compared without regard to case).
    from . import declared

    key = declared.user_key(provider)
    return (provider, key(user) if key is not None else user)


# ---------------------------------------------------------------- SAT side


@dataclass(frozen=True)
class SatCfdi:
    """What SAT knows about one UUID (or a glob of UUIDs)."""

    uuid: str
    status: Literal["vigente", "cancelado", "en_proceso", "no_encontrado"] = "vigente"
    cancelable: Literal["sin_aceptacion", "con_aceptacion", "no_cancelable"] = "sin_aceptacion"
    issuer: str | None = None  # None = whoever asks
    receiver: str | None = None
    recipient: Literal["acepta", "rechaza", "sin_respuesta"] = "acepta"
    recipient_after: timedelta | None = None
    description: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class SatRegistry:
    """The SAT-side seed: taxpayer registry, revoked certificates and known CFDIs.

    A UUID not listed is taken as existing, ``vigente``, cancelable without acceptance and issued
    by whoever asks to cancel it, so any well-signed request succeeds by default.
    """

    taxpayers: Literal["any"] | frozenset[str] = "any"
    not_taxpayers: frozenset[str] = frozenset()
    revoked_certificates: frozenset[str] = frozenset()
    cfdis: tuple[SatCfdi, ...] = ()

    def is_taxpayer(self, rfc: str) -> bool:
        rfc = rfc.upper()
        if rfc in self.not_taxpayers:
            return False
        return self.taxpayers == "any" or rfc in self.taxpayers

    def cfdi(self, uuid: str) -> SatCfdi | None:
        """The seed entry for ``uuid``: an exact entry first, then the first matching glob."""
        u = uuid.upper()
        for c in self.cfdis:
            if not is_glob(c.uuid) and c.uuid.upper() == u:
                return c
        for c in self.cfdis:
            if is_glob(c.uuid) and glob_match(c.uuid, u):
                return c
        return None


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class ClockSetting:
    """Start the mock clock frozen at ``freeze`` or running at real time + ``offset``."""

    freeze: datetime | None = None
    offset: timedelta | None = None


@dataclass(frozen=True)
class TrustSettings:
    ca_files: tuple[Path, ...] = ()  # resolved against the scenarios file's folder
    cas: tuple[bytes, ...] = ()  # the CA certificates themselves (files read once, or inline PEM)
    fixture_ca: bool = True  # trust the project's test PKI root
    accept_sat_issuers: bool = True  # accept certificates whose issuer is named like SAT's CAs
    check_validity: bool = True  # enforce the certificate's notBefore/notAfter against the mock clock

    def store(self):
        """The SAT trust store these settings describe (built once per distinct setting)."""
        from ..sat.certificates import TrustStore

        return TrustStore.for_settings(self.fixture_ca, self.cas, self.accept_sat_issuers)


@dataclass(frozen=True)
class ProviderSettings:
    """One provider's section of the scenarios: what every provider has (environment, accounts) and
    ``options``, the provider's own settings as its declaration reads them (``Provider.settings``).

    ``extra`` is the section as written (without ``accounts``), for anything the options do not hold.
    The options' attributes read as this object's own (``settings.resolve_within``).
    """

    id: str
    environment: Environment = "pruebas"
    accounts: tuple[Account, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    options: Any = None

    def __getattr__(self, name: str) -> Any:
        options = self.__dict__.get("options")
        if name.startswith("__") or options is None:
            raise AttributeError(name)
        try:
            return getattr(options, name)
        except AttributeError:
            raise AttributeError(f"{self.id} settings have no {name!r}") from None


# ---------------------------------------------------------------- rules


class Transition(NamedTuple):
    """A delayed change of answer: ``after`` the first answer, report ``code``/``message``."""

    after: timedelta
    code: int
    message: str | None = None


@dataclass(frozen=True)
class Fault:
    """A transport-level misbehaviour. ``params`` holds the kind's settings as written.

    kinds: delay (seconds; combines with a normal answer), http_status (status, body,
    content_type), soap_fault (faultcode, faultstring, detail), drop (close the connection),
    truncate (keep_bytes of the real answer; default half), malformed (body; default broken XML).
    """

    kind: FaultKind
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(self.params.get("seconds", 0.0))

    @property
    def status(self) -> int | None:
        return self.params.get("status")

    @property
    def faultcode(self) -> str:
        return self.params.get("faultcode", "Server")

    @property
    def faultstring(self) -> str:
        return self.params.get("faultstring", "Internal server error")

    @property
    def keep_bytes(self) -> int | None:
        return self.params.get("keep_bytes")


@dataclass(frozen=True)
class Outcome:
    """What a matching rule makes the service answer.

    ``code``/``message`` replace the service's own result (None = let the real rules decide);
    ``uuid_codes`` give per-UUID codes (keys may be globs); ``then`` lists delayed transitions;
    ``fault`` misbehaves on the transport (a ``delay`` fault still answers afterwards);
    ``extra`` carries provider-specific response values as written.
    """

    code: int | None = None
    message: str | None = None
    uuid_codes: Mapping[str, int] = field(default_factory=dict)
    then: tuple[Transition, ...] = ()
    fault: Fault | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """What this outcome does, in a few words (journal and dashboard)."""
        parts: list[str] = []
        if self.fault is not None:
            extra = self.fault.status or (f"{self.fault.seconds:g}s" if self.fault.kind == "delay" else "")
            parts.append(f"fault {self.fault.kind}{f' {extra}' if extra else ''}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.uuid_codes:
            parts.append("per-UUID codes " + ", ".join(f"{k}={v}" for k, v in self.uuid_codes.items()))
        for t in self.then:
            parts.append(f"then {t.code} after {t.after}")
        return "; ".join(parts) or "no change (the real checks answer)"

    def code_for_uuid(self, uuid: str) -> int | None:
        """The per-UUID code for ``uuid``: an exact key first, then the first matching glob key."""
        for key, code in self.uuid_codes.items():
            if not is_glob(key) and key.upper() == uuid.upper():
                return code
        for key, code in self.uuid_codes.items():
            if is_glob(key) and glob_match(key, uuid):
                return code
        return None


@dataclass(frozen=True)
class FieldTest:
    """One field condition: exact (case-insensitive), glob (case-insensitive), regex (searched) or absent."""

    field: str
    kind: Literal["exact", "glob", "regex", "absent"]
    patterns: tuple[str, ...] = ()
    compiled: tuple[Any, ...] = ()  # RE2 patterns (scenarios.build.compile_regex)

    def test(self, value: str | None) -> bool:
        if self.kind == "absent":
            return value is None or value == ""
        if value is None:
            return False
        if self.kind == "exact":
            v = value.casefold()
            return any(p.casefold() == v for p in self.patterns)
        if self.kind == "glob":
            return any(glob_match(p, value) for p in self.patterns)
        return any(r.search(value) for r in self.compiled)


@dataclass(frozen=True)
class Matcher:
    """Which requests a rule applies to: providers, operations (globs) and field tests (all must pass)."""

    providers: frozenset[str] | None = None  # None = any
    operations: tuple[str, ...] = ()  # empty = any
    fields: tuple[FieldTest, ...] = ()

    def matches(self, provider: str, operation: str, fields: Mapping[str, str | None]) -> bool:
        if self.providers is not None and provider not in self.providers:
            return False
        if self.operations and not any(fnmatch.fnmatchcase(operation, op) for op in self.operations):
            return False
        return all(t.test(fields.get(t.field)) for t in self.fields)


@dataclass(frozen=True)
class Rule:
    """A scenario rule. Call ``n`` (0-based, counted by the caller) gets ``outcomes[min(n, len-1)]``,
    or ``outcomes[n % len]`` when the rule cycles."""

    id: str
    match: Matcher
    outcomes: tuple[Outcome, ...]
    times: int | None = None
    probability: float = 1.0
    priority: int = 0
    description: str | None = None
    source: str = ""
    line: int | None = None
    cycle: bool = False
    # Names this definition's call count: a changed definition (or a new overlay) counts afresh.
    key: str = ""

    def outcome_for(self, call_index: int) -> Outcome:
        n = max(call_index, 0)
        return self.outcomes[n % len(self.outcomes) if self.cycle else min(n, len(self.outcomes) - 1)]

    @property
    def faults(self) -> bool:
        """True when some outcome misbehaves on the transport (it then applies before the service)."""
        return any(o.fault is not None for o in self.outcomes)

    def origin(self) -> str:
        """Where the rule is written: ``file:line``."""
        return f"{self.source}:{self.line}" if self.line else self.source

    def active(self, call_index: int) -> bool:
        """False once the rule has been applied ``times`` times (``call_index`` counts from 0)."""
        return self.times is None or call_index < self.times

    def matches(self, provider: str, operation: str, fields: Mapping[str, str | None]) -> bool:
        return self.match.matches(provider, operation, fields)


