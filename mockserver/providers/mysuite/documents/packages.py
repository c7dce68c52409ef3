"""The ZIP packages ``ASYNC_RETRIEVE_DOCUMENT``'s links hand out: one file each."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime


def zip_single(name: str, data: bytes, *, when: datetime | None = None) -> bytes:
    """A ZIP archive holding one deflated file ``name`` (dated ``when``, default now)."""
    moment = when or datetime.now()
    info = zipfile.ZipInfo(name, date_time=(max(moment.year, 1980), *moment.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_DEFLATED
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(info, data)
    return out.getvalue()
