"""Clocks and overlays are kept per process and re-read only when the shared version moves: a change
made by one worker process is seen by the others on their next request, never missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mockserver import runtime as runtime_module
from mockserver import versions
from mockserver.clock import Clock
from mockserver.providers import all_providers
from mockserver.runtime import Runtime
from mockserver.settings import Settings

OVERLAY = """
rules:
  - id: cached-rule
    provider: solucionfactible
    operation: cancelarAsincrono
    outcome: {code: 205}
"""


def _pair(tmp_path) -> tuple[Runtime, Runtime]:
    """Two runtimes on one data dir: what two worker processes share."""
    settings = Settings(data_dir=tmp_path)
    return Runtime(settings, all_providers()), Runtime(settings, all_providers())


def test_a_clock_set_by_one_process_is_seen_by_the_other_after_it_was_cached(tmp_path):
    a, b = _pair(tmp_path)
    assert a.clock_for("s1").mode == "real"  # now cached in a
    frozen = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    b.set_clock("s1", Clock().frozen(frozen))
    assert a.clock_for("s1").now() == frozen
    b.change_clock("s1", lambda c: c.advanced(timedelta(hours=1)))
    assert a.clock_for("s1").now() == frozen + timedelta(hours=1)
    b.reset("s1")
    assert a.clock_for("s1").mode == "real"


def test_an_overlay_set_by_one_process_is_seen_by_the_other_after_it_was_cached(tmp_path):
    a, b = _pair(tmp_path)
    assert not any(r.id == "cached-rule" for r in a.scenarios_for("s2").rules)
    b.set_overlay("s2", OVERLAY)
    assert any(r.id == "cached-rule" for r in a.scenarios_for("s2").rules)
    b.remove_rule("s2", "cached-rule")
    assert not any(r.id == "cached-rule" for r in a.scenarios_for("s2").rules)
    b.set_overlay("s2", OVERLAY)
    assert any(r.id == "cached-rule" for r in a.scenarios_for("s2").rules)
    b.reset()
    assert not any(r.id == "cached-rule" for r in a.scenarios_for("s2").rules)


def test_a_request_reads_the_version_row_instead_of_the_clock_and_overlay_rows(tmp_path):
    a, b = _pair(tmp_path)
    b.set_overlay("s3", OVERLAY)
    a.scenarios_for("s3")
    a.clock_for("s3")
    statements: list[str] = []
    with a.store.read() as conn:
        conn.set_trace_callback(statements.append)
        try:
            a.context("s3").scenarios  # noqa: B018
        finally:
            conn.set_trace_callback(None)
    assert any("FROM versions" in s for s in statements), statements
    assert not any(t in s for s in statements for t in ("FROM clock", "FROM overlays", "FROM counters")), statements


def test_a_reset_and_the_version_move_are_one_transaction(tmp_path, monkeypatch):
    a, _ = _pair(tmp_path)
    frozen = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    a.set_clock("s1", Clock().frozen(frozen))

    def refuse(conn) -> None:
        raise RuntimeError("version not moved")

    monkeypatch.setattr(versions, "bump", refuse)
    with pytest.raises(RuntimeError, match="version not moved"):
        a.reset("s1")
    monkeypatch.undo()
    # Nothing was reset: another process, which may keep the clock under the old version, is right.
    assert Runtime(Settings(data_dir=tmp_path), all_providers()).clock_for("s1").now() == frozen


def test_the_overlays_kept_are_the_latest_sessions_used_up_to_a_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_module, "_OVERLAY_SESSIONS", 3)
    a, _ = _pair(tmp_path)
    for n in range(5):
        a._overlay(f"s{n}", OVERLAY, 1)
    a._overlay("s2", OVERLAY, 1)  # used again: kept before s3 and s4
    a._overlay("s5", OVERLAY, 1)
    assert sorted(sid for sid, _ in a._overlay_cache) == ["s2", "s4", "s5"]
