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
from mockserver.journal import Entry, clip
from mockserver.redaction import redact as redact_text
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
    data = operation.reader(soap.payload) if operation.reader else soap.payload
    fields = operation.fields(data) if operation.fields else {}
    ctx.scenarios  # noqa: B018  (warm the cached property before timing outcome alone)
    entry = Entry(
        session="", at=datetime.now(UTC), method="POST", path=workload.path, provider=service.provider
    )
    entry.request = etree.tostring(soap.envelope, encoding="unicode")
    entry.response = clip(body[:600])

    def journal_write() -> None:
        rt.journal.record(entry)

    def redact() -> None:
        redact_text(clip(body) or "")

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
        "report": out.name,  # under bench/results/profiles/
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


# Functions timed by :func:`breakdown`: (label, module, attribute path). Missing ones are skipped, so
# the list can name provider functions that may move.
TIMED = (
    ("wsgi (Flask + routing + everything below)", "mockserver.app", "SessionPrefix.__call__"),
    ("soap.handle (dispatcher, below)", "mockserver.soap.http", "handle"),
    ("parse envelope", "mockserver.soap.http", "parse_request"),
    ("context (clock: version row, cached rows)", "mockserver.runtime", "Runtime.context"),
    ("scenarios_for (version row, cached merge)", "mockserver.runtime", "Runtime.scenarios_for"),
    ("outcome (rule matching + counters)", "mockserver.runtime", "Context.outcome"),
    ("journal: clip + serialize request", "mockserver.soap.http", "_journal_request"),
    ("journal: redact + group-committed write", "mockserver.journal", "Journal.record"),
    ("response serialize", "mockserver.soap.http", "response_bytes"),
    ("sf: authenticate", "mockserver.providers.solucionfactible.auth", "authenticate"),
    (
        "sf: resolve_csd (certificate, key, policy)",
        "mockserver.providers.solucionfactible.csd",
        "resolve_csd",
    ),
    (
        "sf: register_async (claims, registry, timers)",
        "mockserver.providers.solucionfactible.lifecycle",
        "register_async",
    ),
    (
        "xpd: check document (XMLDSig verify)",
        "mockserver.providers.expidetufactura.service",
        "_check_document",
    ),
    ("sat: certificate policy (SF and XPD)", "mockserver.scenarios.core", "Scenarios.certificate_policy"),
    (
        "xpd: per-folio rule outcomes",
        "mockserver.providers.expidetufactura.service",
        "_outcomes_for_other_folios",
    ),
    ("xpd: cancel folios (state)", "mockserver.providers.expidetufactura.service", "_cancel_folios"),
    ("xpd: build_acuse (signed SAT receipt)", "mockserver.sat.acuse", "build_acuse"),
    ("xpd: models.known (per folio)", "mockserver.providers.expidetufactura.models", "known"),
    (
        "xpd: models.mark_cancelled (per folio)",
        "mockserver.providers.expidetufactura.models",
        "mark_cancelled",
    ),
    ("sat: verify_seal", "mockserver.sat.signature", "verify_seal"),
    ("sat: signxml verify", "mockserver.sat.signature", "verify_enveloped"),
    ("sat: load_certificate", "mockserver.sat.certificates", "load_certificate"),
    ("sat: load_private_key", "mockserver.sat.keys", "load_private_key"),
    ("store: tx (write transactions, incl. body)", "mockserver.store", "Store.tx"),
)


def _resolve(module_name: str, path: str):
    import importlib

    try:
        owner = importlib.import_module(module_name)
    except ImportError:
        return None, None, None
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part, None)
        if owner is None:
            return None, None, None
    original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    return owner, name, original


def breakdown(target: InProcess, workload: Workload, n: int = 400) -> dict:
    """CPU µs per request spent inside each function of :data:`TIMED` (nested times overlap), the
    operation's own field reader and handler, and the SQL statements run per request."""
    import contextlib
    import functools
    import sys

    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    patches: list[tuple[object, str, object]] = []

    def timed(label: str, fn):
        if label.startswith("store: tx"):

            @contextlib.contextmanager
            def cm(*args, **kwargs):
                t0 = time.thread_time()
                try:
                    with fn(*args, **kwargs) as conn:
                        yield conn
                finally:
                    totals[label] = totals.get(label, 0.0) + time.thread_time() - t0
                    counts[label] = counts.get(label, 0) + 1

            return cm

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.thread_time() - t0
                counts[label] = counts.get(label, 0) + 1

        return wrapper

    def patch(owner, name: str, value) -> None:
        patches.append(
            (owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name))
        )
        setattr(owner, name, value)

    # Functions imported by name into other modules must be replaced there too.
    for label, module_name, path in TIMED:
        owner, name, original = _resolve(module_name, path)
        if original is None:
            continue
        wrapped = timed(label, original)
        patch(owner, name, wrapped)
        if not isinstance(owner, type):
            for module in list(sys.modules.values()):
                if (
                    module is not owner
                    and getattr(module, "__name__", "").startswith("mockserver")
                    and module.__dict__.get(name) is original
                ):
                    patch(module, name, wrapped)

    service = next(
        s
        for p in target.runtime.providers
        for s in p.services
        if workload.path in s.paths or workload.path.rstrip("/") in s.paths
    )
    operation = service.operation_for(parse_request(workload.sample(), workload.headers.get("Content-Type")))
    for attr in ("fields", "handler"):
        fn = getattr(operation, attr)
        if fn is not None:
            patch(operation, attr, timed(f"operation {attr} ({operation.name})", fn))

    statements = {"n": 0}
    bodies = [
        workload.sample() if workload.template is not None else workload.bodies[i % len(workload.bodies)]
        for i in range(n + 20)
    ]
    try:
        for body in bodies[:20]:
            target.post(workload, body)
        target.runtime.store._conn().set_trace_callback(
            lambda _sql: statements.__setitem__("n", statements["n"] + 1)
        )
        totals.clear()
        counts.clear()
        c0, w0 = time.thread_time(), time.perf_counter()
        for body in bodies[20:]:
            target.post(workload, body)
        cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
    finally:
        with contextlib.suppress(Exception):
            target.runtime.store._conn().set_trace_callback(None)
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)
    return {
        "requests": n,
        "cpu_us_per_request": round(cpu / n * 1e6, 1),
        "wall_us_per_request": round(wall / n * 1e6, 1),
        "sql_statements_per_request": round(statements["n"] / n, 1),
        "functions_cpu_us": {
            label: {"us": round(totals[label] / n * 1e6, 1), "calls": round(counts[label] / n, 2)}
            for label in sorted(totals, key=totals.get, reverse=True)
        },
    }
