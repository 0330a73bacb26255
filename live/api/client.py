"""Who is asking: the client's address, read through the reverse proxies the operator trusts.

Behind the bundled nginx every request comes from the proxy, so throttles keyed by address would lump all
clients together. `LIVE_TRUSTED_PROXIES` (addresses or networks) names the proxies whose `X-Forwarded-For`
is believed; the client is the right-most address in that header that is not itself a trusted proxy (the
left-most entries are whatever the client chose to send, so they are never trusted).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

from live.typedefs import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`["10.0.0.0/8", "127.0.0.1"]` as networks; a value that is neither raises ValueError naming it."""
    networks = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an IP address or network") from exc
    return tuple(networks)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client behind `peer`: `peer` itself unless it is a trusted proxy that says who it forwarded."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, trusted):
            return hop
    return peer


def client_address(request: web.Request) -> str:
    peer = request.remote or "unknown"
    return forwarded_client(peer, request.headers.get("X-Forwarded-For"), request.app[SETTINGS].trusted_proxies)
