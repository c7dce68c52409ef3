"""Helpers shared by the tests (import as ``from helpers import ...``)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path | None:
    """The providers' published WSDLs and notes (``../shared/reference``), when present."""
    env = os.environ.get("PAC_MOCK_REFERENCE_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "reference"]:
        if (candidate / "wsdl").is_dir():
            return candidate
    return None


def provider_docs_dir() -> Path | None:
    """The four provider documents (``../shared/reference/provider-docs``), when present."""
    env = os.environ.get("PAC_MOCK_REFERENCE_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "reference"]:
        if (candidate / "provider-docs").is_dir():
            return candidate / "provider-docs"
    return None


def reference_wsdl(name: str) -> Path:
    """A published provider WSDL; skips the test when the reference folder is absent."""
    ref = reference_dir()
    if ref is None:
        pytest.skip("the providers' reference WSDLs (../shared/reference) are not present")
    return ref / "wsdl" / name


def stop_server(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM a ``pac-mock serve`` process and wait; kill it and its workers if it does not stop."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # servers started in a session of their own
        except (PermissionError, ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"the server did not stop within {grace} s of SIGTERM") from None
