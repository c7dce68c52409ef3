"""examples/erp-tests, installed as a user would (not editable, from a copy), runs its own tests under
``pytest -n 2`` with nothing but the public ``pac_mock`` fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from helpers import ROOT

EXAMPLE = ROOT / "examples" / "erp-tests"


def test_the_example_project_passes_under_xdist(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    site = tmp_path / "site"
    # The environment already holds zeep, requests and pac-mock: install only the example itself.
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / "erp_cancel" / "__init__.py").is_file()
    # The tests run from a folder without the sources: the application comes from the installed copy.
    run = tmp_path / "run"
    run.mkdir()
    for name in ("pyproject.toml", "scenarios.yaml", "tests"):
        (shutil.copytree if (source / name).is_dir() else shutil.copy)(source / name, run / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAC_MOCK_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:faker"],
        cwd=run, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout
