"""The layering, as import rules read from the source with ``ast``: wire (HTTP and SOAP) → domain (each
provider's rules, the SAT core) → state and effects. A new import across a boundary fails here.

Every import counts, including those inside functions and under ``TYPE_CHECKING``. The runtime is
given the providers (``app.create_app`` passes the registry's list) and providers see it through
``mockserver.context``: no import cycle runs between them. What the rules do not say yet: the SOAP
dispatcher (``soap/http.py``) writes the journal itself.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = "mockserver"
WEB = ("flask", "werkzeug", "granian")
# Provider modules that face HTTP: the SOAP wire, extra HTTP routes, admin routes, the declaration.
PROVIDER_EDGE = {"__init__", "wire", "admin", "downloads"}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. mockserver.sat.errors
    targets: tuple[str, ...]  # what one statement imports, e.g. (mockserver.soap.xml,)
    where: str  # path:line


def imports_under(root: Path) -> list[Import]:
    """Every import in the package at ``root`` (the ``mockserver`` folder), relative ones resolved."""
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        module = ".".join(parts)
        package = parts if is_package else parts[:-1]
        relative = path.relative_to(root.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
                # ``from a import b`` may import the module a.b: count both.
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)] if base else []
            if targets:
                found.append(Import(module, tuple(targets), f"{relative}:{node.lineno}"))
    return found


@dataclass(frozen=True)
class Rule:
    says: str
    applies: Callable[[str], bool]  # to the importing module
    forbids: Callable[[str, str], bool]  # (importing module, imported name)


_providers: set[str] = set()  # the provider folders of the tree being checked


def _provider_of(name: str) -> str | None:
    parts = name.split(".")
    found = len(parts) > 2 and parts[:2] == [PACKAGE, "providers"] and parts[2] in _providers
    return parts[2] if found else None


def _sat_core_forbids(module: str, target: str) -> bool:
    if within(target, *WEB):
        return True
    # Safe XML parsing sits in soap/ but knows nothing of SOAP: the SAT core may use it.
    return within(target, PACKAGE) and not within(target, f"{PACKAGE}.sat", f"{PACKAGE}.soap.xml")


STORE = (f"{PACKAGE}.store", f"{PACKAGE}.store_pg")  # SQLite and its PostgreSQL twin
STATE = tuple(f"{PACKAGE}.{m}" for m in ("store", "store_pg", "clock", "registry", "timers", "mail", "journal", "background"))
WIRE = tuple(f"{PACKAGE}.{m}" for m in ("soap", "admin", "app", "server"))

RULES = [
    Rule("the SAT core depends on nothing else in the sandbox and on no web framework",
         lambda m: within(m, f"{PACKAGE}.sat"), _sat_core_forbids),
    Rule("the store knows nothing of what it stores",
         lambda m: m in STORE, lambda m, t: not within(t, *STORE) and within(t, PACKAGE, *WEB)),
    Rule("state and effects know no provider, no wire and no web framework",
         lambda m: within(m, *STATE), lambda m, t: within(t, f"{PACKAGE}.providers", *WIRE, *WEB)),
    Rule("provider rules know no wire and no web framework",
         lambda m: _provider_of(m) is not None and m.count(".") >= 3 and m.split(".")[-1] not in PROVIDER_EDGE,
         lambda m, t: within(t, *WIRE, *WEB)),
    Rule("a provider imports no other provider",
         lambda m: _provider_of(m) is not None,
         lambda m, t: _provider_of(t) is not None and _provider_of(t) != _provider_of(m)),
    # mockserver.testing (the pytest plugin, its client, sample documents) sits on top, like the tests.
    Rule("outside providers/, a provider is reached through the registry (mockserver.providers) only",
         lambda m: not within(m, f"{PACKAGE}.providers", f"{PACKAGE}.testing"),
         lambda m, t: _provider_of(t) is not None),
    Rule("a provider sees the running sandbox through mockserver.context, never the runtime",
         lambda m: within(m, f"{PACKAGE}.providers", f"{PACKAGE}.declaration"),
         lambda m, t: within(t, f"{PACKAGE}.runtime")),
    Rule("the runtime receives the providers: it and the context import none of them",
         lambda m: m in (f"{PACKAGE}.runtime", f"{PACKAGE}.context"),
         lambda m, t: within(t, f"{PACKAGE}.providers")),
    Rule("the SOAP layer knows no provider",
         lambda m: within(m, f"{PACKAGE}.soap"), lambda m, t: within(t, f"{PACKAGE}.providers")),
    Rule("scenarios know no wire and no web framework",
         lambda m: within(m, f"{PACKAGE}.scenarios"), lambda m, t: within(t, *WIRE, *WEB)),
]


def violations(root: Path) -> list[str]:
    _providers.clear()
    _providers.update(p.name for p in (root / "providers").iterdir() if (p / "__init__.py").is_file())
    found = []
    for imp in imports_under(root):
        for rule in RULES:
            forbidden = [t for t in imp.targets if rule.applies(imp.module) and rule.forbids(imp.module, t)]
            if forbidden:
                found.append(f"{imp.where}: {imp.module} imports {forbidden[-1]}: {rule.says}")
    return found


def test_the_package_keeps_its_layers():
    assert violations(ROOT / PACKAGE) == []


def test_the_rules_see_every_kind_of_import():
    imports = {(i.module, t) for i in imports_under(ROOT / PACKAGE) for t in i.targets}
    # relative, relative from a package, absolute, inside a function, under TYPE_CHECKING
    assert ("mockserver.sat._xml", "mockserver.soap.xml") in imports
    assert ("mockserver.declaration", "mockserver.soap.service") in imports
    assert ("mockserver.server", "granian") in imports
    assert ("mockserver.providers", "mockserver.providers.mysuite") in imports
    assert ("mockserver.declaration", "flask") in imports


@pytest.mark.parametrize(
    ("file", "line", "rule"),
    [
        ("sat/errors.py", "from ..providers.solucionfactible import codes", "the SAT core"),
        ("sat/certificates.py", "    from ..soap.envelope import SOAP11_NS", "the SAT core"),
        ("sat/keys.py", "import flask", "the SAT core"),
        ("store.py", "from .providers import all_providers", "the store"),
        ("store_pg.py", "from .journal import Journal", "the store"),
        ("journal.py", "from werkzeug.exceptions import BadRequest", "state and effects"),
        ("timers.py", "from .providers.mysuite import service", "state and effects"),
        ("providers/expidetufactura/service.py", "from ...soap.envelope import SOAP11_NS", "provider rules"),
        ("providers/mysuite/models.py", "from flask import request", "provider rules"),
        ("providers/solucionfactible/csd.py", "from flask import g", "provider rules"),  # a new module
        ("providers/solucionfactible/service.py", "from ..mysuite import codes", "no other provider"),
        ("admin/api.py", "from ..providers.solucionfactible.codes import CODES", "through the registry"),
        ("soap/service.py", "from ..providers import expidetufactura", "the SOAP layer"),
        ("scenarios/model.py", "from ..soap.faults import SoapFault", "scenarios"),
        ("providers/mysuite/service.py", "from ...runtime import Runtime", "through mockserver.context"),
        ("providers/solucionfactible/admin.py", "    from ...runtime import Context", "through mockserver.context"),
        ("runtime.py", "from .providers import all_providers", "receives the providers"),
        ("context.py", "    from .providers.mysuite import worker", "receives the providers"),
        ("background.py", "from .providers import mysuite", "state and effects"),
    ],
)
def test_a_planted_violation_is_reported(tmp_path, file, line, rule):
    copy = tmp_path / PACKAGE
    shutil.copytree(ROOT / PACKAGE, copy, ignore=lambda folder, names: [
        n for n in names if n == "__pycache__" or ((Path(folder) / n).is_file() and not n.endswith(".py"))])
    target = copy / file
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    body = f"def planted():\n{line}\n" if line.startswith(" ") else f"{line}\n"
    target.write_text(before + "\n" + body, encoding="utf-8")
    found = violations(copy)
    assert found and all(f.startswith(f"mockserver/{file}:") for f in found), found
    assert any(rule in f for f in found), found
