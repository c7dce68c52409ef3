"""SAT's verdict on cancelling one UUID, and the words SAT uses for a UUID's state.

:func:`verdict` is the one answer to "what does SAT say to cancelling this UUID?": pure, it weighs
what happened in this sandbox (an :class:`Entry` of the registry) against what a scenario says SAT
knows (a :class:`Seed`). Each provider maps the neutral :class:`Verdict` to its own codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

# SAT's statuses of a UUID: the registry holds the first four; a scenario seed may also say that SAT
# does not know the UUID at all.
VIGENTE = "vigente"
EN_PROCESO = "en_proceso"
CANCELADO = "cancelado"
RECHAZADO = "rechazado"
NO_ENCONTRADO = "no_encontrado"
STATUSES = (VIGENTE, EN_PROCESO, CANCELADO, RECHAZADO)
SEED_STATUSES = (VIGENTE, CANCELADO, EN_PROCESO, NO_ENCONTRADO)

# How SAT lets a CFDI be cancelled, and what its recipient answers when asked.
SIN_ACEPTACION = "sin_aceptacion"
CON_ACEPTACION = "con_aceptacion"
NO_CANCELABLE = "no_cancelable"
CANCELABLE_KINDS = (SIN_ACEPTACION, CON_ACEPTACION, NO_CANCELABLE)
ACEPTA = "acepta"
RECHAZA = "rechaza"
SIN_RESPUESTA = "sin_respuesta"
RECIPIENT_ANSWERS = (ACEPTA, RECHAZA, SIN_RESPUESTA)

# A CFDI stamped in this sandbox less than this long ago (mock time) is not yet known to SAT's
# cancellation service: it answers "does not exist" (003:171).
NOT_YET_KNOWN = timedelta(minutes=5)


class Entry(NamedTuple):
    """What the sandbox's registry holds of a UUID: its SAT status and the issuer recorded with it."""

    status: str
    rfc_emisor: str | None


class Verdict(StrEnum):
    """What SAT answers to a request to cancel one UUID, in no provider's words."""

    NOT_FOUND = "not-found"
    NOT_OF_ISSUER = "not-of-issuer"
    CANCELLED = "cancelled"  # cancelled before
    IN_PROCESS = "in-process"  # a cancellation already waits for the recipient
    NOT_CANCELABLE = "not-cancelable"
    NEEDS_ACCEPTANCE = "needs-acceptance"  # cancelable once the recipient accepts
    CANCELABLE = "cancelable"  # cancelled now


class Seed(Protocol):
    """What a scenario says SAT knows of a UUID (``scenarios.model.SatCfdi``)."""

    status: str
    cancelable: str
    issuer: str | None
    recipient: str
    recipient_after: timedelta | None


@dataclass(frozen=True)
class UuidVerdict:
    """The verdict, SAT's status of the UUID (registry over seed), and how its recipient answers."""

    verdict: Verdict
    status: str
    recipient: str | None = None  # when the seed says the CFDI needs the recipient's acceptance
    recipient_after: timedelta | None = None


def verdict(
    rfc: str | None, entry: Entry | None, seed: Seed | None, *, recently_stamped: bool = False
) -> UuidVerdict:
    """SAT's verdict on cancelling a UUID for the issuer ``rfc`` (None: whoever asks).

    ``entry`` is the registry's (any provider may have written it), ``seed`` the scenario's; the
    registry, being what happened in this sandbox, wins over the seed for existence and status.
    Precedence, the first that holds answers:

    1. stamped in this sandbox moments ago (``recently_stamped``, see :data:`NOT_YET_KNOWN`): not found;
    2. unknown to the registry and the seed says ``no_encontrado``: not found;
    3. an issuer is known (the seed's, else the registry's) and it is not ``rfc``: not of the issuer —
       before any status, so that nobody learns the state of another issuer's CFDI;
    4. cancelado: cancelled before;  5. en_proceso: in process (when the seed also says
       ``no_cancelable``, its recipient is :data:`SIN_RESPUESTA`: it stays in process, never cancelled);
    6. the seed says ``no_cancelable``: not cancelable;  7. ``con_aceptacion``: needs acceptance;
    8. cancelable now (also after the recipient rejected a request: the CFDI stays vigente).
    """
    status = entry.status if entry is not None else (seed.status if seed is not None else VIGENTE)
    recipient = (seed.recipient, seed.recipient_after) if seed and seed.cancelable == CON_ACEPTACION else (None, None)
    if recently_stamped or (entry is None and status == NO_ENCONTRADO):
        return UuidVerdict(Verdict.NOT_FOUND, status)
    issuer = (seed.issuer if seed is not None else None) or (entry.rfc_emisor if entry is not None else None)
    if issuer and rfc and issuer.upper() != rfc.upper():
        return UuidVerdict(Verdict.NOT_OF_ISSUER, status)
    if status == CANCELADO:
        return UuidVerdict(Verdict.CANCELLED, status)
    if status == EN_PROCESO:
        if seed is not None and seed.cancelable == NO_CANCELABLE:
            # The pending request can never end in a cancellation: nobody settles it, it stays in process.
            return UuidVerdict(Verdict.IN_PROCESS, status, SIN_RESPUESTA)
        return UuidVerdict(Verdict.IN_PROCESS, status, *recipient)
    if seed is not None and seed.cancelable == NO_CANCELABLE:
        return UuidVerdict(Verdict.NOT_CANCELABLE, status)
    if seed is not None and seed.cancelable == CON_ACEPTACION:
        return UuidVerdict(Verdict.NEEDS_ACCEPTANCE, status, *recipient)
    return UuidVerdict(Verdict.CANCELABLE, status)
