"""Hostile input against both servers (in-process werkzeug and the production granian): huge bodies,
entity tricks, deep nesting, processing instructions. The answer is a clear SOAP fault, quickly."""

from __future__ import annotations

import os
import socket

import pytest
import requests
from lxml import etree

from mockserver.soap.envelope import SOAP11_NS

from helpers import ServeProcess

SF = "/ws/services/Cancelacion"


@pytest.fixture(scope="module")
def granian_url(tmp_path_factory):
    with ServeProcess(tmp_path_factory.mktemp("granian")) as server:
        yield server.url


@pytest.fixture(params=["inprocess", "granian"])
def base(request, server):
    return server.url if request.param == "inprocess" else request.getfixturevalue("granian_url")


def _fault(response: requests.Response) -> str:
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP11_NS}}}Body/{{{SOAP11_NS}}}Fault")
    assert fault is not None, response.text[:300]
    return fault.findtext("faultstring")


def test_a_100_mb_body_is_refused_without_being_read(base):
    host, port = base.removeprefix("http://").split(":")
    # Only 64 KiB of the announced 100 MB is ever sent: an answer proves the rest was not awaited
    # (the socket's timeout fails the test otherwise).
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {SF} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode() + b"<" * 65536
        )
        answer = b""
        while b"</soapenv:Envelope>" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"413"
    assert b"at most 64 MB" in body
    assert requests.get(base + "/__admin/health", timeout=5).json()["status"] == "ok"


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE"),
        ('<!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd"><x/>', "DOCTYPE"),
        ('<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
         '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
         '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]><l>&f;</l>',
         "DOCTYPE"),
        ("<a>" * 100_000 + "</a>" * 100_000, "well-formed"),
        (f'<?evil run="rm -rf"?><s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><?pi x?></s:Body></s:Envelope>',
         "Body is empty"),
    ],
    ids=["xxe", "external-dtd", "billion-laughs", "deep-nesting", "processing-instructions"],
)
def test_hostile_xml_gets_a_quick_soap_fault(base, document, words):
    response = requests.post(base + SF, data=document.encode(), headers={"Content-Type": "text/xml"}, timeout=30)
    assert response.status_code == 500
    assert words in _fault(response)
    assert "root:" not in response.text  # nothing from /etc/passwd


def test_garbage_bytes_and_wrong_encodings(base):
    for data, ctype in ((os.urandom(4096), "text/xml"), ("<ñ>".encode("latin-1"), "text/xml"),
                        (b"\xff\xfe<\x00a\x00", "text/xml; charset=utf-8"), (b"<x/>", "multipart/form-data")):
        response = requests.post(base + SF, data=data, headers={"Content-Type": ctype}, timeout=10)
        assert response.status_code == 500
        assert _fault(response)
    assert requests.get(base + "/__admin/health", timeout=5).json()["status"] == "ok"
