"""Expide Tu Factura's catalogue for ``cancelar``: request codes, per-UUID codes, and which code each
SAT-core error reason gets — as data, in one place.

``codEstatus`` and ``estatusUUIDs`` travel as text on the wire; they are kept as text here too.
"""

from __future__ import annotations

from ...sat import SatError

OK = "200"

# codEstatus → codMensaje (the provider's catalogue).
CODES: dict[str, str] = {
    "200": "Solicitud de cancelación procesada",
    "301": "XML mal formado",
    "302": "Sello mal formado o inválido",
    "303": "Sello no corresponde al emisor",
    "304": "Certificado revocado o caduco",
    "305": "La fecha de la solicitud está fuera de la vigencia del CSD",
    "306": "El certificado no es de tipo CSD",
    # 307 and 504 belong to stamping; cancelar only answers them when a scenario rule asks for them.
    "307": "El CFDI contiene un timbre previo",
    "308": "Certificado no expedido por el SAT",
    "401": "Fecha inválida",
    "402": "RFC del emisor no se encuentra en el régimen de contribuyentes",
    "403": "La fecha de la solicitud no puede ser anterior al 1 de enero de 2012",
    "500": "Error interno del servicio, intente más tarde",
    "501": "Usuario o contraseña inválidos",
    "502": "Usuario no autorizado",
    "503": "El usuario no cuenta con timbres disponibles",
    "504": "Comprobante previamente timbrado",
}

# estatusUUIDs: one per folio, in request order (SAT's EstatusUUID).
CANCELADO = "201"
PREVIAMENTE_CANCELADO = "202"
NO_DEL_EMISOR = "203"
NO_APLICABLE = "204"
NO_EXISTE = "205"
ESTATUS_UUID: dict[str, str] = {
    CANCELADO: "Folio fiscal cancelado",
    PREVIAMENTE_CANCELADO: "Folio fiscal previamente cancelado",
    NO_DEL_EMISOR: "Folio fiscal no correspondiente al emisor",
    NO_APLICABLE: "Folio fiscal no aplicable a cancelación",
    NO_EXISTE: "Folio fiscal no existente",
}

# SAT-core error reason → (codEstatus, fixed codMensaje or None). With None the answer is the
# catalogue message followed by the SAT core's own explanation.
SAT_REASONS: dict[str, tuple[str, str | None]] = {
    # the document
    "malformed-xml": ("301", None),
    "wrong-root": ("301", None),
    "wrong-namespace": ("301", None),
    "bad-structure": ("301", None),
    "bad-rfc-emisor": ("301", None),
    "no-folios": ("301", None),
    "too-many-folios": ("301", None),
    "bad-motivo": ("301", None),
    "folio-sustitucion-required": ("301", None),
    "folio-sustitucion-forbidden": ("301", None),
    "bad-uuid": ("301", "No se tiene un UUID válido para cancelar"),
    "bad-fecha": ("401", None),
    "cancelacion-error": ("301", None),
    # the seal
    "malformed-signature": ("302", None),
    "unsigned-content": ("302", None),
    "invalid-seal": ("302", None),
    "bad-digest": ("302", None),
    "bad-seal": ("302", None),
    "signature-error": ("302", None),
    # who sealed it: KeyInfo and the RFC must name the embedded certificate
    "rfc-mismatch": ("303", "RFC no corresponde al del certificado"),
    "serial-number-mismatch": ("303", "SerialNumber no corresponde al certificado"),
    "issuer-name-mismatch": ("303", "IssuerName incorrecto"),
    # the certificate
    "certificate-format": ("302", None),
    "untrusted-issuer": ("308", None),
    "not-csd": ("306", None),
    "certificate-expired": ("304", None),
    "certificate-not-yet-valid": ("305", None),
    "fecha-outside-validity": ("305", None),
    "certificate-error": ("304", None),
}

# Messages of the checks the service makes itself (beyond the SAT core).
BAD_BASE64 = "xmlBytes no es base64 válido"
NO_XML = "No se recibió xmlBytes"
REVOKED = "Certificado revocado o caduco: el SAT revocó el certificado {number}"
FECHA_FUTURA = "Fecha inválida: es posterior a la hora actual"
FECHA_VENCIDA = "Fecha inválida: tiene más de 72 horas"


def message(code: str) -> str:
    return CODES.get(code) or ESTATUS_UUID.get(code) or "Código sin descripción"


def for_sat_error(error: SatError) -> tuple[str, str]:
    """(codEstatus, codMensaje) for a SAT-core error; the nearest mapped reason up its class tree."""
    for cls in type(error).__mro__:
        reason = getattr(cls, "reason", None)
        if reason in SAT_REASONS:
            code, fixed = SAT_REASONS[reason]
            return code, fixed or f"{CODES[code]}: {error.message}"
    return "301", f"{CODES['301']}: {error.message}"
