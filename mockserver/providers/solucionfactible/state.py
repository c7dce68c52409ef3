"""Solución Factible's state for ``/__admin/jobs`` and the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import models

if TYPE_CHECKING:
    from ...context import Context


def state(ctx: Context) -> dict[str, Any]:
    """Cancellations of the session (the 200 newest listed), with counts by status over all of them."""
    with ctx.store.read() as conn:
        rows = models.listing(conn, ctx.session)
        counts = models.count_by_status(conn, ctx.session)
    return {"cancellations": [r.describe() for r in rows], "by_status": counts, "total": sum(counts.values())}
