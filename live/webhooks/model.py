"""Standard Webhooks message ids, signatures and the retry schedule: pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from enum import StrEnum


class WebhookEvent(StrEnum):
    TIER_CHANGED = "account.tier_changed"
    PHASE_CHANGED = "account.phase_changed"
    AT_RISK = "account.at_risk"
    SESSION_ENDED = "session.ended"
    RECORDING_READY = "recording.ready"
    REGISTRATION_CREATED = "registration.created"


SECRET_PREFIX = "whsec_"
# Attempts after the first, spaced 1 s, 2 s, 4 s ... capped at one hour; then the delivery is failed.
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=1)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the secret's base64-decoded key."""
    mac = hmac.new(_key(secret), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, message_id: str, timestamp: int, body: str, signature_header: str) -> bool:
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signature_header.split())


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_BACKOFF)
