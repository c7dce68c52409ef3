"""MTOM/XOP requests (``multipart/related; type="application/xop+xml"``): the root part is the SOAP
envelope, and every ``xop:Include`` in it stands for the base64 of another part's bytes.

The MIME package is read by the standard library's ``email`` parser; only the XOP substitution is ours.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import unquote

from lxml import etree

from .faults import SoapFault

XOP_NS = "http://www.w3.org/2004/08/xop/include"
MULTIPART = "multipart/related"


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == MULTIPART


def _content_id(part: EmailMessage) -> str:
    return (part.get("Content-ID") or "").strip().strip("<>")


def unpack(body: bytes, content_type: str) -> tuple[bytes, str, dict[str, bytes]]:
    """The root part's bytes, the SOAP Content-Type it stands for, and the other parts by Content-ID."""
    package = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    parts = package.get_payload() if package.is_multipart() else []
    if not isinstance(parts, list) or not parts:
        raise SoapFault("The multipart/related request has no parts: is its boundary parameter right?")
    start = (package.get_param("start") or "").strip().strip("<>")
    root = next((p for p in parts if start and _content_id(p) == start), parts[0])
    root_type = root.get_content_type()
    if root_type == "application/xop+xml":
        soap_type = root.get_param("type") or package.get_param("start-info") or "text/xml"
    else:  # SOAP with attachments: the root part is the envelope itself
        soap_type = root_type
    charset = root.get_param("charset")
    soap_content_type = f"{soap_type}; charset={charset}" if charset else str(soap_type)
    attachments = {_content_id(p): p.get_payload(decode=True) or b"" for p in parts if p is not root}
    return root.get_payload(decode=True) or b"", soap_content_type, attachments


def resolve_includes(root: etree._Element, attachments: dict[str, bytes]) -> int:
    """Replace every ``xop:Include`` by the base64 text of the part it names; returns how many."""
    includes = list(root.iter(f"{{{XOP_NS}}}Include"))
    for include in includes:
        href = include.get("href") or ""
        cid = unquote(href[4:]) if href.lower().startswith("cid:") else href
        if cid not in attachments:
            raise SoapFault(f"xop:Include refers to part <{cid}> ({href}), which the multipart/related request "
                            "does not carry")
        parent = include.getparent()
        if parent is None:
            raise SoapFault("xop:Include cannot be the root of the envelope")
        parent.remove(include)
        parent.text = (parent.text or "") + base64.b64encode(attachments[cid]).decode("ascii")
    return len(includes)
