"""The asynchronous front of ``pac-mock serve``: request bodies are read on the event loop, with
timeouts and the size limit, before the Flask app runs in a thread.

Why: under granian's WSGI interface a request thread reads the body itself and waits, without a
time limit, for bytes that a slow or hostile client never sends; eight such connections took every
thread and the health check timed out. Here a body that stalls costs a coroutine, not a thread,
and ends with 408; one over the limit (announced or chunked) ends with 413 before it is parsed.
The app then runs in a pool of threads large enough that calls which wait (mail waits, scenario
delays, a status query waiting for a conversion) do not hold back other clients: blocked threads
cost memory, not CPU. Only a few of them run at once (``request_threads.py``), and a call crosses
between the event loop and its thread once each way: a2wsgi's own dispatch, a round trip per
message, served a third of the calls a second (docs/performance.md, "Request model").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from a2wsgi.wsgi import build_environ

from . import request_threads
from .settings import Settings
from .soap.envelope import SOAP11, fault_bytes, version_for_content_type
from .soap.faults import SoapFault

log = logging.getLogger("pac_mock.front")

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


# How many bodies of the largest size a worker holds at once before it answers 503.
BODIES_AT_ONCE = 4
# An answer up to this size goes back in one piece; a larger one (a download) is streamed.
WHOLE_ANSWER_BYTES = 1 << 20


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AsyncFront:
    """ASGI app: reads the whole body under ``settings``' limits, then runs the WSGI ``app``."""

    def __init__(self, app, settings: Settings) -> None:
        self.settings = settings
        self.app = app
        self.threads = request_threads.RequestThreads(min(settings.active_threads, settings.threads), settings.threads)
        # Bytes of bodies held by this worker (read or being read, until their call ends): many
        # clients sending large bodies at once get 503 instead of taking the worker's memory.
        self.buffered = 0
        self.budget = BODIES_AT_ONCE * settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})  # not served
            return
        held = [0]  # what this request holds of the budget, released when its call ends
        try:
            try:
                body = await self._read_body(scope, receive, held)
            except BodyRefused as refused:
                await _refuse(scope, send, refused)
                return
            await self._call(scope, send, body)
        finally:
            self.buffered -= held[0]

    async def _call(self, scope: Scope, send: Send, body: bytes) -> None:
        environ = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type]
        # The body is whole now: the app sees its length, however it came (chunked included).
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        loop = asyncio.get_running_loop()
        answered = loop.create_future()

        def call() -> None:
            try:
                outcome = (self._run(environ, loop, send), None)
            except BaseException as exc:  # the app's own errors are its 500s; this is the front's
                log.exception("the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed: the worker is stopping
                loop.call_soon_threadsafe(_settle, answered, *outcome)

        self.threads.submit(call)
        answer: _Answer = await answered
        if not answer.streamed:
            await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
            await send({"type": "http.response.body", "body": answer.body, "more_body": answer.broken is not None})
        if answer.broken is not None:
            # As a server running the app itself would: what was made goes out, then the connection
            # is cut (scenario faults that truncate or drop an answer rely on it). granian cuts it
            # once nothing refers to this call any more: the error's traceback refers to the answer,
            # and the answer to the error, so that cycle is broken before it is raised.
            broken, answer.broken = answer.broken, None
            del answer
            try:
                raise broken
            finally:
                del broken

    def _run(self, environ: dict, loop: asyncio.AbstractEventLoop, send: Send) -> _Answer:
        """In a request thread: the app's answer, whole, or marked as streamed once a large one has gone."""
        answer = _Answer()

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            if exc_info is not None and answer.streamed:
                raise exc_info[1].with_traceback(exc_info[2])  # too late to answer otherwise (PEP 3333)
            answer.status = int(status.split(" ", 1)[0])
            answer.headers = [(k.strip().lower().encode("latin-1"), v.strip().encode("latin-1")) for k, v in headers]
            return _no_write

        content = self.app(environ, start_response)
        chunks: list[bytes] = []
        try:
            pieces = iter(content)
            size = 0
            for chunk in pieces:
                chunks.append(chunk)
                size += len(chunk)
                if size > WHOLE_ANSWER_BYTES:
                    with request_threads.away():  # the client reads it at its own pace
                        _stream(answer, chunks, pieces, functools.partial(_deliver, loop, send))
                    return answer
        except Exception as exc:
            if answer.status is None:
                raise
            answer.broken = exc
        finally:
            close = getattr(content, "close", None)
            if close is not None:
                close()
        answer.body = b"".join(chunks)
        return answer

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


@dataclass
class _Answer:
    status: int | None = None  # until start_response
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    streamed: bool = False  # sent from the request thread already
    broken: Exception | None = None  # the app failed after it began to answer: the answer is cut short


def _stream(answer: _Answer, first: list[bytes], rest: Iterator[bytes], deliver: Callable[[dict], None]) -> None:
    answer.streamed = True
    deliver({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    deliver({"type": "http.response.body", "body": b"".join(first), "more_body": True})
    try:
        for chunk in rest:
            deliver({"type": "http.response.body", "body": chunk, "more_body": True})
    except Exception as exc:
        answer.broken = exc
        return
    deliver({"type": "http.response.body", "body": b"", "more_body": False})


def _deliver(loop: asyncio.AbstractEventLoop, send: Send, message: dict) -> None:
    """From a request thread: ``send`` runs on the event loop (it may not be called from elsewhere)."""

    async def sending() -> None:
        await send(message)

    asyncio.run_coroutine_threadsafe(sending(), loop).result()


def _no_write(data: bytes) -> None:
    raise RuntimeError("the sandbox's app answers through its iterable, not write()")


def _settle(answered: asyncio.Future, answer: _Answer | None, error: BaseException | None) -> None:
    if answered.done():  # the request was cancelled meanwhile (its client went away)
        return
    if error is not None:
        answered.set_exception(error)
    else:
        answered.set_result(answer)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


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
