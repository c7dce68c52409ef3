"""Expide Tu Factura's catalogue for ``cancelar``: request codes, per-UUID codes, and which code each
SAT-core error reason gets — as data, in one place.

``codEstatus`` and ``estatusUUIDs`` travel as text on the wire; they are kept as text here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...sat import SatError

OK = "200"

# codEstatus → codMensaje: the guide's table (003:144-160), word for word. 200's text is the sandbox's own.
CODES: dict[str, str] = {
    "200": "Solicitud de cancelación procesada",
    "301": "XML mal formado",
    "302": "Sello mal formado o inválido",
    "303": "Sello no corresponde a emisor",
    "304": "Certificado revocado o caduco",
    "305": "La fecha de emisión no está dentro de la vigencia del CSD del emisor",
    "306": "El certificado no es de tipo CSD",
    # 307 and 504 belong to stamping; cancelar only answers them when a scenario rule asks for them.
    "307": "El cfdi contiene un timbre previo",
    "308": "Certificado no expedido por el SAT",
    "401": "Fecha y hora de generación fuera de rango",
    "402": "RFC del emisor no se encuentra en el régimen de contribuyentes",
    "403": "La fecha de emisión no es posterior al 01 de Enero 2012",
    "500": "Intento de nuevo más tarde",
    "501": "Usuario y/o contraseña inválidos",
    "502": "Usuario no autorizado",
    "503": "No hay timbres disponibles",
    "504": "Timbrado Previamente",
}

# The guide's plain-language messages (003:175-186) and its example for a bad UUID (003:139).
ACCESO_DENEGADO = "Acceso Denegado"
RECONTRATAR = "Es necesario recontractar"
VERIFICAR_ESTRUCTURA = "Verificar estructura del xml"
FECHA_INVALIDA = "Fecha inválida"
UUID_INVALIDO = "UUID inválido, favor de verificar"
SIN_UUID_VALIDO = "No se tiene un UUID válido para cancelar"
CERTIFICADO_ILEGIBLE = "No fue posible procesar el certificado"
RFC_NO_CORRESPONDE = "RFC no corresponde al del certificado"
SERIAL_NO_CORRESPONDE = "SerialNumber no corresponde al certificado"
ISSUER_INCORRECTO = "IssuerName incorrecto"
ERROR_COMUNICACION = "Error en la comunicación"
INTENTE_MAS_TARDE = "Intente de nuevo más tarde"
NO_ATENDIDA = "No fue posible atender la solicitud"

# Failures a scenario rule can ask for (``outcome.extra.failure``): conditions with no real cause
# in a sandbox. Each answers 500 with the guide's message for it.
FAILURES: dict[str, str] = {
    "comunicacion": ERROR_COMUNICACION,  # SAT did not answer
    "base_de_datos": INTENTE_MAS_TARDE,  # the provider's database failed
    "no_previsto": NO_ATENDIDA,  # an unforeseen error
}


def mensaje(code: str, plain: str | None = None, detail: str | None = None) -> str:
    """codMensaje: the table's text for ``code``, then the guide's plain message, then the detail."""
    text = CODES.get(code) or ESTATUS_UUID.get(code) or "Código sin descripción"
    if plain:
        text = f"{text}: {plain}"
    if detail:
        text = f"{text} ({detail})" if plain else f"{text}: {detail}"
    return text


UUID_ANSWER = ("500", f"{UUID_INVALIDO}: {SIN_UUID_VALIDO}")
"""A UUID that is not upper-case hexadecimal: the guide's own example pair (003:139, 003:179)."""

# estatusUUIDs: one per folio, in request order (SAT's EstatusUUID); texts from 003:164-169.
CANCELADO = "201"
PREVIAMENTE_CANCELADO = "202"
NO_DEL_EMISOR = "203"
NO_APLICABLE = "204"
NO_EXISTE = "205"
ESTATUS_UUID: dict[str, str] = {
    CANCELADO: "UUID Cancelado",
    PREVIAMENTE_CANCELADO: "UUID Previamente cancelado",
    NO_DEL_EMISOR: "UUID No corresponde al emisor",
    NO_APLICABLE: "UUID No aplicable para cancelación",
    NO_EXISTE: "UUID No existe",
}

# SAT-core error reason → (codEstatus, the guide's plain message or None). With None the detail is
# the SAT core's own explanation.
SAT_REASONS: dict[str, tuple[str, str | None]] = {
    # the document
    "malformed-xml": ("301", VERIFICAR_ESTRUCTURA),
    "wrong-root": ("301", None),
    "wrong-namespace": ("301", None),
    "bad-structure": ("301", None),
    "bad-rfc-emisor": ("301", None),
    "no-folios": ("301", None),
    "too-many-folios": ("301", None),
    "bad-motivo": ("301", None),
    "folio-sustitucion-required": ("301", None),
    "folio-sustitucion-forbidden": ("301", None),
    "bad-fecha": ("401", FECHA_INVALIDA),
    "cancelacion-error": ("301", None),
    # the seal
    "malformed-signature": ("302", None),
    "unsupported-algorithm": ("302", None),
    "unsigned-content": ("302", None),
    "invalid-seal": ("302", None),
    "bad-digest": ("302", None),
    "bad-seal": ("302", None),
    "signature-error": ("302", None),
    # who sealed it: KeyInfo and the RFC must name the embedded certificate
    "rfc-mismatch": ("303", RFC_NO_CORRESPONDE),
    "serial-number-mismatch": ("303", SERIAL_NO_CORRESPONDE),
    "issuer-name-mismatch": ("303", ISSUER_INCORRECTO),
    # the certificate
    "certificate-unreadable": ("302", CERTIFICADO_ILEGIBLE),
    "certificate-without-rfc": ("302", CERTIFICADO_ILEGIBLE),
    "certificate-format": ("302", CERTIFICADO_ILEGIBLE),
    "untrusted-issuer": ("308", None),
    "not-csd": ("306", None),
    "certificate-expired": ("304", None),
    "certificate-not-yet-valid": ("305", None),
    "fecha-outside-validity": ("305", None),
    "certificate-error": ("304", None),
}
# Reasons whose SAT-core explanation adds nothing to the guide's plain message.
_PLAIN_ONLY = {"rfc-mismatch", "serial-number-mismatch", "issuer-name-mismatch", "certificate-without-rfc"}

# Messages of the checks the service makes itself (beyond the SAT core).
BAD_BASE64 = "xmlBytes no es base64 válido"
NO_XML = "No se recibió xmlBytes"
NOT_UTF8 = "el xml de cancelación debe enviarse en bytes UTF-8"
LINE_BREAKS = "el xml contiene saltos de línea; genérelo sin saltos de línea"
REVOKED = "el SAT revocó el certificado {number}"
FECHA_FUTURA = "es posterior a la hora actual"
FECHA_VENCIDA = "tiene más de 72 horas"


def message(code: str) -> str:
    return mensaje(code)


def for_sat_error(error: SatError) -> tuple[str, str]:
    """(codEstatus, codMensaje) for a SAT-core error; the nearest mapped reason up its class tree."""
    if error.reason == "bad-uuid":
        return UUID_ANSWER
    for cls in type(error).__mro__:
        reason = getattr(cls, "reason", None)
        if reason in SAT_REASONS:
            code, plain = SAT_REASONS[reason]
            detail = None if reason in _PLAIN_ONLY else error.message
            return code, mensaje(code, plain, detail)
    return "301", mensaje("301", None, error.message)


def meaning(summary: Mapping[str, Any]) -> tuple[str, str]:
    """What the journal's ``code`` means for the client: a 200 whose UUIDs are not all 201 is not done."""
    code = str(summary["code"])
    if code != OK:
        return code, "bad"
    others = [e for e in summary.get("estatus") or {} if e != CANCELADO]
    return (f"{code} ({', '.join(others)})", "wait") if others else (code, "ok")
