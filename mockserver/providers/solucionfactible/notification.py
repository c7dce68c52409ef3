"""The e-mail Solución Factible sends to ``emailNotifica`` when an asynchronous cancellation resolves."""

from __future__ import annotations

from datetime import datetime

from ...mail import Mail
from ...sat.acuse import format_acuse_fecha
from . import codes, models
from .messages import PROVIDER


def notification(row: models.Cancellation, code: int, mensaje: str, at: datetime) -> Mail:
    """The message for ``row`` resolved with ``code`` and ``mensaje`` at ``at``."""
    ok = code == codes.OK
    body = "\n".join([
        "Solución Factible - notificación de cancelación de CFDI",
        "",
        f"UUID: {row.uuid}",
        f"RFC emisor: {row.rfc_emisor or '-'}",
        f"Motivo: {row.motivo or '-'}" + (f" (sustituye con {row.folio_sustitucion})" if row.folio_sustitucion else ""),
        f"Resultado: {'CANCELADO' if ok else 'NO CANCELADO'} (código {code})",
        f"Mensaje: {mensaje}",
        f"Fecha: {format_acuse_fecha(at)}",
        "",
        "Consulte el acuse con getStatusCancelacionAsincrona." if ok else
        "La solicitud de cancelación terminó sin cancelar el CFDI.",
    ])
    return Mail(
        to=row.email or "",
        subject=f"Cancelación del CFDI {row.uuid}: {'OK' if ok else 'ERROR'}",
        body=body + "\n",
        headers={"X-SFService": "Cancelar", "X-UUIDCancelacion": row.uuid,
                 "X-StatusCancelacion": "OK" if ok else "ERROR"},
        uuid=row.uuid,
        provider=PROVIDER,
    )
