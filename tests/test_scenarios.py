"""Scenarios: loading, validation with file:line errors, matching, sequences, overlays, durations."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from mockserver.scenarios import (
    Account,
    Outcome,
    Rule,
    ScenarioError,
    Scenarios,
    check_file,
    default_path,
    load_file,
    load_text,
    parse_duration,
    parse_size,
)

ROOT = Path(__file__).resolve().parents[1]
SF = "solucionfactible"
XPD = "expidetufactura"
MYS = "mysuite"


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load(text: str, **kw) -> Scenarios:
    return load_text(doc(text), "test.yaml", **kw)


def errors_of(text: str, **kw) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(text, **kw)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


# ---------------------------------------------------------------- the default file


@pytest.fixture(scope="module")
def default() -> Scenarios:
    return load_file(default_path())


def test_default_file_is_valid_and_packaged_copy_matches():
    assert check_file(ROOT / "scenarios.yaml") == []
    packaged = ROOT / "mockserver" / "scenarios" / "default.yaml"
    assert packaged.read_bytes() == (ROOT / "scenarios.yaml").read_bytes(), (
        "copy scenarios.yaml to mockserver/scenarios/default.yaml"
    )


def test_default_reproduces_the_sandboxes(default: Scenarios):
    sf = default.account(SF, "testing@solucionfactible.com")
    assert isinstance(sf, Account)
    assert sf.check_password("timbrado.SF.16672") and not sf.check_password("x")
    assert sf.active and sf.environment == "pruebas" and sf.stamps is None and sf.allows("use_stored_csd")
    xpd = default.account(XPD, "pruebas")
    assert xpd is not None and xpd.password == "123456"
    mys = default.account(MYS, "0C320B03-D4F1-47BC-9FB4-77995F9BF33E")  # GUIDs compare in any case
    assert mys is not None and mys.entities == ("JES900109Q90",) and mys.user_names == ("MX.JES900109Q90.Juan",)
    assert default.account(SF, "nobody@example.com") is None
    assert {a.state for a in default.accounts(SF)} == {"active", "blocked", "password_expired", "inactive"}
    assert default.environment(SF) == "pruebas" and default.environment(MYS) == "pruebas"

    for uuid, code in [("E329DD15-7D0B-44E9-A204-51A7443D1FBE", 204),
                       ("f4621025-0864-4e62-e204-59ee41b1101e", 204),
                       ("C5E58106-6C1E-41C9-A211-FB8BAD1CABB0", 211),
                       ("0D62B12C-BC6C-4626-E211-FC8FE727A5BC", 211)]:
        fields = {"uuid": uuid, "user": "testing@solucionfactible.com", "environment": "pruebas"}
        rules = default.match(SF, "cancelarAsincrono", fields)
        assert rules and rules[0].outcome_for(0).code == code
        # The document gives them for the testing environment only.
        assert default.match(SF, "cancelarAsincrono", {**fields, "environment": "productivo"}) == []
    # Magic UUIDs belong to SF's sandbox only; an ordinary UUID matches nothing.
    assert default.match(XPD, "cancelar", {"uuid": "E329DD15-7D0B-44E9-A204-51A7443D1FBE"}) == []
    assert default.match(SF, "cancelar", {"uuid": "11111111-1111-4111-8111-111111111111"}) == []


def test_default_provider_settings_and_sat(default: Scenarios):
    sf = default.provider(SF)
    assert sf.resolve_within == timedelta(minutes=5)
    assert sf.stored_csds["MOC900101AB1"] == "csd_moral"
    mys = default.provider(MYS)
    assert mys.size_limit("pruebas").accepts(2_000_000) and not mys.size_limit("pruebas").accepts(1_000_000)
    assert not mys.size_limit("pruebas").accepts(4_000_001) and mys.size_limit("productivo").accepts(40_000_000)
    assert mys.processing_time(3_000_000) == timedelta(seconds=5)
    assert default.sat.is_taxpayer("MOC900101AB1") and not default.sat.is_taxpayer("XNO900101XX1")
    assert default.sat.cfdi("00000000-0000-4000-8000-000000000205").status == "no_encontrado"
    assert default.sat.cfdi("11111111-1111-4111-8111-111111111111") is None
    assert default.trust.fixture_ca and default.clock is None and default.seed is None


# ---------------------------------------------------------------- matching


MATCHERS = """
version: 1
rules:
  - id: exact
    provider: expidetufactura
    match: {uuid: AAAAAAAA-0000-4000-8000-000000000001}
    outcome: {code: 1}
  - id: glob
    provider: [expidetufactura, solucionfactible]
    operation: "cancelar*"
    match: {rfc: "MOC*"}
    outcome: {code: 2}
  - id: regex
    match: {user: {regex: "^qa-[0-9]+$"}}
    outcome: {code: 3}
  - id: anyof
    provider: mysuite
    operation: [ASYNC_CONVERT_NATIVE_XML, ASYNC_CONVERT_VERIFY]
    match: {internal_id: [A-1, {}]}
    outcome: {code: 4}
"""


def test_matchers_exact_glob_regex_list_absent():
    sc = load(MATCHERS.replace("[A-1, {}]", "[A-1, B-2]"))
    def ids(provider, op, **fields):
        return [r.id for r in sc.match(provider, op, fields)]
    # exact is case-insensitive
    assert ids(XPD, "cancelar", uuid="aaaaaaaa-0000-4000-8000-000000000001") == ["exact"]
    assert ids(XPD, "cancelar", uuid="AAAAAAAA-0000-4000-8000-000000000002") == []
    # glob on field and operation; provider list
    assert ids(SF, "cancelarAsincrono", rfc="MOC900101AB1") == ["glob"]
    assert ids(SF, "getStatusCancelacionAsincrona", rfc="MOC900101AB1") == []
    assert ids(MYS, "cancelar", rfc="MOC900101AB1") == []
    # regex; absent field never matches a pattern
    assert ids(MYS, "TIMBRAR", user="qa-12") == ["regex"]
    assert ids(MYS, "TIMBRAR", user="qa-12x") == []
    assert ids(MYS, "TIMBRAR") == []
    # list = any of
    assert ids(MYS, "ASYNC_CONVERT_VERIFY", internal_id="b-2") == ["anyof"]
    assert ids(MYS, "ASYNC_RETRIEVE_DOCUMENT", internal_id="A-1") == []
    # several rules match: all returned, in order
    assert ids(XPD, "cancelar", uuid="AAAAAAAA-0000-4000-8000-000000000001", rfc="MOC1", user="qa-1") == [
        "exact", "glob", "regex"]


def test_null_matcher_means_field_absent_and_priority_orders():
    sc = load("""
        version: 1
        rules:
          - id: no-email
            provider: solucionfactible
            match: {email: null}
            outcome: {code: 1}
          - id: urgent
            priority: 10
            outcome: {code: 2}
    """)
    assert [r.id for r in sc.match(SF, "cancelarAsincrono", {"email": None})] == ["urgent", "no-email"]
    assert [r.id for r in sc.match(SF, "cancelarAsincrono", {"email": ""})] == ["urgent", "no-email"]
    assert [r.id for r in sc.match(SF, "cancelarAsincrono", {"email": "a@b.c"})] == ["urgent"]


def test_rule_ids_are_derived_when_missing():
    sc = load("""
        version: 1
        extends: none
        rules:
          - outcome: {code: 1}
          - outcome: {code: 2}
    """)
    assert [r.id for r in sc.rules] == ["rule-1", "rule-2"]
    assert sc.rules[0].line == 4 and sc.rules[0].source == "test.yaml"
    ov = load("rules: [{outcome: {code: 3}}]", overlay=True)
    assert ov.rules[0].id == "overlay-1"


# ---------------------------------------------------------------- outcomes


def test_sequences_times_probability_transitions_and_uuid_codes():
    sc = load("""
        version: 1
        rules:
          - id: seq
            times: 4
            probability: 0.25
            outcomes:
              - {code: 211}
              - {code: 211}
              - code: 200
                uuid_codes: {"AAAAAAAA-*": 202, aaaaaaaa-0000-4000-8000-000000000001: 201}
          - id: later
            outcome:
              code: 211
              message: En proceso
              then:
                - {after: 10m, code: 213, message: Rechazada}
                - {after: 1d, code: 200}
    """)
    seq = sc.rule("seq")
    assert isinstance(seq, Rule)
    assert [seq.outcome_for(n).code for n in range(5)] == [211, 211, 200, 200, 200]
    assert seq.times == 4 and seq.probability == 0.25
    assert [seq.active(n) for n in (0, 3, 4)] == [True, True, False]
    last = seq.outcome_for(2)
    assert last.code_for_uuid("AAAAAAAA-0000-4000-8000-000000000001") == 201  # exact key beats a glob
    assert last.code_for_uuid("aaaaaaaa-9999-4000-8000-000000000009") == 202
    assert last.code_for_uuid("BBBBBBBB-0000-4000-8000-000000000001") is None
    later = sc.rule("later").outcome_for(0)
    assert isinstance(later, Outcome) and later.message == "En proceso"
    (after, code, message), second = later.then
    assert (after, code, message) == (timedelta(minutes=10), 213, "Rechazada")
    assert second.after == timedelta(days=1) and second.message is None
    with pytest.raises(AttributeError):
        later.code = 1  # outcomes are frozen


def test_faults():
    sc = load("""
        version: 1
        rules:
          - {id: d, outcome: {code: 200, fault: {kind: delay, seconds: 1500ms}}}
          - {id: h, outcome: {fault: {kind: http_status, status: 503, body: busy}}}
          - {id: s, outcome: {fault: {kind: soap_fault, faultstring: Boom}}}
          - {id: x, outcome: {fault: {kind: drop}}}
          - {id: t, outcome: {fault: {kind: truncate, keep_bytes: 10}}}
          - {id: m, outcome: {fault: {kind: malformed}}}
    """)
    f = {r.id: r.outcome_for(0) for r in sc.rules}
    assert f["d"].fault.kind == "delay" and f["d"].fault.seconds == 1.5 and f["d"].code == 200
    assert f["h"].fault.status == 503 and f["h"].fault.params["body"] == "busy" and f["h"].code is None
    assert f["s"].fault.faultstring == "Boom" and f["s"].fault.faultcode == "Server"
    assert f["x"].fault.kind == "drop" and f["t"].fault.keep_bytes == 10 and f["m"].fault.kind == "malformed"
    errs = errors_of("""
        version: 1
        rules:
          - outcome: {fault: {kind: delay}}
          - outcome: {fault: {kind: http_status}}
          - outcome: {fault: {kind: explode}}
    """)
    assert errs[0].startswith("test.yaml:3:") and "'seconds' is required" in errs[0]
    assert errs[1].startswith("test.yaml:4:") and "'status' is required" in errs[1]
    assert errs[2].startswith("test.yaml:5:") and "explode" in errs[2]


# ---------------------------------------------------------------- overlays


def test_overlay_replaces_accounts_and_puts_rules_first(default: Scenarios):
    overlay = load_text(doc("""
        {"seed": 7,
         "clock": {"offset": "-2h"},
         "providers": {"solucionfactible": {
             "resolve_within": "30s",
             "accounts": [{"user": "testing@solucionfactible.com", "password": "p", "state": "blocked"},
                          {"user": "nuevo@pac-mock.test", "password": "x"}]}},
         "sat": {"cfdis": [{"uuid": "00000000-0000-4000-8000-000000000205", "status": "vigente"}]},
         "rules": [{"id": "first", "provider": "solucionfactible", "outcome": {"code": 500}},
                   {"id": "sf-sandbox-204", "provider": "solucionfactible",
                    "match": {"uuid": "E329DD15-*"}, "outcome": {"code": 201}}]}
    """), overlay=True)
    m = default.merged(overlay)
    assert m.account(SF, "testing@solucionfactible.com").state == "blocked"
    assert m.account(SF, "nuevo@pac-mock.test") is not None
    assert m.account(SF, "bloqueado@pac-mock.test") is not None  # file accounts kept
    assert m.account(XPD, "pruebas") is not None
    assert m.seed == 7 and m.clock.offset == timedelta(hours=-2)
    assert m.provider(SF).resolve_within == timedelta(seconds=30)
    assert m.provider(SF).stored_csds["MOC900101AB1"] == "csd_moral"  # untouched settings kept
    assert m.provider(MYS).size_limit("productivo").max == 40_000_000
    assert m.sat.cfdi("00000000-0000-4000-8000-000000000205").status != "no_encontrado"
    assert m.sat.cfdi("00000000-0000-4000-8000-000000000203").issuer == "OTR900101AA1"
    ids = [r.id for r in m.match(SF, "cancelarAsincrono", {"uuid": "E329DD15-7D0B-44E9-A204-51A7443D1FBE"})]
    assert ids == ["first", "sf-sandbox-204"]
    assert m.rule("sf-sandbox-204").outcome_for(0).code == 201  # same id: the overlay's rule replaces
    assert [r.id for r in m.rules][:2] == ["first", "sf-sandbox-204"]
    # The file itself is unchanged, and no overlay means the same object.
    assert default.account(SF, "testing@solucionfactible.com").state == "active"
    assert default.merged(None) is default
    assert default.merged(load_text("", overlay=True)).account(XPD, "pruebas") is not None


def test_overlay_errors_and_full_file_requires_version():
    with pytest.raises(ScenarioError) as info:
        load_text("rules:\n  - times: many\n    outcome: {code: 1}\n", overlay=True)
    assert info.value.errors[0].startswith("<overlay>:2:")
    assert any("'version' is required" in e for e in errors_of("seed: 1"))
    assert "empty" in check_file_text("")[0]


def check_file_text(text: str) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.yaml"
        p.write_text(text, encoding="utf-8")
        return [e.replace(str(p), "s.yaml") for e in check_file(p)]


# ---------------------------------------------------------------- bad files


def test_wrong_type_is_reported_at_its_line(tmp_path: Path):
    text = (ROOT / "scenarios.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines) if "stamps: null" in line)
    lines[n] = lines[n].replace("stamps: null", "stamps: lots")
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines), encoding="utf-8")
    errors = check_file(bad)
    assert len(errors) == 1
    assert errors[0].startswith(f"{bad}:{n + 1}: providers.solucionfactible.accounts[0].stamps: 'lots'")
    with pytest.raises(ScenarioError) as info:
        load_file(bad)
    assert f":{n + 1}:" in str(info.value)


def test_bad_files_give_file_line_messages():
    errs = check_file_text(doc("""
        version: 1
        seed: 1
        providers:
          solucionfactible:
            environment: staging
            accounts:
              - {user: a, password: x}
              - {user: a, password: y}
            stored_csds: {MOC900101AB1: no_such_cert, PEFM800101AB2: fiel_moral, CAD850101AB3: csd_moral}
          mysuite:
            accounts: [{user: not-a-guid}]
        rules:
          - id: r
            match: {uuid: {regex: "([A-F"}, colour: red}
            outcome: {code: 1}
          - id: r
            operation: cancelarAsincron
            outcome: {code: 1}
            outcomes: [{code: 2}]
    """))
    assert errs == ["s.yaml:5: providers.solucionfactible.environment: 'staging' is not one of "
                    "['pruebas', 'productivo']"]
    errs = check_file_text(doc("""
        version: 1
        providers:
          solucionfactible:
            accounts:
              - {user: a, password: x}
              - {user: a, password: y}
            stored_csds: {MOC900101AB1: no_such_cert, PEFM800101AB2: fiel_moral, CAD850101AB3: csd_moral}
          mysuite:
            accounts: [{user: not-a-guid}]
        rules:
          - id: r
            match: {uuid: {regex: "([A-F"}, colour: red}
            outcome: {code: 1}
          - id: r
            operation: cancelarAsincron
            outcome: {code: 1}
            outcomes: [{code: 2}]
    """))
    text = "\n".join(errs)
    assert "s.yaml:6: providers.solucionfactible.accounts[1]: duplicate account 'a' (first on line 5)" in text
    assert "s.yaml:7: providers.solucionfactible.stored_csds.MOC900101AB1: unknown certificate fixture" in text
    assert "s.yaml:7: providers.solucionfactible.stored_csds.PEFM800101AB2: fixture 'fiel_moral' is a FIEL" in text
    assert "stored_csds.CAD850101AB3: fixture 'csd_moral' belongs to MOC900101AB1" in text
    assert "s.yaml:9: providers.mysuite.accounts[0].user: a MYSuite user is the Requestor GUID" in text
    assert "s.yaml:12: rules[0].match.uuid: bad regular expression '([A-F'" in text
    assert "s.yaml:12: rules[0].match: unknown field 'colour'" in text
    assert "s.yaml:14: rules[1]: duplicate rule id 'r' (first on line 11)" in text
    assert "s.yaml:15: rules[1].operation: unknown operation 'cancelarAsincron'" in text
    assert "s.yaml:14: rules[1]: give exactly one of 'outcome' or 'outcomes'" in text
    assert [int(e.split(":")[1]) for e in errs] == sorted(int(e.split(":")[1]) for e in errs)


def test_schema_errors_point_at_keys_and_values():
    errs = errors_of("""
        version: 1
        clock: {freeze: "2024-05-01T10:00:00", offset: 2h}
        trust:
          accept_sat_issuer: true
        rules:
          - provider: mysuit
            probability: 1.5
            outcome:
              then: [{after: soon, code: 213}]
    """)
    assert errs[0] == ("test.yaml:4: trust.accept_sat_issuer: unknown key 'accept_sat_issuer' (allowed: "
                       "accept_sat_issuers, ca_files, check_validity, fixture_ca)")
    assert errs[1].startswith("test.yaml:6: rules[0].provider: 'mysuit' is not valid here: expected '*', "
                              "'solucionfactible'")
    assert errs[2].startswith("test.yaml:7: rules[0].probability: 1.5 is greater than the maximum")
    assert errs[3].startswith("test.yaml:9: rules[0].outcome.then[0].after: 'soon' does not match")
    errs = errors_of("""
        version: 1
        clock: {freeze: "2024-05-01T10:00:00", offset: 2h}
    """)
    assert errs == ["test.yaml:2: clock: give either 'freeze' or 'offset', not both"]
    errs = errors_of("""
        version: 1
        clock: {freeze: "yesterday at noon"}
    """)
    assert errs == ["test.yaml:2: clock.freeze: 'yesterday at noon' is not an ISO 8601 date-time"]
    frozen = load("version: 1\nclock: {freeze: '2024-05-01T10:00:00'}\n").clock.freeze
    assert frozen.utcoffset() == timedelta(hours=-6)  # naive = Mexico City


def test_yaml_syntax_and_duplicate_keys_and_non_mapping():
    assert errors_of("version: 1\nrules: [\n  {code: 1\n")[0].startswith("test.yaml:4: YAML syntax error")
    errs = errors_of("version: 1\nseed: 1\nseed: 2\n")
    assert errs == ["test.yaml:3: duplicate key 'seed' (first on line 2)"]
    assert errors_of("- 1\n- 2\n") == ["test.yaml:1: the top level must be a mapping, not list"]
    assert errors_of("version: 1\nrules: [{outcome: {code: 1}}]\nrules: []\n")[0].startswith("test.yaml:3:")


def test_anchors_dates_and_hostile_yaml():
    sc = load("""
        version: 1
        clock: {freeze: 2024-05-01T10:00:00-06:00}
        x-slow: &slow {kind: delay, seconds: 2s}
        rules:
          - {id: a, outcome: {fault: *slow}}
          - {id: b, outcome: {code: 1, fault: *slow}}
    """)
    assert sc.clock.freeze.isoformat() == "2024-05-01T10:00:00-06:00"
    assert sc.rule("b").outcome_for(0).fault.seconds == 2.0
    laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    for text in (laughs, "rules: &r [*r]\n"):
        with pytest.raises(ScenarioError, match="expands to more than"):
            load_text(text, overlay=True)


def test_missing_or_unreadable_file(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    assert check_file(missing)[0].startswith(f"{missing}: cannot read")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    assert check_file(tmp_path / "bin.yaml") == [f"{tmp_path / 'bin.yaml'}: not UTF-8 text"]


def test_ca_files_resolve_against_the_file(tmp_path: Path):
    from mockserver.sat.pki import packaged_dir

    (tmp_path / "ca.pem").write_bytes((packaged_dir() / "ac_uat.cer").read_bytes())
    p = tmp_path / "s.yaml"
    p.write_text("version: 1\ntrust:\n  ca_files: [ca.pem, missing.pem]\n")
    assert check_file(p) == [f"{p}:3: trust.ca_files[1]: file not found: missing.pem"]
    p.write_text("version: 1\ntrust:\n  ca_files: [ca.pem]\n")
    assert load_file(p).trust.ca_files == (tmp_path / "ca.pem",)


def test_fixture_names_can_be_given():
    text = "version: 1\nproviders:\n  solucionfactible:\n    stored_csds: {MOC900101AB1: mine}\n"
    # The file's own entry replaces the defaults' for that RFC; the other stays.
    assert load(text, fixture_names=["mine"]).provider(SF).stored_csds == {"MOC900101AB1": "mine",
                                                                           "PEFM800101AB2": "csd_fisica"}


def test_unknown_provider_is_a_programming_error(default: Scenarios):
    with pytest.raises(ValueError, match="unknown provider"):
        default.account("sat", "x")


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(("text", "expected"), [
    ("10m", timedelta(minutes=10)), ("72h", timedelta(hours=72)), ("5s", timedelta(seconds=5)),
    ("1d", timedelta(days=1)), ("500ms", timedelta(milliseconds=500)), ("1h30m", timedelta(minutes=90)),
    ("-2h", timedelta(hours=-2)), ("1w", timedelta(weeks=1)), ("1.5s", timedelta(seconds=1.5)),
    (3, timedelta(seconds=3)), (0.25, timedelta(seconds=0.25)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5 x", "h", "1h-2m", True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_parse_size():
    assert parse_size("4MB") == 4_000_000 and parse_size("1MiB") == 1_048_576 and parse_size(12) == 12
    assert parse_size("512 KB") == 512_000 and parse_size("2") == 2
    with pytest.raises(ValueError, match="invalid size"):
        parse_size("4 megas")
