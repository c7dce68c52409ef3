"""MYSuite ``RequestTransaction`` rules: who asks, which transaction, and the transaction itself.

The wire first asks for the account behind ``Requestor`` (:func:`.credentials.requestor`), then
for the transaction (:func:`request_transaction`). Every refusal is raised as
:class:`~.answers.Refused` with a code of :mod:`.codes`; the wire turns it into the ``Response``.

- :mod:`.credentials`: the account and the request header (31xx credentials codes);
- :mod:`.submission`: ``ASYNC_CONVERT_NATIVE_XML`` queues a job;
- :mod:`.jobs` and :mod:`.conversion`: the job becomes due, is converted, is downloaded;
- :mod:`.status`: ``ASYNC_CONVERT_VERIFY`` and ``ASYNC_RETRIEVE_DOCUMENT``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ProviderError
from . import codes
from .answers import Reply, TransactionRequest, refuse
from .credentials import check_header
from .status import retrieve, verify
from .submission import convert_native_xml

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios import Account, Outcome

PERMISSION = "convert_async"


def request_transaction(ctx: Context, req: TransactionRequest, account: Account, outcome: Outcome | None) -> Reply:
    """The answer of ``account``'s transaction; raises :class:`~.answers.Refused` when it is refused."""
    check_header(ctx, req, account)
    transaction = (req.transaction or "").strip()
    if transaction not in codes.transactions():
        raise refuse(codes.TRANSACTION_UNKNOWN, transaction=transaction[:80])
    if transaction not in codes.SUPPORTED:
        raise refuse(codes.TRANSACTION_UNSUPPORTED, transaction=transaction)
    if not account.allows(PERMISSION):
        raise refuse(codes.NOT_PERMITTED, requestor=account.user, transaction=transaction)
    if transaction == codes.ASYNC_CONVERT:
        return convert_native_xml(ctx, req, outcome)
    if outcome is not None and outcome.code is not None:
        raise ProviderError(outcome.code, outcome.message or f"Error {outcome.code} (definido por un escenario)")
    if transaction == codes.ASYNC_VERIFY:
        return verify(ctx, req)
    return retrieve(ctx, req)
