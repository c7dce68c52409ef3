"""Every code of MYSuite's catalogue (``mockserver/providers/mysuite/codes.py``) reached over the wire.

Each case sends raw SOAP 1.1 to ``RequestTransaction`` and reads ``Response/Code``; the last test
checks that the cases cover the catalogue exactly, so a new code needs a case here.
"""

from __future__ import annotations

import ast
import base64
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from test_mysuite import EMPTY_GUID, REQUESTOR, Answer, accept, advance, call, freeze

from mockserver.providers.mysuite import codes
from mockserver.testing.mysuite import native_document

UNKNOWN = "11111111-2222-4333-8444-555555555555"
INACTIVE = "33333333-4444-4555-8666-777777777777"
LIMITED = "44444444-5555-4666-8777-888888888888"
ACCOUNTS = {"providers": {"mysuite": {"accounts": [
    {"user": REQUESTOR, "environment": "pruebas", "entities": ["JES900109Q90"], "user_names": ["MX.JES900109Q90.Juan"]},
    {"user": INACTIVE, "state": "inactive", "entities": ["JES900109Q90"]},
    {"user": LIMITED, "permissions": [], "entities": ["JES900109Q90"]},
]}}}  # fmt: skip
PRODUCTION = {"providers": {"mysuite": {"environment": "productivo"}}}


def _document(size: int = 1_200_000) -> str:
    return base64.b64encode(native_document(size)).decode("ascii")


def _overlay(sandbox, document: dict) -> None:
    assert sandbox.admin("PUT", "scenarios", json=document).ok


def _as(sandbox, requestor: str, transaction: str = "ASYNC_CONVERT_VERIFY") -> Answer:
    return call(sandbox, transaction, EMPTY_GUID, Requestor=requestor, User=requestor)


def _pending(sandbox) -> Answer:
    freeze(sandbox)
    guid = accept(sandbox, _document(), "PENDIENTE-1")
    return call(sandbox, "ASYNC_RETRIEVE_DOCUMENT", guid)


def _failed(sandbox) -> Answer:
    freeze(sandbox)
    broken = native_document(1_200_000).replace(b"</fx:Totales>", b"</fx:Totalez>", 1)
    guid = accept(sandbox, base64.b64encode(broken).decode(), "ROTO-1")
    advance(sandbox, "1m")
    return call(sandbox, "ASYNC_RETRIEVE_DOCUMENT", guid)


def _duplicate(sandbox) -> Answer:
    freeze(sandbox)
    document = _document()
    accept(sandbox, document, "REPETIDO-1")
    return call(sandbox, "ASYNC_CONVERT_NATIVE_XML", document, "REPETIDO-1")


def _inactive(sandbox) -> Answer:
    _overlay(sandbox, ACCOUNTS)
    return _as(sandbox, INACTIVE)


def _not_permitted(sandbox) -> Answer:
    _overlay(sandbox, ACCOUNTS)
    return _as(sandbox, LIMITED)


def _wrong_environment(sandbox) -> Answer:
    _overlay(sandbox, PRODUCTION)
    return call(sandbox, "ASYNC_CONVERT_VERIFY", EMPTY_GUID)


CASES: dict[int, Callable[..., Answer]] = {
    codes.OK: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", _document(), "ACEPTADO-1"),
    codes.REQUESTOR_INVALID: lambda sb: _as(sb, "no-es-un-guid"),
    codes.REQUESTOR_UNKNOWN: lambda sb: _as(sb, UNKNOWN),
    codes.REQUESTOR_INACTIVE: _inactive,
    codes.WRONG_ENVIRONMENT: _wrong_environment,
    codes.USER_MISMATCH: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, User=UNKNOWN),
    codes.ENTITY_NOT_ALLOWED: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, Entity="AAA010101AAA"),
    codes.USER_NAME_INVALID: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, UserName="JES900109Q90.Juan"),
    codes.USER_NAME_UNKNOWN: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, UserName="MX.JES900109Q90.Pedro"),
    codes.COUNTRY_INVALID: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, Country="GT"),
    codes.NOT_PERMITTED: _not_permitted,
    codes.TRANSACTION_UNSUPPORTED: lambda sb: call(sb, "TIMBRAR", "PGNmZGkvPg=="),
    codes.TRANSACTION_UNKNOWN: lambda sb: call(sb, "NO_EXISTE"),
    codes.DOCUMENT_MISSING: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", "", "A-1"),
    codes.DOCUMENT_NOT_BASE64: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", "QUJD=x", "A-1"),
    codes.SIZE_NOT_ALLOWED: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", _document(200_000), "CHICO-1"),
    codes.INTERNAL_ID_MISSING: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", _document(), ""),
    codes.INTERNAL_ID_TOO_LONG: lambda sb: call(sb, "ASYNC_CONVERT_NATIVE_XML", _document(), "X" * 51),
    codes.DUPLICATE_INTERNAL_ID: _duplicate,
    codes.REQUEST_ID_INVALID: lambda sb: call(sb, "ASYNC_CONVERT_VERIFY", "abc"),
    codes.REQUEST_NOT_FOUND: lambda sb: call(sb, "ASYNC_RETRIEVE_DOCUMENT", UNKNOWN),
    codes.REQUEST_PENDING: _pending,
    codes.REQUEST_FAILED: _failed,
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_is_reached_over_the_wire(sandbox, code):
    answer = CASES[code](sandbox)
    assert answer.code == code, answer.text("Response/Description")
    assert answer.ok is (code == codes.OK)
    if code != codes.OK:  # every refusal says what went wrong, in the catalogue's words
        assert answer.text("Response/Description")


def test_the_cases_cover_the_catalogue_exactly():
    assert set(CASES) == set(codes.MESSAGES)


def test_no_module_but_the_catalogue_writes_a_code():
    """Rules and wire name codes from ``codes.py``; a literal 31xx elsewhere would escape this test."""
    folder = Path(codes.__file__).parent
    found = []
    for path in sorted(folder.rglob("*.py")):
        if path.name == "codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
                continue
            if (isinstance(node.value, int) and 3100 <= node.value < 3200) or (
                isinstance(node.value, str) and re.fullmatch(r"31\d\d", node.value)
            ):
                found.append(f"{path.relative_to(folder)}:{node.lineno}: {node.value!r}")
    assert found == []
