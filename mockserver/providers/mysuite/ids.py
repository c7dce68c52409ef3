"""GUIDs: the shape MYSuite requires of Requestor, User and request ids, and the sandbox's derived ones."""

from __future__ import annotations

import hashlib
import uuid

from ...sat.cancelacion import is_uuid


def is_guid(text: str | None) -> bool:
    return bool(text) and is_uuid(text)


def derived_guid(text: str) -> str:
    """A version-4-shaped GUID derived from ``text`` (reproducible documents and seeded runs)."""
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode("utf-8")).digest()[:16], version=4))
