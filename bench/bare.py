"""The stack's ceiling: a bare Flask + lxml route behind the same front and server settings as ours.

It reads the body, parses the envelope with lxml (no entities, no network), checks there is a Body
child and answers a fixed SOAP response: what any SOAP sandbox on this stack costs at the least.
The bench serves it with granian's ASGI interface through ``mockserver.front.AsyncFront`` (the
same body reading and request threads as ``pac-mock serve``) with the same workers and threads.
"""

from __future__ import annotations

from flask import Flask, Response, request
from lxml import etree

from .wiremock import CANNED

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_ANSWER = CANNED.encode()


def create_app() -> Flask:
    app = Flask("bare")

    @app.get("/__admin/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/<path:path>")
    def soap(path: str) -> Response:
        root = etree.fromstring(request.get_data(), _PARSER)
        body = root.find("{*}Body")
        if body is None or len(body) == 0:
            return Response("no SOAP Body", 400, content_type="text/plain")
        return Response(_ANSWER, 200, content_type="text/xml; charset=utf-8")

    return app


def create_front_from_env():
    """Entry point for granian workers (``PAC_MOCK_*`` settings: threads, body limits)."""
    from mockserver.front import AsyncFront
    from mockserver.settings import Settings

    return AsyncFront(create_app(), Settings.from_env())
