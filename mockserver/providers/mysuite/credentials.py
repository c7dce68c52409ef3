"""Who asks: the account behind ``Requestor`` and the request header's agreement with it.

Every check raises :class:`~.answers.Refused` with its catalogue code (31xx).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import codes
from .answers import TransactionRequest, refuse
from .ids import is_guid
from .settings import ENVIRONMENT_NAMES, PROVIDER

if TYPE_CHECKING:
    from ...context import Context
    from ...scenarios import Account

_USER_NAME = re.compile(r"^(?P<country>[^.]+)\.(?P<entity>[^.]+)\.(?P<user>.+)$")


def requestor(ctx: Context, req: TransactionRequest) -> Account:
    """The account ``Requestor`` names (3101 for what is not a GUID, 3102 for an unknown one)."""
    guid = (req.requestor or "").strip()
    if not is_guid(guid):
        raise refuse(codes.REQUESTOR_INVALID, requestor=guid[:60])
    account = ctx.scenarios.account(PROVIDER, guid)
    if account is None:
        raise refuse(codes.REQUESTOR_UNKNOWN, requestor=guid)
    return account


def check_header(ctx: Context, req: TransactionRequest, account: Account) -> None:
    """The account is active, in this environment, and User, Country, Entity and UserName agree with it."""
    guid = (req.requestor or "").strip()
    if not account.active:
        raise refuse(codes.REQUESTOR_INACTIVE, requestor=guid, state=account.state)
    environment = ctx.scenarios.environment(PROVIDER)
    if account.environment != environment:
        raise refuse(
            codes.WRONG_ENVIRONMENT,
            requestor=guid,
            account_environment=ENVIRONMENT_NAMES[account.environment],
            environment=ENVIRONMENT_NAMES.get(environment, environment),
        )
    user = (req.user or "").strip()
    if user.lower() != guid.lower():
        raise refuse(codes.USER_MISMATCH, requestor=guid, user=user[:60])
    country = (req.country or "").strip()
    if country.upper() != "MX":
        raise refuse(codes.COUNTRY_INVALID, requestor=guid, country=country[:20])
    entity = (req.entity or "").strip().upper()
    if not entity or (account.entities and entity not in {e.upper() for e in account.entities}):
        raise refuse(codes.ENTITY_NOT_ALLOWED, requestor=guid, entity=entity[:20])
    user_name = (req.user_name or "").strip()
    parts = _USER_NAME.match(user_name)
    if parts is None or parts["country"].upper() != "MX" or parts["entity"].upper() != entity:
        raise refuse(codes.USER_NAME_INVALID, requestor=guid, entity=entity, user_name=user_name[:80])
    if account.user_names and user_name.lower() not in {u.lower() for u in account.user_names}:
        raise refuse(codes.USER_NAME_UNKNOWN, requestor=guid, user_name=user_name[:80])
