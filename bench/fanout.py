"""Fan-out of one webinar to N attendees: the real app against a bare python-socketio broadcast server.

    .venv/bin/python bench/fanout.py --attendees 500 [--processes 1|2] [--chat-rate R] [--seconds S]
    .venv/bin/python bench/fanout.py                     # the default set: 500 and 2000, 1 and 2 processes

For each (N, processes) the bench runs the same load twice, first against the app and then against
`bench/bare_server.py`:
- the app is `python -m live serve` in subprocesses on free ports: SQLite and no Redis for one
  process; a fresh PostgreSQL database (`bench_<hex>`, dropped afterwards) and Redis db 14 for two,
  with half the attendees on each. The webinar, its host (API token) and N invited contacts (join
  tokens) are written straight into the database before the servers start;
- N attendees are real python-socketio `AsyncClient`s (websocket transport) spread over
  `--workers` OS processes (`bench/_fanout_clients.py`), so the client side is not one event loop;
  the host is one more client, in this process, on the first server.

Phases, all timed with `time.time()` (one clock for every process on the machine):
1. join storm: every attendee connects at the same instant; the figure is the time until the last
   has its `room.state`. A refused attendee retries (20 at a time per client process) like a page
   told "try again"; `refused` counts the first attempts that failed. The bench then waits until the servers and clients are idle again
   (`settle s`: with the app that is the `presence.joined` fan-out, N^2/2 messages).
2. chat: the host sends `--chat-rate` messages a second for `--seconds`, each text carrying its send
   time; every attendee records the delivery latency of every copy. p50/p99 over all deliveries;
   `lost` = messages acknowledged x attendees present - copies received (after a drain).
3. poll burst (app only): the host opens a poll, every attendee votes at the same instant; the
   `poll tally` is from the first vote sent until the host's `poll.results` shows all N voters.

CPU columns come from /proc: the servers' and the clients' CPU during the chat window (share of
one core), and how busy the whole machine was (it also runs other people's work).

What one join costs, load-independent (the third table): the servers' CPU seconds from the start of
the storm until they are idle again, less what they burn idle (measured for IDLE_WINDOW seconds
before the storm), per attendee (`cpu ms/join`), and with Redis the commands Redis
ran and the reads it served (`INFO commandstats`, `INFO stats` `total_reads_processed`: one read is
one request a client sent, however many commands it pipelined: a round trip) per attendee, over the
same span. `--private-redis` runs a `redis-server` of the bench's own on a free port for each
two-process scenario, so nothing else's traffic is counted (and no shared database is flushed);
`--storm-only` skips the chat and poll phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import _fanout_clients as clients  # noqa: E402
import aiohttp  # noqa: E402
import socketio  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
NAMESPACE = "/live"
POLL_OPTIONS = 4
# Idle means every bench process together under this share of one core, for IDLE_SAMPLES samples in a row.
IDLE_CORES = 0.15
IDLE_SAMPLE = 0.5
IDLE_SAMPLES = 2
# Seconds the servers' idle CPU is measured before the storm (subtracted from the storm's).
IDLE_WINDOW = 3.0
# The chat text is about as long as a typical message; the numbers at its start are what is measured.
CHAT_PAD = "x" * 40
TICKS = os.sysconf("SC_CLK_TCK")
# py-spy's samples a second with `--profile`: low, so the sampler does not take the 2 cores from the storm.
PROFILE_RATE = 50
SERVE_WITH_GC = "import gc; gc.set_threshold({thresholds}); from live.cli import main; main(['serve', '--port', '{port}'])"


# --------------------------------------------------------------------------- processes and CPU
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all threads) from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuWindow:
    """CPU of some processes, and of the whole machine, between `start()` and `stop()`."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0 = [cpu_seconds(p) for p in self.pids]
        self.machine0 = machine_busy()

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.t0
        self.cores = sum(cpu_seconds(p) - c for p, c in zip(self.pids, self.cpu0, strict=True)) / self.seconds
        busy, total = machine_busy()
        self.machine = (busy - self.machine0[0]) / max(1, total - self.machine0[1])


async def wait_idle(pids: list[int], limit: float) -> float:
    """Seconds until the given processes together use under IDLE_CORES of a core (at most `limit`)."""
    start = time.monotonic()
    quiet = 0
    last = sum(cpu_seconds(p) for p in pids)
    while time.monotonic() - start < limit:
        await asyncio.sleep(IDLE_SAMPLE)
        now = sum(cpu_seconds(p) for p in pids)
        quiet = quiet + 1 if (now - last) / IDLE_SAMPLE < IDLE_CORES else 0
        last = now
        if quiet >= IDLE_SAMPLES:
            break
    return time.monotonic() - start - IDLE_SAMPLE * IDLE_SAMPLES


def spawn(argv: list[str], env: dict[str, str], workdir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


class Profile:
    """`--profile DIR`: py-spy samples the servers during one phase (raw collapsed stacks, one file per server)."""

    def __init__(self, directory: Path | None, pids: list[int], name: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        pyspy = Path(sys.executable).with_name("py-spy")
        for pid in pids:
            out = directory / f"{name}-{pid}.txt"
            self.files.append(out)
            self.procs.append(
                subprocess.Popen(
                    [str(pyspy), "record", "--nonblocking", "--pid", str(pid), "--rate", str(PROFILE_RATE), "--format", "raw", "-o", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for path in self.files:
            if path.exists():
                print(summarize_profile(path), file=sys.stderr)


def summarize_profile(path: Path, top: int = 14) -> str:
    """Own time by function, and time inside each `live/` function (inclusive), from py-spy's raw output."""
    own: dict[str, int] = {}
    inside: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + n
        for frame in dict.fromkeys(f for f in frames if "live/" in f and "site-packages" not in f):
            inside[frame] = inside.get(frame, 0) + n
    lines = [f"## {path.name}: {total} samples"]
    lines += [f"  own {100 * n / total:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
    lines += [f"  in  {100 * n / total:5.1f}%  {f}" for f, n in sorted(inside.items(), key=lambda x: -x[1])[:top]]
    return "\n".join(lines)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


async def start_server(argv: list[str], env: dict[str, str], port: int, workdir: Path, name: str) -> Server:
    log_path = workdir / f"{name}-{port}.log"
    proc = spawn(argv, env, workdir, log_path)
    server = Server(f"http://127.0.0.1:{port}", proc, log_path)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log_path.read_text()[-2000:]}")
            with suppress(aiohttp.ClientError):
                async with http.get(server.url + "/healthz") as resp:
                    if resp.status == 200:
                        return server
            await asyncio.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{name} did not become healthy: {log_path.read_text()[-2000:]}")


def stop_process(proc: subprocess.Popen[bytes], wait: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `wait` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --------------------------------------------------------------------------- the app's data
@dataclass
class Webinar:
    database_url: str
    secret: str
    session_id: str
    host_token: str
    tokens: list[str]
    drop: str | None = None  # the PostgreSQL database to drop afterwards


async def create_webinar(database_url: str, secret: str, attendees: int) -> tuple[str, str, list[str]]:
    """A migrated database holding a webinar, its host (with an API token) and `attendees` invited contacts."""
    from live.auth.store import create_token, create_user
    from live.db.engine import create_engine, session_factory, upgrade
    from live.db.tables import Account, Contact, Invitation, LiveSession, new_id
    from live.sessions.invitations import make_join_token

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            host = await create_user(db, "host@bench.test", "host", "bench password 1", "Bench Host")
            host_token = await create_token(db, host)
            account = Account(name="Bench Corp", plan="pro", mrr=1000.0, ltv=40000.0, tier="low")
            db.add(account)
            await db.flush()
            session = LiveSession(
                kind="webinar",
                title="Fan-out bench",
                starts_at=datetime.now(UTC) + timedelta(minutes=5),
                duration_minutes=60,
                host_id=host.id,
            )
            db.add(session)
            await db.flush()
            contacts = [
                Contact(id=new_id(), account_id=account.id, name=f"Attendee {n}", email=f"a{n}@bench.test")
                for n in range(attendees)
            ]
            db.add_all(contacts)
            await db.flush()
            tokens = [make_join_token(secret, session.id, c.id) for c in contacts]
            db.add_all(
                Invitation(session_id=session.id, contact_id=c.id, token=t) for c, t in zip(contacts, tokens, strict=True)
            )
            await db.commit()
            return session.id, host_token, tokens
    finally:
        await engine.dispose()


async def postgres_exec(sql: str) -> None:
    import asyncpg

    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def flush_redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


class PrivateRedis:
    """`--private-redis`: a `redis-server` of this scenario's own on a free port (no persistence), so its
    statistics count the servers' traffic only and no shared database is flushed."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = spawn([*argv, "--dir", str(workdir)], dict(os.environ), workdir, workdir / "redis.log")

    async def ready(self) -> None:
        import redis.asyncio as redis

        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(100):
                with suppress(redis.ConnectionError):
                    await client.ping()
                    return
                await asyncio.sleep(0.05)
            raise RuntimeError("the private redis-server did not answer")
        finally:
            await client.aclose()

    def stop(self) -> None:
        stop_process(self.proc, 5)


async def redis_counters(url: str) -> dict[str, float]:
    """Commands by name (`cmd:<name>`), `commands`, `reads` (requests read: round trips) and bytes, as Redis
    counts them since it started; the bench's own INFO calls are left out."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        commands = await client.info("commandstats")
        stats = await client.info("stats")
    finally:
        await client.aclose()
    counters: dict[str, float] = {}
    for name, values in commands.items():
        command = name.removeprefix("cmdstat_")
        if command != "info":
            counters[f"cmd:{command}"] = float(values["calls"])
    counters["commands"] = sum(v for k, v in counters.items() if k.startswith("cmd:"))
    counters["reads"] = float(stats.get("total_reads_processed", 0))
    counters["bytes_in"] = float(stats.get("total_net_input_bytes", 0))
    counters["bytes_out"] = float(stats.get("total_net_output_bytes", 0))
    return counters


# --------------------------------------------------------------------------- one scenario
@dataclass
class Row:
    target: str  # app | bare
    attendees: int
    processes: int
    joined: int = 0
    join_failed: int = 0
    dropped: int = 0  # joined, then disconnected before the chat phase ended
    join_s: float | None = None
    join_server_cores: float | None = None
    join_client_cores: float | None = None  # the client processes' CPU during the storm (share of one core)
    join_machine_busy: float | None = None  # how busy the whole machine was during the storm
    join_p50_s: float | None = None  # half the attendees had their `room.state` by then
    join_p90_s: float | None = None
    connected_p50_s: float | None = None  # half the attendees had Socket.IO's CONNECT (admitted) by then
    connected_p90_s: float | None = None
    settle_s: float | None = None
    sent: int = 0
    deliveries: int = 0
    lost: int = 0
    chat_p50_ms: float | None = None
    chat_p99_ms: float | None = None
    chat_max_ms: float | None = None
    server_cores: float | None = None
    client_cores: float | None = None
    machine_busy: float | None = None
    poll_tally_ms: float | None = None
    votes_acked_ms: float | None = None
    votes_ok: int = 0
    voters_shown: int = 0
    idle_server_cores: float | None = None  # the servers' CPU before the storm (share of one core)
    storm_cpu_ms_per_join: float | None = None  # servers' CPU from the storm's start until idle, less idle, per attendee
    redis_cmds_per_join: float | None = None  # commands Redis ran over the same span, per attendee
    redis_reads_per_join: float | None = None  # requests Redis read (round trips) over that span, per attendee
    redis_top: dict[str, float] = field(default_factory=dict)  # command -> calls per attendee
    errors: list[str] = field(default_factory=list)


class Workers:
    """The client processes and their pipes."""

    def __init__(self, count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=clients.run, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def ask(self, commands: list[tuple[str, dict[str, Any]]], wait: float) -> list[Any]:
        """Sends one command to each worker (in order) and gathers the replies."""
        loop = asyncio.get_running_loop()

        async def one(pipe: Connection, command: tuple[str, dict[str, Any]]) -> Any:
            pipe.send(command)
            deadline = time.monotonic() + wait
            ready = False
            # Short polls, so Ctrl-C is not stuck behind a thread blocked on the pipe.
            while not ready and time.monotonic() < deadline:
                ready = await loop.run_in_executor(None, pipe.poll, 1.0)
            if not ready:
                raise TimeoutError(f"a client worker did not answer {command[0]!r} within {wait:.0f} s")
            return pipe.recv()

        return list(await asyncio.gather(*(one(p, c) for p, c in zip(self.pipes, commands, strict=True))))

    async def ask_all(self, command: str, wait: float, **kwargs: Any) -> list[Any]:
        return await self.ask([(command, kwargs)] * len(self.pipes), wait)

    def stop(self) -> None:
        for pipe in self.pipes:
            with suppress(OSError):
                pipe.send(("stop", {}))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for pipe in self.pipes:
            pipe.close()


class Host:
    """The host's client: sends chat and opens the poll; records every `poll.results` it sees."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=60, handle_sigint=False)
        self.joined = asyncio.Event()
        self.results: list[tuple[float, int]] = []
        self.full = asyncio.Event()
        self.expect_voters = 0
        self.sio.on("room.state", self._room_state, namespace=NAMESPACE)
        self.sio.on("poll.results", self._results, namespace=NAMESPACE)

    async def _room_state(self, data: Any) -> None:
        self.joined.set()

    async def _results(self, data: Any) -> None:
        self.results.append((time.time(), int(data["voters"])))
        if self.expect_voters and data["voters"] >= self.expect_voters:
            self.full.set()

    async def connect(self, url: str, auth: dict[str, str]) -> None:
        await self.sio.connect(url, auth=auth, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=30)
        await asyncio.wait_for(self.joined.wait(), 30)

    async def close(self) -> None:
        with suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 5)


async def run_scenario(target: str, attendees: int, processes: int, args: argparse.Namespace) -> Row:
    row = Row(target, attendees, processes)
    workdir = Path(tempfile.mkdtemp(prefix=f"fanout-{target}-"))
    servers: list[Server] = []
    workers: Workers | None = None
    host = Host()
    webinar: Webinar | None = None
    private: PrivateRedis | None = None
    redis_url = REDIS_URL if processes > 1 else None
    try:
        if redis_url and args.private_redis:
            private = PrivateRedis(workdir)
            redis_url = private.url
            await private.ready()
        elif redis_url:
            await flush_redis(redis_url)
        if target == "app":
            webinar = await prepare_app(attendees, processes, workdir)
        for _ in range(processes):
            port = free_port()
            if target == "app":
                assert webinar is not None
                env = app_env(webinar, port, workdir, redis_url)
                argv = [sys.executable, "-m", "live", "serve", "--port", str(port)]
                if args.server_gc:
                    # An experiment: the same server with other garbage-collector thresholds.
                    argv = [sys.executable, "-c", SERVE_WITH_GC.format(thresholds=args.server_gc, port=port)]
            else:
                env = {**os.environ, "PYTHONPATH": str(REPO)}
                argv = [sys.executable, str(REPO / "bench" / "bare_server.py"), "--port", str(port)]
                argv += ["--redis", redis_url] if redis_url else []
                argv += ["--tuned-gc"] if args.bare_tuned_gc else []
            servers.append(await start_server(argv, env, port, workdir, target))
        server_pids = [s.proc.pid for s in servers]
        workers = Workers(args.workers)
        await workers.ask_all("ready", 60)  # imported and listening before the storm is scheduled

        if webinar is not None:
            session_id, host_auth = webinar.session_id, {"token": webinar.host_token, "session": webinar.session_id}
            tokens = webinar.tokens
        else:
            session_id, host_auth, tokens = "bench", {"token": "host", "session": "bench"}, [f"a{n}" for n in range(attendees)]
        await host.connect(servers[0].url, host_auth)

        # 1. join storm: attendee n goes to server n % processes, held by worker n % workers.
        at = time.time() + 1.0 + attendees / 2000
        plans: list[list[tuple[str, dict[str, str]]]] = [[] for _ in range(args.workers)]
        for n, token in enumerate(tokens):
            plans[n % args.workers].append((servers[n % processes].url, {"token": token, "session": session_id}))
        profile = Profile(args.profile, server_pids, f"{target}-{attendees}-{processes}-join")
        # What the servers burn idle (heartbeats, outbox polls) is not the joins' cost: measured first, subtracted.
        idle = CpuWindow(server_pids)
        idle.start()
        await asyncio.sleep(IDLE_WINDOW)
        idle.stop()
        row.idle_server_cores = idle.cores
        redis_before = await redis_counters(redis_url) if redis_url else None
        storm = CpuWindow(server_pids)
        storm_clients = CpuWindow(workers.pids)
        storm_clients.start()
        storm_total = CpuWindow(server_pids)  # until the servers are idle again: all the work of the joins
        storm.start()
        storm_total.start()
        replies = await workers.ask(
            [("join", {"at": at, "targets": plan, "limit": args.join_timeout}) for plan in plans], args.join_timeout + 60
        )
        storm.stop()
        storm_clients.stop()
        row.join_server_cores = storm.cores
        row.join_client_cores = storm_clients.cores
        row.join_machine_busy = storm.machine
        profile.stop()
        state_at = [t for r in replies for t in r["state_at"]]
        row.joined = len(state_at)
        row.join_failed = sum(r["failed"] for r in replies)
        row.errors += [e for r in replies for e in r["errors"]]
        row.join_s = (max(state_at) - at) if state_at else None
        if state_at:
            ordered = sorted(state_at)
            row.join_p50_s = ordered[len(ordered) // 2] - at
            row.join_p90_s = ordered[int(len(ordered) * 0.9)] - at
        connected_at = sorted(t for r in replies for t in r["connected_at"])
        if connected_at:
            row.connected_p50_s = connected_at[len(connected_at) // 2] - at
            row.connected_p90_s = connected_at[int(len(connected_at) * 0.9)] - at
        all_pids = server_pids + workers.pids
        row.settle_s = await wait_idle(all_pids, args.settle_limit)
        storm_total.stop()
        if row.joined:
            busy = max(0.0, storm_total.cores - idle.cores)
            row.storm_cpu_ms_per_join = 1000 * busy * storm_total.seconds / row.joined
        if redis_url and redis_before is not None and row.joined:
            after = await redis_counters(redis_url)
            spent = {k: after.get(k, 0.0) - redis_before.get(k, 0.0) for k in after}
            row.redis_cmds_per_join = spent["commands"] / row.joined
            row.redis_reads_per_join = spent["reads"] / row.joined
            row.redis_top = {
                k.removeprefix("cmd:"): v / row.joined
                for k, v in sorted(spent.items(), key=lambda kv: -kv[1])
                if k.startswith("cmd:") and v > 0
            }
        if args.storm_only:
            return row

        # 2. chat at a fixed rate from the host.
        window = CpuWindow(server_pids)
        client_window = CpuWindow(workers.pids)
        acked: set[int] = set()
        count = int(args.chat_rate * args.seconds)
        profile = Profile(args.profile, server_pids, f"{target}-{attendees}-{processes}-chat")
        window.start()
        client_window.start()
        start = time.time() + 0.2
        for seq in range(count):
            await asyncio.sleep(max(0.0, start + seq / args.chat_rate - time.time()))

            def ack(*reply: Any, seq: int = seq) -> None:
                if reply and isinstance(reply[0], dict) and reply[0].get("ok"):
                    acked.add(seq)

            sent_at = time.time()
            await host.sio.emit("chat.send", {"text": f"bench {seq} {sent_at:.6f} {CHAT_PAD}"}, namespace=NAMESPACE, callback=ack)
        window.stop()
        client_window.stop()
        profile.stop()
        await asyncio.sleep(1.0)
        await wait_idle(all_pids, 60)
        chat = await workers.ask_all("collect_chat", 120)
        latencies = sorted(x for r in chat for x in r["latencies"])
        present = sum(r["present"] for r in chat)
        row.sent = len(acked)
        row.deliveries = sum(n for r in chat for seq, n in r["seen"].items() if seq in acked)
        row.lost = row.sent * present - row.deliveries
        row.dropped = sum(r["dropped"] for r in chat)
        if latencies:
            row.chat_p50_ms = 1000 * statistics.median(latencies)
            row.chat_p99_ms = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            row.chat_max_ms = 1000 * latencies[-1]
        row.server_cores, row.client_cores, row.machine_busy = window.cores, client_window.cores, window.machine

        # 3. poll burst (the bare server has no polls).
        if target == "app":
            await poll_burst(row, host, workers, present, args, server_pids)
    except Exception as exc:
        row.errors.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        await host.close()
        if workers is not None:
            workers.stop()
        for server in servers:
            await asyncio.to_thread(stop_process, server.proc)
        if webinar is not None and webinar.drop:
            with suppress(Exception):
                await postgres_exec(f'DROP DATABASE IF EXISTS "{webinar.drop}" WITH (FORCE)')
        if private is not None:
            await asyncio.to_thread(private.stop)
        elif redis_url:
            with suppress(Exception):
                await flush_redis(redis_url)
        if args.keep_logs:
            print(f"  logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return row


async def prepare_app(attendees: int, processes: int, workdir: Path) -> Webinar:
    secret = "bench-" + uuid.uuid4().hex
    if processes == 1:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        drop = None
    else:
        drop = f"bench_{uuid.uuid4().hex[:12]}"
        await postgres_exec(f'CREATE DATABASE "{drop}"')
        url = f"{POSTGRES_URL}/{drop}"
    session_id, host_token, tokens = await create_webinar(url, secret, attendees)
    return Webinar(url, secret, session_id, host_token, tokens, drop)


def app_env(webinar: Webinar, port: int, workdir: Path, redis_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "LIVE_DATABASE_URL": webinar.database_url,
        "LIVE_SECRET_KEY": webinar.secret,
        "LIVE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LIVE_VAR_DIR": str(workdir / f"var-{port}"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("LIVE_REDIS_URL", None)
    if redis_url:
        env["LIVE_REDIS_URL"] = redis_url
    return env


async def poll_burst(
    row: Row, host: Host, workers: Workers, present: int, args: argparse.Namespace, server_pids: list[int]
) -> None:
    ack = await host.sio.call(
        "poll.open",
        {"question": "Which plan?", "options": [f"Option {i}" for i in range(POLL_OPTIONS)]},
        namespace=NAMESPACE,
        timeout=30,
    )
    if not ack.get("ok"):
        row.errors.append(f"poll.open refused: {ack}")
        return
    poll_id = ack["id"]
    await workers.ask_all("wait_poll", 120, limit=60)
    await wait_idle(workers.pids, 30)
    host.expect_voters = present
    at = time.time() + 0.5
    profile = Profile(args.profile, server_pids, f"app-{row.attendees}-{row.processes}-vote")
    replies = await workers.ask(
        [("vote", {"at": at, "poll_id": poll_id, "options": POLL_OPTIONS, "offset": i, "limit": 60}) for i in range(len(workers.pipes))],
        120,
    )
    first = min(r["first_sent"] for r in replies)
    row.votes_ok = sum(r["acked_ok"] for r in replies)
    row.errors += [e for r in replies for e in r["errors"]]
    last_ack = max((r["last_ack"] for r in replies if r["last_ack"]), default=None)
    row.votes_acked_ms = 1000 * (last_ack - first) if last_ack else None
    with suppress(TimeoutError):
        await asyncio.wait_for(host.full.wait(), 30)
    row.voters_shown = max((v for _, v in host.results), default=0)
    full = [t for t, v in host.results if v >= present]
    row.poll_tally_ms = 1000 * (full[0] - first) if full else None
    profile.stop()
    with suppress(Exception):
        await host.sio.call("poll.close", {"poll_id": poll_id}, namespace=NAMESPACE, timeout=30)


# --------------------------------------------------------------------------- report
def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: list[Row]) -> None:
    bare = {(r.attendees, r.processes): r for r in rows if r.target == "bare"}
    head = [
        "scenario", "N", "processes", "join storm s", "chat p50 ms", "chat p99 ms", "app/bare p99",
        "poll tally ms", "deliveries", "lost",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in rows:
        base = bare.get((r.attendees, r.processes))
        ratio = (
            f"{r.chat_p99_ms / base.chat_p99_ms:.2f}x"
            if r.target == "app" and base and r.chat_p99_ms and base.chat_p99_ms
            else "-"
        )
        joined = "" if r.joined == r.attendees else f" ({r.joined} joined)"
        cells = [
            r.target, str(r.attendees), str(r.processes), fmt(r.join_s, 2) + joined, fmt(r.chat_p50_ms),
            fmt(r.chat_p99_ms), ratio, fmt(r.poll_tally_ms, 0), str(r.deliveries), str(r.lost),
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    head2 = [
        "scenario", "N", "processes", "storm server cpu", "settle s", "chat max ms", "server cpu", "clients cpu", "machine busy",
        "votes acked ms", "votes ok", "voters shown", "refused", "dropped",
    ]
    print("| " + " | ".join(head2) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head2) - 1)) + "|")
    for r in rows:
        cells = [
            r.target, str(r.attendees), str(r.processes),
            f"{100 * r.join_server_cores:.0f}%" if r.join_server_cores is not None else "-",
            fmt(r.settle_s), fmt(r.chat_max_ms),
            f"{100 * r.server_cores:.0f}%" if r.server_cores is not None else "-",
            f"{100 * r.client_cores:.0f}%" if r.client_cores is not None else "-",
            f"{100 * r.machine_busy:.0f}%" if r.machine_busy is not None else "-",
            fmt(r.votes_acked_ms, 0), str(r.votes_ok) if r.target == "app" else "-",
            str(r.voters_shown) if r.target == "app" else "-",
            str(r.join_failed), str(r.dropped),
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    head3 = [
        "scenario", "N", "processes", "join storm s", "p50 / p90 s", "admitted p50 / p90 s", "storm clients cpu", "storm machine busy", "idle cpu",
        "cpu ms/join", "redis cmds/join", "redis round trips/join",
        "commands per join",
    ]
    print("| " + " | ".join(head3) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head3) - 2) + ["---"]) + "|")
    for r in rows:
        top = ", ".join(f"{name} {n:.2f}" for name, n in list(r.redis_top.items())[:8])
        cells = [
            r.target, str(r.attendees), str(r.processes), fmt(r.join_s, 2), f"{fmt(r.join_p50_s, 2)} / {fmt(r.join_p90_s, 2)}",
            f"{fmt(r.connected_p50_s, 2)} / {fmt(r.connected_p90_s, 2)}",
            f"{100 * r.join_client_cores:.0f}%" if r.join_client_cores is not None else "-",
            f"{100 * r.join_machine_busy:.0f}%" if r.join_machine_busy is not None else "-",
            f"{100 * r.idle_server_cores:.1f}%" if r.idle_server_cores is not None else "-", fmt(r.storm_cpu_ms_per_join, 2),
            fmt(r.redis_cmds_per_join, 2), fmt(r.redis_reads_per_join, 2), top or "-",
        ]
        print("| " + " | ".join(cells) + " |")
    for r in rows:
        for error in dict.fromkeys(r.errors):
            print(f"  {r.target} N={r.attendees} p={r.processes}: {error}")


def machine_note() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.machine(),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, load average {load} at start"


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int_list, default=[500, 2000], help="N, or a comma list (default 500,2000)")
    parser.add_argument("--processes", type=int_list, default=[1, 2], help="server processes: 1, 2 or 1,2 (default)")
    parser.add_argument("--chat-rate", type=float, default=2.0, help="host chat messages per second (default 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the chat phase (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--targets", default="app,bare", help="app, bare or app,bare (default)")
    parser.add_argument("--join-timeout", type=float, default=300.0, help="seconds a join may take")
    parser.add_argument("--settle-limit", type=float, default=600.0, help="longest wait for idle after the storm")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--profile", type=Path, help="py-spy the servers in each phase; raw stacks into this directory")
    parser.add_argument("--server-gc", help="experiment: run the app's servers with gc.set_threshold(THIS), e.g. 50000,20,100")
    parser.add_argument(
        "--bare-tuned-gc",
        action="store_true",
        help="give the bare server the app's garbage-collector tuning too (a like-for-like chat comparison)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs and databases' temp dirs")
    parser.add_argument(
        "--private-redis",
        action="store_true",
        help="two processes use a redis-server of the bench's own on a free port (clean statistics, nothing shared flushed)",
    )
    parser.add_argument("--storm-only", action="store_true", help="measure the join storm only (no chat, no poll)")
    args = parser.parse_args()
    if args.profile and not Path(sys.executable).with_name("py-spy").exists():
        parser.error(f"--profile needs py-spy beside {sys.executable}: {Path(sys.executable).with_name('pip')} install py-spy")
    clients.raise_fd_limit()
    if any(p not in (1, 2) for p in args.processes):
        parser.error("--processes is 1 or 2")

    print(f"# fan-out bench: {machine_note()}", flush=True)
    print(f"# chat {args.chat_rate:g}/s for {args.seconds:g} s, {args.workers} client processes", flush=True)
    rows: list[Row] = []
    for attendees in args.attendees:
        for processes in args.processes:
            for target in args.targets.split(","):
                started = time.monotonic()
                row = asyncio.run(run_scenario(target, attendees, processes, args))
                rows.append(row)
                print(
                    f"# {target} N={attendees} processes={processes}: {time.monotonic() - started:.0f} s, "
                    f"join {fmt(row.join_s, 2)} s ({fmt(row.storm_cpu_ms_per_join, 2)} cpu ms/join, "
                    f"{fmt(row.redis_cmds_per_join, 1)} redis cmds/join), p99 {fmt(row.chat_p99_ms)} ms, "
                    f"tally {fmt(row.poll_tally_ms, 0)} ms",
                    flush=True,
                )
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_note(), "args": vars(args) | {"json": str(args.json)}, "rows": [asdict(r) for r in rows]}, indent=1, default=str))


if __name__ == "__main__":
    main()
