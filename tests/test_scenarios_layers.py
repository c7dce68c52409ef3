"""Scenario files build on each other: the built-in defaults, ``extends: <file>`` and ``extends: none``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mockserver.scenarios import ScenarioError, check_file, load_file
from mockserver.scenarios.core import BUILTIN

SF, XPD, MYS = "solucionfactible", "expidetufactura", "mysuite"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_a_file_with_only_one_rule_keeps_the_default_users_and_rules(tmp_path):
    path = write(tmp_path, "mine.yaml", """
        version: 1
        rules:
          - id: mine
            provider: expidetufactura
            outcome: {code: 205}
    """)
    sc = load_file(path)
    assert sc.account(SF, "testing@solucionfactible.com") is not None
    assert sc.account(XPD, "pruebas").password == "123456"
    assert sc.account(MYS, "0c320b03-d4f1-47bc-9fb4-77995f9bf33e") is not None
    ids = [r.id for r in sc.rules]
    assert ids[0] == "sf-sandbox-204" and ids[-1] == "mine"  # the file's own rules come after the base's
    assert sc.rule("mine").source == str(path) and sc.rule("mine").line == 3
    assert sc.rule("sf-sandbox-204").source == "<built-in defaults>"
    assert sc.layers == ("<built-in defaults>", str(path))
    assert sc.summary()["warnings"] == []


def test_extends_none_starts_empty(tmp_path):
    path = write(tmp_path, "alone.yaml", """
        version: 1
        extends: none
        providers:
          expidetufactura:
            accounts: [{user: solo, password: x}]
    """)
    sc = load_file(path)
    assert [a.user for a in sc.accounts(XPD)] == ["solo"]
    assert sc.accounts(SF) == [] and sc.rules == ()
    assert sc.summary()["warnings"] == [
        "solucionfactible has no account: every call to it is refused as an unknown user",
        "mysuite has no account: every call to it is refused as an unknown user",
    ]


def test_later_definitions_win_by_key_in_place(tmp_path):
    base = write(tmp_path, "base.yaml", """
        version: 1
        extends: none
        seed: 1
        sat:
          not_taxpayers: [XNO900101XX1]
          cfdis:
            - {uuid: 00000000-0000-4000-8000-000000000001, status: cancelado}
            - {uuid: 00000000-0000-4000-8000-000000000002, status: no_encontrado}
        providers:
          expidetufactura:
            accounts:
              - {user: a, password: "1"}
              - {user: b, password: "1"}
          mysuite:
            processing: {base: 2s, per_mb: 1s}
        rules:
          - {id: first, provider: expidetufactura, outcome: {code: 1}}
          - {id: second, provider: expidetufactura, outcome: {code: 2}}
    """)
    top = write(tmp_path, "top.yaml", """
        version: 1
        extends: base.yaml
        sat:
          not_taxpayers: [OTR900101AA1]
          cfdis:
            - {uuid: 00000000-0000-4000-8000-000000000002, status: vigente}
            - {uuid: 00000000-0000-4000-8000-000000000003, status: cancelado}
        providers:
          expidetufactura:
            accounts:
              - {user: a, password: "2"}
              - {user: c, password: "3"}
          mysuite:
            processing: {per_mb: 5s}
        rules:
          - {id: third, provider: expidetufactura, outcome: {code: 3}}
          - {id: first, provider: expidetufactura, outcome: {code: 10}}
    """)
    sc = load_file(top)
    assert [(a.user, a.password) for a in sc.accounts(XPD)] == [("a", "2"), ("b", "1"), ("c", "3")]
    assert [(r.id, r.outcomes[0].code) for r in sc.rules] == [("first", 10), ("second", 2), ("third", 3)]
    assert sc.rule("first").source == str(top) and sc.rule("second").source == str(base)
    assert [(c.uuid[-1], c.status) for c in sc.sat.cfdis] == [("1", "cancelado"), ("2", "vigente"), ("3", "cancelado")]
    assert sc.sat.not_taxpayers == frozenset({"OTR900101AA1"})  # other lists replace whole
    mys = sc.provider(MYS)
    assert mys.processing_base.total_seconds() == 2 and mys.processing_per_mb.total_seconds() == 5
    assert sc.seed == 1  # not written on top: the base's stays
    assert sc.layers == (str(base), str(top))


def test_a_chain_of_files_and_the_defaults_underneath(tmp_path):
    middle = write(tmp_path, "middle.yaml", """
        version: 1
        providers:
          expidetufactura:
            accounts: [{user: pruebas, password: cambiada}]
    """)
    (tmp_path / "sub").mkdir()
    top = write(tmp_path, "sub/top.yaml", """
        version: 1
        extends: ../middle.yaml
        seed: 7
    """)
    sc = load_file(top)
    assert sc.account(XPD, "pruebas").password == "cambiada"
    assert sc.account(XPD, "sin-timbres") is not None  # from the defaults under middle.yaml
    assert sc.layers == ("<built-in defaults>", str(middle), str(top.resolve().parent / "top.yaml"))


def test_extends_errors_name_the_file(tmp_path):
    write(tmp_path, "a.yaml", "version: 1\nextends: b.yaml\n")
    write(tmp_path, "b.yaml", "version: 1\nextends: a.yaml\n")
    errors = check_file(tmp_path / "a.yaml")
    assert len(errors) == 1 and "goes round in a circle" in errors[0]
    write(tmp_path, "c.yaml", "version: 1\nextends: missing.yaml\n")
    (error,) = check_file(tmp_path / "c.yaml")
    assert error.startswith(f"{tmp_path / 'c.yaml'}: extends 'missing.yaml':") and "cannot read" in error
    write(tmp_path, "bad-base.yaml", "version: 1\nseed: many\n")
    write(tmp_path, "d.yaml", "version: 1\nextends: bad-base.yaml\n")
    (error,) = check_file(tmp_path / "d.yaml")
    assert "in the file it extends" in error and "bad-base.yaml:2:" in error


def test_an_overlay_cannot_extend(tmp_path):
    from mockserver.scenarios import load_text

    with pytest.raises(ScenarioError, match="'extends' belongs in a scenarios file"):
        load_text("extends: none\n", overlay=True)


def test_the_builtin_defaults_stand_alone():
    sc = load_file(BUILTIN)
    assert sc.layers == (str(BUILTIN),) and sc.account(XPD, "pruebas") is not None


def test_the_server_reloads_when_a_file_it_extends_changes(tmp_path):
    import time

    from mockserver.runtime import ScenarioSource

    base = write(tmp_path, "base.yaml", "version: 1\nseed: 1\n")
    top = write(tmp_path, "top.yaml", "version: 1\nextends: base.yaml\n")
    source = ScenarioSource(top, check_every=0)
    assert source.get().seed == 1
    time.sleep(0.01)
    base.write_text("version: 1\nseed: 2\n", encoding="utf-8")
    assert source.get().seed == 2 and source.error is None
