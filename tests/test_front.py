"""The asynchronous front of ``pac-mock serve``, driven as an ASGI app without a server."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mockserver.front import BODIES_AT_ONCE, AsyncFront
from mockserver.settings import Settings

MB = 1024 * 1024


def _echo_size(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


async def _post(front: AsyncFront, chunks: list[bytes], hold: asyncio.Event | None = None) -> int:
    """Send ``chunks`` as a chunked body; with ``hold``, wait on it before the last (empty) chunk."""
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    sent: list[dict] = []

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        if hold is not None:
            await hold.wait()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x", "query_string": b"",
             "headers": [(b"content-type", b"text/xml")], "server": ("127.0.0.1", 80), "scheme": "http",
             "http_version": "1.1", "root_path": ""}
    await front(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_many_large_bodies_at_once_get_503_and_the_budget_comes_back():
    async def scenario() -> None:
        front = AsyncFront(_echo_size, Settings(max_body_mb=1))
        hold = asyncio.Event()
        # Bodies that stay half-read hold the worker's budget; one more large body is refused.
        holders = [asyncio.create_task(_post(front, [b"x" * MB], hold)) for _ in range(BODIES_AT_ONCE)]
        while front.buffered < BODIES_AT_ONCE * MB:
            await asyncio.sleep(0.01)
        assert await _post(front, [b"y" * 1024]) == 503
        hold.set()
        assert await asyncio.gather(*holders) == [200] * BODIES_AT_ONCE
        assert front.buffered == 0  # released when each call ended
        assert await _post(front, [b"z" * MB]) == 200

    asyncio.run(scenario())


async def _exchange(front: AsyncFront, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> list[dict]:
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    loop = asyncio.get_running_loop()

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    def send(message: dict) -> asyncio.Future:
        # Like granian's: an awaitable that is not a coroutine, to be called on the event loop.
        assert threading.current_thread() is threading.main_thread()
        sent.append(message)
        done = loop.create_future()
        done.set_result(None)
        return done

    scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x", "query_string": b"",
             "headers": [(b"content-type", b"text/xml"), *headers], "server": ("127.0.0.1", 80),
             "scheme": "http", "http_version": "1.1", "root_path": ""}
    await front(scope, receive, send)
    return sent


def test_a_large_answer_is_streamed_in_pieces_and_arrives_whole():
    piece = bytes(range(256)) * 256  # 64 KiB

    def download(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/zip")])
        return (piece for _ in range(48))  # 3 MiB

    sent = asyncio.run(_exchange(AsyncFront(download, Settings()), b""))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert len(bodies) > 2  # streamed, not held whole
    assert b"".join(m["body"] for m in bodies) == piece * 48
    assert bodies[-1]["more_body"] is False


def test_the_app_sees_a_chunked_body_whole_with_its_length():
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ["CONTENT_LENGTH"]
        seen["chunked"] = "HTTP_TRANSFER_ENCODING" in environ
        seen["body"] = environ["wsgi.input"].read()
        seen["thread"] = threading.current_thread().name
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", "yes")])
        return [b"ok"]

    sent = asyncio.run(_exchange(AsyncFront(app, Settings()), b"<a/>", [(b"transfer-encoding", b"chunked")]))
    assert seen == {"length": "4", "chunked": False, "body": b"<a/>", "thread": "pac-mock-request"}
    assert sent[0]["status"] == 201 and (b"x-seen", b"yes") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": b"ok", "more_body": False}


def test_an_app_that_fails_after_it_began_to_answer_has_its_answer_cut_short():
    # Scenario faults that truncate or drop an answer work this way: the client must see a cut
    # answer, not a clean 500.
    def truncated(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml")])

        def pieces():
            yield b"<partial"
            raise ConnectionAbortedError("cut here")

        return pieces()

    sent: list[dict] = []

    async def scenario() -> None:
        front = AsyncFront(truncated, Settings())
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x", "query_string": b"",
                 "headers": [], "server": ("127.0.0.1", 80), "scheme": "http", "http_version": "1.1",
                 "root_path": ""}
        with pytest.raises(ConnectionAbortedError):
            await front(scope, receive, send)

    asyncio.run(scenario())
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert sent[1] == {"type": "http.response.body", "body": b"<partial", "more_body": True}
    assert len(sent) == 2  # no end of body: the server cuts the connection
