"""Expide Tu Factura — ``cancelar`` (Apache CXF, SOAP 1.1), test and production endpoints."""

from .. import Provider
from .models import install, state
from .wire import SERVICES

PROVIDER = Provider(
    id="expidetufactura",
    title="Expide Tu Factura",
    services=list(SERVICES),
    install=install,
    state=state,
)
