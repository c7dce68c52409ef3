"""Secrets out of everything the sandbox keeps: one text pass that needs no well-formed XML.

A request body may be truncated, malformed, in UTF-16 or cut in the middle of a password, so parsing it
is no basis for redaction. Instead the body is decoded the way an XML parser would (BOM, then the byte
pattern of ``<?xml``, then the declared encoding, else UTF-8, bad bytes replaced) and scanned as text:
from a secret element's start tag to its end tag, or to the end of the text when there is none,
everything is replaced by ``***``. Inside a secret, comments, CDATA sections and processing
instructions are skipped whole, so a ``</password>`` in them does not end it. Outside a secret nothing
is skipped: a secret start tag inside a comment is treated as real, which may blank more than needed but
never less.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable

REDACTED = "***"

# Local names of the elements whose content is never kept, whatever the provider: passwords and access
# tokens. Each provider declares its own besides (private keys, key passwords: ``Provider.secrets``);
# the journal redacts the union. Matched case-insensitively and with any namespace prefix:
# WS-Security's ``wsse:Password`` is covered too.
SECRET_FIELDS = frozenset({"password", "token"})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# ``<`` or ``<?`` with no BOM, as XML 1.0 appendix F detects them.
_NO_BOM = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp500"),  # EBCDIC: its code pages agree on the characters of markup
)
_DECLARED = re.compile(rb"""\A\s*<\?xml[^>]{0,200}?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,40})["']""")


def decode_body(data: bytes) -> str | None:
    """The text of an XML body as a parser would read it; None when no reading is safe to keep.

    Never raises. A text that still holds NUL characters was read in the wrong encoding (XML has no
    NUL), and an ASCII secret would survive in it byte for byte: such a body is not kept at all.
    """
    try:
        text = data.decode(_encoding_of(data), "replace")
    except (LookupError, ValueError):  # a codec with no lenient reading
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    return None if "\x00" in text else text


def _encoding_of(data: bytes) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    for start, name in _NO_BOM:
        if data.startswith(start):
            return name
    declared = _DECLARED.match(data)
    if declared:
        name = declared.group(1).decode("ascii")
        try:
            codec = codecs.lookup(name)
        except LookupError:
            return "utf-8"
        # Only a codec that reads the declaration itself as written can be the document's.
        try:
            if b"<?xml".decode(codec.name) == "<?xml":
                return codec.name
        except (LookupError, ValueError):  # not a text encoding (base64, rot13, ...)
            pass
    return "utf-8"


_NAME = r"[^\s<>/=\"'!?]+"
_TAG_REST = re.compile(r"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+>""")
_END_NAME = re.compile(_NAME)


def _secret_start(names: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"<\s*(?:[^\s<>/=\"'!?:]+:)?({alternatives})(?=[\s/>]|\Z)", re.IGNORECASE)


_START_FOR: dict[frozenset[str], re.Pattern[str]] = {SECRET_FIELDS: _secret_start(SECRET_FIELDS)}
_SKIPPED = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">"))


def redact(text: str, names: Iterable[str] = SECRET_FIELDS) -> str:
    """``text`` with the content of every secret element replaced by ``***`` (an empty one stays empty)."""
    names = frozenset(names)
    if not names:
        return text
    start_re = _START_FOR.get(names)
    if start_re is None:  # few distinct sets exist (one per runtime): keep each one's pattern
        start_re = _START_FOR.setdefault(names, _secret_start(names))
    out: list[str] = []
    pos = 0
    while True:
        found = start_re.search(text, pos)
        if found is None:
            out.append(text[pos:])
            return "".join(out)
        name = found.group(1).casefold()
        after_name = found.end()
        tag = _TAG_REST.match(text, after_name)
        if tag is not None and text[tag.end() - 2] == "/":  # <password/>: nothing inside
            out.append(text[pos : tag.end()])
            pos = tag.end()
            continue
        # The content starts no later than the first ">" (one inside a quoted attribute included).
        close = text.find(">", after_name)
        if close == -1:
            out.append(text[pos:after_name])
            if after_name < len(text):
                out.append(REDACTED)
            return "".join(out)
        content = close + 1
        out.append(text[pos:content])
        end = _content_end(text, content, name)
        if end is None:
            if content < len(text):
                out.append(REDACTED)
            return "".join(out)
        if end > content:
            out.append(REDACTED)
        pos = end


def _content_end(text: str, pos: int, name: str) -> int | None:
    """Where the secret element ``name`` whose content starts at ``pos`` ends (its end tag's ``<``).

    None when the text ends first. Nested elements of the same name count; comments, CDATA and
    processing instructions are skipped whole; a tag that does not close runs to the end.
    """
    depth = 1
    while True:
        lt = text.find("<", pos)
        if lt == -1:
            return None
        for opener, closer in _SKIPPED:
            if text.startswith(opener, lt):
                stop = text.find(closer, lt + len(opener))
                if stop == -1:
                    return None
                pos = stop + len(closer)
                break
        else:
            if text.startswith("</", lt):
                found = _END_NAME.match(text, lt + 2)
                if found is not None and found.group().rpartition(":")[2].casefold() == name:
                    depth -= 1
                    if depth == 0:
                        return lt
                pos = lt + 2
                continue
            found = _END_NAME.match(text, lt + 1)
            if found is None:
                pos = lt + 1
                continue
            tag = _TAG_REST.match(text, found.end())
            if tag is None:
                return None
            if found.group().rpartition(":")[2].casefold() == name and text[tag.end() - 2] != "/":
                depth += 1
            pos = tag.end()
