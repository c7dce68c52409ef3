"""Safe XML parsing for SAT documents, on top of the SOAP layer's safe parser.

Adds what the SAT core needs: its own error type, a refusal of unexpanded entity references, and a
parser instance with the same options for signxml (which parses the document again).
"""

from __future__ import annotations

from lxml import etree

from ..soap.xml import XmlError
from ..soap.xml import safe_fromstring as _soap_safe_fromstring
from .errors import MalformedXml


def safe_fromstring(data: bytes) -> etree._Element:
    """Parse ``data`` or raise :class:`MalformedXml` (never an lxml exception)."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedXml("el documento debe ser bytes")
    try:
        root = _soap_safe_fromstring(bytes(data))
    except XmlError as exc:
        raise MalformedXml(f"XML inválido: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedXml("DOCTYPE no permitido")
    if any(True for _ in root.iter(etree.Entity)):
        raise MalformedXml("entidades no permitidas")
    return root


def parser() -> etree.XMLParser:
    """A fresh parser with the safe options, for libraries that parse again (signxml)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
