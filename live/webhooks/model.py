"""Standard Webhooks message ids, signatures, the retry schedule and which addresses are internal: pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
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


# `::a.b.c.d`, the deprecated IPv4-compatible form: judged by the IPv4 address it carries.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_internal(address: str) -> bool:
    """Whether a webhook to `address` would reach this machine or its private network.

    Loopback, RFC 1918 and ULA (private), link-local, unspecified, carrier-grade NAT, multicast and every
    other range that is not globally routable count; an IPv4 address inside IPv6 (`::ffff:127.0.0.1`) is
    judged as the IPv4 address it carries.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (`fe80::1%eth0`)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _IPV4_COMPATIBLE and int(ip) > 1:  # deprecated IPv4-compatible form, ::a.b.c.d
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return not ip.is_global or ip.is_multicast
