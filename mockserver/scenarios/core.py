"""The Scenarios object and the functions that load, check and merge scenario files."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..sat.certificates import Certificate
from ..sat.policy import check_certificate_policy
from . import declared
from .build import Builder
from .loader import LineMap, parse_yaml, validate
from .model import (
    Account,
    ClockSetting,
    ProviderSettings,
    Rule,
    SatRegistry,
    TrustSettings,
    account_key,
)


class ScenarioError(Exception):
    """A scenarios file or overlay is invalid. ``errors`` holds ``file:line: message`` strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class Scenarios:
    """A loaded, validated set of scenarios (immutable; ``merged`` returns a new one)."""

    def __init__(self, *, source: str, raw: dict[str, Any], clock: ClockSetting | None, seed: int | None,
                 trust: TrustSettings, sat: SatRegistry, providers: Mapping[str, ProviderSettings],
                 rules: Iterable[Rule], overlay: bool = False, description: str | None = None,
                 layers: Iterable[str] = ()) -> None:
        self.source = source
        # The files this one builds on, outermost base first, then this one (``extends``).
        self.layers: tuple[str, ...] = tuple(layers) or (source,)
        self.raw = raw  # the document's settings as written (without accounts and rules), for merging
        self.clock = clock
        self.seed = seed
        self.trust = trust
        self.sat = sat
        self.overlay = overlay
        self.description = description
        self._providers = dict(providers)
        # Stable sort: higher priority first, then written order (overlay rules already come first).
        self.written_rules: tuple[Rule, ...] = tuple(rules)
        self.rules: tuple[Rule, ...] = tuple(sorted(self.written_rules, key=lambda r: -r.priority))
        self._accounts = {a.key: a for p in self._providers.values() for a in p.accounts}
        self._defaults: dict[str, ProviderSettings] = {}

    def __repr__(self) -> str:
        return f"<Scenarios {self.source} rules={len(self.rules)} accounts={len(self._accounts)}>"

    # ------------------------------------------------------------ queries

    def certificate_policy(self, cert: Certificate, now: datetime, fecha: datetime | None = None) -> None:
        """SAT's certificate policy with this scenario's trust store, revocation list and validity
        setting (``sat.check_certificate_policy``); raises its :class:`~mockserver.sat.SatError`."""
        check_certificate_policy(cert, self.trust.store(), now, fecha=fecha, revoked=self.sat.revoked_certificates,
                                 check_validity_dates=self.trust.check_validity)

    def provider(self, provider: str) -> ProviderSettings:
        """Settings for ``provider`` (defaults when the file has no section for it)."""
        _check_provider(provider)
        found = self._providers.get(provider) or self._defaults.get(provider)
        if found is None:
            found = self._defaults[provider] = Builder(LineMap(self.source), overlay=False, base_dir=None,
                                                        fixture_names=()).provider(provider, {})
        return found

    def environment(self, provider: str) -> str:
        """The environment ("pruebas" or "productivo") the mock plays for ``provider``."""
        return self.provider(provider).environment

    def accounts(self, provider: str) -> list[Account]:
        return list(self.provider(provider).accounts)

    def account(self, provider: str, user: str) -> Account | None:
        """The account of ``user`` (MYSuite: the Requestor GUID, any case), or None."""
        _check_provider(provider)
        return self._accounts.get(account_key(provider, user))

    def match(self, provider: str, operation: str, fields: Mapping[str, str | None]) -> list[Rule]:
        """Rules that match this request, highest priority first (overlay rules before file rules)."""
        return [r for r in self.rules if r.matches(provider, operation, fields)]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def summary(self) -> dict[str, Any]:
        """What this set amounts to: layers, users per provider, rule ids, and warnings."""
        accounts = {pid: [a.user for a in self.accounts(pid)] for pid in declared.provider_ids()}
        warnings = [f"{pid} has no account: every call to it is refused as an unknown user"
                    for pid, users in accounts.items() if not users]
        return {"layers": list(self.layers), "accounts": accounts, "rules": [r.id for r in self.rules],
                "warnings": warnings}

    # ------------------------------------------------------------ layering

    def extended_by(self, top: Scenarios) -> Scenarios:
        """``top`` (a file that ``extends`` this one) built on this one.

        Settings ``top`` writes replace these (mappings merge key by key, other lists replace whole);
        accounts merge by (provider, user), ``sat.cfdis`` by UUID and rules by id: a later definition
        replaces an earlier one in its place, new ones come after.
        """
        raw = _deep_merge(self.raw, top.raw)
        b = Builder(LineMap(top.source), overlay=False, base_dir=None, fixture_names=())
        providers: dict[str, ProviderSettings] = {}
        for pid in declared.provider_ids():
            if pid not in self._providers and pid not in top._providers:
                continue
            accounts = {a.key: a for a in self.provider(pid).accounts}
            accounts.update({a.key: a for a in top.provider(pid).accounts})
            settings = b.provider(pid, raw.get("providers", {}).get(pid) or {})
            providers[pid] = replace(settings, accounts=tuple(accounts.values()))
        mine = {r.id: r for r in top.written_rules}
        rules = [mine.pop(r.id, r) for r in self.written_rules]
        rules += [r for r in top.written_rules if r.id in mine]
        written_trust = top.raw.get("trust") or {}
        trust = replace(self.trust, **{k: getattr(top.trust, k) for k in written_trust})
        return Scenarios(
            source=top.source, raw=raw,
            clock=top.clock if "clock" in top.raw else self.clock,
            seed=top.seed if "seed" in top.raw else self.seed,
            trust=trust,
            sat=b.sat(raw.get("sat", {})) if "sat" in top.raw else self.sat,
            providers=providers, rules=rules, description=top.description or self.description,
            layers=(*self.layers, *top.layers),
        )

    # ------------------------------------------------------------ overlays

    def merged(self, overlay: Scenarios | None) -> Scenarios:
        """This file with ``overlay`` on top.

        Settings the overlay writes replace the file's (``sat.cfdis`` entries replace by UUID,
        other lists replace whole); accounts replace or add by (provider, user); overlay rules come
        first, and an overlay rule with the id of a file rule replaces it.
        """
        if overlay is None:
            return self
        raw = _merge_raw(self.raw, overlay.raw)
        # Both documents were checked on load; rebuilding merged settings cannot add new problems.
        b = Builder(LineMap(f"{self.source}+{overlay.source}"), overlay=False, base_dir=None, fixture_names=None)
        providers: dict[str, ProviderSettings] = {}
        for pid in declared.provider_ids():
            section = raw.get("providers", {}).get(pid)
            if section is None and pid not in self._providers and pid not in overlay._providers:
                continue
            accounts = {a.key: a for a in self.provider(pid).accounts}
            accounts.update({a.key: a for a in overlay.provider(pid).accounts})
            settings = b.provider(pid, section or {})
            providers[pid] = replace(settings, accounts=tuple(accounts.values()))
        overridden = {r.id for r in overlay.rules}
        rules = [*overlay.rules, *(r for r in self.rules if r.id not in overridden)]
        return Scenarios(
            source=self.source, raw=raw,
            clock=overlay.clock if "clock" in overlay.raw else self.clock,
            seed=overlay.seed if "seed" in overlay.raw else self.seed,
            trust=overlay.trust if "trust" in overlay.raw else self.trust,
            sat=b.sat(raw.get("sat", {})) if "sat" in overlay.raw else self.sat,
            providers=providers, rules=rules, description=self.description,
        )


def _check_provider(provider: str) -> None:
    known = declared.provider_ids()
    if provider not in known:
        raise ValueError(f"unknown provider {provider!r} (known: {', '.join(known)})")


def _deep_merge(base: dict[str, Any], top: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge key by key, ``sat.cfdis`` by UUID, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        here = (*path, key)
        if here == ("sat", "cfdis"):
            by_uuid = {c["uuid"].upper(): c for c in out.get(key, [])}
            by_uuid.update({c["uuid"].upper(): copy.deepcopy(c) for c in value})
            out[key] = list(by_uuid.values())
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value, here)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_raw(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if key == "providers":
            provs = out.setdefault("providers", {})
            for pid, section in value.items():
                provs.setdefault(pid, {}).update(copy.deepcopy(section))
        elif key == "sat":
            sat = out.setdefault("sat", {})
            for k, v in value.items():
                if k == "cfdis":
                    by_uuid = {c["uuid"].upper(): c for c in sat.get("cfdis", [])}
                    by_uuid.update({c["uuid"].upper(): c for c in v})
                    sat["cfdis"] = list(by_uuid.values())
                else:
                    sat[k] = copy.deepcopy(v)
        elif key == "trust" and isinstance(value, dict):
            out.setdefault("trust", {}).update(copy.deepcopy(value))
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------- loading


BUILTIN = Path(__file__).resolve().parent / "default.yaml"


def _load(text: str, source: str, *, overlay: bool, base_dir: Path | None,
          fixture_names: Iterable[str] | None, chain: tuple[Path, ...] = ()) -> tuple[Scenarios | None, list[str]]:
    scenarios, errors = _load_one(text, source, overlay=overlay, base_dir=base_dir, fixture_names=fixture_names)
    if scenarios is None or overlay:
        return scenarios, errors
    extends = scenarios.raw.pop("extends", "default")
    if extends == "none":
        return scenarios, errors
    path = BUILTIN if extends == "default" else Path(extends)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if path in chain:
        names = " -> ".join(str(p) for p in (*chain, path))
        return None, [f"{source}: 'extends' goes round in a circle: {names}"]
    base_text, base_source = _read(path)
    if base_text is None:
        return None, [f"{source}: extends {extends!r}: {base_source}"]
    label = "<built-in defaults>" if path == BUILTIN else base_source
    # The built-in defaults name the project's own test PKI, whatever names this file may use.
    names = None if path == BUILTIN else fixture_names
    base, base_errors = _load(base_text, label, overlay=False, base_dir=path.parent, fixture_names=names,
                              chain=(*chain, path))
    if base is None:
        return None, [f"{source}: in the file it extends: {e}" for e in base_errors]
    return base.extended_by(scenarios), errors


def _load_one(text: str, source: str, *, overlay: bool, base_dir: Path | None,
              fixture_names: Iterable[str] | None) -> tuple[Scenarios | None, list[str]]:
    data, lines, errors = parse_yaml(text, source)
    if data is None and not errors:
        if not overlay:
            return None, [f"{source}: the file is empty (it needs at least 'version: 1')"]
        data = {}
    if errors and data is None:
        return None, errors
    if not isinstance(data, dict):
        return None, [*errors, lines.at((), f"the top level must be a mapping, not {type(data).__name__}")]
    errors += validate(data, lines, overlay=overlay)
    if overlay and "extends" in data:
        errors.append(lines.at(("extends",), "extends: an overlay always builds on the scenarios in use; "
                                             "'extends' belongs in a scenarios file"))
    if errors:
        # Building from data that fails the schema would only add confusing follow-on errors.
        return None, errors
    b = Builder(lines, overlay=overlay, base_dir=base_dir, fixture_names=fixture_names)
    providers: dict[str, ProviderSettings] = {}
    seen: dict[tuple[str, str], int] = {}
    for pid, section in (data.get("providers") or {}).items():
        settings = b.provider(pid, section)
        providers[pid] = replace(settings, accounts=tuple(b.accounts(pid, section.get("accounts", []), seen)))
    raw = {k: v for k, v in data.items() if k != "rules"}
    raw["providers"] = {pid: {k: v for k, v in s.items() if k != "accounts"}
                        for pid, s in (data.get("providers") or {}).items()}
    if "providers" not in data:
        del raw["providers"]
    scenarios = Scenarios(
        source=source, raw=raw, clock=b.clock(data.get("clock")), seed=data.get("seed"),
        trust=b.trust(data.get("trust") or {}), sat=b.sat(data.get("sat") or {}),
        providers=providers, rules=b.rules(data.get("rules") or []), overlay=overlay,
        description=data.get("description"),
    )
    errors += b.errors
    return (None if errors else scenarios), sorted(errors, key=_line_of)


def _line_of(message: str) -> int:
    parts = message.split(":")
    for part in parts[1:3]:
        if part.isdigit():
            return int(part)
    return 0


def load_text(text: str, source: str = "<overlay>", *, overlay: bool = False,
              base_dir: Path | None = None, fixture_names: Iterable[str] | None = None) -> Scenarios:
    """Load scenarios from YAML or JSON text; raise ScenarioError listing every problem.

    With ``overlay=True`` every section is optional (an empty text is an empty overlay).
    """
    scenarios, errors = _load(text, source, overlay=overlay, base_dir=base_dir, fixture_names=fixture_names)
    if errors or scenarios is None:
        raise ScenarioError(errors)
    return scenarios


def _read(path: str | Path) -> tuple[str | None, str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except OSError as exc:
        return None, f"{p}: cannot read: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return None, f"{p}: not UTF-8 text"


def load_file(path: str | Path, *, fixture_names: Iterable[str] | None = None) -> Scenarios:
    """Load and validate a scenarios file; raise ScenarioError with ``file:line: message`` errors."""
    text, source = _read(path)
    if text is None:
        raise ScenarioError([source])
    scenarios, errors = _load(text, source, overlay=False, base_dir=Path(path).resolve().parent,
                              fixture_names=fixture_names, chain=(Path(path).resolve(),))
    if errors or scenarios is None:
        raise ScenarioError(errors)
    return scenarios


def check_file(path: str | Path, *, fixture_names: Iterable[str] | None = None) -> list[str]:
    """Every problem in a scenarios file as ``file:line: message`` strings; [] when it is valid."""
    text, source = _read(path)
    if text is None:
        return [source]
    _, errors = _load(text, source, overlay=False, base_dir=Path(path).resolve().parent,
                      fixture_names=fixture_names, chain=(Path(path).resolve(),))
    return errors


def default_path() -> Path:
    """The default scenarios file: ``scenarios.yaml`` of a source checkout, else the packaged copy."""
    checkout = Path(__file__).resolve().parents[2] / "scenarios.yaml"
    if checkout.is_file() and (checkout.parent / "mockserver").is_dir():
        return checkout
    return Path(__file__).resolve().parent / "default.yaml"
