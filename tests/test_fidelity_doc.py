"""``docs/fidelity.md`` stays true: every row well formed, every id unique, every named test real,
every cited line real, and every code and message of a document named in that document's section.

What is enforced, and when:

- always (a clean clone too): each table row has the six columns; ids are unique in the whole file;
  the status is ``MATCH``, ``SANDBOX EXTENSION``, ``DELIBERATE DEVIATION: <reason>`` or
  ``AMBIGUOUS: <reading>``; each test named exists (``tests/<file>.py::<function>`` or
  ``::<Class>::<method>``, read with ``ast``; a ``[param]`` suffix is allowed); in a document's
  section the source cites that document as ``<file>:<line>`` (or ``<line>-<line>``), and every
  citation anywhere is within the document's known length (:data:`DOC_LINES`);
- when the documents are present (``../shared/reference/provider-docs`` or
  ``$PAC_MOCK_REFERENCE_DIR/provider-docs``): the documents still have those lengths, a cited line
  (or each end of a cited range) is not blank, and — for each document section that has at least one row — every provider code
  (a three-digit number, :func:`codes_of`) and every message text (:func:`messages_of`) of the
  document appears in the claim or behaviour column of some row of that section.
"""

from __future__ import annotations

import ast
import re
from functools import cache

import pytest

from helpers import ROOT, provider_docs_dir

FIDELITY = ROOT / "docs" / "fidelity.md"
# Lines per document as published (the last line has no newline), so ranges are checked on any clone.
DOC_LINES = {
    "000_dc309966f5a8eca7.txt": 84,
    "001_1b6735b33e1a6107.txt": 136,
    "002_5031d2d2256e8619.txt": 76,
    "003_b399c2fb398e203e.txt": 220,
}
EXTENSIONS = "Sandbox extensions"
# Three-digit numbers in a document that are not provider codes, with the reason.
NOT_CODES = {
    "003_b399c2fb398e203e.txt": {"222": "telephone area code in the letterhead, 01 (222) 2 48 74 85"},
}
STATUS = re.compile(r"^(MATCH|SANDBOX EXTENSION|DELIBERATE DEVIATION: \S.*|AMBIGUOUS: \S.*)$")
CITATION = re.compile(r"(\d{3}_[0-9a-f]{16}\.txt):(\d+)(?:-(\d+))?")
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]]*\])?")
CODE = re.compile(r"(?<![\w.\-/])(\d{3})(?![\w.\-/])")


class Row:
    def __init__(self, section: str, line: int, cells: list[str]) -> None:
        self.section, self.line, self.cells = section, line, cells

    @property
    def id(self) -> str:
        return self.cells[0]

    def __getattr__(self, name: str) -> str:
        index = {"source": 1, "claim": 2, "behaviour": 3, "test": 4, "status": 5}[name]
        return self.cells[index]

    def __repr__(self) -> str:
        return f"docs/fidelity.md:{self.line} ({self.cells[0] if self.cells else '?'})"


def parse(text: str) -> dict[str, list[Row]]:
    """Rows per section (``## `` heading); header and separator rows are left out."""
    sections: dict[str, list[Row]] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            current = line[3:].strip()
            sections.setdefault(current, [])
        elif line.startswith("|") and current:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cells and (cells[0] == "id" or set("".join(cells)) <= set("-: ")):
                continue
            sections[current].append(Row(current, number, cells))
    return sections


def document_of(section: str) -> str | None:
    name = section.split()[0] if section else ""
    return name if name in DOC_LINES else None


@cache
def table() -> dict[str, list[Row]]:
    return parse(FIDELITY.read_text(encoding="utf-8"))


def all_rows() -> list[Row]:
    return [row for rows in table().values() for row in rows]


def doc_text(name: str) -> str:
    docs = provider_docs_dir()
    if docs is None:
        pytest.skip("the provider documents (../shared/reference/provider-docs) are not present")
    return (docs / name).read_text(encoding="utf-8")


def normalize(text: str) -> str:
    text = re.sub(r"[`“”\"*]", "", text)
    return " ".join(text.split()).casefold().rstrip(".")


# --- what a document holds -----------------------------------------------------------------------

_MESSAGE_LINES = (
    re.compile(r"^\s*-?\s*(?P<code>\d{3}) - (?P<msg>.+)$"),  # "200 - The cancelation process..."
    re.compile(r"^(?P<code>\d{3})\t(?P<msg>.+)$"),  # "301<TAB>XML mal formado (...)"
    re.compile(r"^(?P<msg>[^\t]+)\t(?P<code>\d{3})\s*$"),  # "UUID Cancelado<TAB>201"
    re.compile(r"^- (?P<msg>[^:–\[]{3,80}): \S"),  # "- Acceso Denegado: Si no se encuentra..."
)
_BRACKETED = re.compile(r"\[(?P<code>\d{3})\]\s*[,–-]\s*\[(?P<msg>[^\]]+)\]")  # "[500], [UUID inválido, ...]"
_QUOTED = re.compile(r"“(?P<msg>[^”]+)”")  # a quoted message of four words or more


def codes_of(name: str, text: str) -> set[str]:
    """Every three-digit number standing alone (not part of an OID, a date, a UUID or a longer number)."""
    return set(CODE.findall(text)) - set(NOT_CODES.get(name, {}))


def messages_of(text: str) -> set[str]:
    """Message texts: code-table rows, "- Message: meaning" items, [code], [message] pairs, long quotes.

    A trailing parenthesis (the document's explanation of the message) is not part of it.
    """
    found: set[str] = set()
    for line in text.splitlines():
        for pattern in _MESSAGE_LINES:
            m = pattern.match(line)
            if m:
                found.add(m["msg"])
        found.update(m["msg"] for m in _BRACKETED.finditer(line))
        found.update(m["msg"] for m in _QUOTED.finditer(line) if len(m["msg"].split()) >= 4)
    return {re.sub(r"\s*\([^()]*\)\s*$", "", m).strip() for m in found} - {""}


def missing_in(rows: list[Row], name: str, text: str) -> list[str]:
    """Codes and messages of the document that no row's claim or behaviour mentions."""
    named = " \n ".join(normalize(f"{r.claim} {r.behaviour}") for r in rows if len(r.cells) == 6)
    missing = [f"code {c}" for c in sorted(codes_of(name, text)) if not re.search(rf"(?<!\d){c}(?!\d)", named)]
    missing += [f"message {m!r}" for m in sorted(messages_of(text)) if normalize(m) not in named]
    return missing


# --- the table -----------------------------------------------------------------------------------


def test_the_table_has_a_section_per_document_and_one_for_extensions():
    sections = table()
    assert {document_of(s) for s in sections} >= set(DOC_LINES)
    assert EXTENSIONS in sections


def test_rows_are_well_formed():
    bad = [row for row in all_rows() if len(row.cells) != 6 or not all(row.cells)]
    assert bad == [], "a row needs six non-empty cells: id | source | claim | behaviour | test | status"
    bad = [(row, row.status) for row in all_rows() if not STATUS.match(row.status)]
    assert bad == []
    bad = [row for row in all_rows() if not re.fullmatch(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)+", row.id)]
    assert bad == [], "ids look like XPD-01 or XPD-X01"


def test_ids_are_unique():
    seen: dict[str, Row] = {}
    repeated = []
    for row in all_rows():
        if row.id in seen:
            repeated.append((row.id, seen[row.id], row))
        seen[row.id] = row
    assert repeated == []


@cache
def _definitions(path: str) -> set[str]:
    """Module-level function names and ``Class::method`` names of a test file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}" for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return names


def named_tests(cell: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in TEST_REF.finditer(cell)]


def test_every_named_test_exists():
    problems = []
    for row in all_rows():
        refs = named_tests(row.test)
        if not refs:
            problems.append((row, "names no test as tests/<file>.py::<test>"))
        for path, name in refs:
            if not (ROOT / path).is_file():
                problems.append((row, f"{path} does not exist"))
            elif name not in _definitions(path):
                problems.append((row, f"{path} has no {name}"))
    assert problems == []


def test_sources_cite_lines_within_the_documents():
    problems = []
    for row in all_rows():
        document = document_of(row.section)
        cited = CITATION.findall(row.source)
        if document is not None and document not in {c[0] for c in cited}:
            problems.append((row, f"cites no line of {document}"))
        for name, first, last in cited:
            if name not in DOC_LINES:
                problems.append((row, f"{name} is not one of the documents"))
                continue
            for n in (int(first), int(last or first)):
                if not 1 <= n <= DOC_LINES[name]:
                    problems.append((row, f"{name}:{n} is outside 1..{DOC_LINES[name]}"))
    assert problems == []


def test_the_table_agrees_with_the_documents():
    """Cited lines are real, and a started section names every code and message of its document."""
    texts = {name: doc_text(name) for name in DOC_LINES}
    _the_completeness_check_can_fail()
    lines = {name: text.splitlines() for name, text in texts.items()}
    assert {name: len(found) for name, found in lines.items()} == DOC_LINES
    blank = [  # a single line, or both ends of a range
        (row, f"{name}:{n}")
        for row in all_rows()
        for name, first, last in CITATION.findall(row.source)
        if name in lines
        for n in {int(first), int(last or first)}
        if 1 <= n <= len(lines[name]) and not lines[name][n - 1].strip()
    ]
    assert blank == [], "a cited line is blank: the citation is off"
    missing = {}
    for name in sorted(DOC_LINES):
        sections = [rows for section, rows in table().items() if document_of(section) == name]
        assert len(sections) == 1, name
        if sections[0]:  # a section with no rows yet is not checked
            missing[name] = missing_in(sections[0], name, texts[name])
    assert {name: found for name, found in missing.items() if found} == {}


def test_parsing_reads_rows_cells_and_sections():
    text = (
        "## 003_b399c2fb398e203e.txt — X\n\n| id | source | claim | sandbox behaviour | test | status |\n"
        "|---|---|---|---|---|---|\n| XPD-01 | 003_b399c2fb398e203e.txt:7 | a \\| b | c | "
        "tests/test_fidelity_doc.py::test_ids_are_unique | MATCH |\n\n## Sandbox extensions\n"
    )
    sections = parse(text)
    assert list(sections) == ["003_b399c2fb398e203e.txt — X", "Sandbox extensions"]
    (row,) = sections["003_b399c2fb398e203e.txt — X"]
    assert row.cells[2] == "a | b" and row.line == 5 and named_tests(row.test) == [
        ("tests/test_fidelity_doc.py", "test_ids_are_unique")]


def _the_completeness_check_can_fail() -> None:
    # Against document 003, no rows miss everything, and one row quoting a message satisfies that one.
    text = doc_text("003_b399c2fb398e203e.txt")
    missing = missing_in([], "003_b399c2fb398e203e.txt", text)
    assert "code 301" in missing and "message 'Acceso Denegado'" in missing
    assert "code 222" not in missing and "code 840" not in missing  # a phone number, an OID part
    assert "message 'XML mal formado'" in missing and "message 'UUID inválido, favor de verificar'" in missing
    row = Row("x", 1, ["X-1", "003_b399c2fb398e203e.txt:175", "“Acceso Denegado”", "502", "t", "MATCH"])
    assert "message 'Acceso Denegado'" not in missing_in([row], "003_b399c2fb398e203e.txt", text)
    # the extractors read the other documents too
    assert {"200", "611", "701", "213"} <= codes_of("000", doc_text("000_dc309966f5a8eca7.txt"))
    assert "Permission denied." in messages_of(doc_text("001_1b6735b33e1a6107.txt"))
    assert any(m.startswith("El número interno") for m in messages_of(doc_text("002_5031d2d2256e8619.txt")))
