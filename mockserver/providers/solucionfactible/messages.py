"""The requests Solución Factible's operations take and the answer they give (no XML, no HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...sat import Folio
from ..errors import ProviderError

if TYPE_CHECKING:
    from ...scenarios.model import Outcome

PROVIDER = "solucionfactible"


@dataclass(frozen=True)
class Csd:
    """CSD material as sent: base64 text of the certificate and key, and the key's password."""

    cer: str | None = None
    key: str | None = None
    password: str | None = None

    @property
    def omitted(self) -> bool:
        return not self.cer and not self.key and not self.password


@dataclass(frozen=True)
class CancelarAsincronoRequest:
    usuario: str | None
    password: str | None
    uuid: str | None
    rfc_emisor: str | None
    email: str | None = None
    csd: Csd = Csd()
    misplaced: str | None = None  # what is wrong with the order or names of the children (611)


@dataclass(frozen=True)
class StatusRequest:
    usuario: str | None
    password: str | None
    transaction_id: str | None
    misplaced: str | None = None


@dataclass(frozen=True)
class SolicitudRequest:
    """``enviarSolicitudCancelacion[Asincrono]``: a signed SAT Cancelacion, base64."""

    usuario: str | None
    password: str | None
    solicitud: str | None
    email: str | None = None
    misplaced: str | None = None


@dataclass(frozen=True)
class CancelarRequest:
    usuario: str | None
    password: str | None
    rfc_emisor: str | None
    uuids: tuple[str, ...] = ()
    csd: Csd = Csd()
    misplaced: str | None = None


@dataclass(frozen=True)
class SectorPrimarioRequest:
    usuario: str | None
    password: str | None
    uuid: str | None
    misplaced: str | None = None


@dataclass
class Answer:
    """What an operation answers: ``status``, ``mensaje`` and, for status-type answers, the acuse XML."""

    status: int
    mensaje: str | None
    acuse: bytes | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def refused(error: ProviderError, summary: dict[str, Any]) -> Answer:
    """The one place a refusal becomes Solución Factible's answer: the error's code as ``status`` and
    its message as ``mensaje``; ``summary`` (the journal's) gets the code and becomes the answer's."""
    summary["code"] = int(error.code)
    return Answer(int(error.code), error.message, summary=summary)


# A per-UUID rule lookup: (uuid, folio) -> Outcome | None. The first UUID uses the dispatcher's outcome.
OutcomeFor = Callable[[str, Folio], "Outcome | None"]
