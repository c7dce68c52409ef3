"""``/__admin/mail``: the session's outbox.

- ``GET /__admin/mail?to=&uuid=&status=&limit=`` → ``{"messages": [...], "count": n}`` (oldest first);
- ``GET /__admin/mail/wait?count=N&timeout=S&to=&uuid=`` blocks until N matching messages exist in this
  session or S seconds pass (at most 120) → ``{"messages": [...], "count": n, "timed_out": bool}``;
- ``DELETE /__admin/mail`` → ``{"deleted": n}``.

Each message shows its delivery ``status`` (recorded, pending, sending, sent, failed), ``attempts`` and
``last_error``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..mail import outbox_for
from .api import BadArgument, bad_argument, bad_request, check_token, limit_arg, runtime, session

blueprint = Blueprint("mail", __name__, url_prefix="/__admin/mail")
blueprint.before_request(check_token)
blueprint.register_error_handler(BadArgument, bad_argument)


def _filters() -> dict[str, str | None]:
    return {k: request.args.get(k) or None for k in ("to", "uuid", "status")}


@blueprint.get("")
def messages():
    found = outbox_for(runtime()).messages(session(), limit=limit_arg(500), **_filters())
    return jsonify({"messages": found, "count": len(found)})


@blueprint.get("/wait")
def wait():
    try:
        count = int(request.args.get("count", 1))
        timeout = float(request.args.get("timeout", 10))
    except ValueError:
        return bad_request("count must be a whole number and timeout a number of seconds")
    if count < 0 or timeout < 0:
        return bad_request("count and timeout must not be negative")
    found, timed_out = outbox_for(runtime()).wait(session(), count, timeout, **_filters())
    return jsonify({"messages": found, "count": len(found), "timed_out": timed_out})


@blueprint.delete("")
def clear():
    return jsonify({"deleted": outbox_for(runtime()).clear(session())})
