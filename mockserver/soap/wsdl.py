"""Serving the project's WSDL files with ``soap:address`` pointing back at the mock."""

from __future__ import annotations

from functools import cached_property
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

_ADDRESS_NAMESPACES = (
    "http://schemas.xmlsoap.org/wsdl/soap/",
    "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http://schemas.xmlsoap.org/wsdl/http/",
)
_HTTP_NS = "http://schemas.xmlsoap.org/wsdl/http/"
_MARK = b"@@PAC_MOCK_BASE@@"
_PATH_MARK = b"@@PAC_MOCK_PATH@@"


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
    def _single_path_template(self) -> bytes:
        """The template with every address at the one path all ports share (ASMX, CXF)."""
        return self._template.replace(_MARK + self.paths[0].encode(), _MARK + _PATH_MARK)

    @cached_property
    def http_paths(self) -> list[str]:
        """Paths of the ports with an HTTP (plain-XML) binding."""
        tree = etree.parse(str(self.path), etree.XMLParser(resolve_entities=False, no_network=True))
        return [urlsplit(a.get("location", "")).path for a in tree.iter(f"{{{_HTTP_NS}}}address")]

    @cached_property
    def paths(self) -> list[str]:
        """The paths of every port in the file, in document order."""
        tree = etree.parse(str(self.path), etree.XMLParser(resolve_entities=False, no_network=True))
        found = []
        for address in tree.iter(*(f"{{{ns}}}address" for ns in _ADDRESS_NAMESPACES)):
            found.append(urlsplit(address.get("location", "")).path)
        return found

    def render(self, base_url: str, path: str | None = None) -> bytes:
        """The WSDL with every address at ``base_url`` (scheme://host:port plus any session prefix).

        When all ports share one path (ASMX, CXF), ``path`` (the one the client asked on) replaces it,
        so a client that read the WSDL from an alias posts back to that alias. Ports with paths of
        their own (Axis2) keep them: each is a different endpoint.
        """
        base = escape(base_url.rstrip("/")).encode()
        if path and len(set(self.paths)) == 1:
            return self._single_path_template.replace(_PATH_MARK, escape(path).encode()).replace(_MARK, base)
        return self._template.replace(_MARK, base)
