"""Turn validated scenario data into typed objects, with a semantic pass that reports file:line errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import re2

from ..sat.verdict import ACEPTA, SIN_ACEPTACION, VIGENTE
from . import declared
from .loader import LineMap
from .model import (
    Account,
    ClockSetting,
    Fault,
    FieldTest,
    Matcher,
    Outcome,
    ProviderSettings,
    Rule,
    SatCfdi,
    SatRegistry,
    Transition,
    TrustSettings,
    is_glob,
)
from .units import parse_duration


def fixture_catalog() -> dict[str, dict[str, Any]]:
    """Certificate fixtures of the project's test PKI by name (``kind``, ``rfc``, ...), from its manifest."""
    from mockserver.sat.pki import load_manifest  # the PKI is the single source of fixture names

    return dict(load_manifest()["certificates"])

# A CA certificate is a few KB; anything above this is refused before it is read whole.
MAX_CA_BYTES = 1024 * 1024

# A naive freeze time is Mexico City wall time, as CFDI dates are.
MEXICO = ZoneInfo("America/Mexico_City")


def compile_regex(pattern: str) -> Any:
    """A rule's regular expression, compiled by RE2: matching time is linear in the value, so no
    pattern (``^(a+)+$``) can stall a worker. RE2 has no backreferences or lookarounds; such a
    pattern is refused here with RE2's reason (ValueError)."""
    options = re2.Options()
    options.log_errors = False  # the reason goes to the scenario error instead of stderr
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise ValueError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None


class SettingsReader(Protocol):
    """What a provider's settings reader (``Provider.settings``) gets to report problems and read values."""

    # Certificate fixtures by name (``kind``, ``rfc``; empty mappings when only names are known).
    fixtures: dict[str, dict[str, Any]]

    def error(self, path: tuple[str | int, ...], message: str) -> None: ...

    def duration(self, path: tuple[str | int, ...], raw: Any) -> Any: ...


class Builder:
    """Builds one document's objects; problems go to ``errors`` instead of raising."""

    def __init__(self, lines: LineMap, *, overlay: bool, base_dir: Path | None,
                 fixture_names: Iterable[str] | None) -> None:
        self.lines = lines
        self.overlay = overlay
        self.base_dir = base_dir
        # Explicit names (e.g. a user's own PKI) carry no kind/RFC, so only the name is checked then.
        self.fixtures = fixture_catalog() if fixture_names is None else {n: {} for n in fixture_names}
        self.errors: list[str] = []

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        self.errors.append(self.lines.at(path, message))

    # ------------------------------------------------------------ settings

    def clock(self, raw: Any) -> ClockSetting | None:
        if raw is None:
            return None
        if "freeze" in raw and "offset" in raw:
            self.error(("clock",), "clock: give either 'freeze' or 'offset', not both")
            return None
        if "freeze" in raw:
            try:
                when = datetime.fromisoformat(str(raw["freeze"]))
            except ValueError:
                self.error(("clock", "freeze"), f"clock.freeze: {raw['freeze']!r} is not an ISO 8601 date-time")
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=MEXICO)
            return ClockSetting(freeze=when)
        if "offset" in raw:
            return ClockSetting(offset=self.duration(("clock", "offset"), raw["offset"]))
        return None

    def duration(self, path: tuple[str | int, ...], raw: Any):
        try:
            return parse_duration(raw)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def trust(self, raw: dict[str, Any]) -> TrustSettings:
        files: list[Path] = []
        cas: list[bytes] = []
        for i, entry in enumerate(raw.get("ca_files", [])):
            path = ("trust", "ca_files", i)
            if entry.lstrip().startswith("-----BEGIN"):
                data: bytes | None = entry.encode("ascii", "replace")
            else:
                p = self.ca_file(path, i, entry)
                if p is None:
                    continue
                files.append(p)
                data = self.ca_bytes(path, i, entry, p)
            if data is not None and self.certificate_ok(path, i, data):
                cas.append(data)
        return TrustSettings(
            ca_files=tuple(files),
            cas=tuple(cas),
            fixture_ca=raw.get("fixture_ca", True),
            accept_sat_issuers=raw.get("accept_sat_issuers", True),
            check_validity=raw.get("check_validity", True),
        )

    def ca_file(self, path: tuple[str | int, ...], i: int, name: str) -> Path | None:
        """Where a CA file entry points; an overlay reaches only files under the scenarios file's folder.

        An overlay gets one answer for every other path, whether a file is there or not, so that it
        cannot probe the server's files.
        """
        p = Path(name)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        try:
            if self.overlay:
                inside = self.base_dir is not None and p.resolve().is_relative_to(self.base_dir.resolve())
                if not inside:
                    self.error(path, f"trust.ca_files[{i}]: an overlay may name only certificate files in the "
                                     "scenarios file's folder, or give the certificate inline (PEM text)")
                    return None
            found = p.is_file()
        except (OSError, ValueError):  # a name no file system takes (a NUL byte, too long)
            found = False
        if not found:
            self.error(path, f"trust.ca_files[{i}]: file not found: {name}")
            return None
        return p

    def ca_bytes(self, path: tuple[str | int, ...], i: int, name: str, p: Path) -> bytes | None:
        """The file's bytes, read once here (never per request), when small enough to be a certificate."""
        try:
            with p.open("rb") as f:
                data = f.read(MAX_CA_BYTES + 1)
        except OSError as exc:
            self.error(path, f"trust.ca_files[{i}]: cannot read {name}: {exc.strerror or exc}")
            return None
        if len(data) > MAX_CA_BYTES:
            self.error(path, f"trust.ca_files[{i}]: {name} is larger than 1 MB: not a certificate")
            return None
        return data

    def certificate_ok(self, path: tuple[str | int, ...], i: int, data: bytes) -> bool:
        from mockserver.sat.certificates import load_certificate
        from mockserver.sat.errors import CertificateError

        try:
            load_certificate(data)
        except CertificateError:
            self.error(path, f"trust.ca_files[{i}]: not an X.509 certificate (PEM or DER)")
            return False
        return True

    def sat(self, raw: dict[str, Any]) -> SatRegistry:
        taxpayers = raw.get("taxpayers", "any")
        cfdis: list[SatCfdi] = []
        seen: dict[str, int] = {}
        for i, c in enumerate(raw.get("cfdis", [])):
            path = ("sat", "cfdis", i)
            line = self.lines.line(path)
            key = c["uuid"].upper()
            if key in seen:
                self.error(path, f"sat.cfdis[{i}]: UUID {c['uuid']} is listed twice (first on line {seen[key]})")
            seen[key] = line or 0
            after = c.get("recipient_after")
            cfdis.append(SatCfdi(
                uuid=key, status=c.get("status", VIGENTE),
                cancelable=c.get("cancelable", SIN_ACEPTACION),
                issuer=c.get("issuer"), receiver=c.get("receiver"), recipient=c.get("recipient", ACEPTA),
                recipient_after=self.duration((*path, "recipient_after"), after) if after is not None else None,
                description=c.get("description"), line=line,
            ))
        return SatRegistry(
            taxpayers="any" if taxpayers == "any" else frozenset(taxpayers),
            not_taxpayers=frozenset(raw.get("not_taxpayers", [])),
            revoked_certificates=frozenset(raw.get("revoked_certificates", [])),
            cfdis=tuple(cfdis),
        )

    def provider(self, pid: str, raw: dict[str, Any]) -> ProviderSettings:
        declaration = next((p for p in declared.providers() if p.id == pid), None)
        read = declaration.settings if declaration is not None else None
        return ProviderSettings(
            id=pid, environment=raw.get("environment", "pruebas"),
            extra={k: v for k, v in raw.items() if k != "accounts"},
            options=read(self, ("providers", pid), raw) if read is not None else None,
        )

    def accounts(self, pid: str, raw: list[dict[str, Any]], seen: dict[tuple[str, str], int]) -> list[Account]:
        out: list[Account] = []
        check_user = next((p.user_problem for p in declared.providers() if p.id == pid), None)
        for i, a in enumerate(raw):
            path = ("providers", pid, "accounts", i)
            line = self.lines.line(path)
            user = str(a["user"])
            problem = check_user(user) if check_user is not None else None
            if problem:
                self.error((*path, "user"), f"providers.{pid}.accounts[{i}].user: {problem}")
            acc = Account(
                provider=pid, user=user,
                password=None if a.get("password") is None else str(a["password"]),
                state=a.get("state", "active"), environment=a.get("environment", "pruebas"),
                stamps=a.get("stamps"), permissions=frozenset(a.get("permissions", ["*"])),
                name=a.get("name"), entities=tuple(a.get("entities", ())),
                user_names=tuple(a.get("user_names", ())), description=a.get("description"), line=line,
            )
            if acc.key in seen:
                self.error(path, f"providers.{pid}.accounts[{i}]: duplicate account {user!r} "
                                 f"(first on line {seen[acc.key]})")
                continue
            seen[acc.key] = line or 0
            out.append(acc)
        return out

    # ------------------------------------------------------------ rules

    def rules(self, raw: list[dict[str, Any]]) -> list[Rule]:
        out: list[Rule] = []
        ids: dict[str, int] = {}
        prefix = "overlay" if self.overlay else "rule"
        for i, r in enumerate(raw):
            path = ("rules", i)
            line = self.lines.line(path)
            rid = r.get("id") or f"{prefix}-{i + 1}"
            if rid in ids:
                self.error((*path, "id") if "id" in r else path,
                           f"rules[{i}]: duplicate rule id {rid!r} (first on line {ids[rid]})")
            ids[rid] = line or 0
            if r.get("cycle") and "outcomes" not in r:
                self.error((*path, "cycle"), f"rules[{i}].cycle: a cycle needs a list of 'outcomes'")
            definition = json.dumps(r, sort_keys=True, default=str, ensure_ascii=False)
            out.append(Rule(
                id=rid, match=self.matcher(i, r), outcomes=self.outcomes(i, r),
                times=r.get("times"), probability=float(r.get("probability", 1.0)),
                priority=r.get("priority", 0), description=r.get("description"),
                source=self.lines.source, line=line, cycle=bool(r.get("cycle", False)),
                key=f"rule:{rid}:{hashlib.sha256(definition.encode()).hexdigest()[:12]}",
            ))
        return out

    def matcher(self, i: int, r: dict[str, Any]) -> Matcher:
        prov = r.get("provider", "*")
        providers = None if prov == "*" else frozenset([prov] if isinstance(prov, str) else prov)
        ops_raw = r.get("operation", [])
        ops = tuple([ops_raw] if isinstance(ops_raw, str) else ops_raw)
        # The schema admits only registered ids, so every named provider is declared here.
        named = [p for p in declared.providers() if providers is None or p.id in providers]
        for j, op in enumerate(ops):
            if op == "*" or is_glob(op):
                continue
            if not any(p.operation_ok(op) for p in named):
                where = ("rules", i, "operation", j) if isinstance(ops_raw, list) else ("rules", i, "operation")
                names = sorted(set().union(*(p.rule_operations for p in named)))
                loose = [f"{p.title}: {p.operation_hint or p.operation_pattern}" for p in named if p.operation_pattern]
                self.error(where, f"rules[{i}].operation: unknown operation {op!r} for "
                                  f"{'/'.join(sorted(p.id for p in named))} (known: {', '.join(names)}"
                                  f"{''.join(f'; {text}' for text in loose)})")
        allowed = declared.fields(providers)
        tests: list[FieldTest] = []
        for name, spec in (r.get("match") or {}).items():
            fpath = ("rules", i, "match", name)
            if name not in allowed:
                self.error(fpath, f"rules[{i}].match: unknown field {name!r} (known: {', '.join(sorted(allowed))})")
                continue
            tests.append(self.field_test(fpath, f"rules[{i}].match.{name}", name, spec))
        return Matcher(providers=providers, operations=ops, fields=tuple(tests))

    def field_test(self, path: tuple[str | int, ...], where: str, name: str, spec: Any) -> FieldTest:
        if spec is None:
            return FieldTest(name, "absent")
        if isinstance(spec, dict):
            ((kind, values),) = spec.items()
        else:
            values = spec
            items = spec if isinstance(spec, list) else [spec]
            kind = "glob" if any(is_glob(str(v)) for v in items) else "exact"
        patterns = tuple(str(v) for v in (values if isinstance(values, list) else [values]))
        compiled: list[Any] = []
        if kind == "regex":
            for p in patterns:
                try:
                    compiled.append(compile_regex(p))
                except ValueError as exc:
                    self.error(path, f"{where}: bad regular expression {p!r}: {exc}")
        return FieldTest(name, kind, patterns, tuple(compiled))

    def outcomes(self, i: int, r: dict[str, Any]) -> tuple[Outcome, ...]:
        if ("outcome" in r) == ("outcomes" in r):
            self.error(("rules", i), f"rules[{i}]: give exactly one of 'outcome' or 'outcomes'")
            return (Outcome(),)
        if "outcome" in r:
            return (self.outcome(("rules", i, "outcome"), r["outcome"]),)
        return tuple(self.outcome(("rules", i, "outcomes", j), o) for j, o in enumerate(r["outcomes"]))

    def outcome(self, path: tuple[str | int, ...], o: dict[str, Any]) -> Outcome:
        then: list[Transition] = []
        for k, t in enumerate(o.get("then", [])):
            after = self.duration((*path, "then", k, "after"), t["after"])
            if after is not None:
                then.append(Transition(after, t["code"], t.get("message")))
        fault = None
        if "fault" in o:
            params = {k: v for k, v in o["fault"].items() if k != "kind"}
            if "seconds" in params:
                d = self.duration((*path, "fault", "seconds"), params["seconds"])
                params["seconds"] = d.total_seconds() if d is not None else 0.0
            fault = Fault(kind=o["fault"]["kind"], params=params)
        return Outcome(
            code=o.get("code"), message=o.get("message"),
            uuid_codes={str(k).upper() if not is_glob(str(k)) else str(k): v
                        for k, v in (o.get("uuid_codes") or {}).items()},
            then=tuple(then), fault=fault, extra=dict(o.get("extra") or {}),
        )
