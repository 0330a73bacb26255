"""Webinar media on Janus nodes (origin and edges), driven over their HTTP API."""
