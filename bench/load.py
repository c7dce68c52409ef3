"""Bounded HTTP load with ``wrk`` (closed loop: N connections, each sends its next request on reply).

A workload is a path, headers and either a pool of ready bodies (sent in turn) or one template in
which ``@@UUID@@`` becomes a fresh random UUID on every request. wrk runs a small Lua script that
prints its summary as JSON, so p50/p99 come from wrk's own latency histogram.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

UUID_MARK = b"@@UUID@@"

_LUA = r"""
local bodies = {}
local template = nil
local counter = 0
local thread_no = 0
local threads = {}

local function load(path)
  local fh = assert(io.open(path, "rb"))
  local data = fh:read("*a")
  fh:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    table.insert(bodies, string.sub(data, nl + 1, nl + len))
    pos = nl + len + 1
  end
end

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

function init(args)
  load(args[1])
  template = (args[2] == "template") and bodies[1] or nil
  math.randomseed(os.time() * 1000 + thread_no * 7919)
  counter = thread_no * 7919
  -- wrk.headers already holds Host: add to it, never replace it
  for i = 3, #args, 2 do wrk.headers[args[i]] = args[i + 1] end
  wrk.method = "POST"
end

local hex = "0123456789ABCDEF"
local function hexes(n)
  local out = {}
  for i = 1, n do
    local k = math.random(1, 16)
    out[i] = string.sub(hex, k, k)
  end
  return table.concat(out)
end

function request()
  local body
  if template then
    local u = hexes(8) .. "-" .. hexes(4) .. "-4" .. hexes(3) .. "-A" .. hexes(3) .. "-" .. hexes(12)
    body = string.gsub(template, "@@UUID@@", u)
  else
    counter = counter + 1
    body = bodies[(counter % #bodies) + 1]
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""


@dataclass
class Workload:
    """One kind of request, repeated."""

    name: str
    path: str
    headers: dict[str, str]
    bodies: list[bytes] = field(default_factory=list)
    template: bytes | None = None  # a body with @@UUID@@ in it

    def sample(self) -> bytes:
        if self.template is not None:
            return self.template.replace(UUID_MARK, str(uuid.uuid4()).upper().encode())
        return self.bodies[0]


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk (apt-get install wrk)", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True, timeout=300
        )
        if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, timeout=300)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True, timeout=300
            )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is needed (Debian/Ubuntu: sudo apt-get install wrk)")
    return found


def probe(base_url: str, workload: Workload, timeout: float = 30.0) -> dict:
    """Send one request and describe the answer (status, size, a short excerpt)."""
    req = urllib.request.Request(base_url + workload.path, data=workload.sample(), headers=workload.headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    text = body.decode("utf-8", "replace")
    return {
        "status": status,
        "bytes": len(body),
        "excerpt": _excerpt(text),
        "not_implemented": "not implemented" in text.lower(),
    }


def _excerpt(text: str, size: int = 240) -> str:
    start = text.find("Body>")
    text = text[start + 5 :] if start >= 0 else text
    return " ".join(text.split())[:size]


def run_wrk(
    base_url: str,
    workload: Workload,
    *,
    connections: int = 16,
    threads: int = 2,
    duration: float = 5.0,
    timeout_s: float = 5.0,
) -> dict:
    """Load ``workload`` for ``duration`` seconds; requests/s, latency percentiles (ms) and errors."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="pac-mock-wrk-") as tmp:
        script = Path(tmp) / "soap.lua"
        script.write_text(_LUA)
        data = Path(tmp) / "bodies"
        pool = [workload.template] if workload.template is not None else workload.bodies
        with open(data, "wb") as fh:
            for body in pool:
                fh.write(f"{len(body)}\n".encode())
                fh.write(body)
        mode = "template" if workload.template is not None else "pool"
        header_args = [x for kv in workload.headers.items() for x in kv]
        command = [
            wrk,
            f"-c{connections}",
            f"-t{min(threads, connections)}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={timeout_s:g}s",
            "-s",
            str(script),
            base_url + workload.path,
            "--",
            str(data),
            mode,
            *header_args,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            raw = json.loads(line[len("BENCH-JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk gave no summary: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    errors = raw["errors"]
    return {
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "p999_ms": round(lat["p999"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }
