"""What a server process spends before it can answer: imports and app construction (CPU seconds).

Measured in a fresh interpreter, so nothing is cached in memory; CPU time (not wall time) so that
other jobs on the machine do not inflate it. ``-X importtime`` names the heaviest imports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile

from .servers import REPO, scenarios_path

_PROBE = r"""
import json, sys, time
c = time.process_time
marks = {"interpreter": c()}
import flask  # noqa
marks["flask"] = c()
import mockserver.app as app_module
marks["mockserver.app"] = c()
from mockserver.providers import all_providers
all_providers()
marks["providers"] = c()
from pathlib import Path
from mockserver.settings import Settings
app = app_module.create_app(Settings(port=0, data_dir=Path(sys.argv[1]), scenarios=Path(sys.argv[2])))
marks["create_app"] = c()
app_module.runtime_of(app).start()
app_module.runtime_of(app).stop()
marks["runtime_start"] = c()
print("STARTUP-JSON " + json.dumps(marks))
"""

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)$")


def startup_cpu() -> dict:
    """CPU seconds per start-up step of one worker, and the heaviest top-level imports."""
    data_dir = tempfile.mkdtemp(prefix="pac-mock-bench-startup-", dir="/tmp")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, data_dir, str(scenarios_path())],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("STARTUP-JSON ")), None)
    if line is None:
        return {"error": (proc.stderr or proc.stdout)[-400:]}
    marks = json.loads(line.removeprefix("STARTUP-JSON "))
    steps, previous = {}, 0.0
    for name, value in marks.items():
        steps[name] = round(value - previous, 3)
        previous = value
    # Each package's own import (cumulative), wherever it first happens, and our provider packages.
    heavy: dict[str, int] = {}
    for raw in proc.stderr.splitlines():
        match = _IMPORT_LINE.match(raw)
        if not match:
            continue
        cumulative, module = int(match.group(2)), match.group(4)
        if "." not in module or (module.startswith("mockserver.providers.") and module.count(".") == 2):
            heavy[module] = max(heavy.get(module, 0), cumulative)
    ranked = sorted(heavy.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return {
        "cpu_s": steps,
        "total_cpu_s": round(previous, 3),
        "heaviest_imports_ms": {k: round(v / 1000, 1) for k, v in ranked},
    }
