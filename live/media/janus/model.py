"""Which Janus nodes live drives (`LIVE_JANUS`), checked once at start-up (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from live.errors import InvalidInput


@dataclass(frozen=True)
class NodeSpec:
    """One entry of `LIVE_JANUS`."""

    url: str
    role: str
    admin_key: str | None = None

    @property
    def name(self) -> str:
        return f"{self.role}@{urlsplit(self.url).netloc}"

    @property
    def rtp_host(self) -> str:
        """Where the origin sends a cascaded publisher's RTP: the edge's own host."""
        return urlsplit(self.url).hostname or "127.0.0.1"


def parse_nodes(value: Any) -> list[NodeSpec]:
    """`LIVE_JANUS` checked: exactly one origin, any number of edges, each with an http(s) URL."""
    if not isinstance(value, list):
        raise InvalidInput(f"Config 'LIVE_JANUS' has value {value!r}. Not a JSON list of nodes.")
    nodes = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"url", "role", "admin_secret"}:
            raise InvalidInput(f"LIVE_JANUS entry {entry!r} needs 'url' and 'role', and only 'admin_secret' besides.")
        url, role, secret = entry.get("url"), entry.get("role"), entry.get("admin_secret")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise InvalidInput(f"LIVE_JANUS entry {entry!r}: 'url' must be Janus's HTTP API, e.g. http://h:8088/janus")
        if role not in ("origin", "edge"):
            raise InvalidInput(f"LIVE_JANUS entry {entry!r}: 'role' must be 'origin' or 'edge', not {role!r}")
        if secret is not None and not isinstance(secret, str):
            raise InvalidInput(f"LIVE_JANUS entry {entry!r}: 'admin_secret' must be a string")
        nodes.append(NodeSpec(url, role, secret))
    origins = [n for n in nodes if n.role == "origin"]
    if len(origins) != 1:
        raise InvalidInput(f"LIVE_JANUS needs exactly one 'origin' node; it has {len(origins)}.")
    return nodes
