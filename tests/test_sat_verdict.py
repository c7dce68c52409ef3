"""SAT's one verdict on cancelling a UUID (mockserver.sat.verdict.verdict): its precedence, step by step."""

from __future__ import annotations

import pytest

from mockserver.sat import verdict as sat_verdict
from mockserver.sat.verdict import Entry, Verdict
from mockserver.scenarios.model import SatCfdi

RFC = "MOC900101AB1"
OTHER = "OTR900101AA1"


@pytest.mark.parametrize(
    ("entry", "seed", "recent", "expected"),
    [
        # 1. stamped here moments ago: SAT does not know it yet
        (Entry(sat_verdict.VIGENTE, RFC), None, True, Verdict.NOT_FOUND),
        # 2. unknown to the registry and the seed says SAT does not know it
        (None, SatCfdi("U", status=sat_verdict.NO_ENCONTRADO), False, Verdict.NOT_FOUND),
        # ... but what happened in the sandbox wins over the seed
        (Entry(sat_verdict.VIGENTE, RFC), SatCfdi("U", status=sat_verdict.NO_ENCONTRADO), False, Verdict.CANCELABLE),
        # 3. another issuer's UUID, by the seed or by the registry, before any status
        (None, SatCfdi("U", issuer=OTHER), False, Verdict.NOT_OF_ISSUER),
        (Entry(sat_verdict.CANCELADO, OTHER), None, False, Verdict.NOT_OF_ISSUER),
        (None, SatCfdi("U", issuer=OTHER, status=sat_verdict.CANCELADO), False, Verdict.NOT_OF_ISSUER),
        # 4. cancelled before (registry over seed)
        (Entry(sat_verdict.CANCELADO, RFC), None, False, Verdict.CANCELLED),
        (None, SatCfdi("U", status=sat_verdict.CANCELADO), False, Verdict.CANCELLED),
        (Entry(sat_verdict.VIGENTE, RFC), SatCfdi("U", status=sat_verdict.CANCELADO), False, Verdict.CANCELABLE),
        # 5. already waiting for the recipient
        (Entry(sat_verdict.EN_PROCESO, None), SatCfdi("U", cancelable=sat_verdict.NO_CANCELABLE), False,
         Verdict.IN_PROCESS),
        # 6. / 7. how the seed says it may be cancelled
        (None, SatCfdi("U", cancelable=sat_verdict.NO_CANCELABLE), False, Verdict.NOT_CANCELABLE),
        (None, SatCfdi("U", cancelable=sat_verdict.CON_ACEPTACION), False, Verdict.NEEDS_ACCEPTANCE),
        # 8. cancelable, also after the recipient rejected a request
        (None, None, False, Verdict.CANCELABLE),
        (Entry(sat_verdict.RECHAZADO, RFC), None, False, Verdict.CANCELABLE),
    ],
)
def test_precedence(entry, seed, recent, expected) -> None:  # type: ignore[no-untyped-def]
    assert sat_verdict.verdict(RFC, entry, seed, recently_stamped=recent).verdict == expected


def test_without_a_requesting_issuer_no_issuer_check() -> None:
    assert sat_verdict.verdict(None, Entry(sat_verdict.CANCELADO, OTHER), None).verdict == Verdict.CANCELLED


def test_the_issuer_is_compared_without_regard_to_case() -> None:
    assert sat_verdict.verdict(RFC.lower(), None, SatCfdi("U", issuer=RFC)).verdict == Verdict.CANCELABLE


def test_the_recipient_travels_with_acceptance_verdicts() -> None:
    seed = SatCfdi("U", cancelable=sat_verdict.CON_ACEPTACION, recipient=sat_verdict.RECHAZA)
    needs = sat_verdict.verdict(RFC, None, seed)
    assert (needs.verdict, needs.recipient) == (Verdict.NEEDS_ACCEPTANCE, sat_verdict.RECHAZA)
    waiting = sat_verdict.verdict(RFC, Entry(sat_verdict.EN_PROCESO, RFC), seed)
    assert (waiting.verdict, waiting.recipient, waiting.status) == (Verdict.IN_PROCESS, sat_verdict.RECHAZA,
                                                                    sat_verdict.EN_PROCESO)
    assert sat_verdict.verdict(RFC, Entry(sat_verdict.EN_PROCESO, RFC), None).recipient is None


def test_a_request_in_process_for_a_cfdi_the_seed_calls_not_cancelable_is_never_settled() -> None:
    seed = SatCfdi("U", status=sat_verdict.EN_PROCESO, cancelable=sat_verdict.NO_CANCELABLE)
    found = sat_verdict.verdict(RFC, None, seed)
    assert (found.verdict, found.recipient) == (Verdict.IN_PROCESS, sat_verdict.SIN_RESPUESTA)


def test_the_scenarios_speak_the_registrys_statuses() -> None:
    from mockserver.scenarios import schema

    cfdi = schema()["$defs"]["cfdi"]["properties"]
    assert set(cfdi["status"]["enum"]) == set(sat_verdict.SEED_STATUSES)
    assert set(cfdi["cancelable"]["enum"]) == set(sat_verdict.CANCELABLE_KINDS)
    assert set(cfdi["recipient"]["enum"]) == set(sat_verdict.RECIPIENT_ANSWERS)
