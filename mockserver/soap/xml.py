"""Safe XML parsing for everything that arrives from a client.

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and a document that
declares a DOCTYPE at all is refused: SOAP forbids it, and it is the door to XXE and entity bombs.
"""

from __future__ import annotations

import re

from lxml import etree

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "remove_comments": False,
    "remove_pis": False,
}
_PARSER = etree.XMLParser(**_PARSER_OPTIONS)
# libxml2 refuses text nodes over ~10 MB unless told otherwise; MYSuite's Data1 can be 40 MB of base64.
_HUGE_PARSER = etree.XMLParser(huge_tree=True, **_PARSER_OPTIONS)


_ELEMENT_START = re.compile(rb"<[A-Za-z_]")


class XmlError(ValueError):
    """The bytes are not an acceptable XML document."""


def safe_fromstring(data: bytes, *, huge: bool = False) -> etree._Element:
    """Parse ``data`` and return its root element, or raise :class:`XmlError` with a readable reason."""
    if not data or not data.strip():
        raise XmlError("empty document")
    # Refuse a DOCTYPE before libxml2 reads its internal subset at all.
    doctype = data.find(b"<!DOCTYPE")
    if doctype != -1 and not _ELEMENT_START.search(data, 0, doctype):
        raise XmlError("DOCTYPE declarations are not allowed")
    try:
        root = etree.fromstring(data, _HUGE_PARSER if huge else _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML: {_what_and_where(exc)}") from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise XmlError(f"malformed XML: {exc}") from None
    if root is None:
        raise XmlError("empty document")
    if root.getroottree().docinfo.doctype:
        raise XmlError("DOCTYPE declarations are not allowed")
    return root


_ERROR_NAMES = {code: name for name, code in vars(etree.ErrorTypes).items() if name.startswith("ERR_")}


def _what_and_where(exc: etree.XMLSyntaxError) -> str:
    """libxml2's kind of error and its place, never its message: that quotes the document (a password
    cut inside CDATA, an entity name), and faults end up in the journal."""
    name = _ERROR_NAMES.get(exc.code, "syntax error").removeprefix("ERR_").replace("_", " ").lower()
    line, column = exc.position
    return f"{name}, line {line}, column {column}"


def text_of(element: etree._Element | None) -> str | None:
    """Text of an element, or None when absent or ``xsi:nil``."""
    if element is None:
        return None
    if element.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1"):
        return None
    return element.text or ""
