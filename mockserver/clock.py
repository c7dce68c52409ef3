"""Mock time. Every rule reads ``Clock.now()``; nothing in a rule calls ``datetime.now()``.

A clock is real, offset (real time shifted) or frozen. Its state lives in the store so that every
worker process, and every session, sees the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MEXICO_CITY = ZoneInfo("America/Mexico_City")

# Mock time stays well inside what datetime can hold, so that the rules' own arithmetic (deadlines,
# validity periods, local time) cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = f"mock time must stay between {EARLIEST.year} and {LATEST.year}"


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; a naive one is read as Mexico City local time."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=MEXICO_CITY)
    return value.astimezone(UTC)


def real_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """One session's view of time: ``frozen_at`` when frozen, otherwise real time plus ``offset``."""

    offset: timedelta = timedelta(0)
    frozen_at: datetime | None = None

    @property
    def mode(self) -> str:
        if self.frozen_at is not None:
            return "frozen"
        return "offset" if self.offset else "real"

    def now(self) -> datetime:
        if self.frozen_at is not None:
            return self.frozen_at
        return real_now() + self.offset

    def now_local(self) -> datetime:
        """Now in Mexico City, where the providers state their time rules."""
        return self.now().astimezone(MEXICO_CITY)

    def advanced(self, delta: timedelta) -> Clock:
        if self.frozen_at is not None:
            return Clock(self.offset, self.frozen_at + delta)
        return Clock(self.offset + delta, None)

    def frozen(self, at: datetime) -> Clock:
        return Clock(timedelta(0), at.astimezone(UTC))

    def checked(self) -> Clock:
        """This clock, or ValueError when its time lies outside EARLIEST..LATEST."""
        try:
            now = self.now()
        except OverflowError:
            now = None
        if now is None or not EARLIEST <= now <= LATEST or abs(self.offset) > LATEST - EARLIEST:
            raise ValueError(OUT_OF_RANGE)
        return self

    def describe(self) -> dict:
        return {
            "mode": self.mode,
            "now": self.now().isoformat(),
            "now_local": self.now_local().isoformat(),
            "offset_seconds": self.offset.total_seconds(),
            "frozen_at": self.frozen_at.isoformat() if self.frozen_at else None,
        }


# State: the ``clock`` table (one row per session with a clock of its own). ----------------------


def read_clocks(conn, sessions: tuple[str, ...]) -> dict[str, Clock]:
    """The stored clocks of ``sessions`` (those without a row are left out)."""
    marks = ",".join("?" * len(sessions))
    rows = conn.execute(f"SELECT session, offset_s, frozen_at FROM clock WHERE session IN ({marks})", sessions)
    return {
        r["session"]: Clock(timedelta(seconds=r["offset_s"]),
                            datetime.fromisoformat(r["frozen_at"]) if r["frozen_at"] else None)
        for r in rows
    }


def write_clock(conn, session: str, clock: Clock | None) -> None:
    """Store a session's clock (None: the session follows the default again); call inside a write
    transaction, with :func:`mockserver.versions.bump`."""
    if clock is None:
        conn.execute("DELETE FROM clock WHERE session=?", (session,))
        return
    conn.execute(
        "INSERT INTO clock(session, offset_s, frozen_at) VALUES (?, ?, ?) "
        "ON CONFLICT(session) DO UPDATE SET offset_s=excluded.offset_s, frozen_at=excluded.frozen_at",
        (session, clock.offset.total_seconds(), clock.frozen_at.isoformat() if clock.frozen_at else None),
    )


def sessions_with_clocks(conn) -> list[str]:
    return [r["session"] for r in conn.execute("SELECT session FROM clock")]
