"""Solución Factible's credentials: the account, its state and permissions, and the lock-out after failures.

611 usuario/password missing, 601 unknown user or wrong password (failures are counted per user), 604
after ``MAX_FAILED_LOGINS`` failures in a row (refused for ``LOCKOUT`` of mock time, even with the right
password), 602 blocked, 603 password expired, 605 inactive, 633 account of the other environment, 620
permission missing.

Permissions (scenarios ``permissions``): ``cancel`` covers every cancellation operation except
``cancelarSectorPrimario`` (``sector_primario``); ``cancel_async`` covers the asynchronous ones and the
status query; ``submit_signed`` the ``enviarSolicitud*`` ones; ``use_stored_csd`` omitting the CSD.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import codes, models
from .codes import refuse
from .messages import PROVIDER

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios.model import Account

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

CANCEL = "cancel"
CANCEL_ASYNC = "cancel_async"
SUBMIT_SIGNED = "submit_signed"
USE_STORED_CSD = "use_stored_csd"
SECTOR_PRIMARIO = "sector_primario"

# Account states that refuse every call, and their codes.
STATE_CODES = {"blocked": codes.BLOCKED, "password_expired": codes.PASSWORD_EXPIRED, "inactive": codes.INACTIVE}


def authenticate(ctx: Context, usuario: str | None, password: str | None, any_of: Sequence[str]) -> Account:
    """The account of ``usuario`` if it may call an operation needing one of ``any_of``; else a refusal."""
    if not usuario or not password:
        raise refuse(codes.INCOMPLETE, "usuario y password son requeridos")
    account = ctx.scenarios.account(PROVIDER, usuario)
    if account is None:
        raise refuse(codes.BAD_CREDENTIALS)
    now = ctx.now()
    with ctx.store.read() as conn:
        failures, last = models.failures(conn, ctx.session, usuario)
    expired = last is not None and now - datetime.fromisoformat(last) >= LOCKOUT
    if failures >= MAX_FAILED_LOGINS and not expired:
        raise refuse(codes.TOO_MANY_ATTEMPTS)
    if not account.check_password(password):
        with ctx.store.tx() as conn:
            if expired:
                models.clear_failures(conn, ctx.session, usuario)
            failures = models.add_failure(conn, ctx.session, usuario, now)
        raise refuse(codes.TOO_MANY_ATTEMPTS if failures >= MAX_FAILED_LOGINS else codes.BAD_CREDENTIALS)
    if failures:
        with ctx.store.tx() as conn:
            models.clear_failures(conn, ctx.session, usuario)
    if account.state in STATE_CODES:
        raise refuse(STATE_CODES[account.state])
    environment = ctx.scenarios.environment(PROVIDER)
    if account.environment != environment:
        raise refuse(codes.WRONG_ENVIRONMENT, f"la cuenta es de {account.environment}, el servicio de {environment}")
    if not any(account.allows(p) for p in any_of):
        raise refuse(codes.PERMISSION_DENIED, f"se requiere el permiso {' o '.join(any_of)}")
    return account
