"""A web page on another origin cannot change the sandbox through the browser of someone running it.

The sandbox usually runs on a developer's machine with no admin token. A page from any other origin
can make that browser send "simple" requests (POST with no body, ``text/plain``, form encodings) to
``127.0.0.1``: admin writes must refuse them, while the dashboard's own script and non-browser
clients (the test client, curl) keep working.
"""

from __future__ import annotations

import http.server
import threading
import uuid

import pytest
import requests
from test_dashboard import SF_ENVELOPE, Page, sf_cancel_envelope

from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.testing.client import AdminClient

EVIL_YAML = ("version: 1\nrules: [{id: evil, provider: mysuite, outcome: {fault: {kind: http_status, "
             "status: 503}}}]\n")

ATTACK = """<!doctype html>
<html><head><title>start</title></head><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="yaml" target="sink1" method="post" enctype="text/plain" action="{target}/__session/{session}/__admin/scenarios">
<input id="yaml-field" value=""></form>
<form id="reset" target="sink2" method="post" action="{target}/__admin/reset"><input name="session" value="{session}"></form>
<form id="accept" target="sink3" method="post"
      action="{target}/__session/{session}/__admin/solucionfactible/cancellations/{uuid}/accept"></form>
<script>
const T = "{target}", S = "{session}";
const yaml = {yaml_js};
// A text/plain form sends "name=value": the name carries the YAML and "=" ends up in a comment.
document.getElementById("yaml-field").name = yaml + "#";
function send(path, init) {{
  return fetch(T + path, {{mode: "no-cors", credentials: "include", ...init}}).then(() => "sent", (e) => "error " + e);
}}
function submit(id, sink) {{
  return new Promise((resolve) => {{
    document.querySelector(`iframe[name=${{sink}}]`).onload = () => resolve("loaded");
    document.getElementById(id).submit();
  }});
}}
(async () => {{
  const results = [];
  results.push(await send("/__admin/reset", {{method: "POST"}}));
  results.push(await send(`/__session/${{S}}/__admin/reset`, {{method: "POST"}}));
  results.push(await send(`/__session/${{S}}/__admin/scenarios`,
                          {{method: "POST", headers: {{"Content-Type": "text/plain"}}, body: yaml}}));
  results.push(await send(`/__session/${{S}}/__admin/clock`,
                          {{method: "POST", headers: {{"Content-Type": "text/plain"}}, body: '{{"advance": "72h"}}'}}));
  results.push(await send(`/__session/${{S}}/__admin/solucionfactible/cancellations/{uuid}/deny`, {{method: "POST"}}));
  results.push(await submit("yaml", "sink1"));
  results.push(await submit("reset", "sink2"));
  results.push(await submit("accept", "sink3"));
  document.title = "done " + results.join(",");
}})();
</script></body></html>
"""


@pytest.fixture(scope="module")
def target():
    with BackgroundServer(Settings(port=0, memory=True)) as srv:
        yield srv


@pytest.fixture
def attacker_site():
    """Serves one page, set per test, from its own port (another origin than the sandbox's)."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, b"not here")
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], pages
    finally:
        server.shutdown()
        server.server_close()


def _state(base: str, session: str, cancelled: str) -> dict:
    admin = AdminClient(base, session)
    everyone = AdminClient(base)
    return {
        "journal": admin.count(),
        "default journal": everyone.count(),
        "overlay": admin.call("GET", "scenarios")["overlay"],
        "clock": admin.call("GET", "clock")["mode"],
        "cancellation": requests.get(f"{admin.url}/__admin/solucionfactible/cancellations/{cancelled}",
                                     timeout=10).json().get("status"),
    }


@pytest.mark.browser
@pytest.mark.parametrize("page_host", ["localhost", "127.0.0.1"], ids=["cross-site", "same-site-other-port"])
def test_a_page_on_another_origin_changes_nothing(target, attacker_site, page_host, tmp_path):
    session = "victim-" + uuid.uuid4().hex[:8]
    base = f"{target.url}/__session/{session}"
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    answer = requests.post(base + "/ws/services/Cancelacion", data=sf_cancel_envelope(), timeout=30,
                           headers={**headers, "SOAPAction": "urn:cancelarAsincrono"})
    assert answer.status_code == 200, answer.text
    cancelled = "6F1A2B3C-0000-4000-8000-00000000DA5B"
    requests.post(target.url + "/ws/services/Cancelacion", data=SF_ENVELOPE, timeout=30,
                  headers={**headers, "SOAPAction": "urn:getStatusCancelacionAsincrona"})
    before = _state(target.url, session, cancelled)
    assert before["journal"] == 1 and before["default journal"] >= 1 and before["overlay"] is None

    port, pages = attacker_site
    pages["/attack.html"] = ATTACK.format(
        target=target.url, session=session, uuid=cancelled, yaml_js=repr(EVIL_YAML)
    ).encode()
    page = Page(f"http://{page_host}:{port}/attack.html", tmp_path / "profile")
    try:
        title = page.wait_for("document.title.startsWith('done') && document.title", timeout=30)
    finally:
        page.close()
    assert title == "done " + ",".join(["sent"] * 5 + ["loaded"] * 3), title  # every request went out
    assert _state(target.url, session, cancelled) == before


def test_the_sandboxs_own_page_and_clients_still_write(target):
    session = "own-" + uuid.uuid4().hex[:8]
    base = f"{target.url}/__session/{session}"
    same = {"Origin": target.url, "Sec-Fetch-Site": "same-origin"}
    # What the dashboard's script sends (JSON, same origin) and what curl or the test client send.
    assert requests.post(base + "/__admin/clock", json={"advance": "1h"}, headers=same, timeout=10).status_code == 200
    assert requests.post(base + "/__admin/reset", headers=same, timeout=10).status_code == 200
    assert requests.post(base + "/__admin/reset", timeout=10).status_code == 200
    assert requests.put(base + "/__admin/scenarios", data=EVIL_YAML, timeout=10).status_code == 200
    AdminClient(target.url, session).scenario(EVIL_YAML)
    AdminClient(target.url, session).clock.advance("1h")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://127.0.0.1:1"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ],
)
def test_admin_writes_refuse_what_only_a_foreign_page_would_send(target, headers, status):
    session = "refuse-" + uuid.uuid4().hex[:8]
    base = f"{target.url}/__session/{session}"
    requests.post(base + "/__admin/clock", json={"freeze": "2026-01-10T10:00:00"}, timeout=10)
    for method, path in (("POST", "reset"), ("POST", "clock"), ("PUT", "scenarios"), ("DELETE", "mail")):
        response = requests.request(method, f"{base}/__admin/{path}", data=b"", headers=headers, timeout=10)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"]
    assert requests.get(base + "/__admin/clock", headers=headers, timeout=10).json()["mode"] == "frozen"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_rebound_host_name_reaches_no_admin_route(method):
    """DNS rebinding: a page whose own name now resolves to 127.0.0.1 is same-origin with the sandbox.
    Bound to loopback without a token, the admin API answers loopback names only."""
    with BackgroundServer(Settings(port=0, memory=True)) as server:
        rebound = {"Host": f"attacker.example:{server.port}", "Origin": f"http://attacker.example:{server.port}",
                   "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
        path = "requests" if method == "GET" else "reset"
        response = requests.request(method, f"{server.url}/__admin/{path}", headers=rebound, data="{}", timeout=5)
        assert response.status_code == 403
        assert "loopback" in response.json()["message"]
        assert requests.get(f"{server.url}/__admin/health", headers={"Host": "attacker.example"},
                            timeout=5).status_code == 200  # a health check may use any name
        for name in ("localhost", f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
            assert requests.get(f"{server.url}/__admin/requests", headers={"Host": name}, timeout=5).ok, name


def test_a_token_or_a_public_bind_keeps_other_host_names():
    other = {"Host": "pac-mock:8080"}  # a compose service name, a provider's host name mapped here
    with BackgroundServer(Settings(port=0, memory=True, admin_token="t0k")) as server:
        response = requests.get(f"{server.url}/__admin/requests", timeout=5,
                                headers={**other, "Authorization": "Bearer t0k"})
        assert response.ok
    with BackgroundServer(Settings(host="0.0.0.0", port=0, memory=True)) as server:
        assert requests.get(f"{server.url}/__admin/requests", headers=other, timeout=5).ok
