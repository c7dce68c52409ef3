"""Solución Factible's documented codes (``status``) and their messages, as data.

The 2xx/7xx codes and 500/501/6xx are SF's own; 202, 203, 205 and 301-308 are SAT's cancellation
codes, which SF passes through for the request or for a folio. A message may get a detail appended
(``"Datos no válidos: ..."``), never a secret.
"""

from __future__ import annotations

OK = 200
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
    OK: "Proceso de cancelación realizado con éxito",
    201: "UUID cancelado",
    PREVIOUSLY_CANCELLED: "El CFDI ya había sido cancelado previamente",
    NOT_OF_ISSUER: "El UUID no corresponde al RFC emisor",
    NOT_CANCELABLE: "El CFDI no es cancelable",
    NOT_FOUND: "El UUID no existe",
    IN_PROCESS: "La solicitud de cancelación del CFDI está en proceso",
    DENIED: "La solicitud de cancelación fue rechazada por el receptor",
    MALFORMED_XML: "XML mal formado",
    BAD_SEAL: "Sello mal formado o inválido",
    RFC_MISMATCH: "El RFC del CSD no corresponde al RFC emisor",
    REVOKED: "Certificado revocado o caduco",
    OUTSIDE_VALIDITY: "La fecha está fuera de la vigencia del CSD",
    NOT_A_CSD: "El certificado no es un CSD o la llave privada no corresponde",
    NOT_FROM_SAT: "El certificado no fue expedido por el SAT",
    INTERNAL: "Error interno, intente de nuevo",
    ASYNC_DB: "Error de conexión con la base de datos de cancelaciones asíncronas, intente de nuevo",
    BAD_CREDENTIALS: "Error de autenticación: usuario o contraseña incorrectos",
    BLOCKED: "La cuenta del usuario está bloqueada",
    PASSWORD_EXPIRED: "La contraseña de la cuenta ha expirado",
    TOO_MANY_ATTEMPTS: "Se superó el número máximo de intentos fallidos de autenticación",
    INACTIVE: "El usuario está inactivo",
    INCOMPLETE: "Parámetros incompletos",
    PERMISSION_DENIED: "Permiso denegado",
    INVALID_DATA: "Datos no válidos",
    WRONG_ENVIRONMENT: "La cuenta no corresponde a este ambiente (pruebas / productivo)",
    ASYNC_EXISTS: "Ya existe una transacción de cancelación asíncrona para el UUID",
    ASYNC_UNKNOWN: "No existe una transacción de cancelación asíncrona para el UUID",
}

# The final states of an asynchronous transaction; anything else in the table is still in process.
FINAL = frozenset({OK, PREVIOUSLY_CANCELLED, NOT_OF_ISSUER, NOT_CANCELABLE, NOT_FOUND, DENIED})


def message(code: int, detail: str | None = None) -> str:
    """The catalogue message for ``code``, with an optional detail after a colon."""
    text = CODES.get(code, f"Código {code}")
    return f"{text}: {detail}" if detail else text


def in_process_message(uuid: str) -> str:
    return f"La solicitud de cancelación del CFDI con folio fiscal {uuid} está en proceso"
