"""Outgoing webhooks: Standard Webhooks signing, the outbox table and its delivery loop."""
