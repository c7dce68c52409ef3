"""MYSuite ASYNC_CONVERT_NATIVE_XML with large documents: time to acceptance and the server's memory.

The document is built once (``native_document``), base64-encoded into the envelope without further
copies and posted over one connection. Memory growth is each server process's peak resident size
during the request minus its size just before; the largest growth (the worker that took the
request) is reported, and compared with the size of the native document.
"""

from __future__ import annotations

import base64
import http.client
import time
import urllib.parse
import urllib.request
import uuid

from mockserver.testing.mysuite import native_document

from .procs import MB, ProcessTree
from .workloads import MYS_HEADERS, MYS_PATH, MYS_REQUESTOR, MYS_USER_NAME, mysuite_parts

PRODUCTION_SESSION = "bench-mysuite-productivo"

# The sandbox account as a production one, so that documents up to 40 MB are accepted.
PRODUCTION_OVERLAY = f"""
providers:
  mysuite:
    environment: productivo
    accounts:
      - user: {MYS_REQUESTOR}
        name: Requestor de pruebas en productivo
        environment: productivo
        entities: [JES900109Q90]
        user_names: [{MYS_USER_NAME}]
"""


def use_production(base_url: str, session: str = PRODUCTION_SESSION) -> str:
    """Put the MYSuite account in production for ``session``; returns the session's base URL."""
    url = f"{base_url}/__session/{session}"
    req = urllib.request.Request(
        url + "/__admin/scenarios",
        data=PRODUCTION_OVERLAY.encode(),
        method="PUT",
        headers={"Content-Type": "application/yaml"},
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        response.read()
    return url


def post_document(base_url: str, tree: ProcessTree, size: int, timeout: float = 120.0) -> dict:
    """Post one native document of about ``size`` bytes; time, answer and memory growth."""
    native = native_document(size)
    doc_bytes = len(native)
    head, tail = mysuite_parts("ASYNC_CONVERT_NATIVE_XML", data2=f"BENCH-{uuid.uuid4().hex[:16]}")
    body = b"".join((head, base64.b64encode(native), tail))
    del native
    url = urllib.parse.urlsplit(base_url + MYS_PATH)
    before = tree.rss_by_pid()
    tree.reset_peaks()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request("POST", url.path, body=body, headers=MYS_HEADERS)
    response = conn.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    peaks = tree.peak_by_pid()
    growth = max((peaks[p] - before.get(p, 0) for p in peaks), default=0)
    text = answer.decode("utf-8", "replace")
    accepted = response.status == 200 and "<Result>true</Result>" in text
    return {
        "document_mb": round(doc_bytes / 1e6, 2),
        "request_mb": round(len(body) / 1e6, 2),
        "status": response.status,
        "accepted": accepted,
        "not_implemented": "not implemented" in text.lower(),
        "answer_excerpt": " ".join(text.split())[:300] if not accepted else None,
        "seconds": round(elapsed, 3),
        "rss_growth_mb": round(growth / MB, 1),
        "rss_growth_x_document": round(growth / doc_bytes, 2),
        "peak_rss_mb": round(tree.peak() / MB, 1),
    }
