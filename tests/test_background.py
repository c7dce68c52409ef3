"""The background runner: each piece of work on its own thread, woken on demand, ended by stop (and by
``Runtime.close`` before the store closes); caches a runtime owns are its own."""

from __future__ import annotations

import threading

from mockserver.background import Runner, Work
from mockserver.providers import all_providers
from mockserver.providers.mysuite.models import blobs_for
from mockserver.runtime import Runtime
from mockserver.settings import Settings


def counting(name: str, **options) -> tuple[Work, list[int], threading.Event]:
    rounds: list[threading.Thread] = []  # the thread of each round
    ran = threading.Event()

    def run() -> int:
        rounds.append(threading.current_thread())
        ran.set()
        return 0

    options.setdefault("every", 3600.0)
    return Work(name, run, **options), rounds, ran


def test_work_runs_when_started_and_when_woken_and_not_after_stop():
    runner = Runner()
    work, rounds, ran = counting("count")
    runner.add(work)
    runner.wake("count")  # not started, not on demand: nothing runs
    assert runner.running() == [] and rounds == []
    runner.start()
    assert ran.wait(30) and runner.running() == ["count"]
    ran.clear()
    runner.wake("count")
    assert ran.wait(30)  # a wake brings the next round at once (the period is an hour)
    runner.stop()
    assert not any(thread.is_alive() for thread in rounds)  # stop waited for the thread to end


def test_a_wake_after_stop_starts_nothing():
    runner = Runner()
    work, rounds, ran = counting("convert", idle_stop=3600.0)
    runner.add(work)
    runner.wake("convert")
    assert ran.wait(30)
    runner.stop()
    assert not rounds[0].is_alive() and runner.running() == []
    runner.wake("convert")  # a thread it started would be alive now: it waits an hour between rounds
    assert runner.running() == [] and not any(t.name == "pac-mock-convert" for t in threading.enumerate())


def test_on_demand_work_starts_on_a_wake_and_ends_when_idle():
    runner = Runner()
    work, rounds, ran = counting("convert", idle_stop=0.0, after_timers=True, every=0.01)
    other, other_rounds, _ = counting("other")
    runner.add(work)
    runner.add(other)
    runner.timers_fired()  # wakes the work that follows timers, starting it though the runner never started
    assert ran.wait(30)
    rounds[0].join(30)
    assert not rounds[0].is_alive()  # with nothing to do it ended its thread
    assert "convert" not in runner.running() and other_rounds == []
    ran.clear()
    runner.wake("convert")  # and a wake starts it again
    assert ran.wait(30) and rounds[-1] is not rounds[0]
    runner.stop()


def test_a_failing_round_does_not_end_the_work(caplog):
    runner = Runner()
    rounds = []
    second = threading.Event()

    def run() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("boom")
        second.set()

    runner.add(Work("flaky", run, every=0.01))
    runner.start()
    assert second.wait(30) and "boom" in caplog.text
    runner.stop()


def test_disabled_work_never_runs():
    runner = Runner()
    work, rounds, _ = counting("mail", enabled=False)
    runner.add(work)
    runner.start()
    runner.wake("mail")
    assert runner.running() == [] and rounds == []
    runner.stop()


def test_close_stops_the_runtime_work_and_runtimes_own_their_caches():
    first = Runtime(Settings(memory=True), all_providers())
    second = Runtime(Settings(memory=True), all_providers())
    try:
        assert {"timers", "mail", "mysuite-converter"} <= set(first.background.names())
        assert blobs_for(first) is blobs_for(first) and blobs_for(first) is not blobs_for(second)
        first.start()
        assert "timers" in first.background.running()
    finally:
        first.close()
        second.close()
    assert first.background.running() == []


def test_stop_reports_a_round_that_outlasts_its_stop_timeout(caplog):
    runtime = Runtime(Settings(memory=True), all_providers())
    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []

    def stuck() -> None:
        threads.append(threading.current_thread())
        entered.set()
        release.wait(60)

    runtime.background.add(Work("stuck", stuck, every=3600.0, stop_timeout=0.05))
    runtime.start()
    try:
        assert entered.wait(30)
        runtime.close()  # the store closes all the same
        assert runtime.background.running() == ["stuck"]
        assert "stuck" in caplog.text and "did not end" in caplog.text
    finally:
        release.set()
    threads[0].join(30)
    assert not threads[0].is_alive() and runtime.background.running() == []


def test_the_converter_stops_between_jobs_when_the_runner_stops(monkeypatch):
    from mockserver.providers.mysuite import worker

    runtime = Runtime(Settings(memory=True), all_providers())
    converting, stop_called, threads = threading.Event(), threading.Event(), []
    calls: list[str] = []
    real_stop = runtime.background.stop

    def stop() -> list[str]:
        stop_called.set()
        return real_stop()

    def convert(runtime_, session: str, guid: str) -> bool:
        calls.append(guid)
        threads.append(threading.current_thread())
        converting.set()
        stop_called.wait(30)  # a long conversion, in progress when stop comes
        return True

    monkeypatch.setattr(runtime.background, "stop", stop)

    monkeypatch.setattr(worker, "ready_jobs", lambda conn, stale_before: [("s", "job-1"), ("s", "job-2")])
    monkeypatch.setattr(worker, "convert", convert)
    runtime.start()
    try:
        assert converting.wait(30)
    finally:
        runtime.close()
    assert calls == ["job-1"]  # the second job is left for the next start
    assert not threads[0].is_alive()
