"""MYSuite ``RequestTransaction`` codes (``Response/Code``) and their descriptions, as data.

MYSuite publishes 3196 (a repeated internal number on ``ASYNC_CONVERT_NATIVE_XML``) and answers
successful transactions with ``Code`` 1. It does not publish the others, so the sandbox numbers its
own refusals in the 31xx block, keeps them stable, and lists them here: a client can match on
``Result=false`` plus the code, and a person reads the Spanish description.
Descriptions are ``str.format`` templates filled by the service.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lxml import etree

OK = 1

# The transactions the sandbox serves (names of the WSDL's ``Transactions`` enumeration).
ASYNC_CONVERT = "ASYNC_CONVERT_NATIVE_XML"
ASYNC_VERIFY = "ASYNC_CONVERT_VERIFY"
ASYNC_RETRIEVE = "ASYNC_RETRIEVE_DOCUMENT"
SUPPORTED = (ASYNC_CONVERT, ASYNC_VERIFY, ASYNC_RETRIEVE)

# Credentials and request header
REQUESTOR_INVALID = 3101
REQUESTOR_UNKNOWN = 3102
REQUESTOR_INACTIVE = 3103
WRONG_ENVIRONMENT = 3104
USER_MISMATCH = 3105
ENTITY_NOT_ALLOWED = 3106
USER_NAME_INVALID = 3107
USER_NAME_UNKNOWN = 3108
COUNTRY_INVALID = 3109
NOT_PERMITTED = 3110

# Transactions
TRANSACTION_UNSUPPORTED = 3120
TRANSACTION_UNKNOWN = 3121

# ASYNC_CONVERT_NATIVE_XML
DOCUMENT_MISSING = 3130
DOCUMENT_NOT_BASE64 = 3131
SIZE_NOT_ALLOWED = 3132
INTERNAL_ID_MISSING = 3133
INTERNAL_ID_TOO_LONG = 3134
DUPLICATE_INTERNAL_ID = 3196  # documented by MYSuite

# ASYNC_CONVERT_VERIFY / ASYNC_RETRIEVE_DOCUMENT
REQUEST_ID_INVALID = 3140
REQUEST_NOT_FOUND = 3141
REQUEST_PENDING = 3142
REQUEST_FAILED = 3143

MESSAGES: dict[int, str] = {
    OK: "",
    REQUESTOR_INVALID: "Requestor debe ser un GUID válido; se recibió '{requestor}'.",
    REQUESTOR_UNKNOWN: "El Requestor {requestor} no está registrado en este ambiente.",
    REQUESTOR_INACTIVE: "El Requestor {requestor} está inactivo ({state}).",
    WRONG_ENVIRONMENT: (
        "El Requestor {requestor} pertenece al ambiente de {account_environment}; "
        "este servicio es el de {environment}."
    ),
    USER_MISMATCH: "User debe repetir el Requestor ({requestor}); se recibió '{user}'.",
    ENTITY_NOT_ALLOWED: "La entidad '{entity}' no está asociada al Requestor {requestor}.",
    USER_NAME_INVALID: (
        "UserName debe tener la forma MX.<RFC de la entidad>.<usuario> (p. ej. MX.{entity}.Juan); "
        "se recibió '{user_name}'."
    ),
    USER_NAME_UNKNOWN: "El usuario '{user_name}' no está registrado para el Requestor {requestor}.",
    COUNTRY_INVALID: "Country debe ser MX; se recibió '{country}'.",
    NOT_PERMITTED: "El Requestor {requestor} no tiene permiso para la transacción {transaction}.",
    TRANSACTION_UNSUPPORTED: (
        "La transacción {transaction} no está soportada por este sandbox: solo ASYNC_CONVERT_NATIVE_XML, "
        "ASYNC_CONVERT_VERIFY y ASYNC_RETRIEVE_DOCUMENT."
    ),
    TRANSACTION_UNKNOWN: "La transacción '{transaction}' no existe.",
    DOCUMENT_MISSING: "Data1 es obligatorio: el XML nativo codificado en base64.",
    DOCUMENT_NOT_BASE64: "Data1 no es base64 válido: {reason}.",
    SIZE_NOT_ALLOWED: (
        "El tamaño {what} ({size}) no está permitido en el servicio asíncrono de {environment}: "
        "debe ser mayor a {above} y de hasta {max}."
    ),
    INTERNAL_ID_MISSING: "Data2 es obligatorio: el número interno (único) del documento.",
    INTERNAL_ID_TOO_LONG: "Data2 (número interno) admite a lo más {limit} caracteres; se recibieron {length}.",
    DUPLICATE_INTERNAL_ID: (
        "El número interno proporcionado ya se encuentra registrado. "
        "Consulte ResponseData1 para obtener el Id de la solicitud existente."
    ),
    REQUEST_ID_INVALID: "Data1 debe ser el Id (GUID) de una solicitud asíncrona; se recibió '{request_id}'.",
    REQUEST_NOT_FOUND: "No existe una solicitud asíncrona con el Id {request_id}.",
    REQUEST_PENDING: (
        "La solicitud {request_id} aún está en proceso (Status 1); consulte ASYNC_CONVERT_VERIFY "
        "hasta que tenga Status 2."
    ),
    REQUEST_FAILED: "La solicitud {request_id} terminó con error (Status 3): {error}",
}


def message(code: int, **values: object) -> str:
    """The description of ``code`` with ``values`` filled in."""
    return MESSAGES[code].format(**values)


@functools.cache
def transactions() -> frozenset[str]:
    """The ``Transactions`` enumeration of the service's WSDL: every name a client may send.

    Read from the WSDL once, on first use (not at import: starting the server reads no WSDL).
    """
    wsdl = Path(__file__).parent / "wsdl" / "FactWSFront.wsdl"
    xs = "http://www.w3.org/2001/XMLSchema"
    root = etree.parse(str(wsdl), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    return frozenset(
        e.get("value")
        for e in root.iterfind(f".//{{{xs}}}simpleType[@name='Transactions']//{{{xs}}}enumeration")
    )


NO_TRANSACTION = "NO_TRANSACTION"  # the enumeration's own "none"; echoed for names it does not hold


def meaning(summary: Mapping[str, Any]) -> tuple[str, str]:
    """What the journal's ``code`` means for the client. ASYNC_CONVERT_VERIFY also reports the job:
    Status 1 still converting, 3 failed."""
    code = str(summary["code"])
    if summary.get("result") is not True:
        return code, "bad"
    status = summary.get("status")
    number = str(status).strip() if status is not None else ""
    if number == "1":
        return f"{code} · status 1", "wait"
    if number == "3":
        return f"{code} · status 3", "bad"
    return code + (f" · status {status}" if status else ""), "ok"
