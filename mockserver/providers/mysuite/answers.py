"""What the MYSuite rules exchange with the wire: the request as sent, the answer, and the refusal.

A rule that refuses raises :class:`Refused` (a :class:`~mockserver.providers.errors.ProviderError`)
made by :func:`refuse` with a catalogue code from :mod:`.codes`; the wire turns it into the
``Response`` in one place (:meth:`Reply.refused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import ProviderError
from . import codes


@dataclass
class TransactionRequest:
    """``RequestTransaction`` as sent (None = element absent or nil)."""

    requestor: str | None = None
    transaction: str | None = None
    country: str | None = None
    entity: str | None = None
    user: str | None = None
    user_name: str | None = None
    data1: str | None = None
    data2: str | None = None
    data3: str | None = None


@dataclass(frozen=True)
class AsyncRequestView:
    """The ``AsyncRequest`` record of ``ASYNC_CONVERT_VERIFY`` (None for what has no value yet)."""

    entity: str
    uuid: str  # the request's id
    internal_id: str
    enrolled_at: datetime
    status: int
    document_guid: str | None  # the CFDI's fiscal UUID (Status 2)
    year: int | None
    batch: str | None
    serial: str | None
    error_msg: str | None  # plain text (Status 3); the wire writes it in base64


@dataclass(frozen=True)
class DocumentId:
    """``Response/Identifier`` (MYSuite's DocID) of a converted document."""

    country: str
    entity: str
    fiscal_name: str
    year: str
    batch: str
    serial: str
    document_guid: str
    issued_at: datetime | None
    enrolled_at: datetime
    internal_id: str
    receiver_tax_id: str
    receiver_name: str
    currency: str
    total: str
    suggested_file_name: str


class Refused(ProviderError):
    """A refused transaction: ``Result=false`` with ``code`` and its description.

    Besides the description MYSuite may answer a ``hint``, the text again in ``Data`` (3196) and a
    ``ResponseData1`` (3196: the id of the request that holds the internal number); ``summary`` is
    what the journal notes.
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        hint: str = "",
        data: str = "",
        response_data1: str | None = None,
        summary: dict | None = None,
    ) -> None:
        super().__init__(code, message)
        self.hint = hint
        self.data = data
        self.response_data1 = response_data1
        self.summary = summary


def refuse(code: int, hint: str = "", **values: object) -> Refused:
    """The refusal with catalogue ``code``, its description filled with ``values``."""
    return Refused(code, codes.message(code, **values), hint=hint)


@dataclass
class Reply:
    """What the transaction answers; the wire layer writes it as ``RequestTransactionResult``."""

    result: bool
    code: int
    description: str = ""
    hint: str = ""
    data: str = ""  # Response/Data
    response_data1: str | None = None  # plain text (the request id)
    async_request: AsyncRequestView | None = None
    links: tuple[str, str] | None = None  # tokens of the XML and PDF ZIPs
    identifier: DocumentId | None = None
    summary: dict | None = None

    @classmethod
    def refused(cls, error: ProviderError) -> Reply:
        """The answer to a refusal: the one place a raised error becomes MYSuite's ``Response``."""
        if isinstance(error, Refused):
            return cls(False, int(error.code), error.message, error.hint, error.data,
                       response_data1=error.response_data1, summary=error.summary)  # fmt: skip
        return cls(False, int(error.code), error.message)
