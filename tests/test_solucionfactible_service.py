"""Solución Factible rules without HTTP: the provider's modules on a Runtime with an in-memory store."""

from __future__ import annotations

import base64
import uuid as uuidlib
from datetime import UTC, datetime, timedelta

import pytest

from mockserver import registry
from mockserver.clock import Clock
from mockserver.mail import outbox_for
from mockserver.providers import all_providers
from mockserver.providers.errors import ProviderError, code_for
from mockserver.providers.solucionfactible import (
    auth,
    codes,
    csd,
    lifecycle,
    models,
    notification,
    parameters,
    service,
    state,
    synchronous,
)
from mockserver.providers.solucionfactible.messages import (
    Answer,
    CancelarAsincronoRequest,
    Csd,
    StatusRequest,
)
from mockserver.runtime import Runtime
from mockserver.sat import verdict as sat_verdict
from mockserver.sat.cancelacion import Folio
from mockserver.sat.errors import SatError
from mockserver.sat.pki import fixture
from mockserver.sat.policy import REASONS as POLICY_REASONS
from mockserver.scenarios.model import Outcome, Transition
from mockserver.settings import Settings

USER, PASSWORD, RFC = "testing@solucionfactible.com", "timbrado.SF.16672", "MOC900101AB1"
T0 = datetime(2026, 1, 10, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def runtime():
    rt = Runtime(Settings(memory=True), all_providers())
    yield rt
    rt.close()


@pytest.fixture
def ctx(runtime):
    session = uuidlib.uuid4().hex[:10]
    runtime.set_clock(session, Clock().frozen(T0))
    return runtime.context(session)


def advance(ctx, minutes: float):
    ctx.runtime.set_clock(ctx.session, Clock().frozen(ctx.now() + timedelta(minutes=minutes)))
    return ctx.runtime.context(ctx.session)


def new_uuid() -> str:
    return str(uuidlib.uuid4()).upper()


def asincrono(ctx, uuid: str, outcome: Outcome | None = None, **kw) -> Answer:
    fields = {"usuario": USER, "password": PASSWORD, "uuid": uuid, "rfc_emisor": RFC, **kw}
    return service.cancelar_asincrono(ctx, CancelarAsincronoRequest(**fields), outcome)


def status(ctx, uuid: str, outcome: Outcome | None = None) -> Answer:
    return service.status_cancelacion(ctx, StatusRequest(USER, PASSWORD, uuid), outcome)


def test_every_code_constant_is_in_the_catalogue():
    constants = {v for k, v in vars(codes).items() if k.isupper() and isinstance(v, int)}
    assert constants <= set(codes.CODES)
    assert codes.message(621, "detalle") == "Invalid data: detalle"


@pytest.mark.parametrize(("text", "expected"), [
    ("6a8d7b26-1f43-4e1a-9f7c-0c2b9d1e5a11", ("6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11", "02", None)),
    ("6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11|03|", ("6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11", "03", None)),
    (" 6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11 | 01 | 7b9e8c37-2a54-4f2b-8e6d-1d3cae2f6b22 ",
     ("6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11", "01", "7B9E8C37-2A54-4F2B-8E6D-1D3CAE2F6B22")),
])
def test_uuid_field_forms(text, expected):
    folio = parameters.parse_uuid_field(text)
    assert (folio.uuid, folio.motivo, folio.folio_sustitucion) == expected


@pytest.mark.parametrize("text", ["", "nope", "6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11|05|",
                                  "6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11|01|",
                                  "6A8D7B26-1F43-4E1A-9F7C-0C2B9D1E5A11|01|nope", "a|b|c|d"])
def test_bad_uuid_fields_are_621(text):
    with pytest.raises(ProviderError) as err:
        parameters.parse_uuid_field(text)
    assert err.value.code == codes.INVALID_DATA


def test_base64_and_email_checks():
    assert parameters.decode_base64(" QUJD\nRA== ", "x") == b"ABCD"
    for bad, code in (("@@", 621), ("", 611), (None, 611)):
        with pytest.raises(ProviderError) as err:
            parameters.decode_base64(bad, "x")
        assert err.value.code == code
    assert parameters.parse_email(" a@b.mx ") == "a@b.mx" and parameters.parse_email("") is None
    with pytest.raises(ProviderError):
        parameters.parse_email("a@b")


def test_lockout_counts_failures_and_lapses(ctx):
    for expected in (601, 601, 601, 601, 604):
        with pytest.raises(ProviderError) as err:
            auth.authenticate(ctx, USER, "mal", ("cancel",))
        assert err.value.code == expected
    with pytest.raises(ProviderError) as err:
        auth.authenticate(ctx, USER, PASSWORD, ("cancel",))
    assert err.value.code == 604
    later = advance(ctx, 15)
    assert auth.authenticate(later, USER, PASSWORD, ("cancel",)).user == USER
    with later.store.read() as conn:
        assert models.failures(conn, later.session, USER) == (0, None)


def test_registration_resolution_registry_and_outbox(ctx):
    u = new_uuid()
    answer = asincrono(ctx, u, email="a@example.mx")
    assert (answer.status, answer.mensaje) == (200, u.lower())
    assert answer.summary["code"] == 200 and "password" not in answer.summary
    with ctx.store.read() as conn:
        assert registry.status_of(conn, ctx.session, u) == sat_verdict.EN_PROCESO
    assert status(ctx, u).status == 211
    [timer] = ctx.timers.pending(ctx.session)
    assert datetime.fromisoformat(timer["due_at"]) == T0 + timedelta(minutes=5)
    later = advance(ctx, 5)
    answer = status(later, u)
    assert answer.status == 200 and answer.acuse.startswith(b"<?xml")
    with later.store.read() as conn:
        assert registry.status_of(conn, later.session, u) == sat_verdict.CANCELADO
        row = models.get(conn, later.session, u)
    assert row.resolved_at == (T0 + timedelta(minutes=5)).isoformat()
    [mail] = outbox_for(later.runtime).messages(later.session)
    assert mail["status"] == "recorded" and mail["headers"]["X-StatusCancelacion"] == "OK"
    assert asincrono(later, u).status == codes.PREVIOUSLY_CANCELLED  # SAT's answer now, no new transaction


def test_rule_then_transitions_are_the_whole_lifecycle(ctx):
    u = new_uuid()
    outcome = Outcome(code=211, then=(Transition(timedelta(minutes=2), 211, "esperando"),
                                      Transition(timedelta(minutes=8), 213, None)))
    assert asincrono(ctx, u, outcome, email="b@example.mx").status == 211
    assert status(advance(ctx, 3), u).mensaje == "esperando"
    late = advance(ctx, 10)
    assert status(late, u).status == 213
    assert outbox_for(late.runtime).messages(late.session)[0]["headers"]["X-StatusCancelacion"] == "ERROR"


def test_final_rule_codes_answer_at_once_and_register_nothing(ctx):
    u = new_uuid()
    assert asincrono(ctx, u, Outcome(code=204, message="no")).mensaje == "no"
    assert status(ctx, u).status == 702
    assert asincrono(ctx, u, Outcome(uuid_codes={u: 500})).status == 500


def test_status_rule_changes_the_answer_only(ctx):
    u = new_uuid()
    asincrono(ctx, u)
    forced = status(ctx, u, Outcome(code=200))
    assert forced.status == 200 and forced.acuse
    assert status(ctx, u).status == 211


def test_recipient_from_the_sat_seed(runtime):
    session = "seeded-" + uuidlib.uuid4().hex[:6]
    runtime.set_overlay(session, "sat:\n  cfdis:\n"
                                 "    - {uuid: 'AAAAAAAA-*', cancelable: con_aceptacion, recipient: rechaza,"
                                 " recipient_after: 2m}\n"
                                 "    - {uuid: 'BBBBBBBB-*', issuer: OTR900101AA1}\n"
                                 "    - {uuid: 'CCCCCCCC-*', status: no_encontrado}\n")
    runtime.set_clock(session, Clock().frozen(T0))
    ctx = runtime.context(session)
    denied = "AAAAAAAA" + new_uuid()[8:]
    assert asincrono(ctx, denied).status == 211
    assert status(advance(ctx, 2), denied).status == 213
    assert asincrono(ctx, "BBBBBBBB" + new_uuid()[8:]).status == 203
    assert asincrono(ctx, "CCCCCCCC" + new_uuid()[8:]).status == 205
    runtime.set_overlay(session, None)


def test_decide_accepts_once(ctx):
    u = new_uuid()
    asincrono(ctx, u)
    assert lifecycle.decide(ctx, u, accept=True).status == 200
    with pytest.raises(ValueError):
        lifecycle.decide(ctx, u, accept=False)
    assert lifecycle.decide(ctx, new_uuid(), accept=True) is None


def test_csd_pair_checks_and_cache(ctx):
    info = fixture("csd_moral")
    cert = csd.checked_pair(ctx, info.cer_bytes(), info.key_bytes(), info.password)
    assert cert.rfc == RFC
    assert csd.checked_pair(ctx, info.cer_bytes(), info.key_bytes(), info.password) is cert
    with pytest.raises(ProviderError) as err:
        csd.checked_pair(ctx, info.cer_bytes(), info.key_bytes(), "otra")
    assert err.value.code == 306 and "otra" not in err.value.message
    # The cache (and the key of its digests) belongs to the runtime: another runtime has its own.
    other = Runtime(Settings(memory=True), all_providers())
    try:
        assert csd.checked_pair(other.context(), info.cer_bytes(), info.key_bytes(), info.password) == cert
        key = "solucionfactible.csd-pairs"
        mine, theirs = ctx.runtime.owned(key, csd.PairCache), other.owned(key, csd.PairCache)
        assert mine is not theirs and mine._secret != theirs._secret
    finally:
        other.close()


def test_csd_sent_as_base64_text(ctx):
    info = fixture("csd_fisica")
    material = Csd(base64.b64encode(info.cer_bytes()).decode(), base64.b64encode(info.key_bytes()).decode(),
                   info.password)
    assert asincrono(ctx, new_uuid(), rfc_emisor="PEFM800101AB2", csd=material).status == 200
    assert asincrono(ctx, new_uuid(), csd=material).status == 303


def test_state_lists_the_session_cancellations(ctx):
    u = new_uuid()
    asincrono(ctx, u)
    listed = state.state(ctx)
    assert [c["uuid"] for c in listed["cancellations"]] == [u] and listed["by_status"] == {"211": 1}


def test_notification_mail_shape():
    row = models.Cancellation("s", "U-1", USER, "cancelarAsincrono", RFC, "01", "U-2", "x@example.mx", None,
                              211, None, None, "", "", None)
    mail = notification.notification(row, 213, "rechazada", T0)
    assert mail.to == "x@example.mx" and mail.uuid == "U-1"
    assert mail.headers == {"X-SFService": "Cancelar", "X-UUIDCancelacion": "U-1", "X-StatusCancelacion": "ERROR"}
    assert "rechazada" in mail.body and "U-2" in mail.body


def _sat_error_classes(cls=SatError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _sat_error_classes(sub)


# Every SAT core error and the code it answers (its most specific reason in SAT_CODES).
SAT_ERROR_CODES = {
    "bad-digest": codes.BAD_SEAL,
    "bad-fecha": codes.INVALID_DATA,
    "bad-motivo": codes.INVALID_DATA,
    "bad-rfc-emisor": codes.INVALID_DATA,
    "bad-seal": codes.BAD_SEAL,
    "bad-structure": codes.MALFORMED_XML,
    "bad-uuid": codes.INVALID_DATA,
    "cancelacion-error": codes.INVALID_DATA,
    "certificate-error": codes.NOT_A_CSD,
    "certificate-expired": codes.OUTSIDE_VALIDITY,
    "certificate-format": codes.NOT_A_CSD,
    "certificate-not-yet-valid": codes.OUTSIDE_VALIDITY,
    "certificate-revoked": codes.REVOKED,
    "certificate-unreadable": codes.BAD_SEAL,
    "certificate-without-rfc": codes.RFC_MISMATCH,
    "fecha-outside-validity": codes.OUTSIDE_VALIDITY,
    "folio-sustitucion-forbidden": codes.INVALID_DATA,
    "folio-sustitucion-required": codes.INVALID_DATA,
    "invalid-seal": codes.BAD_SEAL,
    "issuer-name-mismatch": codes.BAD_SEAL,
    "key-error": codes.NOT_A_CSD,
    "key-format": codes.NOT_A_CSD,
    "key-mismatch": codes.NOT_A_CSD,
    "key-wrong-password": codes.NOT_A_CSD,
    "malformed-signature": codes.BAD_SEAL,
    "malformed-xml": codes.MALFORMED_XML,
    "no-folios": codes.INVALID_DATA,
    "not-csd": codes.NOT_A_CSD,
    "rfc-mismatch": codes.RFC_MISMATCH,
    "serial-number-mismatch": codes.BAD_SEAL,
    "signature-error": codes.BAD_SEAL,
    "too-many-folios": codes.INVALID_DATA,
    "unsigned-content": codes.BAD_SEAL,
    "unsupported-algorithm": codes.BAD_SEAL,
    "untrusted-issuer": codes.NOT_FROM_SAT,
    "wrong-namespace": codes.MALFORMED_XML,
    "wrong-root": codes.MALFORMED_XML,
}


def test_every_sat_error_has_its_expected_code():
    assert set(SAT_ERROR_CODES) == {c.reason for c in _sat_error_classes()}


@pytest.mark.parametrize("error", sorted(set(_sat_error_classes()), key=lambda c: c.reason), ids=lambda c: c.reason)
def test_every_sat_reason_maps_to_its_catalogue_code(error):
    assert code_for(error(), codes.SAT_CODES) == SAT_ERROR_CODES[error.reason]
    assert SAT_ERROR_CODES[error.reason] in codes.CODES


POLICY_CODES = {"untrusted-issuer": 308, "not-csd": 306, "certificate-revoked": 304, "certificate-expired": 305,
                "certificate-not-yet-valid": 305, "fecha-outside-validity": 305}


@pytest.mark.parametrize(("reason", "expected"), POLICY_CODES.items())
def test_certificate_policy_reasons_have_their_codes(reason, expected):
    [error] = [c for c in _sat_error_classes() if c.reason == reason]
    assert code_for(error(), codes.SAT_CODES) == expected
    assert codes.refuse_sat(error("detalle")).message == codes.message(expected, "detalle")


def test_every_reason_of_the_certificate_policy_is_covered():
    assert set(POLICY_CODES) == set(POLICY_REASONS)


def test_every_verdict_of_the_registry_has_a_code():
    assert set(codes.VERDICT_CODES) == set(sat_verdict.Verdict)
    assert set(codes.VERDICT_CODES.values()) <= set(codes.CODES)



@pytest.fixture
def registry_reads(monkeypatch):
    """How often each registry read runs (the bulk ones once per request, whatever the folios)."""
    counts: dict[str, int] = {}
    for name in ("entry_of", "entries_of", "stamped_since"):
        original = getattr(registry, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(registry, name, counted)
    return counts


def test_an_asynchronous_request_reads_the_registry_once_for_all_its_folios(ctx, registry_reads):
    folios = [Folio(new_uuid(), "02") for _ in range(3)]
    answers = lifecycle.register_async(ctx, usuario=USER, operation="enviarSolicitudCancelacionAsincrono", rfc=RFC,
                                       folios=folios, email=None, certificate_number=None,
                                       outcome_for=lambda _u, _f: None)
    assert [a.status for a in answers] == [codes.OK] * 3
    assert registry_reads == {"entries_of": 1, "stamped_since": 1}


def test_a_synchronous_request_reads_the_registry_once_and_sees_its_own_writes(ctx, registry_reads):
    u = new_uuid()
    folios = [Folio(new_uuid(), "02"), Folio(u, "02"), Folio(u, "02")]
    answer = synchronous.cancel_now(ctx, usuario=USER, operation="cancelar", rfc=None, folios=folios,
                                    certificate_number=None, outcome_for=lambda _u, _f: None)
    # the repeated UUID was cancelled by the same request a moment before: previously cancelled
    assert answer.mensaje.endswith(f"{folios[0].uuid}: 201; {u}: 201; {u}: 202)")
    assert registry_reads == {"entries_of": 1, "stamped_since": 1}
