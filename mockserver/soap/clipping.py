"""What the journal keeps of each field of a request: all of it up to a limit, then a note of the length.

A 36-character GUID is kept whole; a 40 MB base64 document keeps its first characters and its size,
so the journal shows what the client sent without holding the document.
"""

from __future__ import annotations

import re

from lxml import etree

FIELD_LIMIT = 256
_CLIPPED = re.compile(r"… \[\d+ characters\]\Z")


def clip_text(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` itself when short, else its first ``limit`` characters and how long it was."""
    if len(text) <= limit or (len(text) <= limit + 40 and _CLIPPED.search(text)):
        return text  # short, or clipped already
    return f"{text[:limit]}… [{len(text)} characters]"


def clip_fields(root: etree._Element, limit: int = FIELD_LIMIT) -> None:
    """Clip the text (and tail) of every element under ``root`` in place."""
    for element in root.iter():
        if element.text and len(element.text) > limit:
            element.text = clip_text(element.text, limit)
        if element.tail and len(element.tail) > limit:
            element.tail = clip_text(element.tail, limit)
