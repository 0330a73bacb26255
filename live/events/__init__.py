"""The append-only event log: event types, the batching writer, and reading a session's log."""
