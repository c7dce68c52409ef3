"""Read scenario text into plain data, remembering the line of every node, and check it against the schema.

PyYAML composes a node tree whose nodes carry start marks; we construct the data with the safe
constructor and walk the same tree to record ``path -> line``. A JSON Schema error's path is then
mapped to the nearest line, so every problem can be reported as ``file:line: message``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from . import declared

Path_ = tuple[str | int, ...]


class LineMap:
    """Line numbers (1-based) of the nodes of one document, keyed by their path in the data."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._lines: dict[Path_, int] = {}

    def record(self, path: Path_, line: int) -> None:
        self._lines.setdefault(path, line)

    def line(self, path: Iterable[str | int]) -> int | None:
        """The line of ``path`` or of its nearest recorded ancestor."""
        p = tuple(path)
        while True:
            if p in self._lines:
                return self._lines[p]
            if not p:
                return None
            p = p[:-1]

    def at(self, path: Iterable[str | int], message: str) -> str:
        """Format ``message`` as ``source:line: message`` for the node at ``path``."""
        line = self.line(path)
        return f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"


# libyaml's parser when PyYAML was built with it: a tenth of the pure-Python parser's time (45 ms for
# the shipped scenarios.yaml, parsed by every server process at start).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """SafeLoader that keeps dates as text, so `freeze: 2024-05-01T10:00:00` needs no quotes."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Aliases share nodes, so a small text can stand for a huge tree ("billion laughs"); refuse that.
MAX_NODES = 200_000


class _TooBig(Exception):
    pass


def parse_yaml(text: str, source: str) -> tuple[Any, LineMap, list[str]]:
    """Parse YAML (or JSON) text. Returns (data, lines, errors); data is None when unreadable."""
    lines = LineMap(source)
    try:
        loader = _Loader(text)  # reads the whole text at once: control characters fail here
    except yaml.YAMLError as exc:
        return None, lines, [f"{source}: YAML error: {exc}"]
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines, []
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        return None, lines, [f"{where}: YAML syntax error: {what}"]
    except yaml.YAMLError as exc:
        return None, lines, [f"{source}: YAML error: {exc}"]
    except RecursionError:
        return None, lines, [f"{source}: the document is nested too deeply"]
    finally:
        loader.dispose()
    errors: list[str] = []
    try:
        _walk(node, (), lines, errors, [0])
    except (_TooBig, RecursionError):
        return None, lines, [f"{source}: the document expands to more than {MAX_NODES} values "
                             "(too many aliases, or an alias that contains itself)"]
    return data, lines, errors


def _walk(node: yaml.Node, path: Path_, lines: LineMap, errors: list[str], count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _TooBig
    lines.record(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                errors.append(f"{lines.source}:{line}: duplicate key {key!r} (first on line {seen[key]})")
            seen[key] = line
            # The key's line is the most useful place to point at for anything about its value.
            lines.record((*path, key), line)
            _walk(value_node, (*path, key), lines, errors, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, errors, count)


def schema() -> dict[str, Any]:
    """The JSON Schema of a scenarios file: the core (``mockserver/scenarios/schema.json``) with one
    ``providers.<id>`` section per registered provider, from its declaration."""
    return _composed(_registered())


def _registered() -> tuple[tuple[str, int], ...]:
    # The providers as a cache key: a provider registered later (a test's) gets a schema of its own.
    return tuple((p.id, id(p)) for p in declared.providers())


@cache
def _core() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


@cache
def _composed(key: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    s = copy.deepcopy(_core())
    defs = s["$defs"]
    sections = s["properties"]["providers"]["properties"]
    for p in declared.providers():
        for name, definition in p.schema_defs.items():
            if name in defs and defs[name] != definition:
                raise ValueError(f"provider {p.id} redefines the schema's $defs/{name}")
            defs[name] = copy.deepcopy(definition)
        sections[p.id] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "environment": {"$ref": "#/$defs/environment"},
                "accounts": {"$ref": "#/$defs/accounts"},
                **copy.deepcopy(dict(p.settings_schema)),
            },
        }
    defs["provider_id"]["enum"] = [p.id for p in declared.providers()]
    from ..conformance import all_checks  # the checks each provider's services declare

    s["properties"]["strict"]["items"]["enum"] = [c.id for c in all_checks()]
    return s


def _validator(overlay: bool) -> jsonschema.protocols.Validator:
    return _built_validator(overlay, _registered())


@cache
def _built_validator(overlay: bool, key: tuple[tuple[str, int], ...]) -> jsonschema.protocols.Validator:
    s = _composed(key)
    if overlay:
        # An overlay has the same shape but every top-level section is optional.
        s = copy.deepcopy(s)
        s.pop("required", None)
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)
    return cls(s)


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "null": "null",
               "array": "a list", "object": "a mapping", "boolean": "true/false"}


def _expected(error: ValidationError) -> str:
    """What an anyOf/oneOf would have accepted, in words."""
    wanted: list[str] = []
    for sub in error.context or ():
        if sub.relative_path:
            continue
        if sub.validator == "enum":
            wanted += [repr(v) for v in sub.validator_value]
        elif sub.validator == "const":
            wanted.append(repr(sub.validator_value))
        elif sub.validator == "type":
            types = sub.validator_value if isinstance(sub.validator_value, list) else [sub.validator_value]
            wanted += [_TYPE_WORDS.get(t, t) for t in types]
    unique = list(dict.fromkeys(wanted))
    return ", ".join(unique[:-1]) + (" or " if len(unique) > 1 else "") + unique[-1] if unique else "another value"


def _describe(error: ValidationError) -> list[tuple[Path_, str]]:
    # anyOf/oneOf errors are vague: when one branch had the right type, its own error says what is
    # wrong; otherwise list what would have been accepted.
    if error.context:
        specific = [e for e in error.context if e.validator not in ("type", "const", "enum") or e.relative_path]
        if not specific:
            return [(tuple(error.absolute_path), f"{error.instance!r} is not valid here: expected {_expected(error)}")]
        return _describe(best_match(specific))
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        # One message per unknown key, each at the key's own line.
        return [((*path, k), f"unknown key {k!r}{hint}") for k in sorted(error.instance) if k not in allowed]
    if error.validator == "required":
        return [(path, error.message.replace("is a required property", "is required"))]
    return [(path, error.message)]


def validate(data: Any, lines: LineMap, *, overlay: bool) -> list[str]:
    """Schema errors as ``source:line: where: message`` strings, in file order."""
    found: list[tuple[int, str]] = []
    for error in _validator(overlay).iter_errors(data):
        for path, message in _describe(error):
            found.append((lines.line(path) or 0, lines.at(path, f"{_dotted(path)}: {message}")))
    found.sort(key=lambda x: x[0])
    return [m for _, m in found]
