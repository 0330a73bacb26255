"""A real SMTP server for the mail tests (aiosmtpd on a free loopback port) and readers of what it received."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    """Accepts every message, unless told to refuse the next `refuse` DATA commands with a 451, or a
    recipient named in `unknown` with a 550 (no such mailbox: final)."""

    port: int
    messages: list[Received] = field(default_factory=list)
    refusals: int = 0
    refuse: int = 0
    unknown: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refusals += 1
                return "451 4.3.0 Not now, try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def where(self, predicate: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.messages if predicate(r.message)]

    async def wait_for(self, count: int, predicate: Callable[[EmailMessage], bool] = lambda m: True,
                       within: float = 30.0) -> list[EmailMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = self.where(predicate)
            if len(found) >= count or loop.time() > deadline:
                return found
            await asyncio.sleep(0.05)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def subject(prefix: str) -> Callable[[EmailMessage], bool]:
    return lambda m: str(m["Subject"]).startswith(prefix)


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def calendar_of(message: EmailMessage) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return bytes(part.get_payload(decode=True))
    raise AssertionError("no text/calendar part")
