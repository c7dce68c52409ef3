"""Solución Factible — the ``Cancelacion`` web service (Axis2, SOAP 1.1 and 1.2)."""

from .. import Provider
from . import models, service
from .admin import blueprint
from .wire import SERVICE

PROVIDER = Provider(
    id="solucionfactible",
    title="Solución Factible",
    services=[SERVICE],
    schema=models.SCHEMA,
    install=service.install,
    blueprints=[blueprint],
    state=service.state,
)
