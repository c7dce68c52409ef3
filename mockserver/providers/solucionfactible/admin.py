"""``/__admin/solucionfactible``: the session's asynchronous cancellations, and the recipient's answer.

- ``GET  /__admin/solucionfactible/cancellations`` → ``{"cancellations": [...]}``
- ``GET  /__admin/solucionfactible/cancellations/<uuid>`` → one transaction (404 when unknown)
- ``POST /__admin/solucionfactible/cancellations/<uuid>/accept`` → resolved 200 now (acuse, e-mail)
- ``POST /__admin/solucionfactible/cancellations/<uuid>/deny`` → resolved 213 now (e-mail)

Accepting or denying a transaction that already resolved answers 409.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ...admin.api import check_token, runtime, session
from ...sat.cancelacion import UUID_RE
from . import lifecycle, models, state

blueprint = Blueprint("solucionfactible_admin", __name__, url_prefix="/__admin/solucionfactible")
blueprint.before_request(check_token)


def _not_found(uuid: str):
    return jsonify({"error": "not found", "message": f"no asynchronous cancellation for {uuid} in this session"}), 404


@blueprint.get("/cancellations")
def cancellations():
    ctx = runtime().context(session())
    return jsonify(state.state(ctx))


@blueprint.get("/cancellations/<uuid>")
def cancellation(uuid: str):
    ctx = runtime().context(session())
    with ctx.store.read() as conn:
        row = models.get(conn, ctx.session, uuid)
    return jsonify(row.describe()) if row else _not_found(uuid)


@blueprint.post("/cancellations/<uuid>/<decision>")
def recipient_decision(uuid: str, decision: str):
    if decision not in ("accept", "deny"):
        return jsonify({"error": "not found", "message": "use /accept or /deny"}), 404
    if not UUID_RE.match(uuid):
        return jsonify({"error": "bad request", "message": f"{uuid!r} is not a UUID"}), 400
    ctx = runtime().context(session())
    try:
        row = lifecycle.decide(ctx, uuid, accept=decision == "accept")
    except ValueError as exc:
        return jsonify({"error": "conflict", "message": str(exc)}), 409
    return jsonify(row.describe()) if row else _not_found(uuid)
