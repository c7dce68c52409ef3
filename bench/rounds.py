"""Alternating rounds: ours, the bare Flask + lxml route, WireMock, ours, … on the same requests.

The machine is shared, so a ratio of two numbers taken minutes apart says little. Every round
measures each server once, one after the other, and a ratio is computed within each round; the
result is the median over the rounds with its spread (lowest and highest round). The three
servers run side by side for the whole section (an idle server takes no CPU) and keep their warm
state between rounds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mockserver.settings import Settings

from . import wiremock
from .load import Workload, probe, run_wrk
from .procs import MB, CpuWatch, ServerProcess
from .servers import ServerConfig

# The operations whose ratios are targets (issue: SF write path, the read paths, XPD 1 folio).
RATIO_OPERATIONS = (
    "sf.cancelarAsincrono",
    "sf.getStatusCancelacionAsincrona",
    "mysuite.ASYNC_CONVERT_VERIFY",
    "xpd.cancelar",
)

# Workers × request threads of ``pac-mock serve`` compared (the shipped default first).
# workers × active threads (each worker keeps its default 256 request threads for calls that wait)
SETTINGS = ((2, 1), (2, 2), (2, 4), (1, 1), (3, 1))


def spread(values: Iterable[float | None], digits: int = 3) -> dict | None:
    """Median, lowest and highest of ``values`` (None ones left out), and the values themselves."""
    got = [v for v in values if v is not None]
    if not got:
        return None
    return {
        "median": round(statistics.median(got), digits),
        "min": round(min(got), digits),
        "max": round(max(got), digits),
        "n": len(got),
        "values": [round(v, digits) for v in got],
    }


def once(url: str, process: ServerProcess, workload: Workload, seconds: float, args) -> dict:
    """One measurement (no warm-up: the servers are warm): throughput, latency, CPU shares, peak RSS."""
    process.tree.reset_peaks()
    with CpuWatch(process.tree) as cpu:
        result = run_wrk(url, workload, connections=args.connections, threads=args.threads, duration=seconds)
    result["cpu"] = cpu.result
    result["peak_rss_mb"] = round(process.tree.peak() / MB, 1)
    result["settle_s"] = settle(process)
    return result


def settle(process: ServerProcess, limit_s: float = 10.0) -> float:
    """Wait until the server is idle again (under 5 % of one core over 0.5 s): work it left for after
    the answers (journal, background threads) must not run during the next server's measurement."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        with CpuWatch(process.tree) as cpu:
            time.sleep(0.5)
        if cpu.ticks["server"] <= 0.05 * 0.5 * cpu.hz:
            break
    return round(time.monotonic() - t0, 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def ratios(bench, workloads: dict[str, Workload], start: Callable[[ServerConfig], tuple]) -> dict:
    """The ratio targets: ours against the bare route (same server settings) and against WireMock."""
    args = bench.args
    default = Settings()
    ours, ours_url = start(ServerConfig("ours", "granian", workers=default.workers, note="pac-mock serve"))
    bare = wm = None
    try:
        bare, bare_url = start(ServerConfig("bare", "bare", workers=default.workers, threads=default.threads))
        root = Path(tempfile.mkdtemp(prefix="pac-mock-bench-wiremock-", dir="/tmp"))
        wm = wiremock.server(root, bench.log_dir / "wiremock.log").start()
        wm_url = f"http://127.0.0.1:{wm.port}"
        sf = workloads["sf.cancelarAsincrono"]
        probes = {name: probe(ours_url, workloads[name]) for name in RATIO_OPERATIONS}
        probes["bare"] = probe(bare_url, sf)
        probes["wiremock"] = probe(wm_url, sf)
        # Warm-up: the JVM compiles its matching code over the first seconds (350 → 660 req/s in 15 s).
        for name in RATIO_OPERATIONS:
            run_wrk(ours_url, workloads[name], connections=args.connections, threads=args.threads, duration=1)
            run_wrk(bare_url, workloads[name], connections=args.connections, threads=args.threads, duration=1)
        for _ in range(4):
            run_wrk(wm_url, sf, connections=args.connections, threads=args.threads, duration=args.round_seconds)
        rounds = []
        for i in range(args.rounds):
            row: dict = {}
            for name in RATIO_OPERATIONS:
                row[name] = {
                    "ours": once(ours_url, ours, workloads[name], args.round_seconds, args),
                    "bare": once(bare_url, bare, workloads[name], args.round_seconds, args),
                }
                if name == "sf.cancelarAsincrono":
                    row["wiremock"] = once(wm_url, wm, sf, args.round_seconds, args)
            rounds.append(row)
            bench.say(
                f"round {i + 1}/{args.rounds}: "
                + ", ".join(
                    f"{n.split('.')[-1]} {row[n]['ours']['rps']:.0f}/{row[n]['bare']['rps']:.0f}"
                    for n in RATIO_OPERATIONS
                )
                + f" req/s (ours/bare); WireMock {row['wiremock']['rps']:.0f}; "
                f"SF p99 {row['sf.cancelarAsincrono']['ours']['p99_ms']} ms; "
                f"other CPU {row['sf.cancelarAsincrono']['ours']['cpu']['other_cpu_pct']} %"
            )
    finally:
        for process in (ours, bare, wm):
            if process is not None:
                process.stop()
    return {
        "rounds": rounds,
        "probes": probes,
        "wiremock_version": wiremock.version_of(wiremock.jar()),
        "summary": summarize(rounds),
    }


def summarize(rounds: list[dict]) -> dict:
    out: dict = {}
    for name in RATIO_OPERATIONS:
        out[f"{name} / bare"] = spread(_ratio(r[name]["ours"]["rps"], r[name]["bare"]["rps"]) for r in rounds)
        out[f"{name} rps"] = spread((r[name]["ours"]["rps"] for r in rounds), 1)
        out[f"{name} bare rps"] = spread((r[name]["bare"]["rps"] for r in rounds), 1)
        out[f"{name} p99 ms"] = spread((r[name]["ours"]["p99_ms"] for r in rounds), 2)
        out[f"{name} bare p99 ms"] = spread((r[name]["bare"]["p99_ms"] for r in rounds), 2)
        out[f"{name} non-2xx"] = sum(r[name]["ours"]["non_2xx"] + r[name]["ours"]["socket_errors"] for r in rounds)
    for name in ("sf.cancelarAsincrono", "xpd.cancelar"):
        out[f"{name} / wiremock"] = spread(_ratio(r[name]["ours"]["rps"], r["wiremock"]["rps"]) for r in rounds)
    out["wiremock rps"] = spread((r["wiremock"]["rps"] for r in rounds), 1)
    out["wiremock p99 ms"] = spread((r["wiremock"]["p99_ms"] for r in rounds), 2)
    out["other cpu %"] = spread(
        (m["cpu"]["other_cpu_pct"] for r in rounds for n in RATIO_OPERATIONS for m in r[n].values()), 1
    )
    out["ours settle s"] = spread((r[n]["ours"]["settle_s"] for r in rounds for n in RATIO_OPERATIONS), 2)
    out["ours peak rss mb"] = spread((r["sf.cancelarAsincrono"]["ours"]["peak_rss_mb"] for r in rounds), 1)
    out["wiremock peak rss mb"] = spread((r["wiremock"]["peak_rss_mb"] for r in rounds), 1)
    return out


def server_settings(bench, sf: Workload, start: Callable[[ServerConfig], tuple]) -> dict:
    """``pac-mock serve`` with each workers × active threads of SETTINGS, in alternating rounds on SF."""
    args = bench.args
    running: list[tuple[tuple[int, int], ServerProcess, str]] = []
    try:
        for workers, threads in SETTINGS:
            process, url = start(ServerConfig(f"serve-w{workers}-a{threads}", "granian", workers=workers,
                                              active_threads=threads))
            run_wrk(url, sf, connections=args.connections, threads=args.threads, duration=1)
            running.append(((workers, threads), process, url))
        rounds = []
        for i in range(args.settings_rounds):
            row = {}
            for (workers, threads), process, url in running:
                row[f"{workers}x{threads}"] = once(url, process, sf, args.round_seconds, args)
            rounds.append(row)
            bench.say(f"settings round {i + 1}: " + ", ".join(
                f"{k} {v['rps']:.0f} req/s p99 {v['p99_ms']}" for k, v in row.items()))
    finally:
        for _, process, _ in running:
            process.stop()
    summary = {}
    for key in rounds[0] if rounds else ():
        summary[key] = {
            "rps": spread((r[key]["rps"] for r in rounds), 1),
            "p99_ms": spread((r[key]["p99_ms"] for r in rounds), 2),
            "peak_rss_mb": spread((r[key]["peak_rss_mb"] for r in rounds), 1),
            "errors": sum(r[key]["non_2xx"] + r[key]["socket_errors"] for r in rounds),
        }
    return {"rounds": rounds, "summary": summary, "best": best_setting(summary)}


def best_setting(summary: dict) -> dict | None:
    """The best median throughput among settings whose median p99 is within 1.5× the lowest (or 20 ms);
    on a near tie (within 5 %), the one with fewer workers (memory), then more active threads (a call
    that blocks without stepping away holds one)."""
    rows = {k: v for k, v in summary.items() if v["rps"] and v["p99_ms"] and not v["errors"]}
    if not rows:
        return None
    best_p99 = min(v["p99_ms"]["median"] for v in rows.values())
    eligible = {k: v for k, v in rows.items() if v["p99_ms"]["median"] <= max(1.5 * best_p99, 20.0)}
    top = max(v["rps"]["median"] for v in eligible.values())
    near = [k for k, v in eligible.items() if v["rps"]["median"] >= 0.95 * top]

    def preference(key: str) -> tuple:
        workers, threads = (int(x) for x in key.split("x"))
        return (workers, -threads)

    choice = min(near, key=preference)
    return {"setting": choice, "rps": rows[choice]["rps"]["median"], "p99_ms": rows[choice]["p99_ms"]["median"],
            "near_best": near}
