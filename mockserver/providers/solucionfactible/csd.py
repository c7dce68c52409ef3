"""The CSD a cancellation is made with: sent or stored, opened once per process, and checked.

Sent (csdCer + csdKey + csdPassword) → 306 unreadable, wrong password or key not matching; then SAT's
certificate policy (``sat.check_certificate_policy``): 308 not issued by a trusted CA, 306 not a CSD,
304 revoked, 305 outside its validity (now, or at a signed request's Fecha); then 303 its RFC is not
rfcEmisor; omitted → the issuer's stored CSD (``stored_csds``; 620 without ``use_stored_csd``, 611 when
none is stored). Signed requests (``enviarSolicitud*``) are verified instead: 301 malformed, 302 bad
seal, 303, 304, 305, 306, 308, 621. SAT core errors become codes through :data:`.codes.SAT_CODES`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING

from ...sat import Certificate, SatError, load_certificate, load_private_key
from ...sat.keys import ensure_key_matches
from ...sat.signature import VerifiedCancelacion, verify_seal
from . import codes
from .auth import USE_STORED_CSD
from .codes import refuse
from .messages import PROVIDER, Csd
from .parameters import decode_base64

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios.model import Account


def resolve_csd(ctx: Context, account: Account, rfc: str, csd: Csd) -> Certificate:
    """The checked CSD the cancellation is made with: the one sent, or the issuer's stored one."""
    if csd.omitted:
        if not account.allows(USE_STORED_CSD):
            raise refuse(codes.PERMISSION_DENIED, "el usuario no puede usar los CSD almacenados; envíe csdCer, "
                                                  "csdKey y csdPassword")
        name = ctx.scenarios.provider(PROVIDER).stored_csds.get(rfc)
        if not name:
            raise refuse(codes.INCOMPLETE, f"envíe csdCer, csdKey y csdPassword: no hay un CSD almacenado para {rfc}")
        cert = stored_certificate(name)
    else:
        if not csd.cer or not csd.key or csd.password is None:
            raise refuse(codes.INCOMPLETE, "csdCer, csdKey y csdPassword van juntos")
        cert = checked_pair(ctx, decode_base64(csd.cer, "csdCer"), decode_base64(csd.key, "csdKey"), csd.password)
    check_policy(ctx, cert)
    if (cert.rfc or "").upper() != rfc:
        raise refuse(codes.RFC_MISMATCH, f"el CSD es de {cert.rfc}, rfcEmisor es {rfc}")
    return cert


def check_policy(ctx: Context, cert: Certificate, fecha: datetime | None = None) -> None:
    """SAT's certificate policy (issuer 308, a CSD 306, revoked 304, validity now and at ``fecha`` 305)."""
    try:
        ctx.scenarios.certificate_policy(cert, ctx.now(), fecha)
    except SatError as exc:
        raise codes.refuse_sat(exc) from None


@functools.lru_cache(maxsize=64)
def stored_certificate(name: str) -> Certificate:
    from ...sat.pki import fixture

    return fixture(name).certificate()


class PairCache:
    """CSD pairs that opened, remembered by a keyed digest (never the password itself).

    Opening an encrypted key costs ~50 ms (PBKDF2); clients send the same CSD on every call. One cache
    and one digest key per runtime (``Sandbox.owned``): two runtimes in one process share neither.
    """

    MAX = 256

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._pairs: OrderedDict[bytes, Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def checked_pair(self, cer: bytes, key: bytes, password: str) -> Certificate:
        """The certificate, once ``key`` opens with ``password`` and is its private half; 306 otherwise."""
        digest = hmac.new(self._secret, b"\0".join((cer, key, password.encode("utf-8"))), hashlib.sha256).digest()
        with self._lock:
            cached = self._pairs.get(digest)
            if cached is not None:
                self._pairs.move_to_end(digest)
                return cached
        try:
            cert = load_certificate(cer)
            ensure_key_matches(cert, load_private_key(key, password))
        except SatError as exc:
            raise codes.refuse_sat(exc) from None
        with self._lock:
            self._pairs[digest] = cert
            while len(self._pairs) > self.MAX:
                self._pairs.popitem(last=False)
        return cert


def checked_pair(ctx: Context, cer: bytes, key: bytes, password: str) -> Certificate:
    """The certificate of a CSD pair sent with the request, through the runtime's :class:`PairCache`."""
    return ctx.runtime.owned("solucionfactible.csd-pairs", PairCache).checked_pair(cer, key, password)


def verify_solicitud(ctx: Context, solicitud: str | None) -> VerifiedCancelacion:
    """Decode and verify a signed Cancelacion (seal, RFC, then the certificate policy)."""
    xml = decode_base64(solicitud, "solicitud")
    try:
        verified = verify_seal(xml)
    except SatError as exc:
        raise codes.refuse_sat(exc) from None
    check_policy(ctx, verified.certificate, verified.cancelacion.fecha_aware())
    return verified
