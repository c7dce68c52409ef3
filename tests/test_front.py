"""The asynchronous front of ``pac-mock serve``, driven as an ASGI app without a server."""

from __future__ import annotations

import asyncio

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
