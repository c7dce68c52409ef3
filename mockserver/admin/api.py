"""The admin API under ``/__admin``: health, reset, journal, clock, scenarios, timers, SAT registry.

Under ``/__session/<id>/__admin/...`` every call acts on that session only.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import urlsplit

import yaml
from flask import Blueprint, current_app, g, jsonify, request

from .. import __version__, conformance, registry
from .. import scenarios as scenario_module
from ..clock import parse_instant
from ..runtime import DEFAULT_SESSION, SESSION_ID_RULE, Runtime, session_name, valid_session_id
from ..sat.cancelacion import is_uuid
from ..scenarios import parse_duration

blueprint = Blueprint("admin", __name__, url_prefix="/__admin")


def runtime() -> Runtime:
    return current_app.extensions["pac_mock"]


def session() -> str:
    return g.get("session", DEFAULT_SESSION)


def bad_request(message: str, **extra):
    return jsonify({"error": "bad request", "message": message, **extra}), 400


class BadArgument(ValueError):
    """A query argument or body the admin API cannot take: answered 400 with its message, in one place
    (:func:`bad_argument`), by whichever route meets it."""


def bad_argument(exc: BadArgument):
    return bad_request(str(exc))


blueprint.register_error_handler(BadArgument, bad_argument)


def limit_arg(default: int, least: int | None = None, most: int | None = None) -> int:
    """The query's ``?limit=`` (``default`` when absent), held within [least, most] where given.

    Raises BadArgument when it is not a whole number.
    """
    try:
        limit = int(request.args.get("limit", default))
    except ValueError:
        raise BadArgument("limit must be a whole number") from None
    if least is not None:
        limit = max(least, limit)
    return limit if most is None else min(limit, most)


@blueprint.before_request
def check_token():
    if not runtime().settings.admin_token or request.endpoint == "admin.health":
        return None
    if not token_presented():
        return jsonify({"error": "unauthorized", "message": "admin token required (PAC_MOCK_ADMIN_TOKEN)"}), 401
    return None


def token_presented() -> bool:
    """Whether a token is set and this request carries it."""
    token = runtime().settings.admin_token
    if not token:
        return False
    offered = request.headers.get("X-Admin-Token") or request.args.get("token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        offered = auth[7:].strip()
    return hmac.compare_digest(offered.encode(), token.encode())


# What a page on another site can make a browser send without asking the server first (CORS "simple"
# requests): admin writes never accept these media types, so an old browser that sends no Origin is
# stopped too.
_FORM_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_cross_site():
    """Admin writes come from the sandbox's own page or from a non-browser client, token or not.

    A browser names the page's origin (``Origin``) and how it relates to ours (``Sec-Fetch-Site``);
    curl and test clients send neither. Runs before every ``/__admin`` route (registered by the app).
    """
    if not request.path.startswith("/__admin"):
        return None
    if not _reached_by_loopback_name() and request.endpoint != "admin.health":
        return _forbidden(f"bound to loopback without a token, the admin API answers loopback names only "
                          f"(Host: {request.host}); set PAC_MOCK_ADMIN_TOKEN to reach it by other names")
    if request.method in _READS:
        return None
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return _forbidden(f"admin writes from another site are refused (Sec-Fetch-Site: {fetch_site})")
    origin = request.headers.get("Origin")
    if origin is not None and not _ours(origin):
        return _forbidden("admin writes from a page on another origin are refused (Origin does not match Host)")
    if request.mimetype in _FORM_TYPES:
        return jsonify({"error": "unsupported media type",
                        "message": "send JSON (Content-Type: application/json), YAML (application/yaml) "
                                   "or no body; form and text/plain bodies are refused"}), 415
    return None


def _is_loopback(name: str | None) -> bool:
    if not name:
        return False
    name = name.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _reached_by_loopback_name() -> bool:
    """DNS rebinding: a page whose host name an attacker points at 127.0.0.1 is same-origin with us, so
    Origin checks cannot tell. A sandbox bound to loopback without a token answers loopback names only."""
    settings = runtime().settings
    if settings.admin_token or not _is_loopback(settings.host):
        return True
    return _is_loopback(urlsplit(f"//{request.host}").hostname)


def _ours(origin: str) -> bool:
    """Whether ``origin`` is this server as the client reached it (directly or through a proxy)."""
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    hosts = {request.host.lower()}
    forwarded = request.headers.get("X-Forwarded-Host")
    if forwarded:  # a page cannot set this header on a cross-site request
        hosts.add(forwarded.split(",")[0].strip().lower())
    return bool(netloc) and netloc in hosts


def _forbidden(message: str):
    return jsonify({"error": "forbidden", "message": message}), 403


def _json_body() -> dict:
    if not request.data:
        return {}
    try:
        data = _json(request.get_data(as_text=True)) if request.is_json else None
    except ValueError as exc:
        raise BadArgument(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadArgument("the body must be a JSON object")
    return data


def _json(text: str):
    """``json.loads``, with nesting too deep for the parser reported like any other bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


@blueprint.get("/health")
def health():
    rt = runtime()
    base = request.host_url.rstrip("/") + request.script_root
    return jsonify(
        {
            "status": "ok",
            "version": __version__,
            "session": session_name(session()),
            "clock": rt.clock_for(session()).describe(),
            # Health is open to anyone: where the file lives and what a failed reload quoted from it
            # go only to holders of the token (and are always in GET /__admin/scenarios).
            "scenarios": rt.scenarios.describe() if token_presented() else rt.scenarios.describe_briefly(),
            "providers": [
                {
                    "id": p.id,
                    "title": p.title,
                    "services": [s.describe(base) for s in p.services],
                }
                for p in rt.providers
            ],
        }
    )


@blueprint.post("/reset")
def reset():
    """Reset this session; at the top level, everything (or ``{"session": id}`` only)."""
    body = _json_body()
    target = body.get("session", request.args.get("session"))
    if target == "default":
        target = DEFAULT_SESSION
    if session() != DEFAULT_SESSION:
        target = session()
    elif target is not None and target != DEFAULT_SESSION and not valid_session_id(target):
        return bad_request(f"invalid session id {str(target)[:80]!r}: use {SESSION_ID_RULE}")
    runtime().reset(target)
    return jsonify({"reset": "all" if target is None else session_name(target)})


@blueprint.get("/requests")
def requests_journal():
    limit, uuid = limit_arg(100), _uuid_filter()
    items = runtime().journal.query(
        session(),
        provider=request.args.get("provider"),
        operation=request.args.get("operation"),
        uuid=uuid,
        limit=limit,
        include_bodies=request.args.get("bodies", "1") not in ("0", "false", "no"),
    )
    # What each call's provider code means for the client, as its provider says (the dashboard's colours).
    meanings = {p.id: p.code_meaning for p in runtime().providers if p.code_meaning is not None}
    for item in items:
        summary = item.get("summary") or {}
        explain = meanings.get(item.get("provider"))
        if explain is not None and summary.get("code") is not None:
            text, kind = explain(summary)
            item["meaning"] = {"text": text, "kind": kind}
    return jsonify({"requests": items, "count": len(items)})


@blueprint.get("/conformance")
def conformance_summary():
    """The session's conformance findings by check: counts and the first request of each."""
    listed = request.args.get("findings", "0") not in ("0", "false", "no")
    summary = conformance.session_summary(runtime().journal, session(), findings=listed)
    summary["session"] = session_name(session())
    return jsonify(summary)


@blueprint.get("/requests/count")
def requests_count():
    uuid = _uuid_filter()
    n = runtime().journal.count(
        session(), provider=request.args.get("provider"), operation=request.args.get("operation"), uuid=uuid
    )
    return jsonify({"count": n})


def _uuid_filter() -> str | None:
    uuid = (request.args.get("uuid") or "").strip()
    if uuid and not is_uuid(uuid):
        raise BadArgument(f"uuid must be a UUID (8-4-4-4-12 hexadecimal digits), not {uuid[:60]!r}")
    return uuid or None


@blueprint.route("/clock", methods=["GET", "POST"])
def clock():
    rt = runtime()
    if request.method == "GET":
        return jsonify(rt.clock_for(session()).describe())
    try:
        body = _json_body()
        if body.get("reset"):
            change = None
        elif "freeze" in body:
            at = None if body["freeze"] in (True, None, "now") else parse_instant(str(body["freeze"]))
            change = lambda current: current.frozen(current.now() if at is None else at)  # noqa: E731
        elif "advance" in body:
            delta = parse_duration(body["advance"])
            change = lambda current: current.advanced(delta)  # noqa: E731
        elif "offset" in body:
            offset = parse_duration(body["offset"])
            change = lambda current: type(current)(offset)  # noqa: E731
        else:
            return bad_request('send {"freeze": ISO}, {"advance": "72h"}, {"offset": "-2h"} or {"reset": true}')
        # Read and write in one transaction: parallel advances from any worker all count.
        clock = rt.change_clock(session(), change or (lambda _current: None))
    except ValueError as exc:
        return bad_request(str(exc))
    except OverflowError:  # a duration beyond what time can hold
        return bad_request("the duration is out of range")
    return jsonify(clock.describe())


def _overlay_text() -> str:
    """The request body as overlay text: YAML as sent, JSON turned into YAML (one format in the table)."""
    text = request.get_data(as_text=True)
    if not text.strip():
        raise ValueError("send the overlay as YAML or JSON in the body")
    if (request.mimetype or "").endswith("json"):
        try:
            text = yaml.safe_dump(_json(text), allow_unicode=True, sort_keys=False)
        except ValueError as exc:
            raise ValueError(f"invalid JSON: {exc}") from None
        except RecursionError:  # parsed, but too deep to write out again
            raise ValueError("invalid JSON: nested too deeply") from None
    return text


@blueprint.route("/scenarios", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
def scenarios():
    rt = runtime()
    if request.method == "GET":
        rt.scenarios.get()  # picks up an edit of the file (or its failure) before describing it
        return jsonify({
            "file": rt.scenarios.describe(),
            "session": session_name(session()),
            "overlay": rt.overlay_text(session()),
            "rules": rt.rule_states(session()),
            "summary": rt.scenarios_for(session()).summary(),
        })
    if request.method == "DELETE":
        rt.set_overlay(session(), None)
        return jsonify({"overlay": None})
    try:
        text = _overlay_text()
    except ValueError as exc:
        return bad_request(str(exc))
    try:
        if request.method == "PATCH":
            added = rt.add_rules(session(), text)
            return jsonify({"added": added, "overlay": rt.overlay_text(session())})
        rt.set_overlay(session(), text)
    except scenario_module.ScenarioError as exc:
        return bad_request("invalid scenarios overlay", errors=exc.errors)
    return jsonify({"overlay": text})


@blueprint.post("/scenarios/rules")
def add_rules():
    """Add rules to this session's overlay (a rule with an existing id replaces it)."""
    try:
        added = runtime().add_rules(session(), _overlay_text())
    except ValueError as exc:
        return bad_request(str(exc))
    except scenario_module.ScenarioError as exc:
        return bad_request("invalid rules", errors=exc.errors)
    return jsonify({"added": added, "overlay": runtime().overlay_text(session())})


@blueprint.delete("/scenarios/rules/<rule_id>")
def remove_rule(rule_id: str):
    if not runtime().remove_rule(session(), rule_id):
        return jsonify({"error": "not found",
                        "message": f"no rule {rule_id!r} in the overlay of session {session_name(session())}"}), 404
    return jsonify({"removed": rule_id, "overlay": runtime().overlay_text(session())})


@blueprint.get("/sessions")
def sessions():
    """Sessions seen recently (newest first): their requests and when they last called."""
    limit = limit_arg(50, least=1, most=1000)
    return jsonify({"sessions": runtime().recent_sessions(limit)})


@blueprint.get("/timers")
def timers():
    return jsonify({"pending": runtime().timers.pending(session())})


@blueprint.post("/timers/fire")
def fire_timers():
    return jsonify({"fired": runtime().timers.fire_due(session())})


@blueprint.get("/providers")
def providers():
    """What each provider declares: operations, rule fields, settings keys, secret elements, codes."""
    return jsonify({"providers": [p.describe() for p in runtime().providers]})


@blueprint.get("/jobs")
def jobs():
    """Each provider's asynchronous work in this session (MYSuite jobs, SF cancellations, ...)."""
    rt = runtime()
    ctx = rt.context(session())
    return jsonify({p.id: p.state(ctx) for p in rt.providers if p.state is not None})


@blueprint.get("/registry")
def sat_registry():
    """The SAT side of the UUIDs this session touched (``?uuid=`` for one, ``?limit=`` newest first)."""
    limit = limit_arg(200, least=0, most=10_000)
    with runtime().store.read() as conn:
        uuid = request.args.get("uuid")
        if uuid:
            entry = registry.entry_of(conn, session(), uuid)
            found = [{"uuid": uuid.upper(), **entry._asdict()}] if entry else []
            return jsonify({"uuids": found})
        return jsonify({"uuids": registry.entries(conn, session(), limit)})


