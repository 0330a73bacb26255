"""The fan-out baseline: a bare aiohttp + python-socketio server on `/live`, no auth, no database, no room state.

    .venv/bin/python bench/bare_server.py --port 8099 [--redis redis://127.0.0.1:6379/14]

What `bench/fanout.py` compares the app against. It does only what the transport must do:
on connect the socket joins one room and gets a small `room.state`; `chat.send` is acknowledged
and broadcast to the room as `chat.message` (the app's payload shape). With `--redis` it uses
`AsyncRedisManager`, as `live serve` does with `LIVE_REDIS_URL`, so two processes act as one room.
Same Engine.IO ping settings as `live.app`.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web

NAMESPACE = "/live"
ROOM = "s:bench"


def make_app(redis_url: str | None) -> web.Application:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, ping_interval=10, ping_timeout=20)
    app = web.Application()
    sio.attach(app)
    tasks: set[asyncio.Task[Any]] = set()

    async def welcome(sid: str) -> None:
        # Like the app: `room.state` only once Socket.IO has sent the CONNECT packet.
        for _ in range(1000):
            if sio.manager.is_connected(sid, NAMESPACE):
                break
            await asyncio.sleep(0.005)
        await sio.enter_room(sid, ROOM, namespace=NAMESPACE)
        await sio.emit("room.state", {"you": {"participant_id": sid}}, to=sid, namespace=NAMESPACE)

    @sio.on("connect", namespace=NAMESPACE)
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        task = asyncio.ensure_future(welcome(sid))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    @sio.on("chat.send", namespace=NAMESPACE)
    async def chat_send(sid: str, data: Any = None) -> dict[str, Any]:
        message_id = uuid.uuid4().hex
        at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        text = data.get("text", "") if isinstance(data, dict) else ""
        await sio.emit(
            "chat.message",
            {"id": message_id, "participant_id": sid, "name": "bench", "text": text, "at": at},
            to=ROOM,
            namespace=NAMESPACE,
        )
        return {"ok": True, "id": message_id}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default=None, help="Redis URL: fan out across processes with AsyncRedisManager")
    parser.add_argument(
        "--tuned-gc", action="store_true", help="the same garbage-collector tuning as `live serve` (freeze + thresholds)"
    )
    args = parser.parse_args()
    app = make_app(args.redis)
    if args.tuned_gc:
        from live.cli import _tune_gc

        app.on_startup.append(_tune_gc)
    web.run_app(app, host=args.host, port=args.port, print=None, shutdown_timeout=5)


if __name__ == "__main__":
    main()
