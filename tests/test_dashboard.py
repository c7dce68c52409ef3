"""The dashboard at /__admin/: served safely, and rendered for real by a headless Chromium."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
import requests

from mockserver.sat import pki
from mockserver.server import BackgroundServer
from mockserver.settings import Settings

STATIC = Path(__file__).resolve().parents[1] / "mockserver" / "admin" / "static"
TOKEN = "dash-board-token-5150"
SF_PASSWORD = "timbrado.SF.16672"
# Markup that must come out as text: a scenario fault carries it into the journal summary.
PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
WINDOW = (1400, 1000)

SF_ENVELOPE = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="http://ws.cfdi.solucionfactible.com">'
    "<e:Body><sf:getStatusCancelacionAsincrona><sf:usuario>testing@solucionfactible.com</sf:usuario>"
    f"<sf:password>{SF_PASSWORD}</sf:password>"
    "<sf:transactionId>C5E58106-6C1E-41C9-A211-FB8BAD1CABB0</sf:transactionId>"
    "</sf:getStatusCancelacionAsincrona></e:Body></e:Envelope>"
)
ETF_ENVELOPE = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="http://service.xpd.mx/">'
    "<e:Body><x:cancelar><usuario>pruebas</usuario><token>123456</token><xmlBytes>PG5vdC14bWw=</xmlBytes>"
    "</x:cancelar></e:Body></e:Envelope>"
)
MYSUITE_ENVELOPE = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://www.fact.com.mx/schema/ws">'
    "<e:Body><m:RequestTransaction><m:Requestor>0c320b03-d4f1-47bc-9fb4-77995f9bf33e</m:Requestor>"
    "<m:Transaction>ASYNC_CONVERT_VERIFY</m:Transaction><m:Country>MX</m:Country>"
    "<m:Entity>JES900109Q90</m:Entity><m:User>0c320b03-d4f1-47bc-9fb4-77995f9bf33e</m:User>"
    "<m:UserName>MX.JES900109Q90.Juan</m:UserName><m:Data1>0c320b03-d4f1-47bc-9fb4-77995f9bf33e</m:Data1>"
    "</m:RequestTransaction></e:Body></e:Envelope>"
)
OVERLAY = {
    "version": 1,
    "rules": [{"id": "dashboard-xss", "provider": "mysuite",
               "outcome": {"fault": {"kind": "soap_fault", "faultstring": PAYLOAD}}}],
}


CANCELLED_UUID = "6F1A2B3C-0000-4000-8000-00000000DA5B"


def sf_cancel_envelope() -> str:
    csd = pki.fixture("csd_moral")
    return (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:cancelarAsincrono>'
        f"<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>{SF_PASSWORD}</sf:password>"
        f"<sf:uuid>{CANCELLED_UUID}|02|</sf:uuid><sf:rfcEmisor>{csd.rfc}</sf:rfcEmisor>"
        "<sf:emailNotifica>facturas@example.com</sf:emailNotifica>"
        f"<sf:csdCer>{base64.b64encode(csd.cer_bytes()).decode()}</sf:csdCer>"
        f"<sf:csdKey>{base64.b64encode(csd.key_bytes()).decode()}</sf:csdKey>"
        f"<sf:csdPassword>{csd.password}</sf:csdPassword>"
        "</sf:cancelarAsincrono></e:Body></e:Envelope>"
    )


def chromium_binary() -> str | None:
    for name in (os.environ.get("PAC_MOCK_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def render(url: str, tmp: Path, *, screenshot: Path | None = None) -> str:
    """The page's DOM after its script ran (and a PNG when asked), from a headless Chromium."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary (install the Debian 'chromium' package, or set PAC_MOCK_CHROMIUM)")
    profile = tmp / f"profile-{uuid.uuid4().hex[:6]}"
    cmd = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars", "--virtual-time-budget=5000", "--dump-dom",
    ]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    result = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def guarded():
    """A server whose admin API needs a token, as one exposed on a network would."""
    with BackgroundServer(Settings(port=0, memory=True, admin_token=TOKEN)) as srv:
        yield srv


def _text(doc, element_id: str) -> str:
    found = doc.get_element_by_id(element_id)
    return found.text_content().strip()


# ---- Served page --------------------------------------------------------------------------------


def test_page_and_assets_are_served_at_the_top_and_in_a_session(sandbox):
    for base in (sandbox.root, sandbox.url):
        page = requests.get(base + "/__admin/", timeout=10)
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert 'src="static/dashboard.js"' in page.text  # relative, so the session prefix carries over
        for asset, kind in (("dashboard.js", "javascript"), ("dashboard.css", "text/css")):
            response = requests.get(f"{base}/__admin/static/{asset}", timeout=10)
            assert response.status_code == 200 and kind in response.headers["Content-Type"]
    bare = requests.get(sandbox.url + "/__admin", timeout=10, allow_redirects=False)
    assert bare.status_code in (301, 308)
    assert bare.headers["Location"].endswith(f"/__session/{sandbox.session}/__admin/")


def test_the_page_is_open_but_its_data_needs_the_token(guarded):
    assert requests.get(guarded.url + "/__admin/", timeout=10).status_code == 200
    assert requests.get(guarded.url + "/__admin/requests", timeout=10).status_code == 401
    ok = requests.get(guarded.url + "/__admin/requests", headers={"X-Admin-Token": TOKEN}, timeout=10)
    assert ok.status_code == 200


def test_script_never_writes_markup():
    script = (STATIC / "dashboard.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script
    html = (STATIC / "dashboard.html").read_text()
    # No inline script or event handler attributes (the page's CSP would block them anyway).
    assert "<script>" not in html and not re.search(r"<[^>]*\son\w+\s*=", html)


# ---- Rendered page ------------------------------------------------------------------------------


@pytest.fixture
def busy_session(guarded):
    """A session with real journal entries from the three providers, a Solución Factible cancellation
    that resolved (job, SAT registry entry, notification e-mail), a frozen clock and an overlay."""
    session = "dash-" + uuid.uuid4().hex[:8]
    base = f"{guarded.url}/__session/{session}"
    auth = {"X-Admin-Token": TOKEN}
    put = requests.put(base + "/__admin/scenarios", json=OVERLAY, headers=auth, timeout=10)
    assert put.status_code == 200, put.text
    clock = requests.post(base + "/__admin/clock", json={"freeze": "2026-01-10T10:00:00"}, headers=auth, timeout=10)
    assert clock.status_code == 200
    xml = {"Content-Type": "text/xml; charset=utf-8"}
    cancel = requests.post(base + "/ws/services/Cancelacion", data=sf_cancel_envelope(), timeout=10,
                           headers={**xml, "SOAPAction": "urn:cancelarAsincrono"})
    assert [el.text for el in lxml.etree.fromstring(cancel.content).iter("{*}status")] == ["200"], cancel.text
    requests.post(base + "/ws/services/Cancelacion", data=SF_ENVELOPE, timeout=10,
                  headers={**xml, "SOAPAction": "urn:getStatusCancelacionAsincrona"})
    requests.post(base + "/cancelacion/CancelacionPruebas", data=ETF_ENVELOPE, timeout=10,
                  headers={**xml, "SOAPAction": '""'})
    requests.post(base + "/mx.com.fact.wsfront/factwsfront.asmx", data=MYSUITE_ENVELOPE, timeout=10,
                  headers={**xml, "SOAPAction": "http://www.fact.com.mx/schema/ws/RequestTransaction"})
    advanced = requests.post(base + "/__admin/clock", json={"advance": "10m"}, headers=auth, timeout=10)
    assert advanced.status_code == 200  # the cancellation resolves within 5 minutes of mock time
    journal = requests.get(base + "/__admin/requests?bodies=0", headers=auth, timeout=10).json()["requests"]
    assert [e["provider"] for e in journal] == ["mysuite", "expidetufactura", "solucionfactible", "solucionfactible"]
    return base, journal


def test_dashboard_renders_the_session_in_chromium(busy_session, tmp_path):
    base, journal = busy_session
    sf_entry = journal[-1]
    dom = render(f"{base}/__admin/?token={TOKEN}#request-{sf_entry['id']}", tmp_path)
    doc = lxml.html.fromstring(dom)

    assert doc.body.get("data-loaded") == "true", "the page's script did not finish a refresh"
    assert _text(doc, "live-text") == "live"
    assert _text(doc, "session") == "session: " + base.rsplit("/", 1)[1]

    rows = doc.get_element_by_id("journal-body").findall("tr")
    assert [r.get("data-id") for r in rows] == [str(e["id"]) for e in journal]
    cells = [[td.text_content().strip() for td in r.findall("td")] for r in rows]
    assert [c[1] for c in cells] == ["MYSuite", "Expide Tu Factura", "Solución Factible", "Solución Factible"]
    assert [c[2] for c in cells] == [e["operation"] for e in journal]
    assert [c[3] for c in cells] == [str(e["status"]) for e in journal]
    # The injected fault's markup is shown as text and never became an element.
    assert PAYLOAD in cells[0][5]
    assert not doc.xpath("//body//img") and doc.findtext(".//title") == "pac-mock dashboard"

    assert _text(doc, "clock-now") == "2026-01-10 10:10:00 CDMX"
    assert _text(doc, "clock-mode") == "frozen"
    assert _text(doc, "scenarios-status") == "valid"
    assert "dashboard-xss" in _text(doc, "overlay-text")

    # The resolved cancellation: SAT registry, notification e-mail, the provider's job table.
    registry = [[td.text_content().strip() for td in r.findall("td")]
                for r in doc.get_element_by_id("registry-body").findall("tr")]
    assert len(registry) == 1
    assert registry[0][:4] == [CANCELLED_UUID, "cancelado", pki.fixture("csd_moral").rfc, "Solución Factible"]
    assert registry[0][4].startswith("2026-01-10 10:")  # resolved in mock time, shown in Mexico City time
    mail = [[td.text_content().strip() for td in r.findall("td")]
            for r in doc.get_element_by_id("mail-body").findall("tr")]
    assert len(mail) == 1 and mail[0][1] == "facturas@example.com" and mail[0][3] == "recorded"
    jobs = doc.xpath('//div[@data-provider="solucionfactible"]')
    assert jobs and CANCELLED_UUID.lower() in jobs[0].text_content().lower()

    # The #request-<id> link opened the redacted request and its response.
    dialog = doc.get_element_by_id("detail")
    assert dialog.get("open") is not None
    request_text = _text(doc, "detail-a")
    assert "cancelarAsincrono" in request_text and "***" in request_text
    assert "Envelope" in _text(doc, "detail-b")
    for secret in (SF_PASSWORD, pki.fixture("csd_moral").password, TOKEN):
        assert secret not in dom


def test_dashboard_screenshot_is_a_drawn_page(busy_session, tmp_path):
    from PIL import Image  # fpdf2, a dependency, brings Pillow

    base, _journal = busy_session
    png = tmp_path / "dashboard.png"
    render(f"{base}/__admin/?token={TOKEN}", tmp_path, screenshot=png)
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    assert rgb.size == WINDOW
    # The stylesheet applied: the dark top bar, the grey page behind the white cards.
    assert _close(rgb.getpixel((4, 4)), (0x16, 0x20, 0x2B))
    assert _close(rgb.getpixel((6, WINDOW[1] - 6)), (0xF4, 0xF5, 0xF7))
    # Text and tables were drawn: many colours (anti-aliased glyphs), and not one flat colour.
    colours = rgb.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 200
    top = max(colours or [(0, None)], key=lambda c: c[0])[0]
    assert top < 0.8 * WINDOW[0] * WINDOW[1]
    if os.environ.get("PAC_MOCK_KEEP_SCREENSHOT"):
        shutil.copy(png, os.environ["PAC_MOCK_KEEP_SCREENSHOT"])


def _close(pixel: tuple, expected: tuple, tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def _above_protocol_fds(fd: int) -> int:
    """Move a descriptor above 3 and 4, so that putting one there cannot overwrite the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class DevToolsError(AssertionError):
    """An error answer from Chromium's DevTools protocol."""

    def __init__(self, error: dict) -> None:
        super().__init__(error)
        message = str(error.get("message", ""))
        # What an evaluation meets while the page is being replaced by another one.
        self.navigating = any(words in message for words in (
            "navigated or closed", "Execution context was destroyed", "Cannot find context"))


class Page:
    """One page in a headless Chromium, driven over the DevTools protocol on a pipe (no extra package)."""

    def __init__(self, url: str, profile: Path, timeout: float = 30) -> None:
        binary = chromium_binary()
        if binary is None:
            pytest.skip("no Chromium binary (install the Debian 'chromium' package, or set PAC_MOCK_CHROMIUM)")
        self.timeout = timeout
        to_browser_r, self._to_browser = map(_above_protocol_fds, os.pipe())
        self._from_browser, from_browser_w = map(_above_protocol_fds, os.pipe())
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        # The protocol runs on the browser's fds 3 (commands in) and 4 (answers out): put the pipe ends there.
        trampoline = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); " \
                     "os.execv(sys.argv[3], sys.argv[3:])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_browser_r), str(from_browser_w), *cmd],
            pass_fds=(to_browser_r, from_browser_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" not in self._buffer:
                ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(self._from_browser, 1 << 16) if ready else b""
                assert chunk, f"no answer from Chromium to {method}"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(answer["error"])
                return answer.get("result", {})

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, self.session)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10):
        """The expression's first truthy value within ``timeout``; asked again while the page navigates
        (the evaluation then fails with "Inspected target navigated or closed" and the like)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.js(expression)
            except DevToolsError as error:
                if not error.navigating or time.monotonic() >= deadline:
                    raise
                value = None
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def test_dashboard_buttons_drive_the_admin_api(sandbox, tmp_path):
    assert sandbox.post_soap("/ws/services/Cancelacion", SF_ENVELOPE).status_code == 200
    page = Page(f"{sandbox.url}/__admin/", tmp_path / "profile")
    clock = lambda: sandbox.admin("GET", "clock").json()  # noqa: E731
    try:
        assert page.wait_for("document.body.dataset.loaded === 'true'")
        assert page.wait_for("document.querySelectorAll('#journal-body tr').length") == 1

        page.js("document.getElementById('freeze').click()")
        assert page.wait_for("document.getElementById('clock-mode').textContent === 'frozen'")
        frozen_at = datetime.fromisoformat(clock()["frozen_at"])

        page.js("document.getElementById('advance-input').value = '2h';"
                "document.getElementById('advance-form').requestSubmit()")
        assert page.wait_for("document.getElementById('notice').textContent === 'Clock advanced 2h'")
        assert datetime.fromisoformat(clock()["frozen_at"]) - frozen_at == timedelta(hours=2)

        page.js("document.getElementById('unfreeze').click()")  # runs on from the frozen instant
        assert page.wait_for("document.getElementById('clock-mode').textContent === 'offset'")
        assert abs(clock()["offset_seconds"] - 7200) < 60

        page.js("window.confirm = () => true; document.getElementById('reset').click()")
        assert page.wait_for("document.querySelectorAll('#journal-body tr').length === 0")
        assert sandbox.admin("GET", "requests/count").json()["count"] == 0
        assert clock()["mode"] == "real"
    finally:
        page.close()


# Holds the answer to the page's next GET of the clock until window.releaseClock() is called, so that
# a refresh is under way, with the clock as it was, while the test acts.
HOLD_NEXT_CLOCK_READ = """
(() => {
  const original = window.fetch;
  let armed = true;
  window.clockHeld = false;
  window.fetch = async (input, init) => {
    const response = await original(input, init);
    const method = (init && init.method) || "GET";
    if (armed && method === "GET" && new URL(String(input)).pathname.endsWith("/__admin/clock")) {
      armed = false;
      await new Promise((resolve) => { window.releaseClock = resolve; window.clockHeld = true; });
    }
    return response;
  };
})()
"""


def test_clock_buttons_act_on_the_servers_clock_while_a_refresh_is_under_way(sandbox, tmp_path):
    """A refresh that read the clock before an action must neither undo the action's effect on the page
    nor feed a stale frozen instant to Unfreeze (it once gave an offset of -1 s instead of 2 h)."""
    page = Page(f"{sandbox.url}/__admin/", tmp_path / "profile")
    clock = lambda: sandbox.admin("GET", "clock").json()  # noqa: E731
    try:
        assert page.wait_for("document.body.dataset.loaded === 'true'")
        page.js("document.getElementById('pause').click()")  # no polling: only the test's actions refresh
        page.js("document.getElementById('freeze').click()")
        assert page.wait_for("document.getElementById('clock-mode').textContent === 'frozen'")
        frozen_at = datetime.fromisoformat(clock()["frozen_at"])

        page.js(HOLD_NEXT_CLOCK_READ)
        page.js("document.getElementById('provider-filter').dispatchEvent(new Event('change'))")
        assert page.wait_for("window.clockHeld === true")  # the server answered with the frozen instant
        page.js("document.getElementById('advance-input').value = '2h';"
                "document.getElementById('advance-form').requestSubmit()")
        assert page.wait_for("document.getElementById('notice').textContent === 'Clock advanced 2h'")
        assert datetime.fromisoformat(clock()["frozen_at"]) - frozen_at == timedelta(hours=2)

        page.js("document.getElementById('unfreeze').click()")  # the held refresh still under way
        assert page.wait_for("document.getElementById('notice').textContent === 'Clock running'")
        assert clock()["mode"] == "offset"
        assert abs(clock()["offset_seconds"] - 7200) < 60

        page.js("window.releaseClock()")
        assert page.wait_for("document.getElementById('clock-mode').textContent === 'offset'")
    finally:
        page.close()
