"""What the providers declare (operations, rule fields, settings schema), as scenarios need it.

Read through the registry on each use, never at import: the providers themselves import scenarios.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..providers import Provider


def providers() -> list[Provider]:
    from ..providers import all_providers

    return all_providers()


def provider_ids() -> tuple[str, ...]:
    return tuple(p.id for p in providers())


def fields(provider_ids: tuple[str, ...] | frozenset[str] | None = None) -> frozenset[str]:
    """The fields a rule for these providers (None: any provider) may match on."""
    return frozenset().union(*(p.fields for p in providers() if provider_ids is None or p.id in provider_ids))


def user_key(provider_id: str) -> Callable[[str], str] | None:
    """How ``provider_id``'s account users compare (None: exactly)."""
    return next((p.user_key for p in providers() if p.id == provider_id), None)
