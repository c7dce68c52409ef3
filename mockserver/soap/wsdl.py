"""Serving the project's WSDL files with ``soap:address`` pointing back at the mock."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

_ADDRESS_NAMESPACES = (
    "http://schemas.xmlsoap.org/wsdl/soap/",
    "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http://schemas.xmlsoap.org/wsdl/http/",
)
_MARK = b"@@PAC_MOCK_BASE@@"


class WsdlDocument:
    """A WSDL file whose service addresses are re-based on the URL each client used."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def _template(self) -> bytes:
        tree = etree.parse(str(self.path), etree.XMLParser(resolve_entities=False, no_network=True))
        for ns in _ADDRESS_NAMESPACES:
            for address in tree.iter(f"{{{ns}}}address"):
                location = address.get("location", "")
                parts = urlsplit(location)
                address.set("location", _MARK.decode() + (parts.path or "/"))
        return etree.tostring(tree, xml_declaration=True, encoding="utf-8")

    @cached_property
    def paths(self) -> list[str]:
        """The paths of every port in the file, in document order."""
        tree = etree.parse(str(self.path), etree.XMLParser(resolve_entities=False, no_network=True))
        found = []
        for address in tree.iter(*(f"{{{ns}}}address" for ns in _ADDRESS_NAMESPACES)):
            found.append(urlsplit(address.get("location", "")).path)
        return found

    def render(self, base_url: str) -> bytes:
        """The WSDL with every address at ``base_url`` (scheme://host:port plus any session prefix)."""
        return self._template.replace(_MARK, base_url.rstrip("/").encode())
