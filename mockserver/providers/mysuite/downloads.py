"""``GET /mysuite/downloads/<token>``: the ZIPs behind ``ASYNC_RETRIEVE_DOCUMENT`` links.

403 for a token this sandbox did not sign (or that was altered), 410 once the link's five days of
mock time are over, 404 when the request is gone (e.g. after a reset).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app

from ...clock import MEXICO_CITY
from . import jobs
from .links import LINK_LIFETIME, BadLink, link_secret, read_token

blueprint = Blueprint("mysuite_downloads", __name__, url_prefix="/mysuite/downloads")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status, content_type="text/plain; charset=utf-8")


@blueprint.get("/<token>")
def download(token: str) -> Response:
    runtime = current_app.extensions["pac_mock"]
    try:
        link = read_token(link_secret(runtime.store, runtime.settings.secret), token)
    except BadLink as exc:
        return _text(403, f"403 Forbidden: {exc}.")
    now = runtime.clock_for(link.session).now()
    if now >= link.expires_at:
        expired = link.expires_at.astimezone(MEXICO_CITY).isoformat(timespec="seconds")
        days = LINK_LIFETIME.days
        return _text(
            410,
            f"410 Gone: el enlace expiró el {expired} ({days} días después de generarse, según el reloj del "
            "sandbox). Solicite enlaces nuevos con ASYNC_RETRIEVE_DOCUMENT.",
        )
    document = jobs.download(runtime, link)
    if document is None:
        return _text(404, f"404 Not Found: la solicitud {link.request_id} ya no existe en el sandbox.")
    filename = _UNSAFE.sub("_", document.filename)
    response = Response(document.data, 200, content_type="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
