"""The mail outbox loop: claims due messages, hands them to SMTP (or writes `.eml` files), records the outcome.

Without `LIVE_SMTP_URL` every message is written under the mail directory instead, so a newcomer sees on
`/mail` exactly what customers would get. A message is marked sent only after the server accepted it; a
process that dies in between sends it again after the lease (at least once, with the same Message-ID,
which receiving servers use to drop the duplicate).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiohttp import web
from sqlalchemy import update

from live.background import running
from live.db.tables import Mail
from live.mail import store
from live.mail.compose import stamped
from live.mail.model import MAX_ATTEMPTS, MailStatus, SmtpTarget, backoff
from live.metrics import Metrics
from live.settings import Settings
from live.typedefs import DB, METRICS, SETTINGS

log = logging.getLogger(__name__)

# Messages claimed per sweep: one SMTP connection carries them one after another.
BATCH = 200
# A claimed message is invisible to other processes for this long; a crash mid-batch retries after it.
LEASE = timedelta(minutes=2)
SMTP_TIMEOUT = 30.0
# Connections one sweep opens at most, one per PER_CONNECTION messages (a handful of mails use one).
SMTP_CONNECTIONS = 4
PER_CONNECTION = 25


class Permanent(str):
    """A reason the server gave as final (an SMTP 5xx reply: no such mailbox, message refused): trying the
    same message again cannot succeed, so it is `failed` at once rather than retried for two hours."""


def _permanent(exc: aiosmtplib.SMTPException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def _reason(exc: aiosmtplib.SMTPException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "recipient refused: " + "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    return f"{type(exc).__name__}: {exc}"


class Transport(Protocol):
    async def send(self, messages: Sequence[store.Claimed], at: datetime) -> list[str | None]:
        """Sends each message; returns, in order, None for accepted or the reason it was not (a
        `Permanent` one when retrying cannot help)."""
        ...


class SmtpTransport:
    def __init__(self, target: SmtpTarget, envelope_from: str) -> None:
        self.target = target
        self.envelope_from = envelope_from

    async def send(self, messages: Sequence[store.Claimed], at: datetime) -> list[str | None]:
        """A large batch goes over a few connections at once: each message waits on three or four round trips
        to the server, and one connection spends most of its time waiting (bench/mail.py measures it)."""
        connections = max(1, min(SMTP_CONNECTIONS, math.ceil(len(messages) / PER_CONNECTION)))
        size = math.ceil(len(messages) / connections)
        slices = [messages[start : start + size] for start in range(0, len(messages), size)]
        outcomes = await asyncio.gather(*(self._send_one_connection(part, at) for part in slices))
        return [outcome for part in outcomes for outcome in part]

    async def _send_one_connection(self, messages: Sequence[store.Claimed], at: datetime) -> list[str | None]:
        results: list[str | None] = []
        t = self.target
        smtp = aiosmtplib.SMTP(
            hostname=t.host, port=t.port, use_tls=t.implicit_tls, start_tls=t.starttls, timeout=SMTP_TIMEOUT,
            username=t.username, password=t.password,
        )
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return [f"{type(exc).__name__}: {exc}"] * len(messages)
        try:
            for index, mail in enumerate(messages):
                try:
                    await smtp.sendmail(self.envelope_from, [mail.to_email], stamped(mail.message, at).encode())
                    results.append(None)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as exc:
                    # The connection is gone: this and every later message wait for the next sweep.
                    results += [f"{type(exc).__name__}: {exc}"] * (len(messages) - index)
                    break
                except aiosmtplib.SMTPException as exc:
                    reason = _reason(exc)
                    results.append(Permanent(reason) if _permanent(exc) else reason)
                    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421:
                        # 421: the server is closing the connection; the rest wait for the next sweep.
                        results += [f"SMTP 421: {exc.message}"] * (len(messages) - index - 1)
                        break
        finally:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
        return results


class FileTransport:
    """Writes each message as `<time>-<id>.eml`: what `make run` does with no SMTP server configured."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, messages: Sequence[store.Claimed], at: datetime) -> list[str | None]:
        return await asyncio.to_thread(self._write, messages, at)

    def _write(self, messages: Sequence[store.Claimed], at: datetime) -> list[str | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results: list[str | None] = []
        for mail in messages:
            path = self.directory / f"{at:%Y%m%dT%H%M%S}-{mail.id}.eml"
            tmp = path.with_suffix(".tmp")
            try:
                tmp.write_bytes(stamped(mail.message, at).encode())
                os.replace(tmp, path)  # a reader never sees half a file
                results.append(None)
            except OSError as exc:
                results.append(f"{type(exc).__name__}: {exc}")
        return results


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport(SmtpTarget.parse(settings.smtp_url), parseaddr(settings.sender)[1])
    return FileTransport(settings.mail_path)


def eml_path(settings: Settings, mail: Mail) -> Path | None:
    """The `.eml` file of a message written in file mode, if there is one."""
    if settings.smtp_url or mail.sent_at is None:
        return None
    matches = sorted(settings.mail_path.glob(f"*-{mail.id}.eml"))
    return matches[-1] if matches else None


async def send_due(app: web.Application, transport: Transport, limit: int = BATCH) -> int:
    """One sweep: claim, send, record. Returns how many messages it claimed."""
    factory = app[DB]
    now = datetime.now(UTC)
    async with factory() as db:
        claimed = await store.claim_due(db, now, LEASE, limit)
    if not claimed:
        return 0
    suppressed = [m.id for m in claimed if m.suppressed]
    too_late = [m.id for m in claimed if m.too_late and not m.suppressed]
    to_send = [m for m in claimed if not m.suppressed and not m.too_late]
    at = datetime.now(UTC)
    outcomes = await transport.send(to_send, at) if to_send else []
    sent = [m.id for m, error in zip(to_send, outcomes, strict=True) if error is None]
    failed = [(m, error) for m, error in zip(to_send, outcomes, strict=True) if error is not None]
    done = datetime.now(UTC)
    async with factory() as db:
        await store.record(db, sent, status=MailStatus.SENT.value, sent_at=done, claim=None,
                           attempts=Mail.attempts + 1, last_error=None)
        await store.record(db, suppressed, status=MailStatus.SUPPRESSED.value, claim=None,
                           last_error="the person unsubscribed")
        await store.record(db, too_late, status=MailStatus.SUPPRESSED.value, claim=None,
                           last_error="not sent: the session had already started")
        for mail, error in failed:
            attempts = mail.attempts + 1
            values: dict[str, object] = {"attempts": attempts, "last_error": error, "claim": None}
            if attempts >= MAX_ATTEMPTS or isinstance(error, Permanent):
                values["status"] = MailStatus.FAILED.value
                log.warning("mail %s to %s failed for good after %d attempts: %s", mail.id, mail.to_email,
                            attempts, error)
            else:
                values["next_attempt_at"] = done + backoff(attempts)
                log.info("mail %s to %s: attempt %d failed (%s); retrying", mail.id, mail.to_email, attempts, error)
            await db.execute(update(Mail).where(Mail.id == mail.id).values(**values),
                             execution_options={"synchronize_session": False})
        await db.commit()
    metrics: Metrics = app[METRICS]
    metrics.mails.labels(MailStatus.SENT.value).inc(len(sent))
    metrics.mails.labels(MailStatus.SUPPRESSED.value).inc(len(suppressed) + len(too_late))
    metrics.mails.labels("attempt_failed").inc(len(failed))
    return len(claimed)


MAIL_WAKE = web.AppKey("mail_wake", asyncio.Event)


def poke(app: web.Application) -> None:
    """Wakes the loop at once after new rows were committed."""
    wake = app.get(MAIL_WAKE)
    if wake is not None:
        wake.set()


async def mail_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs the send loop for the app's lifetime; rows left queued resume after a restart."""
    wake = asyncio.Event()
    app[MAIL_WAKE] = wake
    settings = app[SETTINGS]
    transport = transport_for(settings)

    async def loop() -> None:
        while True:
            try:
                claimed = await send_due(app, transport)
            except Exception:
                log.exception("mail outbox sweep failed; the next sweep retries")
                claimed = 0
            if claimed:
                continue
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), settings.outbox_interval)
            except TimeoutError:
                pass

    async with running(loop(), name="mail-outbox"):
        yield
