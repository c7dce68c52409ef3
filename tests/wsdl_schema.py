"""Schema checks against the project's WSDL files.

xmlschema's own WSDL reader cannot follow the Axis2 WSDL (its inline schemas import each other
without schemaLocation), so the inline ``xs:schema`` elements are taken out of the WSDL, each
re-rooted with the namespace declarations in scope in the WSDL (prefixes such as ``tns:`` are
declared on ``wsdl:definitions``), and loaded together as one schema set.

    from wsdl_schema import assert_valid_body, schema_for
    assert_valid_body(SF_WSDL, body_child)   # body_child: the element inside soap:Body
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import xmlschema
from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)


def inline_schemas(wsdl_path: str | Path) -> list[str]:
    """The WSDL's inline schemas as standalone documents, in document order."""
    root = etree.parse(str(wsdl_path), _SAFE_PARSER).getroot()
    sources = []
    for schema in root.iterfind(f"{{{WSDL}}}types/{{{XS}}}schema"):
        # nsmap of a child includes every declaration inherited from its ancestors.
        standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=schema.nsmap)
        for child in schema:
            standalone.append(copy.deepcopy(child))
        sources.append(etree.tostring(standalone, encoding="unicode"))
    if not sources:
        raise ValueError(f"{wsdl_path}: no inline xs:schema in wsdl:types")
    return sources


@functools.cache
def _schema(resolved: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(inline_schemas(resolved), allow="none")


def schema_for(wsdl_path: str | Path) -> xmlschema.XMLSchema:
    """One schema set built from all inline schemas of ``wsdl_path`` (cached per file)."""
    return _schema(str(Path(wsdl_path).resolve()))


def assert_valid_body(wsdl_path: str | Path, element: etree._Element | bytes | str) -> None:
    """Validate a SOAP body payload (the element inside soap:Body) against the WSDL's schema.

    Raises AssertionError listing every schema error (wrong order, wrong namespace, bad type...).
    """
    if isinstance(element, bytes | str):
        element = etree.fromstring(element.encode() if isinstance(element, str) else element, _SAFE_PARSER)
    # Validate a detached copy so the caller's tree (and its parent envelope) is not involved.
    payload = copy.deepcopy(element)
    errors = list(schema_for(wsdl_path).iter_errors(etree.tostring(payload)))
    if errors:
        details = "\n".join(f"- {err.reason} (at {err.path})" for err in errors)
        raise AssertionError(
            f"{etree.QName(payload).text} is not valid per {Path(wsdl_path).name}:\n{details}"
        )
