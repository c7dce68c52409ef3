"""Where a request's time goes: a pyinstrument profile of the hot paths and timings of each step.

Runs in this process against the real app with a file-backed store (as served), through Flask's test
client, so no HTTP server or load generator competes for the CPU. Each step of the SOAP pipeline is
also timed on its own (median of many runs): envelope parse, context (clock query), scenarios,
outcome matching, the journal's redaction and its write, response serialization.

Times are CPU time of the calling thread (``time.thread_time``), so other jobs on the machine do not
inflate them; whole requests are also given in wall time. SQLite runs in the calling thread, so its
work (and fsync waits, as wall time) is included.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from mockserver.app import create_app, runtime_of
from mockserver.journal import Entry, clip, redact_element
from mockserver.settings import Settings
from mockserver.soap.envelope import parse_request, response_bytes

from .load import Workload
from .servers import fresh_data_dir, scenarios_path


def _median_us(fn: Callable[[], object], repeat: int = 300) -> float:
    """Median CPU time of one call, in microseconds."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        samples.append(time.thread_time() - t0)
    return round(statistics.median(samples) * 1e6, 1)


class InProcess:
    """The app with a fresh file-backed store, called through Flask's test client."""

    def __init__(self) -> None:
        self.data_dir = fresh_data_dir("profile")
        settings = Settings(port=0, data_dir=self.data_dir, scenarios=scenarios_path())
        self.app = create_app(settings)
        self.runtime = runtime_of(self.app)
        self.client = self.app.test_client()

    def post(self, workload: Workload, body: bytes | None = None) -> int:
        response = self.client.post(workload.path, data=body or workload.sample(), headers=workload.headers)
        return response.status_code

    def close(self) -> None:
        self.runtime.stop()
        self.runtime.store.close()


def request_ms(target: InProcess, workload: Workload, n: int = 300) -> dict:
    """Per-request time in-process (no network): CPU median and p99, wall median, in ms."""
    bodies = [workload.sample() for _ in range(n + 20)]
    for body in bodies[:20]:
        target.post(workload, body)
    cpu, wall = [], []
    for body in bodies[20:]:
        c0, w0 = time.thread_time(), time.perf_counter()
        target.post(workload, body)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    cpu.sort()
    return {
        "requests": n,
        "cpu_median_ms": round(statistics.median(cpu) * 1000, 3),
        "cpu_p99_ms": round(cpu[int(0.99 * (n - 1))] * 1000, 3),
        "wall_median_ms": round(statistics.median(wall) * 1000, 3),
        "cpu_bound_rps_per_core": round(1 / statistics.median(cpu)) if statistics.median(cpu) else None,
    }


def steps_us(target: InProcess, workload: Workload) -> dict:
    """Median cost of each step of the SOAP pipeline for ``workload``'s request, in microseconds."""
    rt = target.runtime
    body = workload.sample()
    content_type = workload.headers.get("Content-Type")
    service = next(
        s
        for p in rt.providers
        for s in p.services
        if workload.path in s.paths or workload.path.rstrip("/") in s.paths
    )
    soap = parse_request(body, content_type, huge=service.huge)
    operation = service.operation_for(soap)
    ctx = rt.context("")
    fields = operation.fields(soap.payload) if operation.fields else {}
    ctx.scenarios  # noqa: B018  (warm the cached property before timing outcome alone)
    entry = Entry(
        session="", at=datetime.now(UTC), method="POST", path=workload.path, provider=service.provider
    )
    entry.request = etree.tostring(soap.envelope, encoding="unicode")
    entry.response = clip(body[:600])

    def journal_write() -> None:
        rt.journal.record(entry)

    def redact() -> None:
        env = parse_request(body, content_type).envelope
        redact_element(env, service.secret_fields)
        etree.tostring(env, encoding="unicode")

    payload = etree.Element(f"{{{operation.namespace}}}{operation.name}Response")
    etree.SubElement(payload, "return").text = str(uuid.uuid4())
    return {
        "parse_envelope": _median_us(lambda: parse_request(body, content_type, huge=service.huge)),
        "context_clock_query": _median_us(lambda: rt.context("")),
        "scenarios_for_session": _median_us(lambda: rt.scenarios_for("")),
        "outcome_match": _median_us(lambda: ctx.outcome(service.provider, operation.name, fields)),
        "journal_redact_reparse": _median_us(redact),
        "journal_write": _median_us(journal_write, repeat=500),
        "response_serialize": _median_us(lambda: response_bytes(soap.version, payload)),
    }


def profile(target: InProcess, workload: Workload, out: Path, n: int = 1500) -> dict:
    """A pyinstrument profile of ``n`` requests; the text report goes to ``out``."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install pyinstrument)"}
    bodies = [workload.sample() for _ in range(n)]
    profiler = Profiler(interval=0.0002)
    profiler.start()
    t0 = time.perf_counter()
    for body in bodies:
        target.post(workload, body)
    elapsed = time.perf_counter() - t0
    profiler.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return {
        "requests": n,
        "per_request_us": round(elapsed / n * 1e6, 1),
        "report": str(out),
        "hot": hot_functions(profiler, n),
    }


def hot_functions(profiler, n: int, top: int = 15) -> list[dict]:
    """Functions by self (wall) time per request (µs), from the last pyinstrument session."""
    root = profiler.last_session.root_frame()
    totals: dict[str, float] = {}

    def walk(frame) -> None:
        # pyinstrument puts a function's own time in a synthetic "[self]" child.
        owner = frame.parent if frame.function == "[self]" and frame.parent is not None else frame
        own = frame.time - sum(c.time for c in frame.children)
        if own > 0:
            key = f"{owner.function} ({Path(owner.file_path or '?').name}:{owner.line_no})"
            totals[key] = totals.get(key, 0.0) + own
        for child in frame.children:
            walk(child)

    if root is not None:
        walk(root)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"function": k, "self_us_per_request": round(v / n * 1e6, 1)} for k, v in ranked]
