"""Scenarios: what the real rules cannot decide, written in YAML.

A scenarios file (``scenarios.yaml`` at the repository root is the default, see ``default_path``)
declares accounts per provider, the SAT-side seed (taxpayers, revoked certificates, known CFDIs),
per-provider settings, the mock clock and faker seed, certificate trust, and rules. A rule matches
requests by provider, operation and request fields and gives an outcome: a code and message,
per-UUID codes, a sequence across calls, delayed transitions, or a transport fault.
Rules never replace real checks: a signature is always verified.

Usage by a service::

    sc = load_file(default_path()).merged(overlay)          # overlay from load_text(..., overlay=True)
    acc = sc.account("solucionfactible", usuario)            # None -> bad credentials
    for rule in sc.match("solucionfactible", "cancelarAsincrono", {"uuid": u, "rfc": rfc, "user": usuario}):
        n = store.calls(rule.id)                             # shared count, kept by the caller
        if not rule.active(n) or rng.random() >= rule.probability:
            continue
        store.count_call(rule.id)
        outcome = rule.outcome_for(n)
        break

Call counting: ``times`` and sequences depend on how many times a rule has already applied. That
count must be shared by every worker process, so this package does not keep it: the caller reads
the count for ``rule.id`` from the store (SQLite), passes it as ``call_index`` (0 for the first
call) to ``Rule.active`` / ``Rule.outcome_for``, and increments it when the rule applies.
Likewise ``probability`` is drawn by the caller with its seeded random generator.

Errors: ``load_file``/``load_text`` raise ``ScenarioError`` whose ``errors`` are
``file:line: message`` strings; ``check_file`` returns them instead (``[]`` when valid).
"""

from .build import SettingsReader, fixture_catalog
from .core import ScenarioError, Scenarios, check_file, default_path, load_file, load_text
from .loader import schema
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
)
from .units import parse_duration, parse_size

__all__ = [
    "Account",
    "ClockSetting",
    "Fault",
    "FieldTest",
    "Matcher",
    "Outcome",
    "ProviderSettings",
    "Rule",
    "SatCfdi",
    "SatRegistry",
    "ScenarioError",
    "Scenarios",
    "SettingsReader",
    "Transition",
    "TrustSettings",
    "check_file",
    "default_path",
    "fixture_catalog",
    "load_file",
    "load_text",
    "parse_duration",
    "parse_size",
    "schema",
]
