"""One owner per core table: SQL naming a table appears only in the module that owns it; everyone
else goes through that module's functions (``Timers.schedule``, ``Outbox.enqueue``, ``Store.claim``...)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from helpers import ROOT

OWNERS = {
    "timers": "mockserver/timers.py",
    "outbox": "mockserver/mail.py",
    "outbox_attachments": "mockserver/mail.py",
    "claims": "mockserver/store.py",
    "server_state": "mockserver/store.py",
}
_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?: IF NOT EXISTS)?|ON)\s+\"?(\w+)\"?", re.IGNORECASE)


def strangers(package: Path) -> list[str]:
    """``path:line: table`` for every SQL text naming a core table outside its owner module."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in _SQL.findall(node.value):
                    owner = OWNERS.get(table.lower())
                    if owner is not None and owner != relative:
                        found.append(f"{relative}:{node.lineno}: {table} (owned by {owner})")
    return found


def test_core_tables_are_touched_by_their_owner_only():
    assert strangers(ROOT / "mockserver") == []


def test_every_owner_writes_sql_on_its_tables():
    # The check reads the owners' SQL as it reads anyone's: each table is found where it lives.
    seen = {line.split(": ")[1].split(" ")[0] for line in strangers_everywhere(ROOT / "mockserver")}
    assert seen == set(OWNERS)


def strangers_everywhere(package: Path) -> list[str]:
    saved = dict(OWNERS)
    try:
        for table in OWNERS:
            OWNERS[table] = "nowhere"
        return strangers(package)
    finally:
        OWNERS.update(saved)


@pytest.mark.parametrize(("file", "line"), [
    ("providers/mysuite/links.py", 'SQL = "SELECT value FROM claims WHERE scope = ?"'),
    ("admin/api.py", 'SQL = "DELETE FROM timers WHERE session = ?"'),
    ("runtime.py", "SQL = 'INSERT INTO outbox_attachments(outbox_id) VALUES (?)'"),
])
def test_a_planted_stranger_is_reported(tmp_path, file, line):
    copy = tmp_path / "mockserver"
    target = copy / file
    target.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "mockserver" / file, target)
    assert strangers(copy) == []
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    found = strangers(copy)
    assert len(found) == 1 and found[0].startswith(f"mockserver/{file}:"), found
