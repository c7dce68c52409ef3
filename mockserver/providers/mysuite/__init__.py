"""MYSuite — ``FactWSFront.asmx`` ``RequestTransaction`` (ASMX, SOAP 1.1 and 1.2)."""

from .. import Provider
from .wire import SERVICE

PROVIDER = Provider(id="mysuite", title="MYSuite", services=[SERVICE])
