"""``python -m bench``: the whole benchmark in one run (under 10 minutes on 2 cores).

Order: cold start and idle memory; the ratio targets in alternating rounds (ours, the bare Flask +
lxml route under the same server settings, WireMock, ours, …: ``bench/rounds.py``); ``pac-mock
serve`` with several workers × threads, also in alternating rounds; every provider operation at 16
connections; 500-folio verification; the provider benchmark scripts (``bench/bench_<provider>.py``);
MYSuite 4 MB / 40 MB ingest; a profile of the hot paths. Then the targets are checked and
``bench/results/latest.{json,md}`` written.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from . import RESULTS_DIR, report, rounds
from .ingest import post_document, use_production
from .load import Workload, ensure_wrk, probe, run_wrk
from .procs import MB, CpuWatch, ServerProcess, load_average
from .servers import REPO, ServerConfig, start
from .workloads import (
    Fixtures,
    mysuite_workloads,
    new_uuid,
    sf_cancelar_asincrono,
    sf_workloads,
    xpd_body,
    xpd_cancelar,
)

PROVIDER_SCRIPTS = ("bench_solucionfactible", "bench_expidetufactura", "bench_mysuite")
INGEST_REPEAT = 3
COLD_START_GIVE_UP_S = 8.0  # a start not healthy by then is counted as hung
BUDGET_S = 480  # stop starting optional sections after this; the whole run must stay under 10 minutes
IDLE_AFTER_S = 1.5  # a fresh server is measured idle this long after it first answered

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.monotonic()
        self.log_dir = Path(tempfile.mkdtemp(prefix="pac-mock-bench-logs-", dir="/tmp"))
        self.results: dict = {"meta": meta(args), "skipped": {}}

    # helpers -----------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {text}", flush=True)

    def wanted(self, section: str) -> bool:
        if self.args.only and section not in self.args.only:
            return False
        if section in self.args.skip:
            self.results["skipped"][section] = "skipped on the command line"
            return False
        if self.elapsed() > BUDGET_S:
            self.results["skipped"][section] = f"time budget ({BUDGET_S} s) used up"
            self.say(f"skipping {section}: time budget used up")
            return False
        return True

    def measure(self, base_url: str, process: ServerProcess, workload: Workload, seconds: float) -> dict:
        """Warm up for a second, then load for ``seconds``: throughput, latency, peak RSS, CPU shares."""
        run_wrk(base_url, workload, connections=self.args.connections, threads=self.args.threads, duration=1)
        process.tree.reset_peaks()
        with CpuWatch(process.tree) as cpu:
            result = run_wrk(
                base_url,
                workload,
                connections=self.args.connections,
                threads=self.args.threads,
                duration=seconds,
            )
        result["peak_rss_mb"] = round(process.tree.peak() / MB, 1)
        result["cpu"] = cpu.result
        return result

    def wait_idle(self) -> None:
        """Wait (bounded) for other jobs on the machine to finish: they take CPU from the server."""
        deadline = time.monotonic() + self.args.wait_idle
        while load_average() > self.args.idle_load and time.monotonic() < deadline:
            time.sleep(5)
        self.results["meta"]["load_average_at_start"] = load_average()

    # sections ----------------------------------------------------------------------------------

    def cold_start(self) -> None:
        """Process start to the first 200 from /__admin/health, with a fresh data dir each time."""
        out = {}
        plan = {self.args.workers: 5, 1: 3} if self.args.workers != 1 else {1: 5}
        for workers, runs in plan.items():
            times = []
            idle = []
            idle_pss = []
            failures = []
            for _ in range(runs):
                try:
                    config = ServerConfig(f"cold-w{workers}", "granian", workers=workers)
                    process, _ = start(config, self.log_dir, timeout=COLD_START_GIVE_UP_S)
                except RuntimeError as exc:
                    failures.append(str(exc))
                    continue
                times.append(process.cold_start_s)
                time.sleep(IDLE_AFTER_S)  # the workers' start-up work (timers, scenarios) is over
                idle.append(process.tree.rss() / MB)
                idle_pss.append(process.tree.pss() / MB)
                process.stop()
            out[f"workers_{workers}"] = {
                "runs_s": [round(t, 3) for t in times],
                "median_s": round(statistics.median(times), 3) if times else None,
                "max_s": round(max(times), 3) if times else None,
                "starts": runs,
                "hung_starts": len(failures),
                "idle_rss_mb": rounds.spread(idle, 1),
                "idle_pss_mb": rounds.spread(idle_pss, 1),
            }
            self.say(f"cold start --workers {workers}: {out[f'workers_{workers}']['runs_s']}")
        self.results["cold_start"] = out
        from .startup import startup_cpu

        self.results["startup_cpu"] = startup_cpu()
        self.say(f"start-up CPU of one process: {self.results['startup_cpu']}")

    def operations(self, base_url: str, process: ServerProcess, workloads: list[Workload]) -> None:
        ops = []
        for workload in workloads:
            ops.append(self.operation(base_url, process, workload, self.args.duration))
        self.results["operations"] = ops

    def operation(self, base_url: str, process: ServerProcess, workload: Workload, seconds: float) -> dict:
        answer = probe(base_url, workload)
        result = self.measure(base_url, process, workload, seconds)
        provider, _, operation = workload.name.partition(".")
        result = {"name": workload.name, "provider": provider, **result, "probe": answer}
        result["server_ms"] = journal_durations(
            base_url, operation.split("[")[0], min(result["requests"], 5000)
        )
        self.say(
            f"{workload.name:<40} {result['rps']:>7.0f} req/s  p50 {result['p50_ms']:6.2f}  p99 {result['p99_ms']:6.2f} ms  "
            f"peak {result['peak_rss_mb']:5.0f} MB  [{answer['status']}"
            f"{' not implemented' if answer['not_implemented'] else ''}]  {cpu_text(result['cpu'])}"
        )
        return result

    def five_hundred(self, base_url: str, process: ServerProcess, fx: Fixtures) -> None:
        """XPD cancelar with 500 folios: server time (journal) and CPU, client time, verification alone."""
        from mockserver.sat import TrustStore, verify_cancelacion

        bodies = [xpd_body(fx.cancelacion([new_uuid() for _ in range(500)])) for _ in range(12)]
        workload = xpd_cancelar(fx, pool=1)

        def send(body: bytes) -> str:
            req = urllib.request.Request(base_url + workload.path, data=body, headers=workload.headers)
            try:
                with urllib.request.urlopen(req, timeout=60) as response:
                    return response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                return exc.read().decode("utf-8", "replace")

        text = "".join(send(body) for body in bodies[:2])  # warm caches in both workers
        client = []
        with CpuWatch(process.tree) as cpu:
            for body in bodies[2:]:
                t0 = time.perf_counter()
                text = send(body)
                client.append(time.perf_counter() - t0)
        server_cpu_ms = cpu.ticks["server"] / cpu.hz * 1000 / len(client)
        trust, now = TrustStore.default(), datetime.now(UTC)
        documents = [fx.cancelacion([new_uuid() for _ in range(500)]) for _ in range(10)]
        verify = []
        for xml in documents:
            t0 = time.thread_time()
            verify_cancelacion(xml, trust, now)
            verify.append(time.thread_time() - t0)
        self.results["xpd_500"] = {
            "folios": 500,
            "request_kb": round(len(bodies[0]) / 1024, 1),
            "server_ms": journal_durations(base_url, "cancelar", len(client)),
            "server_cpu_ms_per_request": round(server_cpu_ms, 1),
            "client_ms_median": round(statistics.median(client) * 1000, 2),
            "verify_cancelacion_cpu_ms_median": round(statistics.median(verify) * 1000, 2),
            "not_implemented": "not implemented" in text.lower(),
            "answer_excerpt": " ".join(text.split())[-300:],
            "cpu": cpu.result,
        }
        self.say(f"500 folios: {self.results['xpd_500']}")

    def provider_scripts(self, base_url: str, process: ServerProcess) -> None:
        out = {}
        for name in PROVIDER_SCRIPTS:
            if not (Path(__file__).parent / f"{name}.py").exists():
                out[name] = {"missing": True}
                continue
            if self.elapsed() > BUDGET_S - 60:
                out[name] = {"skipped": "time budget"}
                continue
            self.say(f"running bench/{name}.py")
            t0 = time.monotonic()
            try:
                module = importlib.import_module(f"bench.{name}")
                result = module.run(base_url, **script_kwargs(module.run, self.args, process))
                out[name] = {"seconds": round(time.monotonic() - t0, 1), "result": result}
            except Exception as exc:  # one script failing must not lose the rest of the run
                out[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=3)}
                self.say(f"bench/{name}.py failed: {exc}")
        self.results["provider_scripts"] = out

    def ingest(self, base_url: str, process: ServerProcess) -> None:
        out = {}
        try:
            out["4MB"] = post_document(base_url, process.tree, 4_000_000 - 4096)
            self.say(f"ingest 4 MB: {out['4MB']}")
            production = use_production(base_url)
            runs = [post_document(production, process.tree, 40_000_000 - 4096) for _ in range(INGEST_REPEAT)]
            out["40MB"] = {**runs[0], "runs": runs,
                           "seconds_spread": rounds.spread(r["seconds"] for r in runs),
                           "growth_x_spread": rounds.spread((r["rss_growth_x_document"] for r in runs), 2),
                           "accepted": all(r["accepted"] for r in runs)}
            out["40MB"]["session"] = "MYSuite account in productivo (session overlay)"
            self.say(f"ingest 40 MB: {out['40MB']['seconds_spread']} s, growth {out['40MB']['growth_x_spread']}x")
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
            self.say(f"ingest failed: {exc}")
        self.results["ingest"] = out

    def ratios(self, workloads: dict[str, Workload]) -> None:
        self.results["ratios"] = rounds.ratios(self, workloads, self.start_retrying)

    def server_settings(self, sf: Workload) -> None:
        self.results["settings"] = rounds.server_settings(self, sf, self.start_retrying)

    def profile(self, fx: Fixtures) -> None:
        from . import profiling

        target = profiling.InProcess()
        out = {}
        n = 300 if self.args.quick else 600
        plan = (
            (sf_cancelar_asincrono(fx), 200, n),
            (xpd_cancelar(fx, pool=200), 200, n // 2),
            (xpd_cancelar(fx, pool=20, folios=500), 15, 0),
        )
        try:
            for workload, requests, sampled in plan:
                stem = workload.name.replace(".", "_").replace("[", "_").replace(" ", "_").rstrip("]")
                out[workload.name] = {
                    "in_process": profiling.request_ms(target, workload, n=requests),
                    "breakdown": profiling.breakdown(target, workload, n=requests),
                }
                if sampled:
                    out[workload.name]["steps_us"] = profiling.steps_us(target, workload)
                    out[workload.name]["profile"] = profiling.profile(
                        target, workload, RESULTS_DIR / "profiles" / f"{stem}.txt", n=sampled
                    )
                self.say(f"profile {workload.name}: {out[workload.name]['in_process']}")
        finally:
            target.close()
        self.results["profile"] = out

    # the run -----------------------------------------------------------------------------------

    def start_retrying(self, config: ServerConfig, attempts: int = 3) -> tuple[ServerProcess, str]:
        """Start a server that the run needs; a start that hangs is recorded and tried again."""
        for attempt in range(1, attempts + 1):
            try:
                return start(config, self.log_dir)
            except RuntimeError as exc:
                self.results.setdefault("failed_starts", []).append(f"{config.name}: {exc}")
                self.say(f"start {attempt} of {config.name} failed: {exc}")
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def section(self, name: str, fn, *args) -> None:
        """Run one section; a failure is recorded and the run goes on with the next one."""
        if not self.wanted(name):
            return
        try:
            fn(*args)
        except Exception as exc:
            self.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            self.say(f"{name} failed: {exc}")

    def run(self) -> dict:
        ensure_wrk()
        self.wait_idle()
        fx = Fixtures()
        sf = sf_cancelar_asincrono(fx)
        workloads = [*sf_workloads(fx), xpd_cancelar(fx), *mysuite_workloads()]
        by_name = {w.name: w for w in workloads}
        self.section("cold_start", self.cold_start)
        self.section("ratios", self.ratios, by_name)
        self.section("settings", self.server_settings, sf)
        main = ServerConfig("main", "granian", workers=self.args.workers)
        if any(self.wanted(s) for s in ("operations", "xpd_500", "provider_scripts", "ingest")):
            process, base_url = self.start_retrying(main)
            self.say(
                f"pac-mock serve --workers {self.args.workers} on {base_url} (data in {process.data_dir})"
            )
            try:
                self.section("operations", self.operations, base_url, process, workloads)
                self.section("xpd_500", self.five_hundred, base_url, process, fx)
                self.section("provider_scripts", self.provider_scripts, base_url, process)
                self.section("ingest", self.ingest, base_url, process)
            finally:
                process.stop()
        self.section("profile", self.profile, fx)
        self.results["meta"]["seconds"] = round(self.elapsed(), 1)
        self.results["meta"]["load_average_at_end"] = load_average()
        self.results["targets"] = report.targets(self.results)
        return self.results


def cpu_text(cpu: dict) -> str:
    return f"cpu server {cpu['server_cpu_pct']}% wrk {cpu['loadgen_cpu_pct']}% other {cpu['other_cpu_pct']}%"


def journal_durations(base_url: str, operation: str, limit: int) -> dict | None:
    """The server's own time per request (the journal's duration_ms) for the latest ``limit`` calls."""
    query = urllib.parse.urlencode({"operation": operation, "limit": max(1, limit), "bodies": "0"})
    try:
        with urllib.request.urlopen(f"{base_url}/__admin/requests?{query}", timeout=60) as response:
            items = json.load(response)["requests"]
    except (OSError, ValueError, KeyError):
        return None
    values = sorted(float(i["duration_ms"]) for i in items if i.get("duration_ms") is not None)
    if not values:
        return None
    return {
        "count": len(values),
        "min": round(values[0], 3),
        "max": round(values[-1], 3),
        "p50": round(statistics.median(values), 3),
        "p99": round(values[int(0.99 * (len(values) - 1))], 3),
    }


def script_kwargs(fn, args: argparse.Namespace, process: ServerProcess) -> dict:
    """The keyword arguments a provider script's ``run`` accepts, from what this run knows."""
    offer = {
        "connections": args.connections,
        "duration": args.duration,
        "seconds": args.duration,
        "threads": args.threads,
        "quick": args.quick,
        "tree": process.tree,
        "process_tree": process.tree,
        "server": process,
        "pid": process.proc.pid if process.proc else None,
        "server_pid": process.proc.pid if process.proc else None,
        "concurrency": args.connections,
    }
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return {k: v for k, v in offer.items() if k in ("connections", "duration", "tree")}
    return {k: v for k, v in offer.items() if k in params}


def java_version() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def meta(args: argparse.Namespace) -> dict:
    def version(module: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(module)
        except Exception:
            return None

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = None
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    except OSError:
        wrk = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "granian": version("granian"),
        "flask": version("flask"),
        "lxml": version("lxml"),
        "wrk": wrk,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "round_seconds": args.round_seconds,
        "load_average": load_average(),
        "workers": args.workers,
        "load": "wrk closed loop on 127.0.0.1; client and server share the machine",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0,
                        help="seconds per measurement of the operations table (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the ratios (default 5)")
    parser.add_argument("--settings-rounds", type=int, default=3,
                        help="alternating rounds for the server settings (default 3)")
    parser.add_argument("--round-seconds", type=float, default=3.0,
                        help="seconds per measurement in a round (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1: leaves the CPU to the server)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="pac-mock serve --workers for the main run (default 2)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short run: 2 s measurements, 3 rounds, 2 settings rounds"
    )
    sections = [
        "cold_start",
        "ratios",
        "settings",
        "operations",
        "xpd_500",
        "provider_scripts",
        "ingest",
        "profile",
    ]
    parser.add_argument("--only", nargs="*", choices=sections, default=[], help="run only these sections")
    parser.add_argument("--skip", nargs="*", choices=sections, default=[], help="leave these sections out")
    parser.add_argument(
        "--wait-idle", type=float, default=0, help="wait up to this many seconds for the machine to be idle"
    )
    parser.add_argument(
        "--idle-load", type=float, default=0.5, help="load average counted as idle (default 0.5)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where latest.json and latest.md go")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 2.0)
        args.round_seconds = min(args.round_seconds, 2.0)
        args.rounds = min(args.rounds, 3)
        args.settings_rounds = min(args.settings_rounds, 2)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    bench.say(
        f"pac-mock benchmark: {args.connections} connections, {args.duration:g} s per measurement; logs in {bench.log_dir}"
    )
    results = bench.run()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    markdown = report.markdown(results)
    (args.out / "latest.md").write_text(markdown)
    print()
    print(markdown)
    bench.say(f"results in {args.out / 'latest.json'} and latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
