"""The running sandbox: store, journal, clocks, timers and scenarios, and a per-request Context.

Sessions (``/__session/<id>/...``) each see their own journal, state, scenario overlay and clock;
the default session is ``""``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from . import mail
from . import scenarios as scenario_module
from .clock import Clock, parse_instant
from .journal import Journal
from .store import Store
from .timers import Timers

log = logging.getLogger("pac_mock")

DEFAULT_SESSION = ""


class ScenarioSource:
    """The scenarios file, reloaded when it changes; a broken edit keeps the last good version."""

    def __init__(self, path: Path, check_every: float = 1.0) -> None:
        self.path = path
        self.check_every = check_every
        self._lock = threading.Lock()
        self.current = scenario_module.load_file(path)  # start-up refuses a bad file
        self.loaded_at = datetime.now(UTC)
        self.error: str | None = None
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def get(self) -> scenario_module.Scenarios:
        if time.monotonic() - self._checked >= self.check_every:
            self.reload_if_changed()
        return self.current

    def reload_if_changed(self) -> bool:
        with self._lock:
            self._checked = time.monotonic()
            mtime = self._stat()
            if mtime == self._mtime:
                return False
            self._mtime = mtime
            try:
                self.current = scenario_module.load_file(self.path)
            except scenario_module.ScenarioError as exc:
                self.error = str(exc)
                log.error("scenarios not reloaded, keeping the previous ones:\n%s", exc)
                return False
            except OSError as exc:
                self.error = f"{self.path}: {exc}"
                log.error("scenarios not reloaded: %s", self.error)
                return False
            self.error = None
            self.loaded_at = datetime.now(UTC)
            log.info("scenarios reloaded from %s", self.path)
            return True

    def describe(self) -> dict:
        return {"path": str(self.path), "loaded_at": self.loaded_at.isoformat(), "error": self.error}


class Runtime:
    """Everything a request needs, built once per process."""

    def __init__(self, settings, providers: list | None = None) -> None:
        from .providers import all_providers

        self.settings = settings
        self.providers = all_providers() if providers is None else providers
        self.store = Store(settings.database, [mail.SCHEMA, *(p.schema for p in self.providers if p.schema)])
        self.journal = Journal(self.store, settings.journal_limit)
        self.scenarios = ScenarioSource(settings.scenarios or scenario_module.default_path())
        self.timers = Timers(self.store, self.clock_for)
        self.outbox = mail.Outbox(self.store, settings)
        self.timers.after_fire.append(self.outbox.wake)
        self._overlay_cache: dict[tuple[str, int], scenario_module.Scenarios] = {}
        self._random = random.Random()
        # Providers' background work to end before the store closes (registered by ``install``).
        self.stop_hooks: list[Callable[[], None]] = []
        for provider in self.providers:
            if provider.install is not None:
                provider.install(self)

    # Clocks ---------------------------------------------------------------------------------

    def clock_for(self, session: str) -> Clock:
        """The session's clock; else the default session's; else the scenarios' setting; else real."""
        with self.store.read() as conn:
            rows = {
                r["session"]: r
                for r in conn.execute(
                    "SELECT session, offset_s, frozen_at FROM clock WHERE session IN (?, ?)",
                    (session, DEFAULT_SESSION),
                )
            }
        row = rows.get(session) or rows.get(DEFAULT_SESSION)
        if row is not None:
            frozen = datetime.fromisoformat(row["frozen_at"]) if row["frozen_at"] else None
            return Clock(timedelta(seconds=row["offset_s"]), frozen)
        return self._scenario_clock()

    def _scenario_clock(self) -> Clock:
        setting = getattr(self.scenarios.get(), "clock", None)
        if not setting:
            return Clock()
        freeze = getattr(setting, "freeze", None)
        if freeze:
            return Clock().frozen(freeze if isinstance(freeze, datetime) else parse_instant(str(freeze)))
        offset = getattr(setting, "offset", None)
        return Clock(offset) if offset else Clock()

    def set_clock(self, session: str, clock: Clock | None) -> Clock:
        with self.store.tx() as conn:
            if clock is None:
                conn.execute("DELETE FROM clock WHERE session=?", (session,))
            else:
                conn.execute(
                    "INSERT INTO clock(session, offset_s, frozen_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(session) DO UPDATE SET offset_s=excluded.offset_s, frozen_at=excluded.frozen_at",
                    (
                        session,
                        clock.offset.total_seconds(),
                        clock.frozen_at.isoformat() if clock.frozen_at else None,
                    ),
                )
        # Moving time makes work due: do it now, so the caller sees its effect on return.
        self.timers.fire_due(session)
        return self.clock_for(session)

    # Scenarios --------------------------------------------------------------------------------

    def overlay_text(self, session: str) -> str | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT text FROM overlays WHERE session=?", (session,)).fetchone()
        return row["text"] if row else None

    def set_overlay(self, session: str, text: str | None) -> None:
        """Validate and store (or clear) a session's overlay. Raises ScenarioError when invalid."""
        if text is not None:
            scenario_module.load_text(text, "<overlay>", overlay=True)
        with self.store.tx() as conn:
            if text is None:
                conn.execute("DELETE FROM overlays WHERE session=?", (session,))
            else:
                conn.execute(
                    "INSERT INTO overlays(session, text, revision) VALUES (?, ?, 1) ON CONFLICT(session) "
                    "DO UPDATE SET text=excluded.text, revision=revision+1",
                    (session, text),
                )

    def scenarios_for(self, session: str) -> scenario_module.Scenarios:
        """The file, then the default session's overlay, then the session's own overlay on top."""
        result = self.scenarios.get()
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT session, text, revision FROM overlays WHERE session IN (?, ?)",
                (DEFAULT_SESSION, session),
            ).fetchall()
        by_session = {r["session"]: r for r in rows}
        for sid in dict.fromkeys((DEFAULT_SESSION, session)):
            row = by_session.get(sid)
            if row is None:
                continue
            key = (sid, row["revision"])
            overlay = self._overlay_cache.get(key)
            if overlay is None:
                overlay = scenario_module.load_text(row["text"], "<overlay>", overlay=True)
                self._overlay_cache = {k: v for k, v in self._overlay_cache.items() if k[0] != sid}
                self._overlay_cache[key] = overlay
            result = result.merged(overlay)
        return result

    # Sessions -----------------------------------------------------------------------------------

    def context(self, session: str = DEFAULT_SESSION) -> Context:
        return Context(self, session, self.clock_for(session))

    def reset(self, session: str | None = None) -> None:
        self.store.reset(session)
        self._overlay_cache.clear()
        for provider in self.providers:
            if provider.on_reset is not None:
                provider.on_reset(self, session)

    def start(self) -> None:
        self.timers.fire_due()  # whatever fell due while the server was down
        self.timers.start(self.settings.timer_interval)
        self.outbox.start()  # SMTP delivery of recorded notifications (when configured)

    def stop(self) -> None:
        self.timers.stop()
        for hook in self.stop_hooks:
            hook()
        self.outbox.stop()


@dataclass
class Context:
    """One request's view of the sandbox: its session, clock and scenarios."""

    runtime: Runtime
    session: str
    clock: Clock

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def timers(self) -> Timers:
        return self.runtime.timers

    @property
    def settings(self):
        return self.runtime.settings

    @cached_property
    def scenarios(self) -> scenario_module.Scenarios:
        return self.runtime.scenarios_for(self.session)

    def now(self) -> datetime:
        return self.clock.now()

    def outcome(self, provider: str, operation: str, fields: Mapping[str, str | None]):
        """The scenario outcome for this call, or None when no rule applies.

        Rules are tried in order; one whose ``times`` is used up or whose ``probability`` does not fire
        is skipped. Call counts live in the store so that every worker process counts together.
        """
        for rule in self.scenarios.match(provider, operation, fields):
            key = f"rule:{rule.id}"
            if rule.times is not None and self.store.counter(self.session, key) >= rule.times:
                continue
            if rule.probability < 1 and self.runtime._random.random() >= rule.probability:
                continue
            index = self.store.increment(self.session, key) - 1
            if rule.times is not None and index >= rule.times:
                continue  # another worker used the last one meanwhile
            return rule.outcome_for(index)
        return None
