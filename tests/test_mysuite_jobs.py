"""MYSuite jobs: a status query waits for a conversion someone else is doing by a wake-up, not by
polling; the job's lock holds across processes; the WSDL is read on first use."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from lxml import etree
from test_mysuite import PATH, Answer, envelope

from mockserver.providers.mysuite.locks import JobLocks
from mockserver.providers.mysuite.models import blobs_for, get_job
from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.testing.mysuite import native_document


@pytest.fixture(params=["memory", "file"])
def served(request, server, tmp_path):  # type: ignore[no-untyped-def]
    """(server, session URL): the shared in-memory server, or one on a database file."""
    if request.param == "memory":
        yield server, f"{server.url}/__session/{uuid.uuid4().hex[:12]}"
        return
    with BackgroundServer(Settings(port=0, data_dir=tmp_path / "data")) as own:
        yield own, f"{own.url}/__session/waits"


def _post(url: str, body: bytes) -> Answer:
    import requests

    return Answer(requests.post(url + PATH, data=body, headers={"Content-Type": "text/xml"}, timeout=60))


def _admin(url: str, path: str, **json: str) -> None:
    import requests

    assert requests.post(f"{url}/__admin/{path}", json=json, timeout=30).ok


def _submitted(served, folio: str):  # type: ignore[no-untyped-def]
    """A 1.2 MB document submitted with the clock frozen: (url, guid, its job, the job locks)."""
    srv, url = served
    session = url.rsplit("/", 1)[1]
    _admin(url, "clock", freeze="2026-03-01T09:00:00")
    document = base64.b64encode(native_document(1_200_000)).decode("ascii")
    guid = _post(url, envelope("ASYNC_CONVERT_NATIVE_XML", document, folio)).data(1)
    with srv.runtime.store.read() as conn:
        job = get_job(conn, session, guid)
    return url, guid, job, blobs_for(srv.runtime).locks


def test_a_status_query_wakes_when_the_conversion_another_holds_ends(served, monkeypatch):
    url, guid, job, locks = _submitted(served, "ESPERA-1")

    waiting, released = threading.Event(), threading.Event()
    woke_after_release: list[bool] = []
    real_wait = JobLocks.wait

    def wait(self: JobLocks, key: str) -> bool:
        waiting.set()
        woke = real_wait(self, key)
        woke_after_release.append(woke and released.is_set())
        return woke

    monkeypatch.setattr(JobLocks, "wait", wait)
    answers: list[Answer] = []
    with locks.try_hold(job.blob_key) as held:  # as if another converter had the job
        assert held
        _admin(url, "clock", advance="1m")  # due: the timer marks it ready; no one else may convert it
        query = threading.Thread(target=lambda: answers.append(_post(url, envelope("ASYNC_CONVERT_VERIFY", guid))))
        query.start()
        assert waiting.wait(timeout=60), "the status query never waited for the conversion"
        released.set()
    query.join(timeout=120)
    assert woke_after_release == [True]
    # Released, the query converted the job itself and answers it done, not "still processing".
    (answer,) = answers
    record = etree.fromstring(answer.decoded(1))
    assert record.findtext("Status") == "2" and record.findtext("Uuid") == guid


HOLDER = """
import sys
from pathlib import Path
from mockserver.providers.mysuite.locks import JobLocks

with JobLocks(Path(sys.argv[1])).try_hold("ab12") as held:
    print("held" if held else "free", flush=True)
    sys.stdin.readline()
    (Path(sys.argv[1]) / "released").write_text("yes")
"""


def test_the_job_lock_wakes_a_waiter_in_another_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        locks = JobLocks(tmp_path)
        with locks.try_hold("ab12") as held:
            assert not held  # the other process has it
        seen: list[bool] = []
        entered = threading.Event()

        def wait() -> None:
            entered.set()
            locks.wait("ab12")
            seen.append((tmp_path / "released").exists())

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert entered.wait(timeout=60)
        holder.stdin.write("\n")
        holder.stdin.flush()
        waiter.join(timeout=60)
        # The waiter woke only once the holder had finished (it writes the mark before it lets go).
        assert seen == [True]
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "ab12.lock").exists()  # the holder removes its lock file
    with JobLocks(tmp_path).try_hold("ab12") as held:
        assert held


def test_thread_locks_wake_a_waiter_and_are_forgotten_after_use():
    locks = JobLocks(None)
    released = threading.Event()
    seen: list[bool] = []
    with locks.try_hold("cd34") as held:
        assert held
        with locks.try_hold("cd34") as again:
            assert not again
        waiter = threading.Thread(target=lambda: (locks.wait("cd34"), seen.append(released.is_set())))
        waiter.start()
        released.set()
    waiter.join(timeout=60)
    assert seen == [True]
    assert locks._threads == {}


def test_the_wsdl_is_read_on_first_use_not_at_import():
    script = (
        "from mockserver.app import create_app\n"
        "from mockserver.settings import Settings\n"
        "from mockserver.providers.mysuite import codes\n"
        "create_app(Settings(port=0, memory=True))\n"
        "print(codes.transactions.cache_info().currsize)\n"
        "print('ASYNC_CONVERT_VERIFY' in codes.transactions())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1], check=True).stdout.split()  # fmt: skip
    assert out == ["0", "True"]


@pytest.mark.parametrize("mode", ["thread", "file"])
def test_a_wait_on_a_holder_that_never_lets_go_gives_up_at_its_limit(mode, tmp_path):
    locks = JobLocks(None if mode == "thread" else tmp_path, wait_limit=0.05)
    with locks.try_hold("ef56") as held:  # held for the whole wait: the waiter must give up on its own
        assert held
        assert locks.wait("ef56") is False
    assert locks.wait("ef56") is True  # released: nothing to wait for
    if mode == "file":
        with locks.try_hold("ef56") as again:  # the waiter that gave up holds nothing
            assert again


def test_a_status_query_answers_pending_when_the_conversion_another_holds_outlasts_the_wait(served, monkeypatch):
    url, guid, job, locks = _submitted(served, "ESPERA-2")
    monkeypatch.setattr(locks, "wait_limit", 0.05)
    waits: list[bool] = []
    real_wait = JobLocks.wait

    def wait(self: JobLocks, key: str) -> bool:
        waits.append(real_wait(self, key))
        return waits[-1]

    monkeypatch.setattr(JobLocks, "wait", wait)
    with locks.try_hold(job.blob_key) as held:  # a converter that never finishes while the query runs
        assert held
        _admin(url, "clock", advance="1m")
        answer = _post(url, envelope("ASYNC_CONVERT_VERIFY", guid))
    assert waits == [False]  # the query gave up waiting ...
    record = etree.fromstring(answer.decoded(1))
    assert record.findtext("Status") == "1" and record.findtext("Uuid") == guid  # ... and answered the job pending
