"""Expide Tu Factura — ``cancelar`` (Apache CXF, SOAP 1.1), test and production endpoints."""

from .. import Provider
from . import settings
from .codes import CODES, meaning
from .models import install, state
from .service import RULE_FIELDS
from .wire import SERVICES

PROVIDER = Provider(
    id="expidetufactura",
    title="Expide Tu Factura",
    services=list(SERVICES),
    install=install,
    state=state,
    fields=RULE_FIELDS,
    settings_schema=settings.SCHEMA,
    settings=settings.read,
    secrets=frozenset({"token"}),
    codes=CODES,
    code_meaning=meaning,
    hosts=("cancelacion.expidetufactura.com.mx",),
    paths={"expidetufactura": "/cancelacion/CancelacionPruebas",
           "expidetufactura_productivo": "/cancelacion/CancelacionProductivo"},
)
