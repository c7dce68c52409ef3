"""docs/scenarios.md stays in step with the shipped JSON Schema, and its examples are valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver.scenarios import load_text, schema

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def _schema_words() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    values: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            values.update(v for v in node.get("enum", []) if isinstance(v, str))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema())
    return keys, values


def test_every_schema_key_and_enum_value_is_documented():
    text = DOC.read_text(encoding="utf-8")
    # A word counts when it is written as code: `name`, `name: ...` or `{name: ...}`.
    documented = set(re.findall(r"`\{?([^`\s:{}]+)[`:]", text))
    keys, values = _schema_words()
    assert sorted(keys - documented) == []
    assert sorted(values - documented) == []


@pytest.mark.parametrize("block", re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S))
def test_doc_examples_are_valid(block: str):
    load_text(block, "docs/scenarios.md", overlay=True)
