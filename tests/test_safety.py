"""Bad or concurrent admin input keeps state whole: atomic clock moves, 4xx instead of 500, sessions
that cannot harm each other, overlays that reach nothing outside the scenarios folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from helpers import ROOT, stop_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``pac-mock serve --workers 2``: two processes sharing one SQLite file, as in production."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAC_MOCK_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--workers", "2", "--threads", "4",
         "--data-dir", str(tmp_path_factory.mktemp("data"))],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/__admin/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        stop_server(proc)


def _session_url(base: str) -> str:
    return f"{base}/__session/safety-{uuid.uuid4().hex[:8]}"


# ---- The clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "running"])
def test_fifty_parallel_advances_move_the_clock_fifty_hours(served, frozen):
    base = _session_url(served)
    start = requests.post(base + "/__admin/clock", json={"freeze": "2026-01-10T10:00:00"} if frozen
                          else {"offset": "0s"}, timeout=30).json()

    def advance(_):
        return requests.post(base + "/__admin/clock", json={"advance": "1h"}, timeout=60).status_code

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(advance, range(50))) == {200}
    clock = requests.get(base + "/__admin/clock", timeout=30).json()
    if frozen:
        moved = datetime.fromisoformat(clock["frozen_at"]) - datetime.fromisoformat(start["frozen_at"])
        assert moved.total_seconds() == 50 * 3600
    else:
        assert clock["offset_seconds"] - start["offset_seconds"] == 50 * 3600
