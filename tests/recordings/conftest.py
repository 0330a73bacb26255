from tests.mail.support import smtp_sink

__all__ = ["smtp_sink"]
