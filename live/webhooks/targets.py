"""Where webhooks may go: URLs that name or resolve to internal addresses are refused, at creation and at
every delivery, and a delivery connects to exactly the address that was checked.

Checking a name and then letting the HTTP client resolve it again would leave a window in which the name
changes to 127.0.0.1 (DNS rebinding); so the client's own resolver does the check, and the addresses it
returns are the ones the connection uses. Redirects are never followed (a public URL could point inward).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from live.errors import InvalidInput
from live.webhooks.model import is_internal

# Seconds a name may take to resolve when a webhook is created; past it the name is accepted for now and
# checked at each delivery (which refuses it then if it resolves inward).
RESOLVE_TIMEOUT = 3.0
ALLOW_HINT = "set LIVE_WEBHOOK_ALLOW_PRIVATE=true to allow it (development only)"


class InternalTarget(OSError):
    """A delivery refused because its host is or resolves to an internal address."""


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


async def _addresses(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, allow_private: bool) -> None:
    """Refuses (400) a URL whose host is, or now resolves to, an internal address."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise InvalidInput(f"'url' has value {url!r}, which names no host.")
    if allow_private:
        return
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback, resolvable or not
        raise InvalidInput(f"'url' host {host!r} is loopback; {ALLOW_HINT}.", code="internal_url")
    literal = _literal(host)
    if literal is not None:
        if is_internal(literal):
            raise InvalidInput(f"'url' points at {literal}, an internal address; {ALLOW_HINT}.", code="internal_url")
        return
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, TimeoutError):
        return  # unresolvable now: each delivery resolves and checks it again
    internal = [a for a in addresses if is_internal(a)]
    if internal:
        raise InvalidInput(
            f"'url' host {host!r} resolves to {internal[0]}, an internal address; {ALLOW_HINT}.", code="internal_url"
        )


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver that refuses names resolving to any internal address (unless allowed)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self.allow_private:
            for result in results:
                if is_internal(result["host"]):
                    raise InternalTarget(f"{host} resolves to {result['host']}, an internal address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_delivery_host(url: str, allow_private: bool) -> None:
    """IP literals never reach the resolver: they are checked here, before connecting."""
    host = urlsplit(url).hostname or ""
    literal = _literal(host)
    if literal is not None and not allow_private and is_internal(literal):
        raise InternalTarget(f"{literal} is an internal address")


def delivery_session(allow_private: bool) -> aiohttp.ClientSession:
    """The HTTP client of the outbox: every connection resolves afresh, through the guard."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector)

