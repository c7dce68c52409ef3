"""The admin API under ``/__admin``: health, reset, journal, clock, scenarios, timers, SAT registry.

Under ``/__session/<id>/__admin/...`` every call acts on that session only.
"""

from __future__ import annotations

import hmac
import json

import yaml
from flask import Blueprint, current_app, g, jsonify, request

from .. import __version__, registry
from .. import scenarios as scenario_module
from ..clock import parse_instant
from ..runtime import DEFAULT_SESSION, Runtime
from ..scenarios import parse_duration

blueprint = Blueprint("admin", __name__, url_prefix="/__admin")


def runtime() -> Runtime:
    return current_app.extensions["pac_mock"]


def session() -> str:
    return g.get("session", DEFAULT_SESSION)


def bad_request(message: str, **extra):
    return jsonify({"error": "bad request", "message": message, **extra}), 400


@blueprint.before_request
def check_token():
    token = runtime().settings.admin_token
    if not token or request.endpoint == "admin.health":
        return None
    offered = request.headers.get("X-Admin-Token") or request.args.get("token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        offered = auth[7:].strip()
    if not hmac.compare_digest(offered.encode(), token.encode()):
        return jsonify({"error": "unauthorized", "message": "admin token required (PAC_MOCK_ADMIN_TOKEN)"}), 401
    return None


def _json_body() -> dict:
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


@blueprint.get("/health")
def health():
    rt = runtime()
    base = request.host_url.rstrip("/") + request.script_root
    return jsonify(
        {
            "status": "ok",
            "version": __version__,
            "session": session(),
            "clock": rt.clock_for(session()).describe(),
            "scenarios": rt.scenarios.describe(),
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
    try:
        body = _json_body()
    except ValueError as exc:
        return bad_request(str(exc))
    target = body.get("session", request.args.get("session"))
    if session() != DEFAULT_SESSION:
        target = session()
    runtime().reset(target)
    return jsonify({"reset": "all" if target is None else target})


@blueprint.get("/requests")
def requests_journal():
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        return bad_request("limit must be a whole number")
    items = runtime().journal.query(
        session(),
        provider=request.args.get("provider"),
        operation=request.args.get("operation"),
        limit=limit,
        include_bodies=request.args.get("bodies", "1") not in ("0", "false", "no"),
    )
    return jsonify({"requests": items, "count": len(items)})


@blueprint.get("/requests/count")
def requests_count():
    n = runtime().journal.count(
        session(), provider=request.args.get("provider"), operation=request.args.get("operation")
    )
    return jsonify({"count": n})


@blueprint.route("/clock", methods=["GET", "POST"])
def clock():
    rt = runtime()
    if request.method == "GET":
        return jsonify(rt.clock_for(session()).describe())
    try:
        body = _json_body()
        current = rt.clock_for(session())
        if body.get("reset"):
            rt.set_clock(session(), None)
        elif "freeze" in body:
            at = current.now() if body["freeze"] in (True, None, "now") else parse_instant(str(body["freeze"]))
            rt.set_clock(session(), current.frozen(at))
        elif "advance" in body:
            rt.set_clock(session(), current.advanced(parse_duration(body["advance"])))
        elif "offset" in body:
            rt.set_clock(session(), type(current)(parse_duration(body["offset"])))
        else:
            return bad_request('send {"freeze": ISO}, {"advance": "72h"}, {"offset": "-2h"} or {"reset": true}')
    except ValueError as exc:
        return bad_request(str(exc))
    return jsonify(rt.clock_for(session()).describe())


@blueprint.route("/scenarios", methods=["GET", "PUT", "POST", "DELETE"])
def scenarios():
    rt = runtime()
    if request.method == "GET":
        return jsonify({"file": rt.scenarios.describe(), "overlay": rt.overlay_text(session())})
    if request.method == "DELETE":
        rt.set_overlay(session(), None)
        return jsonify({"overlay": None})
    text = request.get_data(as_text=True)
    if not text.strip():
        return bad_request("send the overlay as YAML or JSON in the body")
    if (request.mimetype or "").endswith("json"):
        try:  # store JSON as YAML text: one format in the table, and YAML reads JSON anyway
            text = yaml.safe_dump(json.loads(text), allow_unicode=True, sort_keys=False)
        except ValueError as exc:
            return bad_request(f"invalid JSON: {exc}")
    try:
        rt.set_overlay(session(), text)
    except scenario_module.ScenarioError as exc:
        return bad_request("invalid scenarios overlay", errors=exc.errors)
    return jsonify({"overlay": text})


@blueprint.get("/timers")
def timers():
    return jsonify({"pending": runtime().timers.pending(session())})


@blueprint.post("/timers/fire")
def fire_timers():
    return jsonify({"fired": runtime().timers.fire_due(session())})


@blueprint.get("/jobs")
def jobs():
    """Each provider's asynchronous work in this session (MYSuite jobs, SF cancellations, ...)."""
    rt = runtime()
    ctx = rt.context(session())
    rt.timers.fire_due(session())
    return jsonify({p.id: p.state(ctx) for p in rt.providers if p.state is not None})


@blueprint.get("/registry")
def sat_registry():
    """The SAT side of the UUIDs this session touched (``?uuid=`` for one, ``?limit=`` newest first)."""
    try:
        limit = int(request.args.get("limit", 200))
    except ValueError:
        return bad_request("limit must be a whole number")
    with runtime().store.read() as conn:
        uuid = request.args.get("uuid")
        if uuid:
            entry = registry.entry_of(conn, session(), uuid)
            found = [{"uuid": uuid.upper(), **entry._asdict()}] if entry else []
            return jsonify({"uuids": found})
        return jsonify({"uuids": registry.entries(conn, session(), max(0, min(limit, 10_000)))})


