"""Recordings' tests run sessions of a few seconds: their servers are the engagement tests' (short sessions
scored all the same, webhooks to loopback receivers allowed), and they read mail from a real SMTP sink."""

from tests.engagement.conftest import make_server
from tests.mail.support import smtp_sink

__all__ = ["make_server", "smtp_sink"]
