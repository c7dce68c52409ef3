"""Expide Tu Factura's section of a scenarios file (``providers.expidetufactura``), typed, with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .service import Strictness

SCHEMA: dict[str, Any] = {
    "strict": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sha1_only": {"type": "boolean"},
            "no_line_breaks": {"type": "boolean"},
            "pruebas_201_202": {"type": "boolean"},
        },
    },
}


@dataclass(frozen=True)
class CancelarSettings:
    strict: Strictness = field(default_factory=Strictness)


def read(reader: Any, base: tuple[str, ...], raw: Mapping[str, Any]) -> CancelarSettings:
    """The settings ``raw`` (checked against :data:`SCHEMA`) gives; the schema leaves nothing to report."""
    return CancelarSettings(Strictness.of(raw))
