"""MYSuite's section of a scenarios file (``providers.mysuite``), typed, with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ...scenarios import SettingsReader, parse_size

SCHEMA: dict[str, Any] = {
    "processing": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"base": {"$ref": "#/$defs/duration"}, "per_mb": {"$ref": "#/$defs/duration"}},
    },
    "size_limits": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pruebas": {"$ref": "#/$defs/size_limit"},
            "productivo": {"$ref": "#/$defs/size_limit"},
        },
    },
}
SCHEMA_DEFS: dict[str, Any] = {
    "size_limit": {
        "type": "object",
        "additionalProperties": False,
        "required": ["above", "max"],
        "properties": {
            "above": {"$ref": "#/$defs/size"},
            "max": {"$ref": "#/$defs/size"},
            "measure": {"enum": ["xml", "data1"]},
        },
    },
}


@dataclass(frozen=True)
class SizeLimit:
    """A body is accepted when ``above < size <= max`` (bytes).

    ``measure`` says what is measured: ``xml`` the decoded native XML (the default: "el tamaño del XML
    nativo", 002:4) or ``data1`` the base64 text in ``<Data1>`` (the other reading of 002:10).
    """

    above: int
    max: int
    measure: str = "xml"

    def accepts(self, size: int) -> bool:
        return self.above < size <= self.max


@dataclass(frozen=True)
class ConversionSettings:
    processing_base: timedelta = timedelta(seconds=2)
    processing_per_mb: timedelta = timedelta(seconds=1)
    size_limits: Mapping[str, SizeLimit] = field(default_factory=dict)  # environment -> limit

    def size_limit(self, environment: str) -> SizeLimit | None:
        return self.size_limits.get(environment)

    def processing_time(self, size_bytes: int) -> timedelta:
        """How long an asynchronous conversion of ``size_bytes`` takes in mock time."""
        return self.processing_base + self.processing_per_mb * (size_bytes / 1_000_000)


def read(reader: SettingsReader, base: tuple[str, ...], raw: Mapping[str, Any]) -> ConversionSettings:
    """The settings ``raw`` (checked against :data:`SCHEMA`) gives; problems go to ``reader.error``."""
    values: dict[str, Any] = {}
    processing = raw.get("processing", {})
    for key, attr in (("base", "processing_base"), ("per_mb", "processing_per_mb")):
        if key in processing:
            d = reader.duration((*base, "processing", key), processing[key])
            if d is not None:
                values[attr] = d
    if "size_limits" in raw:
        limits: dict[str, SizeLimit] = {}
        for env_name, lim in raw["size_limits"].items():
            path = (*base, "size_limits", env_name)
            try:
                limit = SizeLimit(above=parse_size(lim["above"]), max=parse_size(lim["max"]),
                                  measure=lim.get("measure", "xml"))
            except ValueError as exc:
                reader.error(path, str(exc))
                continue
            if limit.above >= limit.max:
                reader.error(path, f"{'.'.join(base)}.size_limits.{env_name}: 'above' must be less than 'max'")
            limits[env_name] = limit
        values["size_limits"] = limits
    return ConversionSettings(**values)


PROVIDER = "mysuite"
# The published limits, used when the scenarios give none for the environment.
DEFAULT_SIZE_LIMITS = {
    "pruebas": SizeLimit(above=1_000_000, max=4_000_000),
    "productivo": SizeLimit(above=1_000_000, max=40_000_000),
}
ENVIRONMENT_NAMES = {"pruebas": "pruebas", "productivo": "producción"}
