"""What a provider sees of the running sandbox: a request's :class:`Context` and the :class:`Sandbox`
behind it.

Providers import this module, never ``runtime``: the runtime is built from the providers' declarations,
and this small module is what both sides agree on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .clock import Clock
from .scenarios.model import Outcome, Rule
from .store import Store
from .timers import Timers

if TYPE_CHECKING:
    import random

    from .background import Runner
    from .journal import Entry, Journal
    from .mail import Outbox
    from .scenarios import Scenarios

T = TypeVar("T")

log = logging.getLogger("pac_mock")


class Sandbox(Protocol):
    """The running sandbox as providers use it (``mockserver.runtime.Runtime`` is the one there is)."""

    settings: Any
    store: Store
    timers: Timers
    outbox: Outbox
    journal: Journal
    background: Runner
    stampers: tuple[str, ...]  # the providers that stamp CFDIs (``Provider.stamps``)
    _random: random.Random

    def clock_for(self, session: str) -> Clock: ...

    def context(self, session: str = "") -> Context: ...

    def scenarios_for(self, session: str) -> Scenarios: ...

    def owned(self, key: str, make: Callable[[], T]) -> T:
        """The runtime's one ``key`` object (a provider's cache, say), made by ``make`` on first use."""
        ...


class PendingOutcome:
    """The outcome of the rule chosen for a call, taken (and counted) when the service first reads it.

    A call refused before rules apply (bad credentials, a missing field, a size outside the limits)
    never reads it, so it uses none of the rule's ``times`` and moves no sequence on.
    """

    __slots__ = ("_ctx", "_note", "_outcome", "rule")

    def __init__(self, ctx: Context, rule: Rule, note: dict) -> None:
        self._ctx = ctx
        self._note = note
        self._outcome: Outcome | None = None
        self.rule = rule

    def resolve(self) -> Outcome:
        if self._outcome is None:
            ctx, rule = self._ctx, self.rule
            index = ctx.store.increment(ctx.session, rule.key) - 1
            if rule.times is not None and index >= rule.times:
                self._outcome = Outcome()  # another worker used the last one meanwhile
                self._note["did"] = f"used up ({rule.times} of {rule.times} times, by a concurrent call)"
            else:
                self._outcome = rule.outcome_for(index)
                self._note["did"] = self._outcome.describe()
                self._note["call"] = index + 1
        return self._outcome

    def __getattr__(self, name: str):
        return getattr(self.resolve(), name)

    def __repr__(self) -> str:
        return f"<PendingOutcome {self.rule.id}>"


@dataclass
class Context:
    """One request's view of the sandbox: its session, clock and scenarios."""

    runtime: Sandbox
    session: str
    clock: Clock
    # Every rule that matched this call and what it did, for the journal.
    rule_notes: list[dict] = field(default_factory=list)

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
    def scenarios(self) -> Scenarios:
        return self.runtime.scenarios_for(self.session)

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, entry: Entry) -> None:
        """Journal this call, with what its rules did; a failed write is logged, never raised (the
        journal must not cost the client its answer). Not to be called inside ``store.tx()``: the
        journal commits in its own (shared) transaction and refuses to join one (``JournalError``)."""
        if self.rule_notes:
            entry.summary["rules"] = self.rule_notes
        try:
            self.runtime.journal.record(entry)
        except Exception:
            log.exception("journal write failed")

    def outcome(self, provider: str, operation: str, fields: Mapping[str, str | None]) -> PendingOutcome | None:
        """The scenario outcome for this call, or None when no rule applies.

        Rules are tried in order; one whose ``times`` is used up or whose ``probability`` does not fire
        is skipped. Call counts live in the store so that every worker process counts together, and
        grow only when the service reads the outcome (see :class:`PendingOutcome`).
        """
        chosen: PendingOutcome | None = None
        for rule in self.scenarios.match(provider, operation, fields):
            note: dict = {"id": rule.id, "at": rule.origin()}
            if fields.get("uuid"):
                note["uuid"] = fields["uuid"]
            self.rule_notes.append(note)
            if chosen is not None:
                note["did"] = f"not tried: {chosen.rule.id} came first"
            elif rule.times is not None and self.store.counter(self.session, rule.key) >= rule.times:
                note["did"] = f"used up ({rule.times} of {rule.times} times)"
            elif rule.probability < 1 and self.runtime._random.random() >= rule.probability:
                note["did"] = f"not drawn (probability {rule.probability:g})"
            else:
                note["did"] = "not reached: the call was answered before rules apply"
                chosen = PendingOutcome(self, rule, note)
        return chosen
