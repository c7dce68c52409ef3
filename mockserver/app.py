"""Builds the Flask application: the providers' SOAP endpoints, WSDLs and the admin API."""

from __future__ import annotations

import json
import re

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from .providers import all_providers
from .runtime import DEFAULT_SESSION, SESSION_ID_RULE, Runtime, valid_session_id
from .settings import Settings
from .soap import http as soap_http
from .soap.envelope import fault_bytes, version_of_message
from .soap.faults import SoapFault
from .soap.service import SoapService

SESSION_PREFIX = re.compile(r"^/__session/([^/]*)(/.*)?$")


class SessionPrefix:
    """WSGI middleware: ``/__session/<id>/rest`` is ``/rest`` within session ``<id>``.

    The prefix moves to SCRIPT_NAME, so every URL the app builds (WSDL addresses, download links)
    keeps it and a client that follows them stays in its session.
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        match = SESSION_PREFIX.match(environ.get("PATH_INFO", ""))
        if match:
            if not valid_session_id(match.group(1)):
                return _invalid_session(match.group(1), match.group(2) or "/")(environ, start_response)
            # "default" names the default session, so every place can show and use one name for it.
            environ["pac_mock.session"] = "" if match.group(1) == "default" else match.group(1)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/__session/{match.group(1)}"
            environ["PATH_INFO"] = match.group(2) or "/"
        return self.app(environ, start_response)


def _invalid_session(session_id: str, rest: str) -> Response:
    message = f"invalid session id {session_id[:80]!r}: use {SESSION_ID_RULE}"
    if rest.startswith("/__admin"):
        return Response(json.dumps({"error": "not found", "message": message}), 404,
                        content_type="application/json")
    return Response(message + "\n", 404, content_type="text/plain; charset=utf-8")


def current_session() -> str:
    return request.environ.get("pac_mock.session", DEFAULT_SESSION)


def base_url() -> str:
    """scheme://host:port plus any session prefix, as the client addressed us."""
    return request.host_url.rstrip("/") + request.script_root


def _route_table(
    runtime: Runtime,
) -> tuple[dict[str, SoapService], dict[str, SoapService], list[tuple[str, SoapService]]]:
    exact: dict[str, SoapService] = {}
    folded: dict[str, SoapService] = {}
    below: list[tuple[str, SoapService]] = []
    for provider in runtime.providers:
        for service in provider.services:
            for path in service.paths:
                for variant in {path, path.rstrip("/") or "/"}:
                    exact[variant] = service
                    if service.case_insensitive:
                        folded[variant.lower()] = service
            # An HTTP binding's operations are at <port address>/<http:operation location>.
            below.extend((path.rstrip("/") + "/", service) for path in service.plain_paths)
    return exact, folded, below


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    settings = settings or Settings.load()
    runtime = runtime or Runtime(settings, all_providers())
    app = Flask("mockserver")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["pac_mock"] = runtime
    exact, folded, below = _route_table(runtime)

    @app.before_request
    def _session() -> None:
        g.session = current_session()

    def soap_endpoint(path: str = ""):
        full = "/" + path
        if full.startswith("/__admin"):  # an admin path with no route for this method
            raise NotFound(f"No admin route {request.method} {full}; see docs/admin-api.md")
        service = exact.get(full) or exact.get(full.rstrip("/")) or folded.get(full.rstrip("/").lower())
        if service is None:
            service = next((s for prefix, s in below if full.startswith(prefix)), None)
        if service is None:
            return _not_found(full)
        if request.method == "GET":
            if any(k.lower() == "wsdl" for k in request.args):
                return Response(service.wsdl.render(base_url(), full), content_type="text/xml; charset=utf-8")
            return Response(
                f"{service.name} ({service.provider}) SOAP endpoint. POST SOAP envelopes here; "
                f"the WSDL is at {base_url()}{full}?wsdl\n",
                content_type="text/plain; charset=utf-8",
            )
        if request.content_length is not None and request.content_length > settings.max_body_bytes:
            raise RequestEntityTooLarge()
        return soap_http.handle(runtime, service, request, g.session, base_url())

    app.add_url_rule("/<path:path>", "soap", soap_endpoint, methods=["GET", "POST"])

    from .admin.api import blueprint as admin_blueprint
    from .admin.api import refuse_cross_site
    from .admin.dashboard import blueprint as dashboard_blueprint
    from .admin.mail import blueprint as mail_blueprint

    app.before_request(refuse_cross_site)  # every /__admin write, whichever blueprint serves it
    app.register_blueprint(admin_blueprint)
    app.register_blueprint(mail_blueprint)
    app.register_blueprint(dashboard_blueprint)
    for provider in runtime.providers:
        for bp in provider.blueprints:
            app.register_blueprint(bp)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        version = version_of_message(request.content_type)  # the body is not read: headers decide
        fault = SoapFault(
            f"Request body too large: the sandbox accepts at most {settings.max_body_mb} MB", code="Sender"
        )
        response = Response(fault_bytes(version, fault), 413, content_type=version.content_type)
        response.headers["Connection"] = "close"  # do not read the rest of an oversized body
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/__admin"):
            return {"error": exc.name, "message": exc.description}, exc.code
        return Response(f"{exc.code} {exc.name}: {exc.description}\n", exc.code, content_type="text/plain")

    app.wsgi_app = SessionPrefix(app.wsgi_app)
    return app


def _not_found(path: str) -> Response:
    return Response(
        f"No service at {path}. See /__admin/health for the endpoints of this sandbox.\n",
        404,
        content_type="text/plain; charset=utf-8",
    )


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["pac_mock"]


def create_app_from_env() -> Flask:
    """Entry point for server workers: settings come from the ``PAC_MOCK_*`` environment."""
    app = create_app(Settings.from_env())
    runtime_of(app).start()
    return app
