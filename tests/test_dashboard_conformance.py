"""The dashboard in Chromium marks a request with conformance findings and explains each one in a
sentence with its source."""

from __future__ import annotations

import uuid

import lxml.html
import requests
from test_dashboard import SF_PASSWORD, TOKEN, guarded, render  # noqa: F401  (guarded: a fixture)

from mockserver.conformance import check_by_id

XML = {"Content-Type": "text/xml; charset=utf-8"}


def sf_status(base: str, action: str, uuid_text: str = "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0") -> None:
    body = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:sf="http://ws.cfdi.solucionfactible.com"><e:Body><sf:getStatusCancelacionAsincrona>'
            f"<sf:usuario>testing@solucionfactible.com</sf:usuario><sf:password>{SF_PASSWORD}</sf:password>"
            f"<sf:transactionId>{uuid_text}</sf:transactionId>"
            "</sf:getStatusCancelacionAsincrona></e:Body></e:Envelope>")
    response = requests.post(base + "/ws/services/Cancelacion", data=body, headers={**XML, "SOAPAction": action},
                             timeout=10)
    assert response.status_code == 200


def test_a_requests_findings_are_marked_and_explained_in_chromium(guarded, tmp_path):  # noqa: F811
    base = f"{guarded.url}/__session/conf-{uuid.uuid4().hex[:8]}"
    sf_status(base, "urn:getStatusCancelacionAsincrona")  # a correct request
    sf_status(base, "urn:cancelar", "c5e58106-6c1e-41c9-a211-fb8bad1cabb0")  # two mistakes
    auth = {"X-Admin-Token": TOKEN}
    journal = requests.get(base + "/__admin/requests?bodies=0", headers=auth, timeout=10).json()["requests"]
    flawed, clean = journal
    assert [f["check"] for f in flawed["summary"]["findings"]] == ["sf.soapaction-wrong", "sf.uuid-lower-case"]

    doc = lxml.html.fromstring(render(f"{base}/__admin/?token={TOKEN}#request-{flawed['id']}", tmp_path))
    assert doc.body.get("data-loaded") == "true"
    rows = {r.get("data-id"): r for r in doc.get_element_by_id("journal-body").findall("tr")}
    assert "has-findings" in rows[str(flawed["id"])].get("class")
    assert rows[str(flawed["id"])].get("data-findings") == "2"
    assert "has-findings" not in rows[str(clean["id"])].get("class")
    assert rows[str(clean["id"])].get("data-findings") == "0"
    chips = rows[str(flawed["id"])].find_class("finding")
    assert [(c.text_content(), c.get("data-severity")) for c in chips] == [
        ("sf.soapaction-wrong", "error"), ("sf.uuid-lower-case", "warning")]

    # The request's detail (opened by the #request-<id> address) explains each finding with its source.
    section = doc.get_element_by_id("detail-findings-section")
    assert section.get("hidden") is None
    items = doc.get_element_by_id("detail-findings").findall("li")
    assert [li.get("data-check") for li in items] == ["sf.soapaction-wrong", "sf.uuid-lower-case"]
    wrong = items[0].text_content()
    check = check_by_id("sf.soapaction-wrong")
    assert f"Error: {check.title} — SOAPAction 'urn:cancelar'" in wrong
    assert f"Source: {check.source} (fidelity {check.fidelity})." in wrong
    assert "Warning: " in items[1].text_content() and "000_dc309966f5a8eca7.txt:32" in items[1].text_content()
