"""Download links of ``ASYNC_RETRIEVE_DOCUMENT``: signed tokens that expire by the session's mock clock.

A token carries (session, request id, document kind, expiry, nonce) signed with ``itsdangerous``.
Nothing is stored per link, as with MYSuite: every call makes new links, and any worker process can
check a link because the secret is ``settings.secret`` or a random one kept once in the store
(outside every session: no reset removes it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from ...store import Store

LINK_LIFETIME = timedelta(days=5)
_SALT = "mysuite-download"


class BadLink(ValueError):
    """The token was not made by this sandbox (or was altered)."""


@dataclass(frozen=True)
class Link:
    session: str
    request_id: str
    kind: str  # "xml" or "pdf"
    expires_at: datetime


def link_secret(store: Store, configured: str | None) -> str:
    """The configured secret, else one random server secret shared by every process through the store.

    It lives outside every session (``Store.server_value``), so that no reset, of one session or of
    all, turns the links of other sessions into forgeries.
    """
    if configured:
        return configured
    return store.server_value("mysuite-download-link-secret", lambda: secrets.token_hex(32))


def make_token(secret: str, link: Link) -> str:
    payload = {
        "s": link.session,
        "r": link.request_id,
        "k": link.kind,
        "e": int(link.expires_at.timestamp()),
        "n": secrets.token_hex(4),  # every call gives a new link
    }
    return URLSafeSerializer(secret, salt=_SALT).dumps(payload)


def read_token(secret: str, token: str) -> Link:
    """The link a token stands for; raises :class:`BadLink` when the signature does not hold."""
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(token)
        return Link(
            session=str(data["s"]),
            request_id=str(data["r"]),
            kind=str(data["k"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        raise BadLink("el enlace no es válido: no fue generado por este servicio o fue alterado") from None
