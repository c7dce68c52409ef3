"""The dashboard in Chromium: each provider's own code coloured by its meaning, the rules that fired,
the session picker and what Reset says it resets."""

from __future__ import annotations

import uuid

import lxml.html
import pytest
import requests
from test_dashboard import SF_PASSWORD, TOKEN, Page, guarded, render  # noqa: F401  (guarded: a fixture)

RULED_UUID = "7A000000-0000-4000-8000-0000000000D5"
MAGIC_211 = "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0"
XML = {"Content-Type": "text/xml; charset=utf-8"}


def sf_cancel(base: str, uuid_text: str) -> None:
    body = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:cancelarAsincrono>'
            f"<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>{SF_PASSWORD}</sf:password>"
            f"<sf:uuid>{uuid_text}</sf:uuid><sf:rfcEmisor>MOC900101AB1</sf:rfcEmisor>"
            "</sf:cancelarAsincrono></e:Body></e:Envelope>")
    assert requests.post(base + "/ws/services/Cancelacion", data=body, headers=XML, timeout=10).status_code == 200


@pytest.fixture
def ruled_session(guarded):  # noqa: F811
    """Calls whose HTTP status is 200 but whose provider codes mean done, wait and refused; one answered
    by a rule."""
    session = "codes-" + uuid.uuid4().hex[:8]
    base = f"{guarded.url}/__session/{session}"
    auth = {"X-Admin-Token": TOKEN}
    overlay = {"rules": [{"id": "force-205", "provider": "solucionfactible", "match": {"uuid": RULED_UUID},
                          "outcome": {"code": 205}}]}
    assert requests.put(base + "/__admin/scenarios", json=overlay, headers=auth, timeout=10).status_code == 200
    sf_cancel(base, str(uuid.uuid4()).upper())  # 200: done
    sf_cancel(base, MAGIC_211)  # 211: in process (the built-in sf-sandbox-211 rule)
    sf_cancel(base, RULED_UUID)  # 205 by this session's rule
    refused = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
               '<x:cancelar xmlns:x="http://service.xpd.mx/"><usuario>pruebas</usuario><token>123456</token>'
               "<xmlBytes>PG5vdC14bWw+</xmlBytes></x:cancelar></e:Body></e:Envelope>")
    requests.post(base + "/cancelacion/CancelacionPruebas", data=refused, headers=XML, timeout=10)
    journal = requests.get(base + "/__admin/requests?bodies=0", headers=auth, timeout=10).json()["requests"]
    return session, base, journal


def test_provider_codes_rule_ids_and_session_picker_in_chromium(guarded, ruled_session, tmp_path):  # noqa: F811
    session, base, journal = ruled_session
    other = f"{guarded.url}/__session/other-{uuid.uuid4().hex[:6]}"
    sf_cancel(other, str(uuid.uuid4()).upper())
    doc = lxml.html.fromstring(render(f"{base}/__admin/?token={TOKEN}", tmp_path))
    assert doc.body.get("data-loaded") == "true"

    rows = doc.get_element_by_id("journal-body").findall("tr")
    assert [r.get("data-id") for r in rows] == [str(e["id"]) for e in journal]
    http = [r.findall("td")[3].text_content().strip() for r in rows]
    assert http == ["200"] * 4  # what the old Status column showed for all of them
    codes = [r.findall("td")[4].find("span") for r in rows]
    assert [(c.text_content(), c.get("data-meaning")) for c in codes] == [
        ("301", "bad"),  # Expide Tu Factura: not a signed Cancelacion
        ("205", "bad"),  # the rule's 205
        ("211", "wait"),  # in process: ask again later
        ("200", "ok"),
    ]
    rules = [[(chip.text_content(), "rule-applied" in chip.get("class")) for chip in r.findall("td")[6].findall("span")]
             for r in rows]
    assert rules == [[], [("force-205", True)], [("sf-sandbox-211", True)], []]
    assert "overlay " + session in rows[1].findall("td")[6].find("span").get("title")

    listed = {tr.get("data-rule"): [td.text_content().strip() for td in tr.findall("td")]
              for tr in doc.get_element_by_id("rules-body").findall("tr")}
    assert listed["force-205"][2:] == ["1", "∞"] and listed["force-205"][1] == f"<overlay {session}>:2"
    assert listed["sf-sandbox-211"][2] == "1"

    picker = doc.get_element_by_id("session-picker")
    options = [o.text_content() for o in picker.findall("option")]
    assert session in options and other.rsplit("/", 1)[1] in options and "default" in options
    assert [o.text_content() for o in picker.findall("option") if o.get("selected") is not None] == [session]


def test_the_default_session_is_named_and_reset_says_it_resets_every_session(guarded, ruled_session, tmp_path):  # noqa: F811
    session, _base, _journal = ruled_session
    page = Page(f"{guarded.url}/__admin/?token={TOKEN}", tmp_path / "profile")
    try:
        assert page.wait_for("document.body.dataset.loaded === 'true'")
        assert page.js("document.getElementById('session').textContent") == "session: default"
        assert page.wait_for("document.getElementById('session-picker').value === 'default'")
        page.js("window.asked = null; window.confirm = (text) => { window.asked = text; return false; };"
                "document.getElementById('reset').click()")
        asked = page.wait_for("window.asked")
        assert asked.startswith("Reset EVERY session: the default session and ") and session in asked
        # Declined: nothing was reset.
        count = requests.get(f"{guarded.url}/__session/{session}/__admin/requests/count",
                             headers={"X-Admin-Token": TOKEN}, timeout=10).json()["count"]
        assert count == 4
        # Picking a session opens its page.
        page.js(f"const p = document.getElementById('session-picker'); p.value = {session!r};"
                "p.dispatchEvent(new Event('change'))")
        assert page.wait_for(f"location.pathname === '/__session/{session}/__admin/'")
        assert page.wait_for(f"document.getElementById('session').textContent === 'session: {session}'")
        page.js("window.asked = null; window.confirm = (text) => { window.asked = text; return false; };"
                "document.getElementById('reset').click()")
        assert page.wait_for("window.asked").startswith(f'Reset session "{session}" only')
    finally:
        page.close()
