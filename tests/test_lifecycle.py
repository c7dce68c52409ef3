"""``pac-mock serve`` as an operator meets it: start-up refuses what it cannot use with one line and
exit code 2, stop leaves nothing behind, and no client can stall the server (slow bodies, oversized
chunked bodies, hundreds of waiting calls). All against the real server process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from helpers import ROOT, held_port, living_processes, stop_server

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAC_MOCK_")}
    env.update(extra)
    return env


def serve_once(*args: str, prefix: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "mockserver", "serve", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=clean_env(**env))


def as_ordinary_writer() -> tuple[str, ...]:
    """A command prefix under which file permissions hold: root loses the capabilities that override them."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.fail("running as root needs setpriv (util-linux) to drop the file-permission override")
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", "--bounding-set", caps, "--inh-caps", caps, "--")


def assert_one_line_refusal(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pac-mock: ")
    assert "Traceback" not in result.stderr + result.stdout
    for name in names:
        assert name in lines[0]


class Serve:
    """A ``pac-mock serve`` process in a session of its own."""

    def __init__(self, data_dir: Path, port: int | None = None, workers: int = 2, **env: str) -> None:
        self.port = port or held_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port), "--workers", str(workers),
             "--data-dir", str(data_dir)],
            cwd=ROOT, env=clean_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/__admin/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"server did not start: {self.proc.communicate()[1]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_server(self.proc)
        self.proc.stderr.close()

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def sf_body(uuid_text: str | None = None) -> bytes:
    u = uuid_text or str(uuid.uuid4()).upper()
    return (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="{SF_NS}"><e:Body><s:cancelarAsincrono>'
            "<s:usuario>testing@solucionfactible.com</s:usuario><s:password>timbrado.SF.16672</s:password>"
            f"<s:uuid>{u}|02|</s:uuid><s:rfcEmisor>MOC900101AB1</s:rfcEmisor>"
            "</s:cancelarAsincrono></e:Body></e:Envelope>").encode()


def post_sf(url: str, timeout: float = 10) -> requests.Response:
    return requests.post(url + "/ws/services/Cancelacion", data=sf_body(),
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=timeout)


# --- start-up -------------------------------------------------------------------------------------


def test_a_port_another_program_listens_on_is_refused_in_one_line(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = serve_once("--port", str(port), "--data-dir", str(tmp_path))
    assert_one_line_refusal(result, str(port), "in use")


def test_a_port_another_program_holds_with_so_reuseport_is_refused(tmp_path):
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        result = serve_once("--port", str(other.getsockname()[1]), "--data-dir", str(tmp_path))
    assert_one_line_refusal(result, "in use")


def test_a_second_pac_mock_on_the_same_port_is_refused_and_the_first_keeps_it(tmp_path):
    with Serve(tmp_path / "one", workers=1) as first:
        result = serve_once("--port", str(first.port), "--data-dir", str(tmp_path / "two"))
        assert_one_line_refusal(result, str(first.port), "in use")
        assert requests.get(first.url + "/__admin/health", timeout=10).ok


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_a_port_out_of_range_is_refused_in_one_line(tmp_path, port):
    assert_one_line_refusal(serve_once("--port", port, "--data-dir", str(tmp_path)), port)


def test_a_file_where_the_data_directory_should_be_is_refused(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    assert_one_line_refusal(serve_once("--port", str(held_port()), "--data-dir", str(blocker)), str(blocker))
    below = blocker / "state"
    assert_one_line_refusal(serve_once("--port", str(held_port()), "--data-dir", str(below)), str(below))


def test_an_unwritable_data_directory_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        result = serve_once("--port", str(held_port()), "--data-dir", str(data), prefix=as_ordinary_writer())
        assert_one_line_refusal(result, str(data))
    finally:
        data.chmod(0o755)


def test_a_data_directory_that_cannot_be_created_is_refused(tmp_path):
    # /proc accepts no new directories, for root too (like a read-only mount).
    target = "/proc/pac-mock-data"
    assert_one_line_refusal(serve_once("--port", str(held_port()), "--data-dir", target), target)


def test_a_damaged_database_is_refused_in_one_line(tmp_path):
    (tmp_path / "pac-mock.sqlite3").write_bytes(b"this is not a database" * 100)
    result = serve_once("--port", str(held_port()), "--data-dir", str(tmp_path))
    assert_one_line_refusal(result, "pac-mock.sqlite3")


def test_leftover_temporary_files_are_swept_and_held_conversions_released_at_start(tmp_path):
    from mockserver.providers.mysuite.models import PENDING, SCHEMA
    from mockserver.store import Store

    blobs = tmp_path / "mysuite"
    blobs.mkdir()
    leftover = blobs / "abc123.native.4242.tmp"
    leftover.write_bytes(b"")
    store = Store(tmp_path / "pac-mock.sqlite3", [SCHEMA])
    with store.tx() as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(mysuite_jobs)")]
        row = {c: None for c in columns}
        row.update(session="default", guid="00000000-0000-4000-8000-000000000001", status=PENDING, ready=1,
                   converting_at=time.time())
        required = {r[1]: r for r in conn.execute("PRAGMA table_info(mysuite_jobs)")}
        for name, info in required.items():  # fill NOT NULL columns this test does not care about
            if row[name] is None and info[3]:
                row[name] = 0 if "INT" in (info[2] or "").upper() or "REAL" in (info[2] or "").upper() else "x"
        conn.execute(f"INSERT INTO mysuite_jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                     tuple(row.values()))
    store.close()

    from mockserver.server import recover
    from mockserver.settings import Settings

    recover(Settings(data_dir=tmp_path))
    assert not leftover.exists()
    store = Store(tmp_path / "pac-mock.sqlite3", [SCHEMA])
    with store.read() as conn:
        assert conn.execute("SELECT converting_at FROM mysuite_jobs").fetchone()[0] is None
    store.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
@pytest.mark.parametrize("rounds", [
    5,
    pytest.param(50, marks=pytest.mark.slow),  # a soak: PAC_MOCK_LONG=1
])
def test_stop_under_load_leaves_no_process_behind(tmp_path, rounds):
    port = held_port()
    for round_ in range(rounds):
        server = Serve(tmp_path, port=port)
        halt = threading.Event()

        def load(url=server.url, halt=halt) -> None:
            while not halt.is_set():
                try:
                    post_sf(url, timeout=5)
                except requests.RequestException:
                    return

        with ThreadPoolExecutor(2) as pool:
            for _ in range(2):
                pool.submit(load)
            time.sleep(0.2)
            group = server.proc.pid
            server.stop()
            halt.set()
        assert server.proc.returncode == 0, f"round {round_}"
        assert living_processes(group) == [], f"round {round_}: processes left after stop"


# --- no client stalls the server ------------------------------------------------------------------


def _slow_bodies(port: int, count: int, chunked: bool) -> list[socket.socket]:
    head = "POST /ws/services/Cancelacion HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n10\r\n<" if chunked else "Content-Length: 100000\r\n\r\n<"
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head.encode())
        socks.append(s)
    return socks


@pytest.fixture(scope="module")
def patient_server(tmp_path_factory):
    """Body timeouts far longer than any check below takes, so slow clients stay for the checks."""
    with Serve(tmp_path_factory.mktemp("patient"), PAC_MOCK_BODY_IDLE_TIMEOUT="60",
               PAC_MOCK_MAX_BODY_MB="1") as srv:
        yield srv


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_slow_bodies_do_not_stall_other_requests(patient_server, chunked):
    socks = _slow_bodies(patient_server.port, 100, chunked)
    try:
        # Each would wait for the slow connections' 60 s if they held the request threads.
        for _ in range(5):
            assert requests.get(patient_server.url + "/__admin/health", timeout=15).ok
            assert post_sf(patient_server.url, timeout=15).status_code == 200
    finally:
        for s in socks:
            s.close()


def test_hundreds_of_waiting_calls_do_not_stall_other_requests(patient_server):
    session = f"{patient_server.url}/__session/waits-{uuid.uuid4().hex[:8]}"

    def wait_for_mail() -> int:
        return requests.get(session + "/__admin/mail/wait", params={"count": 1, "timeout": 40}, timeout=90).status_code

    with ThreadPoolExecutor(200) as pool:
        futures = [pool.submit(wait_for_mail) for _ in range(200)]
        time.sleep(1.0)
        try:
            for _ in range(5):
                assert not any(f.done() for f in futures)  # the waits are still open ...
                assert requests.get(patient_server.url + "/__admin/health", timeout=15).ok  # ... and others answer
                assert post_sf(patient_server.url, timeout=15).status_code == 200
        finally:
            # End the waits: a notification in their session.
            requests.post(session + "/ws/services/Cancelacion", data=sf_body().replace(
                b"</s:rfcEmisor>", b"</s:rfcEmisor><s:emailNotifica>w@example.test</s:emailNotifica>"),
                headers={"Content-Type": "text/xml"}, timeout=30)
            requests.post(session + "/__admin/clock", json={"advance": "1h"}, timeout=30)
        assert [f.result() for f in futures] == [200] * 200


def test_a_body_that_stops_arriving_is_answered_408(tmp_path):
    with Serve(tmp_path, workers=1, PAC_MOCK_BODY_IDLE_TIMEOUT="1") as srv:
        for chunked in (False, True):
            (sock,) = _slow_bodies(srv.port, 1, chunked)
            with sock:
                sock.settimeout(30)
                answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_a_chunked_body_over_the_limit_is_answered_413_not_cut_and_parsed(patient_server):
    def chunks():
        piece = b"<x>" + b"a" * 65536 + b"</x>"
        for _ in range(40):  # about 2.6 MB against the 1 MB limit
            yield piece

    r = requests.post(patient_server.url + "/ws/services/Cancelacion", data=chunks(),
                      headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert r.status_code == 413
    assert b"at most 1 MB" in r.content
    announced = requests.post(patient_server.url + "/ws/services/Cancelacion", data=b"<" * (2 * 1024 * 1024),
                              headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert announced.status_code == 413


def test_a_request_just_under_the_limit_is_still_served(patient_server):
    body = sf_body()
    padded = body.replace(b"<e:Body>", b"<e:Body><!--" + b" " * (1024 * 1024 - len(body) - 100) + b"-->")
    r = requests.post(patient_server.url + "/ws/services/Cancelacion", data=iter([padded[:500_000], padded[500_000:]]),
                      headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert r.status_code == 200, r.text[:300]


def test_sigterm_stops_while_slow_clients_and_waits_are_open(tmp_path):
    srv = Serve(tmp_path, workers=1, PAC_MOCK_BODY_IDLE_TIMEOUT="60")
    socks = _slow_bodies(srv.port, 5, False)
    pool = ThreadPoolExecutor(5)
    for _ in range(5):
        pool.submit(lambda: requests.get(srv.url + "/__admin/mail/wait", params={"timeout": 60}, timeout=90))
    time.sleep(0.5)
    group = srv.proc.pid
    try:
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=30)
    finally:
        for s in socks:
            s.close()
        pool.shutdown(wait=False, cancel_futures=True)
        srv.stop()
    assert living_processes(group) == []


def test_a_rename_save_in_a_scenarios_folder_is_reloaded_even_with_the_old_mtime_and_size(tmp_path):
    from mockserver.runtime import ScenarioSource

    folder = tmp_path / "scenarios"
    folder.mkdir()
    path = folder / "scenarios.yaml"
    path.write_text("version: 1\nseed: 1\n", encoding="utf-8")
    source = ScenarioSource(path, check_every=0)
    before = path.stat()
    # What editors do: write a new file beside it, then rename it over the old one.
    new = folder / ".scenarios.yaml.swp"
    new.write_text("version: 1\nseed: 2\n", encoding="utf-8")
    os.utime(new, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(new, path)
    assert source.reload_if_changed()
    assert source.error is None


def test_an_unwritable_data_directory_names_its_owner_and_our_user(tmp_path, monkeypatch):
    from mockserver.server import StartupError, check_data_dir

    def refuse(self, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(StartupError) as refused:
        check_data_dir(tmp_path)
    message = str(refused.value)
    assert str(tmp_path) in message and f"uid {os.getuid()}" in message and "Permission denied" in message
    assert "\n" not in message


def test_scenario_delays_do_not_stall_other_sessions(patient_server):
    slow = f"{patient_server.url}/__session/delayed-{uuid.uuid4().hex[:8]}"
    overlay = "version: 1\nrules:\n  - {id: slow, outcome: {fault: {kind: delay, seconds: 8s}}}\n"
    put = requests.put(slow + "/__admin/scenarios", data=overlay, headers={"Content-Type": "application/yaml"},
                       timeout=30)
    assert put.ok, put.text

    def delayed() -> int:
        return post_sf(slow, timeout=90).status_code

    with ThreadPoolExecutor(100) as pool:
        futures = [pool.submit(delayed) for _ in range(100)]
        time.sleep(1.0)
        for _ in range(3):
            assert not any(f.done() for f in futures)  # the delayed calls are still running ...
            assert requests.get(patient_server.url + "/__admin/health", timeout=15).ok  # ... and others answer
            assert post_sf(patient_server.url, timeout=15).status_code == 200
        assert [f.result() for f in futures] == [200] * 100


def test_an_answer_over_a_megabyte_is_streamed_whole_through_the_real_server(patient_server):
    # The front sends answers over 1 MB in pieces from the request thread, on granian's own send.
    base = f"{patient_server.url}/__session/big-answer"
    calls = 700  # about 1.7 kB of journal each
    with requests.Session() as http:
        for _ in range(calls):
            answer = http.post(base + "/ws/services/Cancelacion", data=sf_body(), timeout=15,
                               headers={"Content-Type": "text/xml; charset=utf-8"})
            assert answer.status_code == 200
        response = http.get(f"{base}/__admin/requests", params={"limit": 1000}, timeout=30)
    assert response.status_code == 200
    assert len(response.content) > 1 << 20
    assert len(response.json()["requests"]) == calls


def test_a_truncating_scenario_fault_cuts_the_answer_through_the_real_server(patient_server):
    base = f"{patient_server.url}/__session/cut-answer"
    rule = {"rules": [{"id": "cut", "provider": "solucionfactible", "operation": "cancelarAsincrono",
                       "times": 1, "outcome": {"fault": {"kind": "truncate"}}}]}
    assert requests.put(f"{base}/__admin/scenarios", json=rule, timeout=15).ok
    started = time.monotonic()
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        post_sf(base, timeout=20)
    # Cut by the server, not given up by the client's read timeout.
    assert time.monotonic() - started < 10
    assert post_sf(base, timeout=15).status_code == 200  # times: 1, then the provider's own answer
