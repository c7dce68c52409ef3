"""The e-mail outbox: notifications recorded exactly once, delivered over SMTP at least once.

A provider records a message with :meth:`Outbox.enqueue` inside the same write transaction as the
state change it reports (a timer firing, an admin decision), so the record exists iff the change
does. Delivery happens outside that transaction, in the runtime's background work
(:meth:`Outbox.work`), whose rounds claim due rows atomically (several worker processes never send
one row twice), send them with ``smtplib`` to ``settings.smtp_host:smtp_port``, and retries with exponential backoff.

Attachments (MYSuite's distribution mail: the CFDI's XML and PDF) are rows of ``outbox_attachments``
written in the same transaction as their message.

Status of a row: ``recorded`` (no SMTP server configured: kept for ``/__admin/mail`` only),
``pending`` (waiting for its next attempt), ``sending`` (claimed by a delivery loop), ``sent``,
``failed`` (gave up after ``max_attempts``; ``last_error`` says why). A claim that is not finished
(its process died) expires after ``claim_seconds`` and the row is sent again: delivery is at
least once, the record exactly once.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any

from .background import Work
from .request_threads import away

if TYPE_CHECKING:
    import sqlite3

    from .context import Sandbox
    from .settings import Settings
    from .store import Store

log = logging.getLogger("pac_mock.mail")

DELIVERY = "mail"  # the name of the delivery work

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    created_at TEXT NOT NULL,
    provider TEXT,
    uuid TEXT,
    mail_from TEXT NOT NULL,
    mail_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    headers TEXT NOT NULL DEFAULT '{}',
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    claimed_until REAL,
    last_error TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_session ON outbox(session, id);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS outbox_attachments (
    outbox_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    session TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (outbox_id, position)
);
"""

RECORDED = "recorded"
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

MAX_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (``content_type`` as ``maintype/subtype``)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Mail:
    """One notification to record (and deliver). ``headers`` are extra headers such as ``X-SFService``;
    ``to`` may list several addresses separated by commas."""

    to: str
    subject: str
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    uuid: str | None = None
    provider: str | None = None
    attachments: tuple[Attachment, ...] = ()


class Outbox:
    """The outbox table of one store, and the loop that delivers it."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        claim_seconds: float = 60.0,
        smtp_timeout: float = 10.0,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.claim_seconds = claim_seconds
        self.smtp_timeout = smtp_timeout
        self._wake = wake  # brings the delivery round forward (the runtime's background runner)

    @property
    def delivers(self) -> bool:
        """True when an SMTP server is configured (otherwise messages are only recorded)."""
        return bool(self.settings.smtp_host)

    # Recording -----------------------------------------------------------------------------------

    def enqueue(self, conn: sqlite3.Connection, session: str, mail: Mail, *, at: datetime) -> int:
        """Record ``mail`` inside the caller's transaction; ``at`` is the (mock) time it was written."""
        cur = conn.execute(
            "INSERT INTO outbox(session, created_at, provider, uuid, mail_from, mail_to, subject, headers, body, "
            "status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                session,
                at.isoformat(),
                mail.provider,
                mail.uuid.upper() if mail.uuid else None,
                self.settings.mail_from,
                mail.to,
                mail.subject,
                json.dumps(dict(mail.headers)),
                mail.body,
                PENDING if self.delivers else RECORDED,
                time.time() if self.delivers else None,
            ),
        )
        outbox_id = int(cur.fetchone()[0])
        for position, attachment in enumerate(mail.attachments):
            conn.execute(
                "INSERT INTO outbox_attachments(outbox_id, position, session, filename, content_type, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (outbox_id, position, session, attachment.filename, attachment.content_type, attachment.data),
            )
        self._wake()
        return outbox_id

    # Reading -------------------------------------------------------------------------------------

    def messages(
        self, session: str, *, to: str | None = None, uuid: str | None = None, status: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """The session's messages, oldest first, optionally filtered (``to`` and ``uuid`` in any case)."""
        sql = "SELECT * FROM outbox WHERE session=?"
        args: list[Any] = [session]
        if to:
            sql += " AND lower(mail_to)=lower(?)"
            args.append(to)
        if uuid:
            sql += " AND uuid=?"
            args.append(uuid.upper())
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += " ORDER BY id LIMIT ?"
        args.append(max(1, min(limit, 10_000)))
        with self.store.read() as conn:
            rows = conn.execute(sql, args).fetchall()
            files: dict[int, list[dict[str, Any]]] = {}
            ids = [r["id"] for r in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for f in conn.execute(
                    "SELECT outbox_id, filename, content_type, length(data) AS size FROM outbox_attachments "
                    f"WHERE outbox_id IN ({','.join('?' * len(chunk))}) ORDER BY outbox_id, position",
                    chunk,
                ):
                    files.setdefault(f["outbox_id"], []).append(
                        {"filename": f["filename"], "content_type": f["content_type"], "size": f["size"]}
                    )
        return [_describe(r, files.get(r["id"], [])) for r in rows]

    def wait(self, session: str, count: int, timeout: float, **filters: str | None) -> tuple[list[dict], bool]:
        """Wait until ``count`` messages match or ``timeout`` seconds pass. Returns (messages, timed_out)."""
        deadline = time.monotonic() + max(0.0, min(timeout, MAX_WAIT_SECONDS))
        pause = 0.05
        with away():  # the whole wait: its few queries need no turn of their own
            while True:
                found = self.messages(session, **filters)
                if len(found) >= count:
                    return found, False
                if time.monotonic() >= deadline:
                    return found, True
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                # Quick to see mail that comes soon; a long wait looks less often, so that hundreds
                # of open waits do not keep the CPU busy with queries.
                pause = min(pause * 1.5, 0.25)

    def clear(self, session: str) -> int:
        with self.store.tx() as conn:
            conn.execute("DELETE FROM outbox_attachments WHERE session=?", (session,))
            return conn.execute("DELETE FROM outbox WHERE session=?", (session,)).rowcount

    # Delivery ------------------------------------------------------------------------------------

    def claim_due(self, limit: int = 20) -> list[dict]:
        """Atomically take due rows (pending and due, or abandoned while sending) for this process."""
        now = time.time()
        with self.store.tx() as conn:
            rows = conn.execute(
                "UPDATE outbox SET status=?, claimed_until=?, attempts=attempts+1 WHERE id IN ("
                " SELECT id FROM outbox WHERE (status=? AND next_attempt_at<=?) OR (status=? AND claimed_until<?)"
                " ORDER BY id LIMIT ?) RETURNING *",
                (SENDING, now + self.claim_seconds, PENDING, now, SENDING, now, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def deliver_due(self) -> int:
        """Send what is due now. Returns how many messages were sent."""
        sent = 0
        for row in self.claim_due():
            try:
                self._send(row)
            except (OSError, smtplib.SMTPException) as exc:
                self._failed(row, f"{type(exc).__name__}: {exc}")
                continue
            with self.store.tx() as conn:
                conn.execute(
                    "UPDATE outbox SET status=?, sent_at=?, last_error=NULL, claimed_until=NULL WHERE id=?",
                    (SENT, datetime.now(UTC).isoformat(), row["id"]),
                )
            sent += 1
        return sent

    def _failed(self, row: dict, error: str) -> None:
        give_up = row["attempts"] >= self.max_attempts
        delay = self.backoff_seconds * (2 ** (row["attempts"] - 1))
        log.warning("mail %s to %s: attempt %s failed: %s", row["id"], row["mail_to"], row["attempts"], error)
        with self.store.tx() as conn:
            conn.execute(
                "UPDATE outbox SET status=?, last_error=?, next_attempt_at=?, claimed_until=NULL WHERE id=?",
                (FAILED if give_up else PENDING, error[:500], None if give_up else time.time() + delay, row["id"]),
            )

    def build_message(self, row: Mapping[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = row["mail_from"]
        message["To"] = row["mail_to"]
        message["Subject"] = row["subject"]
        message["Date"] = format_datetime(datetime.fromisoformat(row["created_at"]))
        message["Message-ID"] = make_msgid(idstring=f"outbox-{row['id']}", domain="pac-mock.local")
        for name, value in json.loads(row["headers"]).items():
            message[name] = value
        message.set_content(row["body"])
        with self.store.read() as conn:
            files = conn.execute(
                "SELECT filename, content_type, data FROM outbox_attachments WHERE outbox_id=? ORDER BY position",
                (row["id"],),
            ).fetchall()
        for f in files:
            maintype, _, subtype = f["content_type"].partition("/")
            message.add_attachment(bytes(f["data"]), maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=f["filename"])
        return message

    def _send(self, row: Mapping[str, Any]) -> None:
        host = self.settings.smtp_host
        if not host:
            raise smtplib.SMTPException("no SMTP server configured")
        with smtplib.SMTP(host, self.settings.smtp_port, timeout=self.smtp_timeout) as smtp:
            smtp.send_message(self.build_message(row))

    def wake(self) -> None:
        """Deliver soon: a message was just recorded."""
        self._wake()

    def work(self, interval: float = 0.5) -> Work:
        """Delivery as background work: it runs only when an SMTP server is configured."""
        return Work(DELIVERY, self.deliver_due, every=interval, after_timers=True, enabled=self.delivers,
                    stop_timeout=self.smtp_timeout + 5)


def _describe(row: Mapping[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "provider": row["provider"],
        "uuid": row["uuid"],
        "from": row["mail_from"],
        "to": row["mail_to"],
        "subject": row["subject"],
        "headers": json.loads(row["headers"]),
        "body": row["body"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "sent_at": row["sent_at"],
        "attachments": attachments,  # filename, content_type and size of each, in order
    }


def outbox_for(runtime: Sandbox) -> Outbox:
    """The runtime's outbox."""
    return runtime.outbox
