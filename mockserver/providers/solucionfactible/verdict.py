"""What decides one UUID: a scenario rule's code, else what SAT knows of it.

A rule's ``code`` (per UUID with ``uuid_codes``) replaces the result of the real checks. What SAT knows
is the core's one verdict (``sat.verdict.verdict``, its precedence documented there), from the shared
registry and the scenarios' seeds (``sat.cfdis``), mapped by ``codes.VERDICT_CODES``: 205 unknown, 203
another issuer, 202 already cancelled, 211 in process or acceptance by the recipient needed, 204 not
cancelable, else 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ...sat.verdict import ACEPTA
from . import codes
from .codes import message

if TYPE_CHECKING:
    from ...context import Context
    from ...registry import Snapshot
    from ...scenarios.model import Outcome


@dataclass(frozen=True)
class UuidAnswer:
    """SAT's answer for one UUID at request time, in SF's codes: 200 cancelable now, 211 needs the
    recipient, else final."""

    code: int
    recipient: str | None = None  # acepta | rechaza | sin_respuesta (with 211 when the seed names one)
    recipient_after: timedelta | None = None


def sat_verdict(ctx: Context, known: Snapshot, uuid: str, rfc: str | None) -> UuidAnswer:
    """SAT's verdict (the registry's ``known`` over the scenario's seed) in SF's codes."""
    found = known.verdict(uuid, rfc, ctx.scenarios.sat.cfdi(uuid))
    code = codes.VERDICT_CODES[found.verdict]
    if code == codes.IN_PROCESS:  # the recipient decides; one already asked accepts unless the seed says otherwise
        return UuidAnswer(code, found.recipient or ACEPTA, found.recipient_after)
    return UuidAnswer(code)


def rule_code(outcome: Outcome | None, uuid: str) -> int | None:
    """The code a matched rule gives ``uuid`` (its ``uuid_codes`` entry, else its ``code``), if any."""
    if outcome is None:
        return None
    per_uuid = outcome.code_for_uuid(uuid)
    return per_uuid if per_uuid is not None else outcome.code


def rule_message(outcome: Outcome | None, code: int, uuid: str) -> str:
    """The rule's own message, else the UUID for 200 and the catalogue's text for the others."""
    if outcome is not None and outcome.message:
        return outcome.message
    if code == codes.OK:
        return uuid.lower()
    return message(code)
