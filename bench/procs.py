"""Server processes under test: start, wait for health, measure memory, stop.

Memory is read from ``/proc``: ``VmRSS`` now and ``VmHWM`` (the peak since the last reset). As root,
writing ``5`` to ``/proc/<pid>/clear_refs`` resets ``VmHWM``, so each workload gets its own exact peak
without sampling; otherwise a sampler thread records the highest RSS it sees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, field: str) -> int:
    return _proc_kb(pid, "status", field)


def _rollup_kb(pid: int, field: str) -> int:
    return _proc_kb(pid, "smaps_rollup", field)


def _proc_kb(pid: int, name: str, field: str) -> int:
    """``field`` (kB) of ``/proc/<pid>/<name>``; 0 when the process or the field is gone."""
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.extend(int(p) for p in text.split())
    return out


class ProcessTree:
    """A process and all its descendants (granian's main process and its workers, a JVM, ...)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._sampled_peak = 0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self.can_reset_peaks = os.geteuid() == 0

    def pids(self) -> list[int]:
        seen, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo.extend(_children(pid))
        return seen

    def rss(self) -> int:
        """Resident memory of the whole tree now, in bytes (shared pages counted once per process)."""
        return sum(_status_kb(p, "VmRSS") for p in self.pids()) * 1024

    def pss(self) -> int:
        """Proportional memory of the whole tree now, in bytes: each shared page counted once across
        the tree (split among the processes that share it), where ``rss`` counts it in each."""
        return sum(_rollup_kb(p, "Pss") for p in self.pids()) * 1024

    def rss_by_pid(self) -> dict[int, int]:
        return {p: _status_kb(p, "VmRSS") * 1024 for p in self.pids()}

    def reset_peaks(self) -> None:
        """Start a new measurement window for :meth:`peak` and :meth:`peak_by_pid`."""
        if self.can_reset_peaks:
            for pid in self.pids():
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    self.can_reset_peaks = False
        self._sampled_peak = self.rss()
        if not self.can_reset_peaks and self._sampler is None:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._sampled_peak = max(self._sampled_peak, self.rss())

    def peak_by_pid(self) -> dict[int, int]:
        return {p: _status_kb(p, "VmHWM") * 1024 for p in self.pids()}

    def peak(self) -> int:
        """Peak resident memory of the tree since :meth:`reset_peaks`, in bytes.

        The sum of each process's own peak: an upper bound of the simultaneous total.
        """
        if self.can_reset_peaks:
            return max(sum(self.peak_by_pid().values()), self.rss())
        return max(self._sampled_peak, self.rss())

    def close(self) -> None:
        self._stop.set()


class ServerProcess:
    """One server under test, started in its own process group so that stopping it stops its workers."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        health_url: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.health_url = health_url
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.tree: ProcessTree | None = None
        self.cold_start_s: float | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.tree = ProcessTree(self.proc.pid)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before answering; see {self.log_path}"
                )
            if _healthy(self.health_url):
                self.cold_start_s = time.perf_counter() - started
                return self
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.health_url} within {timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        if self.tree is not None:
            self.tree.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


_TICKS = os.sysconf("SC_CLK_TCK")


def _busy_ticks() -> int:
    """Busy CPU time of the whole machine (all cores), in clock ticks."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]) - idle


def _process_ticks(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (every thread of the process)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class CpuWatch:
    """Who used the CPU during a measurement: the server, the load generator, or someone else.

    ``other_pct`` is the noise indicator: CPU used by processes outside the benchmark (other jobs on
    the machine), as a share of all cores. Numbers taken while it is high understate the server.
    """

    def __init__(self, tree: ProcessTree | None) -> None:
        self.tree = tree

    def __enter__(self) -> CpuWatch:
        self._t0 = time.perf_counter()
        self._busy0 = _busy_ticks()
        self._server0 = self._server_ticks()
        self._children0 = _children_ticks()
        self._self0 = _self_ticks()
        return self

    def _server_ticks(self) -> int:
        return sum(_process_ticks(p) for p in self.tree.pids()) if self.tree else 0

    def __exit__(self, *exc) -> None:
        seconds = time.perf_counter() - self._t0
        capacity = seconds * _TICKS * (os.cpu_count() or 1)
        busy = _busy_ticks() - self._busy0
        server = self._server_ticks() - self._server0
        load = (_children_ticks() - self._children0) + (_self_ticks() - self._self0)
        self.hz = _TICKS
        self.ticks = {"server": server, "loadgen": load, "busy": busy}
        self.result = {
            "server_cpu_pct": round(100 * server / capacity, 1),
            "loadgen_cpu_pct": round(100 * load / capacity, 1),
            "other_cpu_pct": round(100 * max(busy - server - load, 0) / capacity, 1),
        }


def _children_ticks() -> int:
    times = os.times()
    return round((times.children_user + times.children_system) * _TICKS)


def _self_ticks() -> int:
    times = os.times()
    return round((times.user + times.system) * _TICKS)
