"""SAT's certificate policy: one function, one order of checks, one stable reason per failure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mockserver.sat import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    FechaOutsideValidity,
    NotACsd,
    SatError,
    TrustStore,
    UntrustedIssuer,
    check_certificate_policy,
)
from mockserver.sat.pki import fixture
from mockserver.sat.policy import REASONS

TRUST = TrustStore.default()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # csd_moral is valid 2020 → 2035
CSD = fixture("csd_moral").certificate()


def reason(name: str, at: datetime = NOW, **kw) -> str | None:  # type: ignore[no-untyped-def]
    try:
        check_certificate_policy(fixture(name).certificate(), TRUST, at, **kw)
    except SatError as error:
        return error.reason
    return None


def test_a_trusted_csd_valid_now_and_at_its_fecha_passes() -> None:
    assert check_certificate_policy(CSD, TRUST, NOW, fecha=NOW, revoked={"00000000000000000000"}) is None


@pytest.mark.parametrize(
    ("name", "at", "kw", "error", "reason"),
    [
        ("csd_untrusted", NOW, {}, UntrustedIssuer, "untrusted-issuer"),
        ("fiel_moral", NOW, {}, NotACsd, "not-csd"),
        ("csd_moral", NOW, {"revoked": {CSD.certificate_number}}, CertificateRevoked, "certificate-revoked"),
        ("csd_moral", datetime(2019, 6, 1, tzinfo=UTC), {}, CertificateNotYetValid, "certificate-not-yet-valid"),
        ("csd_expired", NOW, {}, CertificateExpired, "certificate-expired"),
        ("csd_moral", NOW, {"fecha": datetime(2036, 1, 2, tzinfo=UTC)}, FechaOutsideValidity,
         "fecha-outside-validity"),
    ],
    ids=REASONS,
)
def test_each_failure_raises_its_reason(name, at, kw, error, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as raised:
        check_certificate_policy(fixture(name).certificate(), TRUST, at, **kw)
    assert raised.value.reason == reason


def test_the_order_of_checks() -> None:
    expired = fixture("csd_expired").certificate()
    # an untrusted certificate's kind and dates mean nothing
    assert reason("csd_untrusted", at=datetime(2050, 1, 1, tzinfo=UTC)) == "untrusted-issuer"
    # a FIEL is refused as such even when revoked
    fiel = fixture("fiel_moral").certificate()
    assert reason("fiel_moral", revoked={fiel.certificate_number}) == "not-csd"
    # revocation comes before the dates: a revoked and expired CSD is revoked
    assert reason("csd_expired", revoked={expired.certificate_number}) == "certificate-revoked"
    # valid now is checked before the Fecha
    assert reason("csd_expired", fecha=datetime(2036, 1, 1, tzinfo=UTC)) == "certificate-expired"


def test_a_fiel_passes_when_a_csd_is_not_required() -> None:
    assert reason("fiel_moral", require_csd=False) is None


def test_the_dates_can_be_left_unchecked_but_not_revocation() -> None:
    expired = fixture("csd_expired").certificate()
    assert reason("csd_expired", check_validity_dates=False, fecha=datetime(2036, 1, 1, tzinfo=UTC)) is None
    assert reason("csd_expired", check_validity_dates=False, revoked={expired.certificate_number}) == (
        "certificate-revoked"
    )


def test_the_fecha_is_compared_as_an_instant() -> None:
    # csd_moral's validity ends 2035-12-31 23:59:59 UTC, which is 17:59:59 in Mexico City.
    from zoneinfo import ZoneInfo

    mexico = ZoneInfo("America/Mexico_City")
    assert reason("csd_moral", fecha=datetime(2035, 12, 31, 17, 59, 0, tzinfo=mexico)) is None
    assert reason("csd_moral", fecha=datetime(2035, 12, 31, 18, 0, 1, tzinfo=mexico)) == "fecha-outside-validity"
