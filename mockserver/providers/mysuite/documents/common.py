"""What the document modules share: namespaces, the safe parser and the error the service reports."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from lxml import etree

FX_NS = "http://www.fact.com.mx/schema/fx"
CFDI_NS = "http://www.sat.gob.mx/cfd/4"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CFDI_SCHEMA_LOCATION = f"{CFDI_NS} http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
TFD_SCHEMA_LOCATION = (
    f"{TFD_NS} http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"
)
NATIVE_VERSION = "8"  # fx:Version for CFDI 4.0 (7 was CFDI 3.3)
MEXICO_TZ = ZoneInfo("America/Mexico_City")


class NativeDocumentError(ValueError):
    """The native document cannot be turned into a CFDI; ``message`` is fit for ``ErrorMsg``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def safe_parser_options() -> dict:
    # No DTD, no entities, no network; huge_tree because Data1 documents reach 40 MB.
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": True}


def syntax_message(exc: etree.XMLSyntaxError) -> str:
    line = f" (línea {exc.lineno})" if exc.lineno else ""
    return f"{exc.msg}{line}"
