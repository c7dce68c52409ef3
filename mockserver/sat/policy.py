"""SAT's certificate policy: may this certificate seal a cancellation now, for this Fecha?

One function, one order of checks, for every provider. Each failure is a :class:`CertificateError`
with a stable ``reason`` (:data:`REASONS`), which callers map to their own answers.

Order (the first failure answers):

1. ``untrusted-issuer`` — not issued by a CA SAT's trust store knows (a stranger's dates and kind
   mean nothing, so this comes first);
2. ``not-csd`` — a FIEL (e.firma) or anything else that is not a CSD (when ``require_csd``);
3. ``certificate-revoked`` — its number is on SAT's revocation list. Before the dates: revocation is
   an explicit statement about this certificate, whatever the clock says;
4. ``certificate-not-yet-valid`` / ``certificate-expired`` — outside its validity at ``at`` (now);
5. ``fecha-outside-validity`` — the Cancelacion's Fecha lies outside its validity.

Steps 4 and 5 are skipped with ``check_validity_dates=False`` (a sandbox running old fixtures).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, datetime

from .certificates import Certificate, TrustStore, check_validity
from .errors import CertificateRevoked, FechaOutsideValidity, NotACsd

REASONS = (
    "untrusted-issuer",
    "not-csd",
    "certificate-revoked",
    "certificate-not-yet-valid",
    "certificate-expired",
    "fecha-outside-validity",
)
"""Every reason :func:`check_certificate_policy` may raise, in the order it checks them."""


def check_certificate_policy(
    cert: Certificate,
    trust: TrustStore,
    at: datetime,
    *,
    fecha: datetime | None = None,
    revoked: Container[str] = frozenset(),
    require_csd: bool = True,
    check_validity_dates: bool = True,
) -> None:
    """Raise the first policy failure of ``cert`` (see the module notes); return None when it may seal.

    ``at`` is the mock clock's now; ``fecha`` the Cancelacion's Fecha as an aware datetime (e.g.
    ``cancelacion.fecha_aware()``), or None when no document is involved; ``revoked`` holds the
    certificate numbers SAT has revoked.
    """
    trust.check_issuer(cert)
    if require_csd and cert.kind != "CSD":
        raise NotACsd(f"el certificado {cert.certificate_number} no es un CSD ({cert.kind})")
    if cert.certificate_number in revoked:
        raise CertificateRevoked(f"el SAT revocó el certificado {cert.certificate_number}")
    if not check_validity_dates:
        return
    check_validity(cert, at)
    if fecha is not None and not cert.not_before <= fecha.astimezone(UTC) <= cert.not_after:
        raise FechaOutsideValidity(
            f"Fecha {fecha.replace(tzinfo=None).isoformat()} fuera de la vigencia del certificado "
            f"{cert.certificate_number}"
        )
