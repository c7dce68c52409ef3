"""The running sandbox: store, journal, clocks, timers and scenarios, and a per-request Context.

Sessions (``/__session/<id>/...``) each see their own journal, state, scenario overlay and clock;
the default session is ``""``, shown as "default".
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from . import mail, overlays, versions
from . import scenarios as scenario_module
from .background import Runner
from .clock import OUT_OF_RANGE, Clock, parse_instant, read_clocks, sessions_with_clocks, write_clock
from .context import Context, PendingOutcome
from .journal import SCHEMA as JOURNAL_SCHEMA
from .journal import Journal
from .scenarios.loader import parse_yaml
from .store import Store
from .timers import SCHEMA as TIMERS_SCHEMA
from .timers import Timers

if TYPE_CHECKING:
    from .declaration import Provider

T = TypeVar("T")

__all__ = ["DEFAULT_SESSION", "Context", "PendingOutcome", "Runtime", "valid_session_id"]

log = logging.getLogger("pac_mock")

DEFAULT_SESSION = ""
# A session id names a path segment and rows of every table: letters, digits, ``_``, ``.``, ``-``,
# 1 to 64 of them, and not only dots (``.`` and ``..`` are path navigation, not names).
_SESSION_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SESSION_ID_RULE = "1-64 letters, digits, '_', '.', '-', not only dots"


def valid_session_id(value: object) -> bool:
    """Whether ``value`` may name a session (the default session, ``""``, is named by no prefix)."""
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None and value.strip(".") != ""


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

    @property
    def folder(self) -> Path:
        """The scenarios file's folder: the only place an overlay may name files in."""
        return self.path.resolve().parent

    def _watched(self) -> list[Path]:
        """The file and every file it extends (the built-in defaults do not change)."""
        layers = [Path(layer) for layer in self.current.layers if not layer.startswith("<")]
        return list(dict.fromkeys([self.path, *layers]))

    def _stat(self) -> tuple[tuple[int, int, int] | None, ...]:
        # The inode and size too: an editor's rename-save may keep the old mtime of the file.
        stamps = []
        for path in self._watched():
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime_ns, stat.st_ino, stat.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

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
            self._mtime = self._stat()  # the new version may extend other files
            self.loaded_at = datetime.now(UTC)
            log.info("scenarios reloaded from %s", self.path)
            return True

    def describe(self) -> dict:
        return {**self.describe_briefly(), "path": str(self.path), "error": self.error}

    def describe_briefly(self) -> dict:
        """What a health check needs, with nothing of the file's place or content."""
        return {"loaded_at": self.loaded_at.isoformat(), "reload_failed": self.error is not None}


def session_name(session: str) -> str:
    """How a session is shown: the default session (``""``) is "default"."""
    return session or "default"


class Runtime:
    """Everything a request needs, built once per process."""

    def __init__(self, settings, providers: Sequence[Provider]) -> None:
        self.settings = settings
        self.providers = list(providers)
        self.stampers = tuple(p.id for p in self.providers if p.stamps)
        self.store = Store(settings.database, [TIMERS_SCHEMA, JOURNAL_SCHEMA, versions.SCHEMA, mail.SCHEMA,
                                               *(p.schema for p in self.providers if p.schema)])
        with self.store.tx() as conn:
            if versions.current(conn) is None:
                versions.bump(conn)  # from now on each process may keep copies of clocks and overlays
        self.journal = Journal(self.store, settings.journal_limit,
                               secrets=frozenset().union(*(p.secrets for p in self.providers)))
        self.scenarios = ScenarioSource(settings.scenarios or scenario_module.default_path())
        # Background work: timers, mail delivery and what the providers declare; ``close`` ends it.
        self.background = Runner()
        self.timers = Timers(self.store, self.clock_for)
        self.timers.after_fire.append(self.background.timers_fired)
        self.outbox = mail.Outbox(self.store, settings, wake=lambda: self.background.wake(mail.DELIVERY))
        self.background.add(self.timers.work(settings.timer_interval))
        self.background.add(self.outbox.work())
        # Least recently used first; at most _OVERLAY_SESSIONS sessions (a shared service sees many).
        self._overlay_cache: OrderedDict[tuple[str, int], scenario_module.Scenarios] = OrderedDict()
        self._overlay_lock = threading.Lock()
        self._settled_cache = _Settled(object())
        self._random = random.Random()
        self._owned: dict[str, Any] = {}
        self._owned_lock = threading.Lock()
        for provider in self.providers:
            if provider.install is not None:
                provider.install(self)
            for work in provider.background(self) if provider.background is not None else ():
                self.background.add(work)

    def owned(self, key: str, make: Callable[[], T]) -> T:
        """This runtime's one ``key`` object (a provider's cache, its document files), made on first use:
        two runtimes in one process share none of them."""
        with self._owned_lock:
            if key not in self._owned:
                self._owned[key] = make()
            return self._owned[key]

    # Clocks ---------------------------------------------------------------------------------

    def _settled(self, conn) -> _Settled:
        """This process's copies of the clocks and overlays, current as of ``versions`` (one row read):
        the version is read before the rows, so a copy is never older than the version it is kept under."""
        version = versions.current(conn)
        if version is None:  # no version yet (or a reset under way): nothing may be kept
            return _Settled(None)
        settled = self._settled_cache
        if settled.version != version or len(settled.scenarios) > _SETTLED_SESSIONS:
            settled = self._settled_cache = _Settled(version)
        return settled

    def clock_for(self, session: str) -> Clock:
        """The session's clock; else the default session's; else the scenarios' setting; else real."""
        with self.store.read() as conn:
            clocks = self._settled(conn).clocks
            if session not in clocks or DEFAULT_SESSION not in clocks:
                found = read_clocks(conn, (session, DEFAULT_SESSION))
                clocks[session] = found.get(session)
                clocks[DEFAULT_SESSION] = found.get(DEFAULT_SESSION)
        clock = clocks.get(session) or clocks.get(DEFAULT_SESSION)
        return clock if clock is not None else self._scenario_clock()

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
        return self.change_clock(session, lambda _current: clock)

    def change_clock(self, session: str, change: Callable[[Clock], Clock | None]) -> Clock:
        """Read the session's clock, apply ``change`` and store the result (None: back to the default),
        all in one write transaction, so that parallel moves from any worker all count.

        Raises ValueError (and stores nothing) when the new time is out of range.
        """
        with self.store.tx() as conn:
            try:
                clock = change(self.clock_for(session))  # reads on the transaction's own connection
                if clock is not None:
                    clock.checked()
            except OverflowError:
                raise ValueError(OUT_OF_RANGE) from None
            write_clock(conn, session, clock)
            versions.bump(conn)
        # Moving time makes work due: a context fires it, so the caller sees its effect on return.
        return self.context(session).clock

    # Scenarios --------------------------------------------------------------------------------

    def overlay_text(self, session: str) -> str | None:
        with self.store.read() as conn:
            return overlays.text_of(conn, session)

    def load_overlay(self, text: str) -> scenario_module.Scenarios:
        """Parse and check overlay text; its CA files may lie only in the scenarios file's folder."""
        return scenario_module.load_text(text, "<overlay>", overlay=True, base_dir=self.scenarios.folder)

    def set_overlay(self, session: str, text: str | None) -> None:
        """Validate and store (or clear) a session's overlay. Raises ScenarioError when invalid.

        Every rule of a new overlay counts its calls afresh, even one written exactly as before.
        """
        rules = self.load_overlay(text).rules if text is not None else ()
        with self.store.tx() as conn:
            if text is None:
                overlays.clear(conn, session)
            else:
                overlays.write(conn, session, text)
                overlays.mark_defined(conn, session, (r.id for r in rules))

    def add_rules(self, session: str, text: str) -> list[str]:
        """Add rules to (or replace them by id in) a session's overlay; the ids added.

        ``text`` is YAML or JSON: a list of rules, one rule, or ``{"rules": [...]}``.
        """
        # The scenarios' own reader: it refuses documents nested too deeply or expanding (aliases) too far.
        data, _lines, errors = parse_yaml(text, "<rules>")
        if errors:
            raise scenario_module.ScenarioError(errors)
        if isinstance(data, dict) and "rules" in data:
            others = sorted(set(data) - {"rules", "version"})
            if others:
                raise scenario_module.ScenarioError([f"<rules>: only rules can be added ({', '.join(others)}: "
                                                     "replace the overlay with PUT for those)"])
            data = data.get("rules") or []
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not data:
            raise scenario_module.ScenarioError(["<rules>: send a rule, a list of rules or {\"rules\": [...]}"])
        added = scenario_module.load_text(yaml.safe_dump({"rules": data}, allow_unicode=True, sort_keys=False),
                                          "<rules>", overlay=True).written_rules
        with self.store.tx() as conn:
            current = yaml.safe_load(overlays.text_of(conn, session) or "") or {}
            ids = {r.id for r in added}
            kept = [r for r in current.get("rules") or [] if r.get("id") not in ids]
            numbered = [{"id": r.id, **d} if "id" not in d else d for r, d in zip(added, data, strict=True)]
            current["rules"] = kept + numbered
            merged = yaml.safe_dump(current, allow_unicode=True, sort_keys=False)
            self.load_overlay(merged)  # ids stay unique
            overlays.write(conn, session, merged)
            overlays.mark_defined(conn, session, ids)
        return [r.id for r in added]

    def remove_rule(self, session: str, rule_id: str) -> bool:
        """Remove one rule from a session's overlay; False when the overlay has no such rule."""
        with self.store.tx() as conn:
            current = yaml.safe_load(overlays.text_of(conn, session) or "") or {}
            overlay = self.load_overlay(yaml.safe_dump(current))
            pairs = list(zip(overlay.written_rules, current.get("rules") or [], strict=True))
            # Rules without an id are numbered by position: write their names down to keep them.
            kept = [d if "id" in d else {"id": r.id, **d} for r, d in pairs if r.id != rule_id]
            if len(kept) == len(pairs):
                return False
            current["rules"] = kept
            overlays.write(conn, session, yaml.safe_dump(current, allow_unicode=True, sort_keys=False))
            overlays.forget_defined(conn, session, rule_id)
        return True

    def _overlay(self, sid: str, text: str, revision: int) -> scenario_module.Scenarios:
        key = (sid, revision)
        with self._overlay_lock:
            overlay = self._overlay_cache.get(key)
            if overlay is not None:
                self._overlay_cache.move_to_end(key)
        if overlay is None:
            overlay = self.load_overlay(text)
            with self.store.read() as conn:
                tokens = overlays.definition_tokens(conn, sid)
            label = f"<overlay {session_name(sid)}>"
            rules = [replace(r, key=f"{r.key}:{sid}:{tokens.get(r.id, 0)}", source=label) for r in overlay.rules]
            overlay.rules = overlay.written_rules = tuple(rules)
            with self._overlay_lock:
                for older in [k for k in self._overlay_cache if k[0] == sid]:
                    del self._overlay_cache[older]
                self._overlay_cache[key] = overlay
                while len(self._overlay_cache) > _OVERLAY_SESSIONS:
                    self._overlay_cache.popitem(last=False)
        return overlay

    def scenarios_for(self, session: str) -> scenario_module.Scenarios:
        """The file, then the default session's overlay, then the session's own overlay on top."""
        base = self.scenarios.get()
        with self.store.read() as conn:
            settled = self._settled(conn)
            known = settled.scenarios.get(session)
            if known is not None and known[0] is base:
                return known[1]
            by_session = overlays.read(conn, (DEFAULT_SESSION, session))
        result = base
        for sid in dict.fromkeys((DEFAULT_SESSION, session)):
            row = by_session.get(sid)
            if row is not None:
                result = result.merged(self._overlay(sid, *row))
        settled.scenarios[session] = (base, result)
        return result

    def rule_states(self, session: str) -> list[dict]:
        """Every active rule (overlays' and file's, in the order they are tried) with its calls in this session."""
        out = []
        for rule in self.scenarios_for(session).rules:
            hits = self.store.counter(session, rule.key)
            out.append({
                "id": rule.id, "source": rule.source, "line": rule.line, "at": rule.origin(),
                "description": rule.description, "priority": rule.priority,
                "outcomes": [o.describe() for o in rule.outcomes], "cycle": rule.cycle,
                "times": rule.times, "hits": hits,
                "remaining": None if rule.times is None else max(rule.times - hits, 0),
            })
        return out

    # Sessions -----------------------------------------------------------------------------------

    def recent_sessions(self, limit: int = 50) -> list[dict]:
        """Sessions with journal entries, an overlay or a clock of their own, newest activity first."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT session, COUNT(*) AS requests, MAX(id) AS last_id, MAX(at) AS last_at "
                "FROM journal GROUP BY session ORDER BY last_id DESC LIMIT ?", (limit,)).fetchall()
            others = list(dict.fromkeys([*overlays.sessions_with_overlays(conn), *sessions_with_clocks(conn)]))
        found = {r["session"]: {"session": session_name(r["session"]), "requests": r["requests"],
                                "last_at": r["last_at"]} for r in rows}
        for sid in others:
            found.setdefault(sid, {"session": session_name(sid), "requests": 0, "last_at": None})
        recent = list(found.values())[:limit]
        if DEFAULT_SESSION not in found or found[DEFAULT_SESSION] not in recent:
            # The default session is always there to go back to.
            recent.append(found.get(DEFAULT_SESSION) or {"session": "default", "requests": 0, "last_at": None})
        return recent

    def context(self, session: str = DEFAULT_SESSION) -> Context:
        """A request's view of ``session``. Timers that fell due fire here first (and in the background
        work): whatever reads state through a context sees the work that time has made due."""
        clock = self.clock_for(session)
        self.timers.fire_due(session, clock)
        return Context(self, session, clock)

    def reset(self, session: str | None = None) -> None:
        # One transaction: no process may see the state reset under the old version (and keep copies).
        with self.store.tx() as conn:
            self.store.reset(session)  # joins it
            versions.bump(conn)  # every process drops its copies of clocks and overlays
        with self._overlay_lock:
            self._overlay_cache.clear()
        for provider in self.providers:
            if provider.on_reset is not None:
                provider.on_reset(self, session)

    def start(self) -> None:
        self.timers.fire_due()  # whatever fell due while the server was down
        self.background.start()

    def stop(self) -> None:
        self.background.stop()

    def close(self) -> None:
        """Stop the background work, then close the store it uses."""
        self.stop()
        self.store.close()


_SETTLED_SESSIONS = 1000  # sessions whose copies one process keeps at most (then starts afresh)
_OVERLAY_SESSIONS = 1000  # sessions whose loaded overlays one process keeps at most (least recently used go)


class _Settled:
    """One process's copies of what rarely changes, valid for one version (mockserver/versions.py)."""

    __slots__ = ("clocks", "scenarios", "version")

    def __init__(self, version: object) -> None:
        self.version = version
        self.clocks: dict[str, Clock | None] = {}  # session -> its stored clock (None: none stored)
        self.scenarios: dict[str, tuple] = {}  # session -> (file scenarios, merged with overlays)
