"""Solución Factible's codes (``status``) and their messages, as data.

The codes the ``cancelarAsincrono`` document lists answer with the document's description, word for
word (``mensaje`` is "its description"). 201, 202, 203, 205, 301, 302 and 304 are SAT's cancellation
codes, which SF passes through for the request or for a folio, in SAT's wording; 702 is the status
query's "no such transaction". A message may get a detail appended (``"Invalid data: ..."``), never a
secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...sat.errors import SatError
from ...sat.verdict import Verdict
from ..errors import ProviderError, code_for, raiser

OK = 200
CANCELLED = 201
PREVIOUSLY_CANCELLED = 202
NOT_OF_ISSUER = 203
NOT_CANCELABLE = 204
NOT_FOUND = 205
IN_PROCESS = 211
DENIED = 213
MALFORMED_XML = 301
BAD_SEAL = 302
RFC_MISMATCH = 303
REVOKED = 304
OUTSIDE_VALIDITY = 305
NOT_A_CSD = 306
NOT_FROM_SAT = 308
INTERNAL = 500
ASYNC_DB = 501
BAD_CREDENTIALS = 601
BLOCKED = 602
PASSWORD_EXPIRED = 603
TOO_MANY_ATTEMPTS = 604
INACTIVE = 605
INCOMPLETE = 611
PERMISSION_DENIED = 620
INVALID_DATA = 621
WRONG_ENVIRONMENT = 633
ASYNC_EXISTS = 701
ASYNC_UNKNOWN = 702

CODES: dict[int, str] = {
    # The document's own descriptions, verbatim (its typos included: clients may match on them).
    OK: "The cancelation process completed successfully.",
    NOT_CANCELABLE: "The invoice cannot be canceled",
    IN_PROCESS: "The cancelation is currently being processed",
    DENIED: "The cancelation request was denied by the invoice's recipient",
    RFC_MISMATCH: "The CSD certificate does not match the issuer's RFC.",
    OUTSIDE_VALIDITY: "The cancelation's date-time is not within the issuer's CSDvalid range.",
    NOT_A_CSD: "The keys used do not match any CSD.",
    NOT_FROM_SAT: "The CSD certificate was not issued by the SAT.",
    INTERNAL: "An error ocurred. The validation and certification proccess was not completed.",
    ASYNC_DB: "Data Base conection error.",
    BAD_CREDENTIALS: "Authentication error, username and/or password are incorrect.",
    BLOCKED: "This user's account has been blocked.",
    PASSWORD_EXPIRED: "This user's password has expired.",
    TOO_MANY_ATTEMPTS: "Maximum login attempts exceeded.",
    INACTIVE: "This user is inactive",
    INCOMPLETE: "The parameters received are either incomplete, or out of place.",
    PERMISSION_DENIED: "Permission denied.",
    INVALID_DATA: "Invalid data.",
    WRONG_ENVIRONMENT: (
        "Either a production account is being used in the testing environment, or a testing account is being "
        "used in the production environment."
    ),
    ASYNC_EXISTS: "An asynchronous transaction for the specified UUID already exists.",
    # Not in the document: SAT's cancellation answers passed through (SAT's wording), and the
    # status query's "no such transaction".
    CANCELLED: "UUID Cancelado",
    PREVIOUSLY_CANCELLED: "UUID Previamente cancelado",
    NOT_OF_ISSUER: "UUID no corresponde al emisor",
    NOT_FOUND: "UUID no encontrado",
    MALFORMED_XML: "XML mal formado",
    BAD_SEAL: "Sello mal formado o inválido",
    REVOKED: "Certificado revocado o caduco",
    ASYNC_UNKNOWN: "No existe una transacción de cancelación asíncrona para el UUID",
}

# The final states of an asynchronous transaction; anything else in the table is still in process.
FINAL = frozenset({OK, PREVIOUSLY_CANCELLED, NOT_OF_ISSUER, NOT_CANCELABLE, NOT_FOUND, DENIED})


def message(code: int, detail: str | None = None) -> str:
    """The catalogue message for ``code``, with an optional detail after a colon."""
    text = CODES.get(code, f"Código {code}")
    return f"{text.rstrip('.')}: {detail}" if detail else text


# The one way SF's rules stop a call: ``raise refuse(code, detail)``; the service boundary answers it.
refuse = raiser(message)

# SAT core errors → SF codes, by the core's stable reasons (the most specific reason of an error wins).
SAT_CODES: dict[str, int] = {
    # The signed Cancelacion as a document.
    "malformed-xml": MALFORMED_XML,
    "wrong-root": MALFORMED_XML,
    "wrong-namespace": MALFORMED_XML,
    "bad-structure": MALFORMED_XML,
    "cancelacion-error": INVALID_DATA,  # a field of the document or of a UUID|Motivo|FolioSustitucion
    # Its seal.
    "signature-error": BAD_SEAL,
    "rfc-mismatch": RFC_MISMATCH,
    # The CSD: unreadable, not a CSD, or a key that does not open or does not belong to it.
    "certificate-error": NOT_A_CSD,
    "key-error": NOT_A_CSD,
    "untrusted-issuer": NOT_FROM_SAT,
    "certificate-revoked": REVOKED,
    "certificate-expired": OUTSIDE_VALIDITY,
    "certificate-not-yet-valid": OUTSIDE_VALIDITY,
    "fecha-outside-validity": OUTSIDE_VALIDITY,
    "sat-error": INVALID_DATA,  # any other reason
}


def refuse_sat(error: SatError) -> ProviderError:
    """SF's refusal for a SAT core error: the code :data:`SAT_CODES` gives its reason, with its message."""
    return refuse(code_for(error, SAT_CODES), error.message)


# SAT's neutral verdict on cancelling a UUID (``sat.verdict.verdict``) → SF codes.
VERDICT_CODES: dict[Verdict, int] = {
    Verdict.NOT_FOUND: NOT_FOUND,
    Verdict.NOT_OF_ISSUER: NOT_OF_ISSUER,
    Verdict.CANCELLED: PREVIOUSLY_CANCELLED,
    Verdict.IN_PROCESS: IN_PROCESS,
    Verdict.NOT_CANCELABLE: NOT_CANCELABLE,
    Verdict.NEEDS_ACCEPTANCE: IN_PROCESS,
    Verdict.CANCELABLE: OK,
}


# The documented codes (000_dc309966f5a8eca7.txt:52-72); the others are sandbox extensions.
DOCUMENTED = frozenset({
    OK, NOT_A_CSD, NOT_FROM_SAT, OUTSIDE_VALIDITY, RFC_MISMATCH, INTERNAL, ASYNC_DB, BAD_CREDENTIALS, BLOCKED,
    PASSWORD_EXPIRED, TOO_MANY_ATTEMPTS, INACTIVE, INCOMPLETE, PERMISSION_DENIED, INVALID_DATA, WRONG_ENVIRONMENT,
    ASYNC_EXISTS, NOT_CANCELABLE, IN_PROCESS, DENIED,
})


def meaning(summary: Mapping[str, Any]) -> tuple[str, str]:
    """What the journal's ``code`` means for the client: (text, ``ok`` | ``wait`` | ``bad``)."""
    code = str(summary["code"])
    if code in (str(OK), str(CANCELLED)):
        return code, "ok"
    return code, "wait" if code == str(IN_PROCESS) else "bad"
