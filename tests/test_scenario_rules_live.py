"""Rules seen firing: ids and effects in the journal, hit counts in the admin API, counters that start
again when a definition changes, cycles, and rules added to or removed from an overlay one by one."""

from __future__ import annotations

import time
import uuid as uuid_module

import requests
import yaml

from mockserver.scenarios import default_path
from mockserver.server import BackgroundServer
from mockserver.settings import Settings

SF_PATH = "/ws/services/Cancelacion"
XPD_PATH = "/cancelacion/CancelacionPruebas"
MYS_PATH = "/factwsfront.asmx"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
REQUESTOR = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def sf_cancel(sandbox, uuid: str, password: str = "timbrado.SF.16672") -> int:
    body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:s="http://ws.cfdi.solucionfactible.com"><e:Body>'
            f"<s:cancelarAsincrono><s:usuario>testing@solucionfactible.com</s:usuario>"
            f"<s:password>{password}</s:password><s:uuid>{uuid}</s:uuid><s:rfcEmisor>MOC900101AB1</s:rfcEmisor>"
            "</s:cancelarAsincrono></e:Body></e:Envelope>")
    response = sandbox.post_soap(SF_PATH, body)
    assert response.status_code == 200, response.text
    return int(response.text.split("status>")[1].split("<")[0])


def xpd_cancel(sandbox, user: str = "desconocido") -> requests.Response:
    body = (f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><x:cancelar xmlns:x="http://service.xpd.mx/">'
            f"<usuario>{user}</usuario><token>123456</token><xmlBytes>PHg+PC94Pg==</xmlBytes>"
            "</x:cancelar></e:Body></e:Envelope>")
    return sandbox.post_soap(XPD_PATH, body)


def mys_verify(sandbox, request_id: str) -> requests.Response:
    body = (f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><RequestTransaction xmlns="http://www.fact.com.mx/schema/ws">'
            f"<Requestor>{REQUESTOR}</Requestor><Transaction>ASYNC_CONVERT_VERIFY</Transaction>"
            f"<Country>MX</Country><Entity>JES900109Q90</Entity><User>{REQUESTOR}</User>"
            f"<UserName>MX.JES900109Q90.Juan</UserName><Data1>{request_id}</Data1><Data2></Data2><Data3></Data3>"
            "</RequestTransaction></e:Body></e:Envelope>")
    return sandbox.post_soap(MYS_PATH, body, action="http://www.fact.com.mx/schema/ws/RequestTransaction")


def put_overlay(sandbox, overlay: dict) -> None:
    assert sandbox.admin("PUT", "scenarios", json=overlay).status_code == 200


def rule_state(sandbox, rule_id: str) -> dict:
    rules = sandbox.admin("GET", "scenarios").json()["rules"]
    return next(r for r in rules if r["id"] == rule_id)


def last_rules(sandbox, provider: str) -> list[dict]:
    entry = sandbox.admin("GET", f"requests?provider={provider}&limit=1").json()["requests"][0]
    return entry["summary"].get("rules", [])


def test_the_journal_names_the_rule_and_what_it_did_for_every_provider(sandbox):
    u = new_uuid()
    put_overlay(sandbox, {"rules": [
        {"id": "sf-205", "provider": "solucionfactible", "match": {"uuid": u}, "outcome": {"code": 205}},
        {"id": "xpd-fault", "provider": "expidetufactura", "outcome": {"fault": {"kind": "http_status",
                                                                                "status": 503}}},
        {"id": "mys-code", "provider": "mysuite", "operation": "ASYNC_CONVERT_VERIFY",
         "outcome": {"code": 999, "message": "Sin servicio"}},
    ]})
    assert sf_cancel(sandbox, u) == 205
    (note,) = last_rules(sandbox, "solucionfactible")
    assert note["id"] == "sf-205" and note["did"] == "code 205" and note["call"] == 1
    assert note["at"] == "<overlay " + sandbox.session + ">:2"
    assert xpd_cancel(sandbox).status_code == 503
    (note,) = last_rules(sandbox, "expidetufactura")
    assert note["id"] == "xpd-fault" and note["did"] == "fault http_status 503"
    assert b"<Code>999</Code>" in mys_verify(sandbox, new_uuid()).content
    (note,) = last_rules(sandbox, "mysuite")
    assert note == {**note, "id": "mys-code", "did": "code 999", "call": 1}
    # A call no rule matched records none.
    assert sf_cancel(sandbox, new_uuid()) == 200
    assert last_rules(sandbox, "solucionfactible") == []


def test_admin_lists_active_rules_with_their_source_hits_and_remaining_times(sandbox):
    u = new_uuid()
    put_overlay(sandbox, {"rules": [{"id": "twice", "provider": "solucionfactible", "match": {"uuid": u},
                                     "times": 2, "outcome": {"code": 204}}]})
    listed = sandbox.admin("GET", "scenarios").json()
    ids = [r["id"] for r in listed["rules"]]
    assert ids[0] == "twice" and "sf-sandbox-204" in ids and "demo-sequence" in ids
    file_rule = next(r for r in listed["rules"] if r["id"] == "sf-sandbox-204")
    assert file_rule["source"] == "<built-in defaults>" or file_rule["source"].endswith("scenarios.yaml")
    assert file_rule["line"] and file_rule["times"] is None and file_rule["remaining"] is None
    assert rule_state(sandbox, "twice") == {**rule_state(sandbox, "twice"), "hits": 0, "remaining": 2,
                                           "outcomes": ["code 204"], "line": 2}
    assert [sf_cancel(sandbox, u) for _ in range(3)] == [204, 204, 200]  # a rule's 204 registers nothing
    assert rule_state(sandbox, "twice")["hits"] == 2 and rule_state(sandbox, "twice")["remaining"] == 0
    (note,) = last_rules(sandbox, "solucionfactible")
    assert note["did"] == "used up (2 of 2 times)"


def test_a_call_refused_before_the_rule_applies_uses_no_slot(sandbox):
    u = new_uuid()
    put_overlay(sandbox, {"rules": [{"id": "once", "provider": "solucionfactible", "match": {"uuid": u},
                                     "times": 1, "outcome": {"code": 204}}]})
    assert sf_cancel(sandbox, u, password="wrong") == 601
    (note,) = last_rules(sandbox, "solucionfactible")
    assert note["id"] == "once" and note["did"].startswith("not reached")
    assert rule_state(sandbox, "once")["hits"] == 0
    assert sf_cancel(sandbox, u) == 204
    assert rule_state(sandbox, "once")["hits"] == 1


def test_counters_start_again_when_the_overlay_is_replaced_or_cleared(sandbox):
    u = new_uuid()
    overlay = {"rules": [{"id": "once", "provider": "solucionfactible", "match": {"uuid": u}, "times": 1,
                          "outcome": {"code": 204}}]}
    put_overlay(sandbox, overlay)
    assert sf_cancel(sandbox, u) == 204
    assert rule_state(sandbox, "once")["remaining"] == 0
    put_overlay(sandbox, overlay)  # the same rule registered again fires again
    assert rule_state(sandbox, "once")["hits"] == 0
    assert sf_cancel(sandbox, u) == 204
    sandbox.admin("DELETE", "scenarios")
    put_overlay(sandbox, overlay)
    assert sf_cancel(sandbox, u) == 204


def test_counters_start_again_when_the_file_changes_the_rule(tmp_path):
    data = yaml.safe_load(default_path().read_text(encoding="utf-8"))
    u = new_uuid()
    data["rules"] = [{"id": "file-once", "provider": "solucionfactible", "match": {"uuid": u}, "times": 1,
                      "outcome": {"code": 204}}]
    path = tmp_path / "scenarios.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    class Sandbox:
        def __init__(self, root: str) -> None:
            self.root = root

        def post_soap(self, p, body, action=None):
            return requests.post(self.root + p, data=body.encode(), timeout=30,
                                 headers={"Content-Type": "text/xml; charset=utf-8"})

        def admin(self, method, p, **kw):
            return requests.request(method, f"{self.root}/__admin/{p}", timeout=30, **kw)

    with BackgroundServer(Settings(port=0, memory=True, scenarios=path)) as srv:
        srv.runtime.scenarios.check_every = 0
        box = Sandbox(srv.url)
        assert sf_cancel(box, u) == 204
        assert sf_cancel(box, new_uuid()) == 200
        assert rule_state(box, "file-once")["remaining"] == 0
        # Unchanged on disk (touched only): the count stays.
        path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        time.sleep(0.01)
        assert rule_state(box, "file-once")["hits"] == 1
        data["rules"][0]["outcome"]["message"] = "otra vez"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        time.sleep(0.01)
        assert rule_state(box, "file-once")["hits"] == 0
        u2 = new_uuid()
        data["rules"][0]["match"]["uuid"] = u2
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        time.sleep(0.01)
        assert sf_cancel(box, u2) == 204


def test_a_cycle_of_three_makes_every_third_call_205(sandbox):
    put_overlay(sandbox, {"rules": [{"id": "every-third", "provider": "solucionfactible",
                                     "operation": "cancelarAsincrono", "cycle": True,
                                     "outcomes": [{}, {}, {"code": 205}]}]})
    codes = [sf_cancel(sandbox, new_uuid()) for _ in range(7)]
    assert codes == [200, 200, 205, 200, 200, 205, 200]
    assert rule_state(sandbox, "every-third")["hits"] == 7


def test_rules_are_added_to_and_removed_from_the_overlay_one_by_one(sandbox):
    a, b = new_uuid(), new_uuid()
    put_overlay(sandbox, {"rules": [{"id": "a", "provider": "solucionfactible", "match": {"uuid": a},
                                     "times": 1, "outcome": {"code": 204}}]})
    assert sf_cancel(sandbox, a) == 204
    added = sandbox.admin("PATCH", "scenarios", json={"rules": [
        {"id": "b", "provider": "solucionfactible", "match": {"uuid": b}, "outcome": {"code": 205}}]})
    assert added.status_code == 200 and added.json()["added"] == ["b"]
    assert rule_state(sandbox, "a")["hits"] == 1  # adding a rule leaves the others' counts alone
    more = sandbox.admin("POST", "scenarios/rules", data="id: c\nprovider: expidetufactura\noutcome: {code: 310}\n",
                         headers={"Content-Type": "application/yaml"})
    assert more.json()["added"] == ["c"]
    ids = [r["id"] for r in sandbox.admin("GET", "scenarios").json()["rules"]][:3]
    assert ids == ["a", "b", "c"]
    assert sf_cancel(sandbox, b) == 205
    removed = sandbox.admin("DELETE", "scenarios/rules/b")
    assert removed.status_code == 200 and "id: b" not in removed.json()["overlay"]
    assert sf_cancel(sandbox, b) == 200  # the rule's 205 registered nothing; now the real checks answer
    missing = sandbox.admin("DELETE", "scenarios/rules/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    bad = sandbox.admin("POST", "scenarios/rules", json={"id": "x", "times": "many", "outcome": {}})
    assert bad.status_code == 400 and bad.json()["errors"]
    empty = sandbox.admin("POST", "scenarios/rules", json=[])
    assert empty.status_code == 400


def test_journal_filter_by_uuid_follows_one_cfdi_across_providers(sandbox):
    u = new_uuid()
    assert sf_cancel(sandbox, u) == 200
    assert sf_cancel(sandbox, new_uuid()) == 200
    assert mys_verify(sandbox, u.lower()).status_code == 200
    found = sandbox.admin("GET", f"requests?uuid={u.lower()}").json()["requests"]
    assert {e["provider"] for e in found} == {"solucionfactible", "mysuite"} and len(found) == 2
    assert sandbox.admin("GET", f"requests/count?uuid={u}").json()["count"] == 2
    bad = sandbox.admin("GET", "requests?uuid=%25")
    assert bad.status_code == 400 and "UUID" in bad.json()["message"]


def test_the_default_session_is_called_default(sandbox):
    root = sandbox.root
    assert requests.get(f"{root}/__session/default/__admin/health", timeout=10).json()["session"] == "default"
    assert requests.get(f"{root}/__admin/health", timeout=10).json()["session"] == "default"
    sessions = requests.get(f"{root}/__admin/sessions", timeout=10).json()["sessions"]
    assert "default" in [s["session"] for s in sessions]
    sf_cancel(sandbox, new_uuid())
    sessions = requests.get(f"{root}/__admin/sessions", timeout=10).json()["sessions"]
    assert sessions[0]["session"] == sandbox.session and sessions[0]["requests"] == 1


def test_the_session_list_always_offers_the_default_session(sandbox):
    sf_cancel(sandbox, new_uuid())
    listed = requests.get(f"{sandbox.root}/__admin/sessions?limit=1", timeout=10).json()["sessions"]
    assert [s["session"] for s in listed] == [sandbox.session, "default"]


def test_a_server_on_a_file_with_only_one_rule_keeps_the_default_users(tmp_path):
    u = new_uuid()
    path = tmp_path / "mine.yaml"
    path.write_text(f"version: 1\nrules:\n  - {{id: mine, provider: solucionfactible, match: {{uuid: {u}}}, "
                    "outcome: {code: 205}}\n", encoding="utf-8")

    class Root:
        def post_soap(self, p, body, action=None):
            return requests.post(srv.url + p, data=body.encode(), timeout=30,
                                 headers={"Content-Type": "text/xml; charset=utf-8"})

        def admin(self, method, p, **kw):
            return requests.request(method, f"{srv.url}/__admin/{p}", timeout=30, **kw)

    with BackgroundServer(Settings(port=0, memory=True, scenarios=path)) as srv:
        box = Root()
        assert sf_cancel(box, new_uuid()) == 200  # the default test user, as the built-in defaults have it
        assert sf_cancel(box, u) == 205
        assert sf_cancel(box, "E329DD15-7D0B-44E9-A204-51A7443D1FBE") == 204  # a default rule still there
        assert rule_state(box, "mine")["source"] == str(path)


def test_added_rules_keep_their_written_order_and_only_rules_can_be_added(sandbox):
    added = sandbox.admin("PATCH", "scenarios", json={"version": 1, "rules": [
        {"id": "low", "provider": "mysuite", "outcome": {"code": 1}},
        {"id": "high", "priority": 5, "provider": "mysuite", "outcome": {"code": 2}},
        {"provider": "mysuite", "outcome": {"code": 3}}]})
    assert added.status_code == 200 and added.json()["added"] == ["low", "high", "overlay-3"]
    ids = [r["id"] for r in sandbox.admin("GET", "scenarios").json()["rules"]][:3]
    assert ids == ["high", "low", "overlay-3"]  # tried by priority
    refused = sandbox.admin("PATCH", "scenarios", json={"rules": [], "seed": 3})
    assert refused.status_code == 400 and "only rules can be added" in refused.json()["errors"][0]
