"""Solución Factible — the ``Cancelacion`` web service (Axis2, SOAP 1.1 and 1.2)."""

from .. import Provider
from . import codes, models, service
from .admin import blueprint
from .wire import RULE_FIELDS, SERVICE

PROVIDER = Provider(
    id="solucionfactible",
    title="Solución Factible",
    services=[SERVICE],
    schema=models.SCHEMA,
    install=service.install,
    blueprints=[blueprint],
    state=service.state,
    fields=RULE_FIELDS,
    settings_schema={
        "resolve_within": {"$ref": "#/$defs/duration"},
        "stored_csds": {
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/rfc"},
            "additionalProperties": {"type": "string", "minLength": 1},
        },
    },
    secrets=frozenset({"password", "csdKey", "csdPassword", "derKeyCSD", "contrasenaCSD"}),
    codes=codes.CODES,
)
