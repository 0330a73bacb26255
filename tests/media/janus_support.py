"""Real Janus nodes for tests: Debian's `janus` started on free loopback ports with generated configs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from live.media.janus.nodeconfig import NodeConfig
from tests.conftest import free_port

JANUS = "/usr/bin/janus"
# Janus loads its plugins and opens its transport in well under a second; generous for a busy machine.
START_TIMEOUT = 30.0


@dataclass
class JanusNode:
    config: NodeConfig
    role: str
    directory: Path
    # A plain `Popen`, not an asyncio process: a node may outlive the event loop that started it
    # (nodes shared by a test module, `module_nodes`).
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def setting(self) -> dict[str, str]:
        return {"url": self.url, "role": self.role}

    async def start(self) -> None:
        main = self.config.write(self.directory / "conf")
        with (self.directory / "janus.log").open("ab") as log:
            # Popen, not asyncio's: the process must outlive this loop (see `process`); spawning is instant.
            self.process = subprocess.Popen(  # noqa: ASYNC220
                [JANUS, "-C", str(main), "-F", str(main.parent), "-o"], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{self.url}/info") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"janus {self.config.name} did not start; see {self.directory / 'janus.log'}")
                await asyncio.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def kill(self) -> None:
        """Like a crash: SIGKILL, no goodbye to anyone."""
        self.kill_now()

    def kill_now(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def rooms(self) -> list[dict[str, object]]:
        """The VideoRoom rooms on this node, asked over its own API (as an operator would)."""
        async with aiohttp.ClientSession() as http:

            async def post(url: str, body: dict[str, object]) -> dict[str, object]:
                async with http.post(url, json={**body, "transaction": secrets.token_hex(6)}) as resp:
                    reply: dict[str, object] = await resp.json(content_type=None)
                    return reply

            session = await post(self.url, {"janus": "create"})
            sid = session["data"]["id"]  # type: ignore[index]
            handle = await post(f"{self.url}/{sid}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
            hid = handle["data"]["id"]  # type: ignore[index]
            reply = await post(f"{self.url}/{sid}/{hid}", {"janus": "message", "body": {"request": "list"}})
            await post(f"{self.url}/{sid}", {"janus": "destroy"})
            return list(reply["plugindata"]["data"]["list"])  # type: ignore[index]


def make_node(directory: Path, role: str) -> JanusNode:
    """A node on a free API port with its own RTP port range (so nodes and test runs do not collide)."""
    api_port = free_port()
    # 200 ports per node, placed by the free API port so that parallel runs pick different ranges.
    low = 30000 + (api_port % 150) * 200
    name = f"{role}-{api_port}"
    config = NodeConfig(name, api_port=api_port, rtp_ports=(low, low + 199), session_timeout=10)
    return JanusNode(config, role, directory / name)


@contextlib.asynccontextmanager
async def running_nodes(directory: Path, roles: tuple[str, ...] = ("origin", "edge", "edge")) -> AsyncIterator[list[JanusNode]]:
    """Real `janus` processes, one per role, killed at the end."""
    nodes = [make_node(directory, role) for role in roles]
    try:
        for node in nodes:
            await node.start()
        yield nodes
    finally:
        for node in nodes:
            await node.kill()


@contextlib.contextmanager
def module_nodes(directory: Path, roles: tuple[str, ...] = ("origin", "edge")) -> Iterator[list[JanusNode]]:
    """Like `running_nodes`, for a module-scoped fixture: started once (on a thread with its own loop,
    as pytest may ask for it from inside a test's loop) and shared by the module's tests, which must
    leave the nodes running and their rooms destroyed (every test's server does so when it stops)."""
    nodes = [make_node(directory, role) for role in roles]

    async def start() -> None:
        for node in nodes:
            await node.start()

    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, start()).result()
        yield nodes
    finally:
        for node in nodes:
            node.kill_now()


async def ensure_running(nodes: list[JanusNode]) -> list[JanusNode]:
    """Restarts any shared node a test killed (or that died), so one test's crash is not the next one's."""
    for node in nodes:
        if not node.running:
            await node.start()
    return nodes
