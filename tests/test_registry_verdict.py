"""SAT's one verdict on cancelling a UUID (mockserver.registry.verdict): its precedence, step by step."""

from __future__ import annotations

import pytest

from mockserver import registry
from mockserver.registry import Entry, Verdict
from mockserver.scenarios.model import SatCfdi

RFC = "MOC900101AB1"
OTHER = "OTR900101AA1"


@pytest.mark.parametrize(
    ("entry", "seed", "recent", "expected"),
    [
        # 1. stamped here moments ago: SAT does not know it yet
        (Entry(registry.VIGENTE, RFC), None, True, Verdict.NOT_FOUND),
        # 2. unknown to the registry and the seed says SAT does not know it
        (None, SatCfdi("U", status=registry.NO_ENCONTRADO), False, Verdict.NOT_FOUND),
        # ... but what happened in the sandbox wins over the seed
        (Entry(registry.VIGENTE, RFC), SatCfdi("U", status=registry.NO_ENCONTRADO), False, Verdict.CANCELABLE),
        # 3. another issuer's UUID, by the seed or by the registry, before any status
        (None, SatCfdi("U", issuer=OTHER), False, Verdict.NOT_OF_ISSUER),
        (Entry(registry.CANCELADO, OTHER), None, False, Verdict.NOT_OF_ISSUER),
        (None, SatCfdi("U", issuer=OTHER, status=registry.CANCELADO), False, Verdict.NOT_OF_ISSUER),
        # 4. cancelled before (registry over seed)
        (Entry(registry.CANCELADO, RFC), None, False, Verdict.CANCELLED),
        (None, SatCfdi("U", status=registry.CANCELADO), False, Verdict.CANCELLED),
        (Entry(registry.VIGENTE, RFC), SatCfdi("U", status=registry.CANCELADO), False, Verdict.CANCELABLE),
        # 5. already waiting for the recipient
        (Entry(registry.EN_PROCESO, None), SatCfdi("U", cancelable=registry.NO_CANCELABLE), False,
         Verdict.IN_PROCESS),
        # 6. / 7. how the seed says it may be cancelled
        (None, SatCfdi("U", cancelable=registry.NO_CANCELABLE), False, Verdict.NOT_CANCELABLE),
        (None, SatCfdi("U", cancelable=registry.CON_ACEPTACION), False, Verdict.NEEDS_ACCEPTANCE),
        # 8. cancelable, also after the recipient rejected a request
        (None, None, False, Verdict.CANCELABLE),
        (Entry(registry.RECHAZADO, RFC), None, False, Verdict.CANCELABLE),
    ],
)
def test_precedence(entry, seed, recent, expected) -> None:  # type: ignore[no-untyped-def]
    assert registry.verdict(RFC, entry, seed, recently_stamped=recent).verdict == expected


def test_without_a_requesting_issuer_no_issuer_check() -> None:
    assert registry.verdict(None, Entry(registry.CANCELADO, OTHER), None).verdict == Verdict.CANCELLED


def test_the_issuer_is_compared_without_regard_to_case() -> None:
    assert registry.verdict(RFC.lower(), None, SatCfdi("U", issuer=RFC)).verdict == Verdict.CANCELABLE


def test_the_recipient_travels_with_acceptance_verdicts() -> None:
    seed = SatCfdi("U", cancelable=registry.CON_ACEPTACION, recipient=registry.RECHAZA)
    needs = registry.verdict(RFC, None, seed)
    assert (needs.verdict, needs.recipient) == (Verdict.NEEDS_ACCEPTANCE, registry.RECHAZA)
    waiting = registry.verdict(RFC, Entry(registry.EN_PROCESO, RFC), seed)
    assert (waiting.verdict, waiting.recipient, waiting.status) == (Verdict.IN_PROCESS, registry.RECHAZA,
                                                                    registry.EN_PROCESO)
    assert registry.verdict(RFC, Entry(registry.EN_PROCESO, RFC), None).recipient is None


def test_the_scenarios_speak_the_registrys_statuses() -> None:
    from mockserver.scenarios import schema

    cfdi = schema()["$defs"]["cfdi"]["properties"]
    assert set(cfdi["status"]["enum"]) == set(registry.SEED_STATUSES)
    assert set(cfdi["cancelable"]["enum"]) == set(registry.CANCELABLE_KINDS)
    assert set(cfdi["recipient"]["enum"]) == set(registry.RECIPIENT_ANSWERS)
