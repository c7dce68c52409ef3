"""Durations ("10m", "72h", "1h30m") and sizes ("4MB", "1MiB") as written in scenarios."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(r"^-?(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$")
_UNIT_BYTES = {
    None: 1, "B": 1,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3,
}


def parse_duration(text: str | int | float) -> timedelta:
    """Turn "10m", "72h", "5s", "1d", "500ms", "1h30m", "-2h" or a number of seconds into a timedelta.

    Raises ValueError with a message that names the accepted forms.
    """
    if isinstance(text, bool):
        raise ValueError(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    raw = str(text).strip().replace(" ", "")
    if not _DURATION.match(raw):
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d, w), e.g. '10m', '72h', '1h30m'"
        )
    sign = -1 if raw.startswith("-") else 1
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(raw))
    return timedelta(seconds=sign * seconds)


def parse_size(text: str | int) -> int:
    """Turn "4MB" (decimal), "1MiB" (binary), "512KB" or a plain number of bytes into an int."""
    if isinstance(text, bool):
        raise ValueError(f"invalid size {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"invalid size {text!r}: must not be negative")
        return text
    m = _SIZE.match(str(text).strip())
    if not m:
        raise ValueError(f"invalid size {text!r}: use bytes or a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. '4MB'")
    return int(float(m.group(1)) * _UNIT_BYTES[m.group(2)])
