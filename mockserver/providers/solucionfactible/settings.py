"""Solución Factible's section of a scenarios file (``providers.solucionfactible``), typed, with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ...scenarios import SettingsReader

SCHEMA: dict[str, Any] = {
    "resolve_within": {"$ref": "#/$defs/duration"},
    "stored_csds": {
        "type": "object",
        "propertyNames": {"$ref": "#/$defs/rfc"},
        "additionalProperties": {"type": "string", "minLength": 1},
    },
}


@dataclass(frozen=True)
class CancelacionSettings:
    # How long a cancellation that needs no recipient's answer stays in process.
    resolve_within: timedelta = timedelta(minutes=5)
    stored_csds: Mapping[str, str] = field(default_factory=dict)  # issuer RFC -> certificate fixture name


def read(reader: SettingsReader, base: tuple[str, ...], raw: Mapping[str, Any]) -> CancelacionSettings:
    """The settings ``raw`` (checked against :data:`SCHEMA`) gives; problems go to ``reader.error``."""
    where = ".".join(base)
    values: dict[str, Any] = {}
    if "resolve_within" in raw:
        d = reader.duration((*base, "resolve_within"), raw["resolve_within"])
        if d is not None:
            values["resolve_within"] = d
    if "stored_csds" in raw:
        for rfc, fixture in raw["stored_csds"].items():
            path = (*base, "stored_csds", rfc)
            info = reader.fixtures.get(fixture)
            if info is None:
                known = ", ".join(sorted(reader.fixtures))
                reader.error(path, f"{where}.stored_csds.{rfc}: unknown certificate fixture {fixture!r} "
                                   f"(known: {known})")
            elif info.get("kind", "CSD") != "CSD":
                reader.error(path, f"{where}.stored_csds.{rfc}: fixture {fixture!r} is a {info['kind']}, not a CSD")
            elif info.get("rfc", rfc) != rfc:
                reader.error(path, f"{where}.stored_csds.{rfc}: fixture {fixture!r} belongs to {info['rfc']}, "
                                   f"not {rfc}")
        values["stored_csds"] = dict(raw["stored_csds"])
    return CancelacionSettings(**values)
