"""MYSuite — ``FactWSFront.asmx`` ``RequestTransaction`` (ASMX, SOAP 1.1 and 1.2): asynchronous
conversion of large native XML documents into stamped CFDIs, with expiring download links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import Provider
from . import settings
from .codes import MESSAGES, meaning, transactions
from .downloads import blueprint as downloads_blueprint
from .ids import is_guid
from .jobs import TIMER_KIND, on_job_due, state
from .models import SCHEMA, blobs_for, release_conversions
from .wire import RULE_FIELDS, SERVICE
from .worker import background

if TYPE_CHECKING:
    from ...context import Sandbox


def install(runtime: Sandbox) -> None:
    runtime.timers.register(TIMER_KIND, on_job_due)


def user_problem(user: str) -> str | None:
    return None if is_guid(user) else f"a MYSuite user is the Requestor GUID, got {user!r}"


def on_reset(runtime: Sandbox, session: str | None) -> None:
    # Document files of the jobs just forgotten; recent ones are left to the next sweep, since a
    # request may be writing its file right now.
    blobs_for(runtime).sweep(older_than_s=30.0)


PROVIDER = Provider(
    id="mysuite",
    title="MYSuite",
    services=[SERVICE],
    schema=SCHEMA,
    install=install,
    background=background,
    blueprints=[downloads_blueprint],
    state=state,
    on_reset=on_reset,
    on_server_start=release_conversions,
    # A rule names the request's Transaction (RequestTransaction is dispatched under it); names the
    # WSDL does not list are accepted too, since the service answers them with its own code.
    operations=frozenset(),
    operation_pattern=r"[A-Z][A-Z0-9_]*",
    operation_hint="a Transaction name",
    journal_operations=transactions,
    fields=RULE_FIELDS,
    user_key=str.lower,
    user_problem=user_problem,
    settings_schema=settings.SCHEMA,
    schema_defs=settings.SCHEMA_DEFS,
    settings=settings.read,
    codes=MESSAGES,
    code_meaning=meaning,
    hosts=("www.mysuitetest.com", "async.mysuitetest.com", "www.mysuitecfdi.com", "async.mysuitecfdi.com"),
    paths={"mysuite": "/mx.com.fact.wsfront/factwsfront.asmx", "mysuite_async": "/factwsfront.asmx"},
    stamps=True,  # each conversion issues a CFDI that SAT then knows as vigente
)
