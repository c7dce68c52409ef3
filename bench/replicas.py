"""Solución Factible ``cancelarAsincrono`` throughput: SQLite beside one and two replicas on PostgreSQL.

    python -m bench.replicas                       # about a minute; results in bench/results/replicas.*
    python -m bench.replicas --seconds 3 --concurrency 8

Every configuration is ``pac-mock serve`` processes on this machine with a fresh store: the SQLite file,
or a new database on one PostgreSQL server (Debian's binaries, started here in a temporary folder with
its durable defaults: fsync on). Two replicas share the load half and half (as a balancer would). The
workload is bench/bench_solucionfactible.py's: a fresh UUID per request, with the CSD in the request
and with the issuer's stored CSD. While it runs, the script samples PostgreSQL's lock table (how many
writers wait for the one write lock) and counts CPU by who used it, which says where the ceiling is.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from mockserver.testing.postgres import PostgresServer, missing

from bench import bench_solucionfactible as sf
from bench.closed_loop import answer_between, run_loop, session_url
from bench.procs import ProcessTree, ServerProcess, _busy_ticks, _process_ticks, free_port
from bench.servers import REPO, scenarios_path

_TICKS = 100  # USER_HZ on Linux


@dataclass(frozen=True)
class Setup:
    name: str
    store: str  # sqlite | postgresql
    replicas: int
    workers: int  # per replica


SETUPS = [
    Setup("SQLite, 1 server x 2 workers", "sqlite", 1, 2),
    Setup("PostgreSQL, 1 replica x 2 workers", "postgresql", 1, 2),
    Setup("PostgreSQL, 2 replicas x 1 worker", "postgresql", 2, 1),
    Setup("PostgreSQL, 2 replicas x 2 workers", "postgresql", 2, 2),
]


def start_replicas(setup: Setup, postgres: PostgresServer | None, log_dir: Path) -> list[ServerProcess]:
    store = postgres.database() if setup.store == "postgresql" else None
    servers = []
    for i in range(setup.replicas):
        port = free_port()
        data_dir = Path(tempfile.mkdtemp(prefix="pac-mock-bench-replica-", dir="/tmp"))
        command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--data-dir", str(data_dir),
                   "--workers", str(setup.workers), "--scenarios", str(scenarios_path())]
        if store:
            command += ["--store", store]
        server = ServerProcess(f"{setup.name} #{i + 1}", command, f"http://127.0.0.1:{port}/__admin/health",
                               cwd=REPO, log_path=log_dir / f"replica-{setup.store}-{setup.replicas}-{setup.workers}-{i}.log")
        server.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        servers.append(server.start(60))
    return servers


class LockWatch:
    """Samples pg_locks: how many sessions wait for an advisory lock (the store's write lock)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LockWatch:
        if self.url:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted").fetchone()
                self.samples.append(int(row[0]))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def result(self) -> dict:
        if not self.samples:
            return {}
        n = len(self.samples)
        return {
            "lock_samples": n,
            "waiting_writers_mean": round(sum(self.samples) / n, 2),
            "samples_with_waiters_pct": round(100 * sum(1 for s in self.samples if s) / n, 1),
        }


def commits(url: str | None) -> int:
    """Transactions committed so far in every database of the server (pg_stat_database)."""
    if not url:
        return 0
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute("SELECT sum(xact_commit) FROM pg_stat_database").fetchone()[0])


class Cpu:
    """CPU used during a measurement by the sandbox processes, PostgreSQL, this load generator and the rest."""

    def __init__(self, sandbox: list[ProcessTree], postgres: ProcessTree | None) -> None:
        self.sandbox = sandbox
        self.postgres = postgres

    @staticmethod
    def _ticks(trees: list[ProcessTree]) -> int:
        return sum(_process_ticks(p) for tree in trees for p in tree.pids())

    def __enter__(self) -> Cpu:
        import os

        self._t0 = time.perf_counter()
        self._busy0 = _busy_ticks()
        self._sandbox0 = self._ticks(self.sandbox)
        self._pg0 = self._ticks([self.postgres]) if self.postgres else 0
        self._self0 = sum(os.times()[:2])
        return self

    def __exit__(self, *exc) -> None:
        import os

        capacity = (time.perf_counter() - self._t0) * _TICKS * (os.cpu_count() or 1)
        busy = _busy_ticks() - self._busy0
        sandbox = self._ticks(self.sandbox) - self._sandbox0
        pg = (self._ticks([self.postgres]) - self._pg0) if self.postgres else 0
        loadgen = round((sum(os.times()[:2]) - self._self0) * _TICKS)
        self.result = {
            "sandbox_cpu_pct": round(100 * sandbox / capacity, 1),
            "postgres_cpu_pct": round(100 * pg / capacity, 1),
            "loadgen_cpu_pct": round(100 * loadgen / capacity, 1),
            "other_cpu_pct": round(100 * max(busy - sandbox - pg - loadgen, 0) / capacity, 1),
            "idle_pct": round(100 * max(capacity - busy, 0) / capacity, 1),
        }


def measure(servers: list[ServerProcess], extra: str, seconds: float, concurrency: int) -> dict:
    """The workload on every replica at once (``concurrency`` split evenly); totals and per replica."""
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:cancelarAsincrono"}
    sessions = [session_url(s.url, "replicas") for s in servers]  # type: ignore[attr-defined]
    for session in sessions:
        requests.post(f"{session}/__admin/clock", json={"freeze": "now"}, timeout=10).raise_for_status()
    results: list[dict] = [{} for _ in servers]

    def body(_: int) -> bytes:
        import uuid

        return (sf.HEAD.format(uuid=str(uuid.uuid4()).upper()) + extra + sf.TAIL).encode("utf-8")

    def drive(i: int) -> None:
        share = max(1, concurrency // len(servers))
        results[i] = run_loop(sessions[i] + sf.PATH, body, lambda text: answer_between(text, "status>"),
                              headers, seconds, share)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for session in sessions:
        requests.post(f"{session}/__admin/reset", timeout=60)
    codes: dict[str, int] = {}
    for r in results:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    return {
        "rps": round(sum(r["rps"] for r in results), 1),
        "p50_ms": max(r["p50_ms"] or 0 for r in results),
        "p99_ms": max(r["p99_ms"] or 0 for r in results),
        "errors": sum(r["errors"] for r in results),
        "codes": codes,
        "per_replica_rps": [r["rps"] for r in results],
    }


def run(seconds: float, concurrency: int, log_dir: Path) -> dict:
    reason = missing()
    postgres = None if reason else PostgresServer(durable=True).start()
    out: dict = {"seconds": seconds, "concurrency": concurrency, "postgresql": reason or "started", "setups": []}
    try:
        pg_tree = None
        if postgres is not None:
            pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
            pg_tree = ProcessTree(pid)
        for setup in SETUPS:
            if setup.store == "postgresql" and postgres is None:
                continue
            servers = start_replicas(setup, postgres, log_dir)
            try:
                row: dict = {"setup": setup.name, "store": setup.store, "replicas": setup.replicas,
                             "workers": setup.workers}
                watch_url = postgres.url() if postgres is not None and setup.store == "postgresql" else None
                for label, extra in (("csd_in_request", sf._csd_fields()), ("stored_csd", "")):
                    before = commits(watch_url)
                    with LockWatch(watch_url) as locks, Cpu([s.tree for s in servers], pg_tree) as cpu:
                        result = measure(servers, extra, seconds, concurrency)
                    if watch_url:  # statistics reach the view within ~0.5 s
                        time.sleep(1)
                        requests_made = sum(result["codes"].values()) + result["errors"]
                        result["commits_per_request"] = round((commits(watch_url) - before) / max(requests_made, 1), 1)
                    row[label] = {**result, **cpu.result, **locks.result()}
                    print(f"{setup.name:<38} {label:<15} {result['rps']:>7.1f} req/s  p99 {result['p99_ms']} ms  "
                          f"errors {result['errors']}  {cpu.result}  {locks.result()}", flush=True)
                out["setups"].append(row)
            finally:
                for server in servers:
                    server.stop()
    finally:
        if postgres is not None:
            postgres.stop()
    return out


def markdown(results: dict) -> str:
    lines = [
        "## Replicas: Solución Factible cancelarAsincrono, SQLite and PostgreSQL",
        "",
        f"{results['seconds']:g} s per measurement, {results['concurrency']} client threads in all "
        "(split evenly between replicas), all on this machine (2 cores): the sandbox, PostgreSQL and the "
        "load generator share them.",
        "",
        "| setup | workload | req/s | p50 ms | p99 ms | errors | sandbox CPU % | PostgreSQL CPU % | "
        "load generator CPU % | other processes CPU % | writers waiting (mean) | transactions per request (reads too) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["setups"]:
        for label in ("csd_in_request", "stored_csd"):
            r = row[label]
            lines.append(
                f"| {row['setup']} | {label.replace('_', ' ')} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r['errors']} | {r['sandbox_cpu_pct']} | {r['postgres_cpu_pct']} | {r['loadgen_cpu_pct']} | "
                f"{r['other_cpu_pct']} | {r.get('waiting_writers_mean', '-')} | {r.get('commits_per_request', '-')} |"
            )
    if results["postgresql"] != "started":
        lines += ["", f"PostgreSQL rows left out: {results['postgresql']}"]
    lines += ["", ceiling(results)]
    return "\n".join(lines) + "\n"


def ceiling(results: dict) -> str:
    """The closing note, from the numbers: what the throughput ran into."""
    pg = [r for r in results["setups"] if r["store"] == "postgresql"]
    if not pg:
        return "No PostgreSQL measurement: nothing to say about replicas."
    stored = [r["stored_csd"] for r in pg]
    idle = min(r["idle_pct"] for r in stored)
    waiting = max(r.get("waiting_writers_mean", 0) for r in stored)
    others = max(r["other_cpu_pct"] for r in stored)
    best = max(pg, key=lambda r: r["stored_csd"]["rps"])
    sqlite = next((r for r in results["setups"] if r["store"] == "sqlite"), None)
    parts = [f"Ceiling: the best PostgreSQL setup ({best['setup']}) reached {best['stored_csd']['rps']} req/s "
             f"with the stored CSD"]
    if sqlite:
        parts.append(f" against {sqlite['stored_csd']['rps']} req/s on SQLite")
    parts.append(f". The machine had at most {idle}% idle CPU during the PostgreSQL runs (processes outside the "
                 f"benchmark took up to {others}%) and on average up to {waiting} writers waited for the write lock: ")
    if idle < 10 and waiting < 2:
        parts.append("the two cores are the limit (the sandbox's request work, PostgreSQL and the load "
                     "generator share them), not the one-writer lock; replicas pay on more cores or machines.")
    elif waiting >= 2:
        parts.append("writers queue on the one write lock: finer locking (per session or per row) is what "
                     "would raise it.")
    else:
        parts.append("neither the CPU nor the lock is saturated: the client threads are the limit.")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="pac-mock-bench-replicas-logs-", dir="/tmp"))
    results = run(args.seconds, args.concurrency, log_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "replicas.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "replicas.md").write_text(text)
    print()
    print(text)
    print(f"results in {args.out / 'replicas.json'} and replicas.md; server logs in {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
