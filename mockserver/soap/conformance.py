"""Run a service's conformance checks on a parsed call, and refuse it when a scenario says ``strict``.

Checks run on the request as the wire parsed it, before the service acts, so a ``strict`` check can
refuse the request before it changes anything; the findings go into the journal with the answer.
"""

from __future__ import annotations

import logging

from flask import Request
from lxml import etree

from ..conformance import Exchange, strict_ids
from .service import Call

log = logging.getLogger("pac_mock.conformance")


def inspect(call: Call, request: Request) -> None:
    """Run the checks into ``call.findings`` (never raises: a broken check must not cost the client
    its answer)."""
    declared = call.service.conformance
    if declared is None:
        return
    ctx = call.ctx
    provider = call.service.provider

    def account_environment(user: str | None) -> str | None:
        account = ctx.scenarios.account(provider, user or "") if user else None
        return account.environment if account is not None else None

    def history(**filters) -> list[dict]:
        return ctx.runtime.journal.query(ctx.session, provider=provider, include_bodies=False, **filters)

    exchange = Exchange(
        provider=provider,
        operation=call.operation.name,
        environment=call.service.environment or ctx.scenarios.environment(provider),
        path=request.path,
        soap_version=call.request.version.name,
        action=call.request.action,
        payload=call.request.payload,
        data=call.data,
        now=ctx.now(),
        account_environment=account_environment,
        history=history,
    )
    try:
        call.findings = list(declared.inspect(exchange))
    except Exception:
        log.exception("conformance checks of %s failed", call.service.name)


def refusal(call: Call) -> etree._Element | None:
    """The provider's refusal when a finding's check is ``strict`` in the session's scenarios."""
    declared = call.service.conformance
    if declared is None or declared.refuse is None or not call.findings:
        return None
    strict = strict_ids(call.ctx.scenarios.raw)
    enforced = next((f for f in call.findings if f.check in strict), None)
    if enforced is None:
        return None
    call.summary["refused_by"] = enforced.check
    return declared.refuse(call, enforced)
