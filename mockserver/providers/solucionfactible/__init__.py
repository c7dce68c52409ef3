"""Solución Factible — the ``Cancelacion`` web service (Axis2, SOAP 1.1 and 1.2)."""

from .. import Provider
from . import codes, lifecycle, models, settings, state
from .admin import blueprint
from .messages import PROVIDER as PROVIDER_ID
from .wire import RULE_FIELDS, SERVICE

PROVIDER = Provider(
    id=PROVIDER_ID,
    title="Solución Factible",
    services=[SERVICE],
    schema=models.SCHEMA,
    install=lifecycle.install,
    blueprints=[blueprint],
    state=state.state,
    fields=RULE_FIELDS,
    settings_schema=settings.SCHEMA,
    settings=settings.read,
    secrets=frozenset({"password", "csdKey", "csdPassword", "derKeyCSD", "contrasenaCSD"}),
    codes=codes.CODES,
    code_meaning=codes.meaning,
    hosts=("solucionfactible.com", "www.solucionfactible.com", "testing.solucionfactible.com"),
    paths={"solucionfactible": "/ws/services/Cancelacion"},
)
