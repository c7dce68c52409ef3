"""The one way a provider's rules stop a call: raise :class:`ProviderError` with a catalogue code.

Each provider's wire turns the error into its own answer in one place (Solución Factible a
``status``/``mensaje`` pair, Expide Tu Factura a ``codEstatus``/``codMensaje``, MYSuite a
``Response``). SAT core errors carry a stable ``reason``; a provider maps them to its codes with one
table keyed by those reasons (:func:`code_for`), the most specific reason first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from ..sat.errors import SatError


class ProviderError(Exception):
    """A catalogue ``code``, an optional ``detail`` for the message, and the message the client reads.

    ``message`` is the provider's text for the code with the detail appended as the provider does it;
    providers build it from their catalogue (e.g. ``codes.message(code, detail)``).
    """

    def __init__(self, code: Hashable, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


def code_for(error: SatError, table: Mapping[str, Hashable]) -> Hashable | None:
    """The code ``table`` gives the most specific reason of ``error`` (its class's, then its bases')."""
    for cls in type(error).__mro__:
        reason = getattr(cls, "reason", None)
        if isinstance(reason, str) and reason in table:
            return table[reason]
    return None


def raiser(message: Callable[[Hashable, str | None], str]) -> Callable[..., ProviderError]:
    """A provider's constructor of errors: ``refuse(code, detail)`` with its catalogue's wording."""

    def refuse(code: Hashable, detail: str | None = None) -> ProviderError:
        return ProviderError(code, message(code, detail), detail)

    return refuse
