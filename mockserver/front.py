"""The asynchronous front of ``pac-mock serve``: request bodies are read on the event loop, with
timeouts and the size limit, before the Flask app runs in a thread.

Why: under granian's WSGI interface a request thread reads the body itself and waits, without a
time limit, for bytes that a slow or hostile client never sends; eight such connections took every
thread and the health check timed out. Here a body that stalls costs a coroutine, not a thread,
and ends with 408; one over the limit (announced or chunked) ends with 413 before it is parsed.
The app then runs in a pool of threads (a2wsgi) large enough that calls which wait (mail waits,
scenario delays, a status query waiting for a conversion) do not hold back other clients:
blocked threads cost memory, not CPU. Measurements: docs/performance.md, "Request model".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable

from a2wsgi import WSGIMiddleware

from .settings import Settings
from .soap.envelope import SOAP11, fault_bytes, version_for_content_type
from .soap.faults import SoapFault

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


# How many bodies of the largest size a worker holds at once before it answers 503.
BODIES_AT_ONCE = 4


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AsyncFront:
    """ASGI app: reads the whole body under ``settings``' limits, then runs the WSGI ``app``."""

    def __init__(self, app, settings: Settings) -> None:
        self.settings = settings
        self.wsgi = WSGIMiddleware(app, workers=settings.threads)
        # Bytes of bodies held by this worker (read or being read, until their call ends): many
        # clients sending large bodies at once get 503 instead of taking the worker's memory.
        self.buffered = 0
        self.budget = BODIES_AT_ONCE * settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.wsgi(scope, receive, send)
            return
        held = [0]  # what this request holds of the budget, released when its call ends
        try:
            try:
                body = await self._read_body(scope, receive, held)
            except BodyRefused as refused:
                await _refuse(scope, send, refused)
                return
            await self._call(scope, receive, send, body)
        finally:
            self.buffered -= held[0]

    async def _call(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # only http.disconnect can come now

        # The body is whole now: the app sees its length, however it came (chunked included).
        headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() not in (b"content-length", b"transfer-encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.wsgi({**scope, "headers": headers}, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive, held: list[int]) -> bytes:
        limit = self.settings.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise BodyRefused(413, f"Request body too large: the sandbox accepts at most {self.settings.max_body_mb} MB")
        idle = self.settings.body_idle_timeout
        deadline = time.monotonic() + self.settings.body_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, min(idle, left)))
            except TimeoutError:
                raise BodyRefused(408, "Request body not received in time") from None
            if message["type"] == "http.disconnect":
                raise BodyRefused(400, "Client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyRefused(
                    413, f"Request body too large: the sandbox accepts at most {self.settings.max_body_mb} MB"
                )
            if chunk:
                if self.buffered + len(chunk) > self.budget:
                    raise BodyRefused(503, "The sandbox is reading too many large bodies at once: try again")
                self.buffered += len(chunk)
                held[0] += len(chunk)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, refused: BodyRefused) -> None:
    """Answer before the body is read: like the app, a SOAP fault on SOAP paths, JSON on admin paths."""
    content_type = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == b"content-type"), None)
    path = scope.get("path", "")
    if path.startswith("/__admin") or "/__admin/" in path:  # with or without a session prefix
        import json

        body = json.dumps({"error": "Request refused", "message": refused.message}).encode()
        media = "application/json"
    else:
        version = version_for_content_type(content_type) or SOAP11
        body = fault_bytes(version, SoapFault(refused.message, code="Sender"))
        media = version.content_type
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            # Whatever the client still sends of this body is not read: the connection ends here.
            "headers": [(b"content-type", media.encode()), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_front_from_env() -> AsyncFront:
    """Entry point for granian workers: settings from ``PAC_MOCK_*``; dies with the server."""
    from . import lifeline
    from .app import create_app, runtime_of

    lifeline.die_with_parent(lifeline.parent_from_env())
    settings = Settings.from_env()
    app = create_app(settings)
    runtime_of(app).start()
    front = AsyncFront(app, settings)
    # Once granian has stopped serving, a request thread may still wait to hand its answer to the
    # closed event loop; Python's exit would join it for ever (1 stop in 6 hung until killed). The
    # state is in SQLite, so the worker leaves at once. Runs before the thread pools' own join.
    threading._register_atexit(_leave_now)
    return front


def _leave_now() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
