"""SOAP faults, in the shape each SOAP version prescribes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SoapFault(Exception):
    """A fault to send back instead of a response.

    ``code`` is the SOAP 1.2 name (Sender, Receiver, VersionMismatch, MustUnderstand); the 1.1 names
    (Client, Server, ...) are derived from it when the envelope is 1.1.
    """

    message: str
    code: str = "Sender"
    detail: str | None = None
    # The ``code`` attribute of the detail element (default: the fault code in the answer's version).
    detail_code: str | None = None

    def __str__(self) -> str:
        return self.message


NOT_IMPLEMENTED = "This operation is not implemented by the sandbox yet"
