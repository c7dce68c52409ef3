"""Every code of Solución Factible's catalogue (``codes.CODES``), reached through the wire with raw SOAP.

One case per code, under the condition that gives it: a real one (accounts, parameters, certificates,
SAT's seeds, the transaction's lifecycle) wherever the sandbox has it, a scenario rule only for 500 and
501, which the document describes as the provider's own failures. A code added to the catalogue without
a case here fails ``test_every_code_of_the_catalogue_has_a_case``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import pytest
from lxml import etree
from test_solucionfactible_fidelity import PASSWORD, RFC, USER, advance, material, new_uuid, post

from mockserver.providers.solucionfactible import codes
from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

# Seeds of the default scenarios (sat.cfdis): what SAT knows of these UUIDs.
SEED_NOT_FOUND = "00000000-0000-4000-8000-000000000205"
SEED_OTHER_ISSUER = "00000000-0000-4000-8000-000000000203"
SEED_CANCELLED = "00000000-0000-4000-8000-000000000202"
SEED_NOT_CANCELABLE = "00000000-0000-4000-8000-000000000204"
SEED_RECIPIENT_REFUSES = "00000000-0000-4000-8000-00000000A213"  # con_aceptacion, rechaza after 10m


class Seen(NamedTuple):
    """Where the code showed on the wire: ``status``, ``mensaje`` and the acuse's EstatusUUID values."""

    status: int
    mensaje: str | None
    acuse_codes: tuple[str, ...] = ()


def call(sf, operation: str, children: list[tuple[str, str]]) -> Seen:
    status, mensaje, ret = post(sf, operation, children)
    acuse = ret.findtext("{*}acuseSat")
    found: tuple[str, ...] = ()
    if acuse:
        root = etree.fromstring(base64.b64decode(acuse))
        found = tuple(e.text for e in root.iter("{*}EstatusUUID"))
    return Seen(status, mensaje, found)


def asincrono(sf, uuid: str | None = None, *, user: str = USER, password: str = PASSWORD, rfc: str = RFC,
              csd: dict[str, str] | None = None) -> Seen:  # fmt: skip
    children = [("usuario", user), ("password", password), ("uuid", uuid or new_uuid()), ("rfcEmisor", rfc)]
    return call(sf, "cancelarAsincrono", [*children, *(csd or {}).items()])


def status_query(sf, uuid: str) -> Seen:
    return call(sf, "getStatusCancelacionAsincrona", [("usuario", USER), ("password", PASSWORD), ("transactionId", uuid)])


def solicitud(sf, document: bytes) -> Seen:
    children = [("usuario", USER), ("password", PASSWORD), ("solicitud", base64.b64encode(document).decode())]
    return call(sf, "enviarSolicitudCancelacionAsincrono", children)


def signed(uuid: str) -> bytes:
    info = fixture("csd_moral")
    cert = info.certificate()
    return sign_cancelacion(cert, info.private_key(), cert.rfc, [(uuid, "02")], datetime(2026, 1, 10, 4, 0))


def csd_with(name: str, **changes: str) -> dict[str, str]:
    return {**material(name), **changes}


def scenarios(sf, document: dict) -> None:
    response = sf.admin("PUT", "scenarios", json=document)
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- one case per code


def accepted(sf) -> Seen:
    u = new_uuid()
    seen = asincrono(sf, u)
    assert seen.mensaje == u.lower()  # 200 answers with the UUID, not a description
    return seen


def cancelled_now(sf) -> Seen:
    # Synchronous cancellation (with the issuer's stored CSD): SAT's 201 for the folio, in the acuse of a 200.
    uuid = new_uuid()
    seen = call(sf, "cancelar", [("usuario", USER), ("password", PASSWORD), ("rfcEmisor", RFC), ("uuids", uuid)])
    assert (seen.status, seen.mensaje) == (codes.OK, codes.message(codes.OK))
    return seen


def previously_cancelled(sf) -> Seen:
    return asincrono(sf, SEED_CANCELLED)


def not_of_issuer(sf) -> Seen:
    return asincrono(sf, SEED_OTHER_ISSUER)


def not_cancelable(sf) -> Seen:
    return asincrono(sf, SEED_NOT_CANCELABLE)


def not_found(sf) -> Seen:
    return asincrono(sf, SEED_NOT_FOUND)


def waits_for_the_recipient(sf) -> Seen:
    return asincrono(sf, SEED_RECIPIENT_REFUSES)


def denied_by_the_recipient(sf) -> Seen:
    assert asincrono(sf, SEED_RECIPIENT_REFUSES).status == codes.IN_PROCESS
    advance(sf, "10m")
    return status_query(sf, SEED_RECIPIENT_REFUSES)


def malformed_solicitud(sf) -> Seen:
    return solicitud(sf, b"<Cancelacion")


def tampered_solicitud(sf) -> Seen:
    u = new_uuid()
    return solicitud(sf, signed(u).replace(u.encode(), new_uuid().encode()))


def csd_of_another_rfc(sf) -> Seen:
    return asincrono(sf, rfc="PEFM800101AB2", csd=csd_with("csd_moral"))


def revoked_csd(sf) -> Seen:
    scenarios(sf, {"sat": {"revoked_certificates": [fixture("csd_moral").certificate().certificate_number]}})
    return asincrono(sf, csd=csd_with("csd_moral"))


def expired_csd(sf) -> Seen:
    return asincrono(sf, rfc="CAD850101AB3", csd=csd_with("csd_expired"))


def key_that_does_not_open(sf) -> Seen:
    return asincrono(sf, csd=csd_with("csd_moral", csdPassword="equivocada"))


def csd_not_issued_by_the_sat(sf) -> Seen:
    scenarios(sf, {"trust": {"accept_sat_issuers": False}})
    return asincrono(sf, rfc="UNT900101AA4", csd=csd_with("csd_untrusted"))


def provider_failure(code: int) -> Callable[[object], Seen]:
    """500 and 501 are the provider's internal failures (000:58-60): only a scenario rule produces them."""

    def case(sf) -> Seen:
        scenarios(sf, {"rules": [{"id": f"falla-{code}", "provider": "solucionfactible",
                                  "operation": "cancelarAsincrono", "outcome": {"code": code}}]})  # fmt: skip
        return asincrono(sf)

    return case


def unknown_user(sf) -> Seen:
    return asincrono(sf, user="nadie@pac-mock.test", password="x")


def account(user: str) -> Callable[[object], Seen]:
    return lambda sf: asincrono(sf, user=user, password="secreto")


def too_many_failures(sf) -> Seen:
    assert [asincrono(sf, password=f"mal-{i}").status for i in range(4)] == [codes.BAD_CREDENTIALS] * 4
    return asincrono(sf, password="mal-5")


def missing_password(sf) -> Seen:
    return call(sf, "cancelarAsincrono", [("usuario", USER), ("uuid", new_uuid()), ("rfcEmisor", RFC)])


def stored_csd_not_allowed(sf) -> Seen:
    return asincrono(sf, user="sin-permisos@pac-mock.test", password="secreto")


def invalid_uuid(sf) -> Seen:
    return asincrono(sf, "1234")


def transaction_in_process(sf) -> Seen:
    u = new_uuid()
    assert asincrono(sf, u).status == codes.OK
    return asincrono(sf, u)


def no_transaction(sf) -> Seen:
    return status_query(sf, new_uuid())


CASES: dict[int, Callable[[object], Seen]] = {
    codes.OK: accepted,
    codes.CANCELLED: cancelled_now,
    codes.PREVIOUSLY_CANCELLED: previously_cancelled,
    codes.NOT_OF_ISSUER: not_of_issuer,
    codes.NOT_CANCELABLE: not_cancelable,
    codes.NOT_FOUND: not_found,
    codes.IN_PROCESS: waits_for_the_recipient,
    codes.DENIED: denied_by_the_recipient,
    codes.MALFORMED_XML: malformed_solicitud,
    codes.BAD_SEAL: tampered_solicitud,
    codes.RFC_MISMATCH: csd_of_another_rfc,
    codes.REVOKED: revoked_csd,
    codes.OUTSIDE_VALIDITY: expired_csd,
    codes.NOT_A_CSD: key_that_does_not_open,
    codes.NOT_FROM_SAT: csd_not_issued_by_the_sat,
    codes.INTERNAL: provider_failure(codes.INTERNAL),
    codes.ASYNC_DB: provider_failure(codes.ASYNC_DB),
    codes.BAD_CREDENTIALS: unknown_user,
    codes.BLOCKED: account("bloqueado@pac-mock.test"),
    codes.PASSWORD_EXPIRED: account("caducado@pac-mock.test"),
    codes.TOO_MANY_ATTEMPTS: too_many_failures,
    codes.INACTIVE: account("inactivo@pac-mock.test"),
    codes.INCOMPLETE: missing_password,
    codes.PERMISSION_DENIED: stored_csd_not_allowed,
    codes.INVALID_DATA: invalid_uuid,
    codes.WRONG_ENVIRONMENT: account("productivo@pac-mock.test"),
    codes.ASYNC_EXISTS: transaction_in_process,
    codes.ASYNC_UNKNOWN: no_transaction,
}


def test_every_code_of_the_catalogue_has_a_case():
    assert set(CASES) == set(codes.CODES)


@pytest.fixture
def sf(sandbox):
    assert sandbox.admin("POST", "clock", json={"freeze": "2026-01-10T10:00:00"}).ok
    return sandbox


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_code_is_reached_through_the_wire(sf, code):
    seen = CASES[code](sf)
    if code == codes.CANCELLED:
        assert seen.acuse_codes == (str(codes.CANCELLED),)  # SAT's per-folio answer, inside the acuse
        return
    assert seen.status == code, seen
    if code != codes.OK:  # the catalogue's text, maybe followed by ": <detail>"
        text = codes.CODES[code]
        assert seen.mensaje == text or (seen.mensaje or "").startswith(text.rstrip(".") + ": "), seen
