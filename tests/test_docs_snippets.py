"""The Python snippets of docs/clients.md run as written against a sandbox, twice in a row (each
starts from a clean session of its own)."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "clients.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, re.S)
# The fixture example needs an application of its own; the others are complete programs.
PROGRAMS = [b for b in PYTHON if "def test_" not in b]


def run_snippet(code: str, url: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("http://localhost:8080", url), str(DOC), "exec"), {"__name__": "__snippet__"})
    return out.getvalue()


@pytest.fixture
def files(tmp_path, monkeypatch):
    """What the zeep snippet reads, made by the commands the guide gives."""
    (commands,) = [b for b in re.findall(r"```sh\n(.*?)```", TEXT, re.S) if b.startswith("pac-mock fixtures")]
    for line in commands.replace("\\\n", " ").splitlines():
        args = line.split()
        assert args[0] == "pac-mock"
        subprocess.run([sys.executable, "-m", "mockserver", *args[1:]], cwd=tmp_path, check=True,
                       capture_output=True, timeout=60)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_there_are_python_programs_in_the_guide():
    assert len(PROGRAMS) == 2 and any("ASYNC_RETRIEVE_DOCUMENT" in b for b in PROGRAMS)


@pytest.mark.parametrize("index", range(len(PROGRAMS)))
def test_each_python_program_runs_twice_as_written(server, files, index):
    code = PROGRAMS[index]
    first = run_snippet(code, server.url)
    second = run_snippet(code, server.url)
    if "ASYNC_RETRIEVE_DOCUMENT" in code:
        for run in (first, second):  # a new CFDI each time (new UUID), from the same internal id
            name, size, stamped = run.splitlines()[0].split()
            assert name.startswith("JES900109Q90_A1001_") and name.endswith(".xml")
            assert int(size) > 1_000_000 and stamped == "True"
            assert run.splitlines()[1].endswith(".pdf']")
    else:
        lines = first.splitlines()
        assert lines[0].startswith("200 "), first  # Solución Factible accepted the cancellation
        assert lines[2].startswith("200 "), first  # Expide Tu Factura cancelled the signed folio
        assert first.splitlines()[:3] == second.splitlines()[:3]
