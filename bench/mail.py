"""Does the mail outbox keep up with a bare SMTP loop, and how long does inviting 10,000 people take?

    .venv/bin/python bench/mail.py [--invitations 10000] [--database-url URL] [--creation-only | --render-only]

Starts an SMTP sink (aiosmtpd's `Sink` handler, in a process of its own) and the app on a fresh SQLite
database (or the empty, migrated database at --database-url) with `LIVE_SMTP_URL` pointing at the sink. One
account holds N contacts; one `POST /api/v1/sessions/{id}/invitations` invites the whole account.

Measures, in one run:
- invitation creation: from the POST until N invitation mails are rendered and queued in the outbox;
- the outbox: from the POST until the last of them is marked sent (claim, send over SMTP, record);
- the baseline: the very same N stored messages sent by `aiosmtplib` in a bare loop over one connection.

The goal "the outbox within 1.5x of the bare loop" compares the outbox end to end (from the request to
the last message sent: creating, rendering, queueing, claiming, sending, recording) with the bare loop over
the same messages; the outbox's sending alone (last queued to last sent) is printed beside it.
`--creation-only` stops once the request is answered (the invitation rows are created), to compare that
alone with older code (`PYTHONPATH=<a worktree of main>` runs this script against it). `--render-only`
drafts N invitation mails (templates, `.ics`, MIME) without app or database and prints the CPU time per
message: the figure the machine's load disturbs least.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import aiosmtplib
from aiohttp import web
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from live.app import init_app
from live.auth.store import create_token, create_user
from live.db.engine import create_engine, session_factory, upgrade
from live.db.tables import Account, Contact, Mail, new_id
from live.mail.compose import stamped
from live.settings import Settings


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def seed(url: str, n: int) -> tuple[str, str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            user = await create_user(db, f"bench-{uuid.uuid4().hex[:6]}@bench.test", "admin", "bench-pass-1", "Bench")
            token = await create_token(db, user)
            account_id = new_id()
            now = datetime.now(UTC)
            await db.execute(insert(Account).values(
                id=account_id, name="Bench Corp", plan="enterprise", mrr=1000.0, ltv=40000.0, signed_at=now,
                tier="low", tier_source="engine", phase="utilization", phase_source="engine", health="neutral",
                engine_state={}, created_at=now, updated_at=now,
            ))
            rows = [{"id": new_id(), "account_id": account_id, "name": f"Person {i}", "email": f"p{i}@benchcorp.test",
                     "created_at": now} for i in range(n)]
            for start in range(0, n, 1000):
                await db.execute(insert(Contact), rows[start : start + 1000])
            await db.commit()
            return token, account_id
    finally:
        await engine.dispose()


async def count(engine: AsyncEngine, status: str | None = None) -> int:
    async with session_factory(engine)() as db:
        query = select(func.count()).select_from(Mail)
        if status:
            query = query.where(Mail.status == status)
        return int((await db.execute(query)).scalar_one())


async def stored_messages(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            return [(m.to_email, m.message) for m in (await db.execute(select(Mail))).scalars()]
    finally:
        await engine.dispose()


async def bare_loop(port: int, messages: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    for to, message in messages:
        await smtp.sendmail("noreply@bench.test", [to], stamped(message, datetime.now(UTC)).encode())
    await smtp.quit()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invitations", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--creation-only", action="store_true", help="stop once the invitation request is answered")
    parser.add_argument("--render-only", action="store_true", help="only draft N invitation mails, no app")
    args = parser.parse_args()
    n = args.invitations
    import live

    print(f"code: {Path(live.__file__).parent}   load average at start: {_load()}")
    if args.render_only:
        render_only(n)
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(url)
    token, account_id = await seed(url, n)

    smtp_port = free_port()
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{smtp_port}"
    )
    try:
        await wait_port(smtp_port)
        port = free_port()
        settings = replace(
            Settings(), database_url=url, secret_key="bench-" + uuid.uuid4().hex, public_url=f"http://127.0.0.1:{port}",
            var_dir=tmp / "var", smtp_url=f"smtp://127.0.0.1:{smtp_port}", reminders=(), outbox_interval=0.05,
        )
        runner = web.AppRunner(init_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with aiohttp.ClientSession() as http:
                body = {"kind": "webinar", "title": "Bench webinar", "host_email": (await _host_email(url)),
                        "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(), "duration_minutes": 60}
                headers = {"Authorization": f"Bearer {token}"}
                async with http.post(f"{settings.public_url}/api/v1/sessions", json=body, headers=headers) as r:
                    session_id = (await r.json())["id"]
                started = time.perf_counter()
                async with http.post(f"{settings.public_url}/api/v1/sessions/{session_id}/invitations",
                                     json={"account_ids": [account_id]}, headers=headers) as r:
                    assert r.status == 200, await r.text()
                responded = time.perf_counter() - started
            if args.creation_only:
                from live.mail.triggers import INVITATION_BATCHER

                batcher = runner.app[INVITATION_BATCHER]  # no need to render the mails: stop it
                batcher.pending.clear()
                if batcher.task is not None:
                    batcher.task.cancel()
                print(f"\n{n:,} invitations: request answered (invitation rows created) in {responded:.2f} s"
                      f"   (goal: under 10 s; load average at end: {_load()})")
                return
            # Polling the outbox table is the measurement: it is what a user would see on /mail. One engine
            # for all the polls (this process is the app's too: the measuring must not cost it much).
            poller = create_engine(url)
            try:
                while await count(poller) < n:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                queued = time.perf_counter() - started
                while await count(poller, "sent") < n:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                outbox = time.perf_counter() - started
            finally:
                await poller.dispose()
        finally:
            await runner.cleanup()
        messages = await stored_messages(url)
        bare = await bare_loop(smtp_port, messages)
    finally:
        sink.terminate()
        await sink.wait()

    send_only = outbox - queued
    print(f"\n{n:,} invitations for one webinar, SQLite, SMTP sink on loopback (aiosmtpd Sink, own process)\n")
    print(f"{'what':<58} {'seconds':>8} {'msgs/s':>8}")
    print(f"{'invitation request answered (invitations created)':<58} {responded:>8.2f} {'':>8}")
    print(f"{'... and every mail rendered and queued in the outbox':<58} {queued:>8.2f} {n / queued:>8.0f}")
    print(f"{'... and every mail sent by the outbox (from the request)':<58} {outbox:>8.2f} {n / outbox:>8.0f}")
    print(f"{'outbox sending alone (last queued -> last sent)':<58} {send_only:>8.2f} {n / send_only:>8.0f}")
    print(f"{'baseline: aiosmtplib, same messages, bare loop':<58} {bare:>8.2f} {n / bare:>8.0f}")
    print(f"\noutbox end to end (request -> last sent) / bare loop: {outbox / bare:.2f}x   (goal: within 1.5x)")
    print(f"outbox sending alone (last queued -> last sent) / bare loop: {send_only / bare:.2f}x")
    print(f"invitation rows created in {responded:.2f} s (goal: under 10 s); load average at end: {_load()}")


def render_only(n: int) -> None:
    """Drafts N invitations of one webinar as the outbox queues them, timing the CPU it takes."""
    from live.db.tables import LiveSession, User
    from live.mail.compose import Composer
    from live.mail.model import MailKind
    from live.mail.triggers import Drafting, invitation_key

    settings = replace(Settings(), secret_key="bench-" + uuid.uuid4().hex, public_url="http://127.0.0.1:8080")
    session = LiveSession(id=new_id(), kind="webinar", title="Bench webinar", duration_minutes=60, sequence=0,
                          starts_at=datetime.now(UTC) + timedelta(days=3), host_id="h")
    host = User(id="h", email="host@bench.test", name="Hanna Host")
    contacts = [Contact(id=new_id(), account_id="a", name=f"Person {i}", email=f"p{i}@benchcorp.test") for i in range(n)]
    drafting = Drafting(settings, Composer(settings.sender, settings.public_url), session, host)
    started = time.process_time()
    for contact in contacts:
        drafting.draft(invitation_key(session.id, contact.id), MailKind.INVITATION, contact, calendar="REQUEST")
    cpu = time.process_time() - started
    print(f"\n{n:,} invitation mails drafted in {cpu:.2f} s of CPU: {cpu / n * 1000:.2f} ms per message"
          f"   (load average at end: {_load()})")


def _load() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def _host_email(url: str) -> str:
    from live.db.tables import User

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            return str((await db.execute(select(User.email).limit(1))).scalar_one())
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
