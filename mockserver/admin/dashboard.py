"""The dashboard page at ``/__admin/`` (and ``/__session/<id>/__admin/`` for one session).

The page is static HTML, CSS and JavaScript with no build step. Its script reads everything
through the admin API with relative URLs, so the session prefix and the admin token carry over;
the page itself holds no data and needs no token.
"""

from __future__ import annotations

from flask import Blueprint, Response

blueprint = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/__admin",
    static_folder="static",
    static_url_path="/static",
)

# Data only ever enters the page as text; the policy forbids inline script and foreign origins
# as a second line of defence, and no-referrer keeps a ``?token=`` out of other sites' logs.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@blueprint.get("/")
def page() -> Response:
    response = blueprint.send_static_file("dashboard.html")
    response.headers.update(SECURITY_HEADERS)
    return response


@blueprint.after_request
def _static_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
