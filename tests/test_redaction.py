"""Secrets never reach the journal, the admin API, the dashboard's data, the logs or the SQLite file.

Whatever the body: UTF-8 or UTF-16, cut at any byte, longer than what the journal keeps, with the
secret in CDATA (holding ``</``), split by comments, or around nested elements. Secret values are
made of Greek letters, which appear nowhere else in these requests: any Greek letter found in what
the sandbox keeps is a leak, however short.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.app import create_app, runtime_of
from mockserver.journal import BODY_LIMIT
from mockserver.redaction import SECRET_FIELDS, decode_body, redact
from mockserver.settings import Settings

GREEK = "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SF_NS = "http://ws.cfdi.solucionfactible.com"
XPD_NS = "http://service.xpd.mx/"
# What the dashboard page reads, besides the page itself.
DASHBOARD_DATA = ("requests", "requests?bodies=0", "jobs", "mail", "registry", "timers", "health", "scenarios", "sessions",
                  "clock", "solucionfactible/cancellations")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "utf-16-le-declared")


@dataclass
class Served:
    client: object
    data_dir: object
    logs: io.StringIO


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("redaction")
    app = create_app(Settings(data_dir=data_dir, memory=False, log_level="debug"))
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Served(app.test_client(), data_dir, logs)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        runtime_of(app).close()


# ---- Building requests --------------------------------------------------------------------------


def _escaped(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def written(value: str, style: str, tag: str) -> str:
    """``value`` as element content in one of the ways a client (or an attacker) may write it."""
    half = len(value) // 2
    if style == "text":
        return _escaped(value)
    if style == "cdata":
        return _cdata(value)
    if style == "comment":  # a comment holding the end tag splits the value
        return _escaped(value[:half]) + f"<!-- </{tag}> -->" + _escaped(value[half:])
    if style == "nested":
        return f"<x:a xmlns:x='urn:x'>{_escaped(value[:half])}<{tag}>{_escaped(value[half:])}</{tag}></x:a>!"
    if style == "mixed":
        return _escaped(value[:half]) + _cdata(f"</{tag}>" + value[half:]) + "<?pi </" + tag + ">?>"
    raise AssertionError(style)


def envelope(provider: str, secrets: dict[str, str], styles: dict[str, str], padding: int) -> str:
    """A request whose secret fields hold ``secrets``; ``padding`` characters of base64 in a public field."""
    pad = ("MIIF" * (padding // 4 + 1))[:padding]
    if provider == "expidetufactura":
        body = (f'<x:cancelar xmlns:x="{XPD_NS}"><usuario>pruebas</usuario>'
                f"<xmlBytes>{pad}</xmlBytes><token>{written(secrets['token'], styles['token'], 'token')}</token>"
                "</x:cancelar>")
    else:
        fields = "".join(f"<sf:{name}>{written(value, styles[name], 'sf:' + name)}</sf:{name}>"
                         for name, value in secrets.items())
        body = (f'<sf:cancelar xmlns:sf="{SF_NS}"><sf:usuario>testing@solucionfactible.com</sf:usuario>'
                f"<sf:rfcEmisor>EKU9003173C9</sf:rfcEmisor><sf:uuids>{uuid.uuid4()}|02|</sf:uuids>"
                f"<sf:derCertCSD>{pad}</sf:derCertCSD>{fields}</sf:cancelar>")
    return f'<e:Envelope xmlns:e="{SOAP11}"><e:Body>{body}</e:Body></e:Envelope>'


def encoded(text: str, encoding: str) -> tuple[bytes, str]:
    """The document's bytes and the charset its Content-Type names."""
    declaration = '<?xml version="1.0" encoding="{}"?>'
    if encoding == "utf-8":
        return (declaration.format("UTF-8") + text).encode(), "utf-8"
    if encoding == "utf-8-sig":
        return (text).encode("utf-8-sig"), "utf-8"
    if encoding == "utf-16":
        return (declaration.format("UTF-16") + text).encode("utf-16"), "utf-16"
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + (declaration.format("UTF-16") + text).encode("utf-16-be"), "utf-16"
    if encoding == "utf-16-le-declared":  # no BOM: the declaration's byte pattern tells
        return (declaration.format("UTF-16") + text).encode("utf-16-le"), "utf-16"
    raise AssertionError(encoding)


def post(served: Served, session: str, provider: str, body: bytes, charset: str):
    path, action = (("/cancelacion/CancelacionPruebas", '""') if provider == "expidetufactura"
                    else ("/ws/services/Cancelacion", "urn:cancelar"))
    return served.client.post(f"/__session/{session}{path}", data=body,
                              headers={"Content-Type": f"text/xml; charset={charset}", "SOAPAction": action})


# ---- Looking for leaks --------------------------------------------------------------------------


def kept_texts(served: Served, session: str) -> dict[str, str]:
    """Everything a user of the sandbox can read back about ``session``."""
    texts = {"dashboard page": served.client.get(f"/__session/{session}/__admin/").get_data(as_text=True)}
    for path in DASHBOARD_DATA:
        response = served.client.get(f"/__session/{session}/__admin/{path}")
        data = response.get_data(as_text=True)
        if response.is_json:  # \u escapes decoded: a leak must not hide behind JSON escaping
            data = json.dumps(response.get_json(), ensure_ascii=False)
        texts[f"admin /{path}"] = data
    with runtime_of_client(served).store.read() as conn:
        rows = conn.execute("SELECT * FROM journal WHERE session = ?", (session,)).fetchall()
    texts["journal table"] = json.dumps([dict(r) for r in rows], ensure_ascii=False)
    texts["logs"] = served.logs.getvalue()
    return texts


def runtime_of_client(served: Served):
    return runtime_of(served.client.application)


def assert_no_greek(texts: dict[str, str]) -> None:
    for place, text in texts.items():
        leaked = sorted({c for c in text if c in GREEK})
        assert not leaked, f"secret characters {''.join(leaked)!r} in the {place}"


def assert_not_in_files(served: Served, secrets: list[str]) -> None:
    """No three consecutive characters of a secret, in UTF-8 or UTF-16, anywhere in the database files."""
    blobs = [p.read_bytes() for p in sorted(served.data_dir.iterdir()) if p.name.startswith("pac-mock.sqlite3")]
    assert blobs
    for secret in secrets:
        for i in range(max(1, len(secret) - 2)):
            window = secret[i : i + 3]
            # Three markup characters ('<<&') say nothing about a secret: index pages hold such bytes
            # (a row id of 60 is '<'), so only windows with a letter or digit are looked for.
            if len(window) < 3 or not any(c.isalnum() for c in window):
                continue
            for codec in ("utf-8", "utf-16-le", "utf-16-be"):
                needle = window.encode(codec)
                assert not any(needle in blob for blob in blobs), f"{window!r} ({codec}) in the SQLite file"


# ---- The named cases ----------------------------------------------------------------------------


def _session() -> str:
    return "red-" + uuid.uuid4().hex[:10]


SECRETS = {"password": "πασσωορδ", "derKeyCSD": "κλειδιπρωτο", "contrasenaCSD": "κωδικοςκλειδιου"}
TEXT = {name: "text" for name in SECRETS}


def test_a_utf16_body_over_the_journal_limit_keeps_no_secret(served):
    session = _session()
    # Secrets first, then the padding that takes the body over what the journal keeps.
    text = envelope("solucionfactible", SECRETS, TEXT, padding=0).replace(
        "</sf:cancelar>", f"<sf:derCertCSD>{'MIIF' * 20_000}</sf:derCertCSD></sf:cancelar>")
    body, charset = encoded(text, "utf-16")
    assert len(body) > BODY_LIMIT
    post(served, session, "solucionfactible", body, charset)
    texts = kept_texts(served, session)
    assert "***" in texts["journal table"] and "sf:password" in texts["journal table"]
    assert_no_greek(texts)
    assert_not_in_files(served, list(SECRETS.values()))


@pytest.mark.parametrize("inside", ["password", "derKeyCSD"])
def test_a_body_cut_inside_a_secret_keeps_none_of_it(served, inside):
    session = _session()
    text = envelope("solucionfactible", SECRETS, TEXT, padding=10)
    body = text.encode()
    cut = body.index(SECRETS[inside].encode()) + 3  # one and a half Greek letters in
    post(served, session, "solucionfactible", body[:cut], "utf-8")
    texts = kept_texts(served, session)
    assert f"<sf:{inside}>***" in texts["journal table"]
    assert_no_greek(texts)


def test_a_cdata_password_holding_an_end_tag_keeps_no_tail(served):
    session = _session()
    secrets = {**SECRETS, "password": "αβγ</sf:password>δεζ"}
    text = envelope("solucionfactible", secrets, {**TEXT, "password": "cdata"}, padding=10)
    # Unparseable (no end of envelope) and long: no parser helps here.
    text = text.replace("</e:Envelope>", "") + "<!--" + "x" * BODY_LIMIT + "-->"
    post(served, session, "solucionfactible", text.encode(), "utf-8")
    assert_no_greek(kept_texts(served, session))


# ---- Every cut, every style ---------------------------------------------------------------------


def _windows(body: bytes, charset_text: str, encoding: str, secrets: dict[str, str]) -> list[int]:
    """Byte offsets from just before each secret element's start tag to just after its end tag."""
    probe = "utf-16-be" if encoding == "utf-16-be-bom" else "utf-16-le" if "16" in encoding else "utf-8"
    offsets: set[int] = set()
    for name in secrets:
        start = body.find(f"<sf:{name}>".encode(probe))
        end = body.find(f"</sf:{name}>".encode(probe), start) + len(f"</sf:{name}>".encode(probe))
        assert start > 0 and end > start
        offsets.update(range(max(0, start - 6), min(len(body), end + 6) + 1))
    return sorted(offsets)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_every_cut_around_every_secret_field(served, encoding):
    secrets = {"password": "αβ</γδ", "derKeyCSD": "εζηθ", "contrasenaCSD": "ικλμ"}
    styles = {"password": "cdata", "derKeyCSD": "comment", "contrasenaCSD": "nested"}
    body, charset = encoded(envelope("solucionfactible", secrets, styles, padding=8), encoding)
    session = _session()
    for offset in _windows(body, charset, encoding, secrets):
        post(served, session, "solucionfactible", body[:offset], charset)
    texts = kept_texts(served, session)
    assert texts["journal table"].count('"session"') == len(_windows(body, charset, encoding, secrets))
    assert_no_greek(texts)
    assert_not_in_files(served, list(secrets.values()))


secret_values = st.text(alphabet=st.sampled_from(GREEK + "<>/&]!-[ "), min_size=1, max_size=24).filter(
    lambda s: any(c in GREEK for c in s))
styles_st = st.sampled_from(["text", "cdata", "comment", "nested", "mixed"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(
    provider=st.sampled_from(["solucionfactible", "solucionfactible-async", "expidetufactura"]),
    values=st.lists(secret_values, min_size=3, max_size=3),
    styles=st.lists(styles_st, min_size=3, max_size=3),
    encoding=st.sampled_from(ENCODINGS),
    big=st.booleans(),
    field_index=st.integers(0, 2),
    around=st.integers(-8, 8),
    where=st.sampled_from(["start", "inside", "end", "whole"]),
)
def test_no_secret_survives_any_body(served, provider, values, styles, encoding, big, field_index, around, where):
    if provider == "expidetufactura":
        names = ["token"]
    elif provider == "solucionfactible-async":
        names = ["password", "csdKey", "csdPassword"]
    else:
        names = ["password", "derKeyCSD", "contrasenaCSD"]
    secrets = dict(zip(names, values, strict=False))
    style_of = dict(zip(names, styles, strict=False))
    target = names[field_index % len(names)]
    tag = target if provider == "expidetufactura" else f"sf:{target}"
    probe = "utf-16-be" if encoding == "utf-16-be-bom" else "utf-16-le" if "16" in encoding else "utf-8"
    small, _ = encoded(envelope(provider, secrets, style_of, padding=8), encoding)
    marks = {"start": f"<{tag}>", "end": f"</{tag}>"}
    mark = marks.get(where, f"<{tag}>")
    at = small.find(mark.encode(probe)) + (len(mark.encode(probe)) if where == "inside" else 0)
    assert at > 0
    width = 1 if probe == "utf-8" else 2
    if big:  # pad the public field so that the journal's own limit falls ``around`` characters from the mark
        pad_chars = max(8, (BODY_LIMIT - at) // width + 8 - around)
        body, charset = encoded(envelope(provider, secrets, style_of, padding=pad_chars), encoding)
        assert len(body) > BODY_LIMIT
    else:
        body, charset = small, ("utf-8" if probe == "utf-8" else "utf-16")
        if where != "whole":
            body = body[: max(0, at + around)]
    session = _session()
    post(served, session, "expidetufactura" if provider == "expidetufactura" else "solucionfactible", body, charset)
    assert_no_greek(kept_texts(served, session))
    assert_not_in_files(served, list(secrets.values()))


# ---- The text pass itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("<a><password>x</password></a>", "<a><password>***</password></a>"),
        ("<a><password/><b>x</b></a>", "<a><password/><b>x</b></a>"),
        ("<a><password></password></a>", "<a><password></password></a>"),
        ("<a><p:Password a='1'>x<![CDATA[</p:Password>]]>y</p:Password>z", "<a><p:Password a='1'>***</p:Password>z"),
        ("<a><token>x<!-- </token> -->y</token>", "<a><token>***</token>"),
        ("<a><token>x<token>y</token>z</token>w", "<a><token>***</token>w"),
        ("<a><passw", "<a><passw"),
        ("<a><password", "<a><password"),
        ("<a><password a='x", "<a><password***"),
        ("<a><password>abc", "<a><password>***"),
        ("<a><password>ab<![CDATA[c", "<a><password>***"),
        ("<!-- <password> -->x", "<!-- <password>***"),  # blanks more than needed, never less
        ("<wsse:Password Type='t'>x</wsse:Password><wsse:UsernameToken>u</wsse:UsernameToken>",
         "<wsse:Password Type='t'>***</wsse:Password><wsse:UsernameToken>u</wsse:UsernameToken>"),
    ],
)
def test_redact_cases(text, kept):
    assert redact(text) == kept


def test_secret_names_live_in_one_place():
    from mockserver.providers import all_providers
    from mockserver.soap.service import SoapService

    declared = SECRET_FIELDS.union(*(p.secrets for p in all_providers()))
    assert {"password", "csdKey", "csdPassword", "derKeyCSD", "contrasenaCSD", "token"} <= declared
    assert "secret_fields" not in SoapService.__dataclass_fields__


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("<a>é</a>".encode("utf-16"), "<a>é</a>"),
        ("<a>é</a>".encode("utf-16-be"), "<a>é</a>"),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1"),
         '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'),
        (b"\xef\xbb\xbf<a>\xff</a>", "<a>\ufffd</a>"),
        ("<a>é</a>".encode("utf-32"), "<a>é</a>"),
    ],
)
def test_decode_body_reads_as_a_parser_does(data, text):
    assert decode_body(data) == text


def test_decode_body_keeps_nothing_it_cannot_read():
    assert decode_body(" \n<a><password>x</password></a>".encode("utf-16-le")) is None  # no BOM, no "<"
    assert decode_body(b'<?xml version="1.0" encoding="base64"?><a/>') == '<?xml version="1.0" encoding="base64"?><a/>'


# ---- Bodies the SOAP layer never understood -------------------------------------------------------

MTOM_SECRETS = {"pw": "μυστικοπασ", "key": "ιδιωτικοκλειδι"}


def _mtom(root_extra: str) -> tuple[bytes, str]:
    """An MTOM package whose password and private key travel as XOP parts; ``root_extra`` breaks it."""
    boundary = "MIMEBoundary_pacmock"
    root = (
        f'<s:Envelope xmlns:s="{SOAP11}" xmlns:sf="{SF_NS}" xmlns:xop="http://www.w3.org/2004/08/xop/include">'
        "<s:Body><sf:cancelarAsincrono><sf:usuario>testing@solucionfactible.com</sf:usuario>"
        '<sf:password><xop:Include href="cid:pw"/></sf:password>'
        '<sf:csdKey><xop:Include href="cid:key"/></sf:csdKey>'
        f"{root_extra}</sf:cancelarAsincrono></s:Body></s:Envelope>"
    )
    parts = [("root", 'application/xop+xml; charset=UTF-8; type="text/xml"', root.encode())]
    parts += [(cid, "application/octet-stream", value.encode()) for cid, value in MTOM_SECRETS.items()]
    body = b"".join(
        f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{cid}>\r\n\r\n".encode() + data + b"\r\n"
        for cid, ctype, data in parts
    ) + f"--{boundary}--\r\n".encode()
    content_type = (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                    'start="<root>"; start-info="text/xml"')
    return body, content_type


@pytest.mark.parametrize(
    "root_extra",
    ['<sf:uuid><xop:Include href="cid:missing"/></sf:uuid>', "<other:thing xmlns:other='urn:x'/>"],
    ids=["include-of-a-missing-part", "unknown-child"],
)
def test_an_mtom_request_refused_before_dispatch_keeps_no_part(served, root_extra):
    session = _session()
    body, content_type = _mtom(root_extra)
    served.client.post(f"/__session/{session}/ws/services/Cancelacion", data=body,
                       headers={"Content-Type": content_type, "SOAPAction": "urn:cancelarAsincrono"})
    texts = kept_texts(served, session)
    assert "cancelarAsincrono" in texts["journal table"]  # the envelope is kept, its parts are not
    assert_no_greek(texts)
    assert_not_in_files(served, list(MTOM_SECRETS.values()))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "usuario=u&password=φορμπασ&csdKey=κλειδι"),
        ("application/json", '{"usuario": "u", "password": "τζεισονπασ"}'),
        ("text/xml", "password=χωριςξμλ"),
    ],
    ids=["form", "json", "text-that-is-not-xml"],
)
def test_a_body_that_is_not_xml_is_not_kept(served, content_type, body):
    session = _session()
    served.client.post(f"/__session/{session}/ws/services/Cancelacion", data=body.encode(),
                       headers={"Content-Type": content_type})
    texts = kept_texts(served, session)
    assert "not XML" in texts["journal table"]
    assert_no_greek(texts)
