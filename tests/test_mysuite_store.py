"""MYSuite state outside the shared test server: documents as files, links across processes sharing a
database, and the background converter."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from lxml import etree
from test_mysuite import PATH, Answer, envelope

from mockserver.providers.mysuite.models import blobs_for
from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.testing.mysuite import native_document


@pytest.fixture(scope="module")
def document() -> str:
    return base64.b64encode(native_document(1_200_000)).decode("ascii")


def _post(url: str, body: bytes) -> Answer:
    return Answer(requests.post(url + PATH, data=body, headers={"Content-Type": "text/xml"}, timeout=60))


def test_documents_are_files_and_links_work_on_every_process_of_one_database(tmp_path, document):
    settings = Settings(port=0, data_dir=tmp_path / "data")
    with BackgroundServer(settings) as first, BackgroundServer(settings) as second:
        url_a, url_b = first.url + "/__session/files", second.url + "/__session/files"
        assert requests.post(url_a + "/__admin/clock", json={"freeze": "2026-02-01T09:00:00"}, timeout=10).ok
        accepted = _post(url_a, envelope("ASYNC_CONVERT_NATIVE_XML", document, "ARCHIVO-1"))
        guid = accepted.data(1)
        folder = tmp_path / "data" / "mysuite"
        assert [p.suffix for p in folder.iterdir()] == [".native"]
        # The other process sees the same job and the same internal number.
        assert _post(url_b, envelope("ASYNC_CONVERT_NATIVE_XML", document, "ARCHIVO-1")).code == 3196

        assert requests.post(url_b + "/__admin/clock", json={"advance": "1m"}, timeout=30).ok
        retrieved = _post(url_b, envelope("ASYNC_RETRIEVE_DOCUMENT", guid))
        assert retrieved.ok, retrieved.text("Response/Description")
        assert sorted(p.suffix for p in folder.iterdir()) == [".cfdi"]  # the native document is gone

        # A link made by one process downloads from the other: the secret lives in the database.
        link = retrieved.decoded(1).decode().replace(url_b, url_a)
        got = requests.get(link, timeout=30)
        assert got.status_code == 200 and got.content[:2] == b"PK"
        assert sorted(p.name.split(".", 1)[1] for p in folder.iterdir()) == ["cfdi", "xml.zip"]

        assert requests.post(url_a + "/__admin/reset", timeout=30).ok
        assert blobs_for(first.runtime).sweep(older_than_s=0) == 2
        assert list(folder.iterdir()) == []
        # The reset also let the session's clock run again: bring it back before the link's expiry.
        assert requests.post(url_a + "/__admin/clock", json={"freeze": "2026-02-01T09:05:00"}, timeout=10).ok
        gone = requests.get(link, timeout=30)
        assert gone.status_code == 404 and guid in gone.text


FAST = """
providers:
  mysuite:
    processing: {base: 0s, per_mb: 0s}
"""


def test_the_converter_finishes_jobs_without_being_asked(sandbox, document):
    assert sandbox.admin("PUT", "scenarios", data=FAST, headers={"Content-Type": "application/yaml"}).ok
    body = envelope("ASYNC_CONVERT_NATIVE_XML", document, "SOLO-1")
    guid = Answer(sandbox.post_soap(PATH, body)).data(1)
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline:
        (job,) = sandbox.admin("GET", "jobs").json()["mysuite"]["jobs"]
        state = job["state"]
        if state != "pending":
            break
        time.sleep(0.1)
    assert state == "done" and job["request_id"] == guid
    verified = Answer(sandbox.post_soap(PATH, envelope("ASYNC_CONVERT_VERIFY", guid)))
    record = etree.fromstring(verified.decoded(1))
    assert record.findtext("Status") == "2" and record.findtext("Uuid") == guid
    assert record.findtext("DocumentGUID") == job["uuid"].lower()
