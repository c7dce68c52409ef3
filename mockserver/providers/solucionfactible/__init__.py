"""Solución Factible — the ``Cancelacion`` web service (Axis2, SOAP 1.1 and 1.2)."""

from .. import Provider
from .wire import SERVICE

PROVIDER = Provider(id="solucionfactible", title="Solución Factible", services=[SERVICE])
