"""Solución Factible's request parameters: layout (611), UUID fields, RFC, e-mail and base64 (621)."""

from __future__ import annotations

import base64
import binascii
import re

from ...sat import Folio, SatError
from ...sat.cancelacion import RFC_RE, validate_folio
from . import codes
from .codes import refuse

EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
DEFAULT_MOTIVO = "02"  # a bare UUID, and a pre-2022 Cancelacion, mean Motivo 02


def check_layout(misplaced: str | None) -> None:
    """611 for children out of the WSDL's order or unknown to the operation ("out of place")."""
    if misplaced:
        raise refuse(codes.INCOMPLETE, misplaced)


def parse_uuid_field(text: str) -> Folio:
    """``UUID``, ``UUID|Motivo|`` or ``UUID|Motivo|FolioSustitucion`` → a checked Folio (621 otherwise)."""
    parts = [p.strip() for p in text.strip().split("|")]
    if len(parts) > 3:
        raise refuse(codes.INVALID_DATA, "el uuid debe tener la forma UUID|Motivo|FolioSustitucion")
    uuid = parts[0]
    motivo = parts[1] if len(parts) > 1 and parts[1] else DEFAULT_MOTIVO
    sustitucion = parts[2] if len(parts) > 2 and parts[2] else None
    try:
        return validate_folio(Folio(uuid, motivo, sustitucion))
    except SatError as exc:
        raise codes.refuse_sat(exc) from None


def parse_rfc(text: str) -> str:
    rfc = text.strip().upper()
    if not RFC_RE.match(rfc):
        raise refuse(codes.INVALID_DATA, "rfcEmisor no tiene el formato de un RFC")
    return rfc


def parse_email(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    email = text.strip()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise refuse(codes.INVALID_DATA, "emailNotifica no es una dirección de correo")
    return email


def decode_base64(text: str | None, name: str) -> bytes:
    if text is None or not text.strip():
        raise refuse(codes.INCOMPLETE, f"{name} es requerido")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse(codes.INVALID_DATA, f"{name} no es base64 válido") from None
    if not data:
        raise refuse(codes.INVALID_DATA, f"{name} está vacío")
    return data


def with_motivo(folio: Folio) -> Folio:
    """A folio of a signed Cancelacion, with Motivo 02 when the document (pre-2022) carries none."""
    return folio if folio.motivo else Folio(folio.uuid, DEFAULT_MOTIVO, folio.folio_sustitucion)
