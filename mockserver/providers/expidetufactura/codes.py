"""Expide Tu Factura's catalogue for ``cancelar``: request codes, per-UUID codes, and which code each
SAT-core error reason gets — as data, in one place.

``codEstatus`` and ``estatusUUIDs`` travel as text on the wire; they are kept as text here too.
Every check answers by raising :func:`refuse` (a :class:`ProviderError`); the wire turns it into
the ``respuestaCancelacion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ...sat import SatError
from ...sat.verdict import Verdict
from ..errors import ProviderError, code_for

# codEstatus, by the guide's meaning (003:144-160).
OK = "200"
XML_MAL_FORMADO = "301"
SELLO_INVALIDO = "302"
SELLO_NO_CORRESPONDE = "303"
CERTIFICADO_REVOCADO_O_CADUCO = "304"
FUERA_DE_VIGENCIA = "305"
NO_ES_CSD = "306"
TIMBRE_PREVIO = "307"
NO_EXPEDIDO_POR_SAT = "308"
FECHA_FUERA_DE_RANGO = "401"
NO_CONTRIBUYENTE = "402"
ANTERIOR_A_2012 = "403"
ERROR_DEL_SERVICIO = "500"
CREDENCIALES_INVALIDAS = "501"
NO_AUTORIZADO = "502"
SIN_TIMBRES = "503"
TIMBRADO_PREVIAMENTE = "504"

# codEstatus → codMensaje: the guide's table (003:144-160), word for word. 200's text is the sandbox's own.
CODES: dict[str, str] = {
    OK: "Solicitud de cancelación procesada",
    XML_MAL_FORMADO: "XML mal formado",
    SELLO_INVALIDO: "Sello mal formado o inválido",
    SELLO_NO_CORRESPONDE: "Sello no corresponde a emisor",
    CERTIFICADO_REVOCADO_O_CADUCO: "Certificado revocado o caduco",
    FUERA_DE_VIGENCIA: "La fecha de emisión no está dentro de la vigencia del CSD del emisor",
    NO_ES_CSD: "El certificado no es de tipo CSD",
    # 307 and 504 belong to stamping; cancelar only answers them when a scenario rule asks for them.
    TIMBRE_PREVIO: "El cfdi contiene un timbre previo",
    NO_EXPEDIDO_POR_SAT: "Certificado no expedido por el SAT",
    FECHA_FUERA_DE_RANGO: "Fecha y hora de generación fuera de rango",
    NO_CONTRIBUYENTE: "RFC del emisor no se encuentra en el régimen de contribuyentes",
    ANTERIOR_A_2012: "La fecha de emisión no es posterior al 01 de Enero 2012",
    ERROR_DEL_SERVICIO: "Intento de nuevo más tarde",
    CREDENCIALES_INVALIDAS: "Usuario y/o contraseña inválidos",
    NO_AUTORIZADO: "Usuario no autorizado",
    SIN_TIMBRES: "No hay timbres disponibles",
    TIMBRADO_PREVIAMENTE: "Timbrado Previamente",
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


class SatAnswer(NamedTuple):
    """What a SAT-core reason answers: the code, the guide's plain message, whether the SAT core's
    explanation follows as the detail, and whether the plain message is the whole ``codMensaje``."""

    code: str
    plain: str | None = None
    explain: bool = True
    whole: bool = False


_CERTIFICADO_ILEGIBLE = SatAnswer(SELLO_INVALIDO, CERTIFICADO_ILEGIBLE)

# SAT-core error reason → answer, most specific reason first (``errors.code_for`` walks the class tree).
SAT_REASONS: dict[str, SatAnswer] = {
    # the document
    "malformed-xml": SatAnswer(XML_MAL_FORMADO, VERIFICAR_ESTRUCTURA),
    "wrong-root": SatAnswer(XML_MAL_FORMADO),
    "wrong-namespace": SatAnswer(XML_MAL_FORMADO),
    "bad-structure": SatAnswer(XML_MAL_FORMADO),
    "bad-rfc-emisor": SatAnswer(XML_MAL_FORMADO),
    "no-folios": SatAnswer(XML_MAL_FORMADO),
    "too-many-folios": SatAnswer(XML_MAL_FORMADO),
    "bad-motivo": SatAnswer(XML_MAL_FORMADO),
    "folio-sustitucion-required": SatAnswer(XML_MAL_FORMADO),
    "folio-sustitucion-forbidden": SatAnswer(XML_MAL_FORMADO),
    "bad-fecha": SatAnswer(FECHA_FUERA_DE_RANGO, FECHA_INVALIDA),
    # a UUID that is not upper-case hexadecimal: the guide's own example pair (003:139, 003:179)
    "bad-uuid": SatAnswer(ERROR_DEL_SERVICIO, f"{UUID_INVALIDO}: {SIN_UUID_VALIDO}", whole=True),
    "cancelacion-error": SatAnswer(XML_MAL_FORMADO),
    # the seal
    "malformed-signature": SatAnswer(SELLO_INVALIDO),
    "unsupported-algorithm": SatAnswer(SELLO_INVALIDO),
    "unsigned-content": SatAnswer(SELLO_INVALIDO),
    "invalid-seal": SatAnswer(SELLO_INVALIDO),
    "bad-digest": SatAnswer(SELLO_INVALIDO),
    "bad-seal": SatAnswer(SELLO_INVALIDO),
    "signature-error": SatAnswer(SELLO_INVALIDO),
    # who sealed it: KeyInfo and the RFC must name the embedded certificate (the guide's message alone)
    "rfc-mismatch": SatAnswer(SELLO_NO_CORRESPONDE, RFC_NO_CORRESPONDE, explain=False),
    "serial-number-mismatch": SatAnswer(SELLO_NO_CORRESPONDE, SERIAL_NO_CORRESPONDE, explain=False),
    "issuer-name-mismatch": SatAnswer(SELLO_NO_CORRESPONDE, ISSUER_INCORRECTO, explain=False),
    # the certificate, then SAT's certificate policy (``sat.check_certificate_policy``)
    "certificate-unreadable": _CERTIFICADO_ILEGIBLE,
    "certificate-without-rfc": SatAnswer(SELLO_INVALIDO, CERTIFICADO_ILEGIBLE, explain=False),
    "certificate-format": _CERTIFICADO_ILEGIBLE,
    "untrusted-issuer": SatAnswer(NO_EXPEDIDO_POR_SAT),
    "not-csd": SatAnswer(NO_ES_CSD),
    "certificate-revoked": SatAnswer(CERTIFICADO_REVOCADO_O_CADUCO),
    "certificate-expired": SatAnswer(CERTIFICADO_REVOCADO_O_CADUCO),
    "certificate-not-yet-valid": SatAnswer(FUERA_DE_VIGENCIA),
    "fecha-outside-validity": SatAnswer(FUERA_DE_VIGENCIA),
    "certificate-error": SatAnswer(CERTIFICADO_REVOCADO_O_CADUCO),
    "sat-error": SatAnswer(XML_MAL_FORMADO),
}

# Messages of the checks the service makes itself (beyond the SAT core).
BAD_BASE64 = "xmlBytes no es base64 válido"
NO_XML = "No se recibió xmlBytes"
NOT_UTF8 = "el xml de cancelación debe enviarse en bytes UTF-8"
LINE_BREAKS = "el xml contiene saltos de línea; genérelo sin saltos de línea"
FECHA_FUTURA = "es posterior a la hora actual"
FECHA_VENCIDA = "tiene más de 72 horas"


def message(code: str) -> str:
    return mensaje(code)


def refuse(code: str, detail: str | None = None, *, plain: str | None = None, text: str | None = None) -> ProviderError:
    """The error that answers ``code``: the table's text, the guide's ``plain`` message, the ``detail``
    (or exactly ``text``, e.g. a scenario rule's message)."""
    return ProviderError(code, text if text is not None else mensaje(code, plain, detail), detail)


def refuse_sat(error: SatError) -> ProviderError:
    """The answer to a SAT-core error, by :data:`SAT_REASONS` (its most specific mapped reason)."""
    answer = code_for(error, SAT_REASONS)
    assert isinstance(answer, SatAnswer)  # "sat-error" maps every SatError
    if answer.whole:
        return refuse(answer.code, error.message, text=answer.plain)
    return refuse(answer.code, error.message if answer.explain else None, plain=answer.plain)


def is_folio_code(code: int | str | None) -> bool:
    """A per-UUID code (201–205): a rule answering it sets a folio's status, not the request's."""
    return code is not None and str(code) in ESTATUS_UUID


# SAT's neutral verdict on a UUID → estatusUUID (what SAT answers in its acuse).
VERDICTS: dict[Verdict, str] = {
    Verdict.NOT_FOUND: NO_EXISTE,
    Verdict.NOT_OF_ISSUER: NO_DEL_EMISOR,
    Verdict.CANCELLED: PREVIAMENTE_CANCELADO,
    Verdict.IN_PROCESS: CANCELADO,  # already waiting for the recipient: received, nothing new
    Verdict.NOT_CANCELABLE: NO_APLICABLE,
    Verdict.NEEDS_ACCEPTANCE: CANCELADO,  # received; SAT settles it when the recipient answers
    Verdict.CANCELABLE: CANCELADO,
}


def meaning(summary: Mapping[str, Any]) -> tuple[str, str]:
    """What the journal's ``code`` means for the client: a 200 whose UUIDs are not all 201 is not done."""
    code = str(summary["code"])
    if code != OK:
        return code, "bad"
    others = [e for e in summary.get("estatus") or {} if e != CANCELADO]
    return (f"{code} ({', '.join(others)})", "wait") if others else (code, "ok")
