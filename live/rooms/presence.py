"""Presence: who is in each session's room and what they show, agreed on by every process.

Who is present (their connections, the staff among them), raised hands, removals, what each person
publishes (camera, microphone) and whether their page is in view, each person's rate-limit buckets,
the one-on-one grace mark and the session's status. Two implementations of one interface:
`MemoryPresence` (one process) and `RedisPresence` (many processes on one Redis, every multi-step
change atomic in a Lua script or MULTI block). Other capabilities keep their state in stores of their
own (`live.rooms.stores`); presence is not a general key-value store.

The session's status (`status/set_status`: scheduled | live | ended) is read by every event the
namespace dispatches, so each process caches it: `set_status` writes it and publishes the session id on
STATUS_CHANNEL, and every process drops its cached copy when told (see `RedisPresence.status`).

Redis key layout (`PresenceKeys`; under the session's prefix, `live.redis.session_key`, so a session's
state is easy to inspect and to drop: `drop_session`, which `live.rooms.retention` calls a day after
the session ended, deletes every key under the prefix, every store's):
    live:{session}:people          hash  participant_id -> participant JSON (present people only)
    live:{session}:staff           hash  the same, hosts and co-hosts only (a webinar attendee's view)
    live:{session}:conns:{pid}     set   socket ids of that person
    live:{session}:hands           set   participant ids with a raised hand
    live:{session}:removed         set   participant ids removed by a host (refused on reconnect)
    live:{session}:h:media         hash  participant_id -> {"camera": bool, "mic": bool} as JSON
    live:{session}:h:focus         hash  participant_id -> "1" (page in view) | "0"
    live:{session}:h:kv            hash  fields `status`, `removals_loaded` ("1") and `empty` (the
                                         one-on-one grace mark); other stores own its other fields
                                         (the list is in `live.redis`)
    live:{session}:rate:{pid}:{kind} hash  one person's token bucket of one rate kind {tokens, at}
    live:proc:{process}:conns      set   "session\\tparticipant\\tsid" of one process's connections
    live:proc:{process}:alive      str   heartbeat, expires PROCESS_TTL seconds after the last beat
    live:procs                     set   every process that has held connections
    live:status                    pub/sub channel: the id of a session whose status changed
The polls' board reads two of these keys inside its atomic vote step (the status and a voter's
connections); it is handed `PresenceKeys` rather than knowing the layout.

A process removes its own connections on shutdown. A process that died without doing so stops
beating; the next process to sweep (every HEARTBEAT seconds) removes its connections, so stale
presence lasts at most PROCESS_TTL + HEARTBEAT seconds.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from live.redis import drop_session_keys, kv_key, redis_client, session_key, sessions_with_keys
from live.rooms.model import STAFF, MediaState, Participant, TokenBucket

log = logging.getLogger(__name__)

# A process beats every HEARTBEAT seconds; its beat expires after PROCESS_TTL (three missed beats).
HEARTBEAT = 10.0
PROCESS_TTL = 30

# A session whose status changes is published here; every process forgets its cached copy.
STATUS_CHANNEL = "live:status"
# A cached status is re-read after this many seconds even if no change was heard: a bound on how stale
# it can be should a pub/sub message be lost (one HGET per session per process per second otherwise).
STATUS_TTL = 1.0


class PresenceKeys:
    """The Redis keys presence owns (the layout is in the module docstring); pure names, no client."""

    @staticmethod
    def people(session_id: str) -> str:
        return session_key(session_id, "people")

    @staticmethod
    def staff(session_id: str) -> str:
        return session_key(session_id, "staff")

    @staticmethod
    def connections(session_id: str, participant_id: str) -> str:
        """The set of one person's socket ids (the polls' vote step reads it too)."""
        return session_key(session_id, "conns", participant_id)

    @staticmethod
    def hands(session_id: str) -> str:
        return session_key(session_id, "hands")

    @staticmethod
    def removed(session_id: str) -> str:
        return session_key(session_id, "removed")

    @staticmethod
    def media(session_id: str) -> str:
        return session_key(session_id, "h", "media")

    @staticmethod
    def focus(session_id: str) -> str:
        return session_key(session_id, "h", "focus")

    @staticmethod
    def status(session_id: str) -> tuple[str, str]:
        """The hash and field holding the session's status (the polls' vote step reads it too)."""
        return kv_key(session_id), STATUS_FIELD

    @staticmethod
    def bucket(session_id: str, participant_id: str, kind: str) -> str:
        return session_key(session_id, "rate", participant_id, kind)

    @staticmethod
    def process_connections(process_id: str) -> str:
        return f"live:proc:{process_id}:conns"

    @staticmethod
    def process_alive(process_id: str) -> str:
        return f"live:proc:{process_id}:alive"

    PROCESSES = "live:procs"


K = PresenceKeys


# Fields of the session's shared `kv` hash that presence owns (see `live.redis`).
STATUS_FIELD = "status"
REMOVALS_LOADED_FIELD = "removals_loaded"
EMPTY_FIELD = "empty"


@dataclass(frozen=True)
class Connection:
    session_id: str
    participant_id: str
    sid: str


@dataclass(frozen=True)
class Swept:
    """A dead process's connection removed by a sweep; `left` when it was the person's last."""

    connection: Connection
    participant: Participant | None
    left: bool


SweptHandler = Callable[[list[Swept]], Awaitable[None]]


@dataclass(frozen=True)
class Admission:
    """What one join's single step in room state found (`Presence.admit`)."""

    removed: bool  # a host removed this person: nothing was added
    ended: bool  # an attendee, and the session has ended: nothing was added
    first: bool  # this is the person's first connection (they just joined)
    status: str  # the session's status in room state, seeded by this join if it was unset


# Told the id of a session whose cached facts a process must drop (None: every session's).
ChangeListener = Callable[[str | None], None]


class Presence(abc.ABC):
    """The interface handlers use; `process_id` names this process's connections."""

    def __init__(self) -> None:
        self.process_id = uuid.uuid4().hex[:12]
        # Per-process caches of session facts (the status here; `live.rooms.joincache` for joins) are
        # dropped through these, whenever this process hears that a session changed.
        self.change_listeners: list[ChangeListener] = []

    # --- the join path ----------------------------------------------------------------------
    @abc.abstractmethod
    async def admit(self, participant: Participant, sid: str, status: str) -> Admission:
        """One join in one atomic step: seeds the session's status with `status` if unset, refuses a
        removed person and an attendee of an ended session, else adds the connection (as `add_connection`).

        The status checked is room state's, which `session.end` sets before it answers, so a join on any
        process after the end is refused even if that process read the session's row before it."""

    @property
    def caching(self) -> bool:
        """Whether this process hears every session change now, so it may cache session facts."""
        return True

    @abc.abstractmethod
    async def announce_change(self, session_id: str) -> None:
        """Something about the session changed outside room state (cancelled, rescheduled, an invitation
        withdrawn): every process drops what it cached about it."""

    def _changed(self, session_id: str | None) -> None:
        for listener in self.change_listeners:
            listener(session_id)

    # --- presence -------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_connection(self, participant: Participant, sid: str) -> bool:
        """Adds a socket of a person; True when it is that person's first (they just joined)."""

    @abc.abstractmethod
    async def remove_connection(self, session_id: str, participant_id: str, sid: str) -> bool:
        """Removes a socket; True when it was the person's last (they left: their hand is lowered)."""

    @abc.abstractmethod
    async def participants(self, session_id: str) -> list[Participant]: ...

    @abc.abstractmethod
    async def staff(self, session_id: str) -> list[Participant]:
        """The present hosts and co-hosts, read without the audience (what a webinar attendee is shown)."""

    @abc.abstractmethod
    async def connections(self, session_id: str, participant_id: str) -> list[str]: ...

    @abc.abstractmethod
    async def local_connections(self) -> list[Connection]:
        """This process's connections (to clean up on shutdown)."""

    # --- hands and removals ---------------------------------------------------------------
    @abc.abstractmethod
    async def raise_hand(self, session_id: str, participant_id: str) -> bool: ...

    @abc.abstractmethod
    async def lower_hand(self, session_id: str, participant_id: str) -> bool: ...

    @abc.abstractmethod
    async def hands(self, session_id: str) -> list[str]: ...

    @abc.abstractmethod
    async def mark_removed(self, session_id: str, participant_id: str) -> None: ...

    @abc.abstractmethod
    async def is_removed(self, session_id: str, participant_id: str) -> bool: ...

    @abc.abstractmethod
    async def take_token(self, session_id: str, participant_id: str, kind: str, burst: int, rate: float) -> float:
        """Takes one token from this person's bucket of `kind` (`burst` at most, refilled at `rate` a second),
        atomically across processes; returns 0.0 when taken, else the seconds until one is there. Keyed by the
        participant, not the socket: reconnecting does not refill it."""

    # --- the session's status -------------------------------------------------------------
    @abc.abstractmethod
    async def status(self, session_id: str) -> str | None:
        """The status every process agrees on (None before the first join seeds it); cached per process."""

    @abc.abstractmethod
    async def set_status(self, session_id: str, status: str, *, only_new: bool = False) -> bool:
        """Sets it (with `only_new`, only when unset) and tells every process; True when it was set."""

    # --- what each person shows ---------------------------------------------------------
    @abc.abstractmethod
    async def set_media(self, session_id: str, participant_id: str, media: MediaState) -> None: ...

    @abc.abstractmethod
    async def media(self, session_id: str, participant_ids: list[str] | None = None) -> dict[str, MediaState]:
        """Media states by participant: everyone's, or only the given people's (one round trip either way, so
        a webinar attendee's `room.state` reads the staff's without the audience's)."""

    @abc.abstractmethod
    async def set_focus(self, session_id: str, participant_id: str, visible: bool) -> None: ...

    @abc.abstractmethod
    async def focus(self, session_id: str) -> dict[str, bool]:
        """Whose page is in view (True) or not, for those who said so."""

    # --- marks of the room's own bookkeeping ----------------------------------------------
    @abc.abstractmethod
    async def removals_loaded(self, session_id: str) -> bool:
        """Whether removals were reloaded from the event log (`mark_removals_loaded`)."""

    @abc.abstractmethod
    async def mark_removals_loaded(self, session_id: str) -> None: ...

    @abc.abstractmethod
    async def set_empty_mark(self, session_id: str, mark: str | None) -> None:
        """Marks a one-on-one as left empty by the grace timer named `mark` (None: someone is back)."""

    @abc.abstractmethod
    async def empty_mark(self, session_id: str) -> str | None: ...

    # --- retention ------------------------------------------------------------------------
    @abc.abstractmethod
    async def session_ids(self) -> set[str]:
        """Every session that has room state here (in Redis: a key of any store under the session's prefix)."""

    @abc.abstractmethod
    async def drop_session(self, session_id: str) -> int:
        """Forget everything of one session (it ended long ago; in Redis every store's keys of it); the number of
        keys/entries removed."""

    # --- lifecycle ------------------------------------------------------------------------
    async def ping(self) -> str:
        """"unused" in memory; "ok" when Redis answers (raises when it does not)."""
        return "unused"

    async def start(self) -> None:  # noqa: B027 - optional hook, nothing to do in memory
        """Begins heartbeats and sweeps (Redis)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do in memory
        """Stops background work and releases connections to the backend."""


class MemoryPresence(Presence):
    """One process: plain dicts, each operation atomic because it never awaits."""

    def __init__(self) -> None:
        super().__init__()
        self._people: dict[str, dict[str, Participant]] = defaultdict(dict)
        # The hosts and co-hosts among `_people`: an attendee's `room.state` lists them, so a join storm
        # reads them thousands of times (scanning everyone each time was O(N²) for the storm).
        self._staff: dict[str, dict[str, Participant]] = defaultdict(dict)
        self._conns: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._hands: dict[str, set[str]] = defaultdict(set)
        self._removed: dict[str, set[str]] = defaultdict(set)
        self._media: dict[str, dict[str, MediaState]] = defaultdict(dict)
        self._focus: dict[str, dict[str, bool]] = defaultdict(dict)
        # session -> field -> value: the status and the room's marks (the `kv` fields presence owns in Redis).
        self._marks: dict[str, dict[str, str]] = defaultdict(dict)
        # (session, "participant kind") -> bucket; kept until the session's state is dropped, so a person's
        # limit outlives their reconnects (a handful of buckets per person).
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    async def admit(self, participant: Participant, sid: str, status: str) -> Admission:
        await self.set_status(participant.session_id, status, only_new=True)
        current = await self.status(participant.session_id) or status
        if await self.is_removed(participant.session_id, participant.participant_id):
            return Admission(removed=True, ended=False, first=False, status=current)
        if current == "ended" and participant.role not in STAFF:
            return Admission(removed=False, ended=True, first=False, status=current)
        first = await self.add_connection(participant, sid)
        return Admission(removed=False, ended=False, first=first, status=current)

    async def announce_change(self, session_id: str) -> None:
        self._changed(session_id)

    async def add_connection(self, participant: Participant, sid: str) -> bool:
        conns = self._conns[(participant.session_id, participant.participant_id)]
        first = not conns
        conns.add(sid)
        self._people[participant.session_id][participant.participant_id] = participant
        if participant.role in STAFF:
            self._staff[participant.session_id][participant.participant_id] = participant
        else:
            self._staff[participant.session_id].pop(participant.participant_id, None)
        return first

    async def remove_connection(self, session_id: str, participant_id: str, sid: str) -> bool:
        key = (session_id, participant_id)
        conns = self._conns.get(key)
        if not conns or sid not in conns:
            return False
        conns.discard(sid)
        if conns:
            return False
        del self._conns[key]
        self._people[session_id].pop(participant_id, None)
        self._staff[session_id].pop(participant_id, None)
        self._hands[session_id].discard(participant_id)
        return True

    async def participants(self, session_id: str) -> list[Participant]:
        return list(self._people.get(session_id, {}).values())

    async def staff(self, session_id: str) -> list[Participant]:
        return list(self._staff.get(session_id, {}).values())

    async def connections(self, session_id: str, participant_id: str) -> list[str]:
        return sorted(self._conns.get((session_id, participant_id), set()))

    async def local_connections(self) -> list[Connection]:
        return [Connection(s, p, sid) for (s, p), sids in self._conns.items() for sid in sids]

    async def raise_hand(self, session_id: str, participant_id: str) -> bool:
        hands = self._hands[session_id]
        new = participant_id not in hands
        hands.add(participant_id)
        return new

    async def lower_hand(self, session_id: str, participant_id: str) -> bool:
        hands = self._hands[session_id]
        had = participant_id in hands
        hands.discard(participant_id)
        return had

    async def hands(self, session_id: str) -> list[str]:
        return sorted(self._hands.get(session_id, set()))

    async def mark_removed(self, session_id: str, participant_id: str) -> None:
        self._removed[session_id].add(participant_id)

    async def is_removed(self, session_id: str, participant_id: str) -> bool:
        return participant_id in self._removed.get(session_id, set())

    async def take_token(self, session_id: str, participant_id: str, kind: str, burst: int, rate: float) -> float:
        now = time.monotonic()
        key = (session_id, f"{participant_id} {kind}")
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != burst or bucket.rate != rate:
            bucket = self._buckets[key] = TokenBucket(capacity=burst, rate=rate, updated=now)
        return 0.0 if bucket.take(now) else bucket.retry_after()

    async def status(self, session_id: str) -> str | None:
        return self._marks.get(session_id, {}).get(STATUS_FIELD)

    async def set_status(self, session_id: str, status: str, *, only_new: bool = False) -> bool:
        marks = self._marks[session_id]
        if only_new and STATUS_FIELD in marks:
            return False
        marks[STATUS_FIELD] = status
        self._changed(session_id)
        return True

    async def set_media(self, session_id: str, participant_id: str, media: MediaState) -> None:
        self._media[session_id][participant_id] = media

    async def media(self, session_id: str, participant_ids: list[str] | None = None) -> dict[str, MediaState]:
        known = self._media.get(session_id, {})
        if participant_ids is None:
            return dict(known)
        return {p: known[p] for p in participant_ids if p in known}

    async def set_focus(self, session_id: str, participant_id: str, visible: bool) -> None:
        self._focus[session_id][participant_id] = visible

    async def focus(self, session_id: str) -> dict[str, bool]:
        return dict(self._focus.get(session_id, {}))

    async def removals_loaded(self, session_id: str) -> bool:
        return self._marks.get(session_id, {}).get(REMOVALS_LOADED_FIELD) == "1"

    async def mark_removals_loaded(self, session_id: str) -> None:
        self._marks[session_id][REMOVALS_LOADED_FIELD] = "1"

    async def set_empty_mark(self, session_id: str, mark: str | None) -> None:
        if mark is None:
            self._marks.get(session_id, {}).pop(EMPTY_FIELD, None)
        else:
            self._marks[session_id][EMPTY_FIELD] = mark

    async def empty_mark(self, session_id: str) -> str | None:
        return self._marks.get(session_id, {}).get(EMPTY_FIELD)

    def _session_tables(self) -> list[dict[Any, Any]]:
        return [
            self._people, self._staff, self._conns, self._hands, self._removed,
            self._media, self._focus, self._marks, self._buckets,
        ]  # fmt: skip

    async def session_ids(self) -> set[str]:
        ids: set[str] = set()
        for table in self._session_tables():
            ids.update(key[0] if isinstance(key, tuple) else key for key in table)
        return ids

    async def drop_session(self, session_id: str) -> int:
        self._changed(session_id)
        dropped = 0
        for table in self._session_tables():
            for key in [k for k in table if (k[0] if isinstance(k, tuple) else k) == session_id]:
                del table[key]
                dropped += 1
        return dropped


# KEYS: people, conns, proc-conns, procs, staff.  ARGV: participant id, participant JSON, sid, proc entry,
# process id, "1" for a host or co-host. Returns the person's number of connections after adding.
_ADD_CONNECTION = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
if ARGV[6] == '1' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[2]) end
return redis.call('SCARD', KEYS[2])
"""

# KEYS: people, conns, proc-conns, hands, staff.  ARGV: participant id, sid, proc entry.
# Returns -1 when the socket was not there, else the person's connections left (0: they left).
_REMOVE_CONNECTION = """
redis.call('SREM', KEYS[3], ARGV[3])
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then return -1 end
local left = redis.call('SCARD', KEYS[2])
if left == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[5], ARGV[1])
end
return left
"""


# One join in one step (`RedisPresence.admit`). KEYS: kv, removed, people, conns, proc-conns, procs, staff.
# ARGV: status field, status to seed, participant id, participant JSON, sid, proc entry, process id,
# "1" for a host or co-host. Returns {connections after adding (-1: removed, -2: an attendee of an ended
# session; nothing added), the status, 1 when this call seeded it}.
_ADMIT = """
local seeded = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local status = redis.call('HGET', KEYS[1], ARGV[1])
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then return {-1, status, seeded} end
if status == 'ended' and ARGV[8] ~= '1' then return {-2, status, seeded} end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('SADD', KEYS[5], ARGV[6])
redis.call('SADD', KEYS[6], ARGV[7])
if ARGV[8] == '1' then redis.call('HSET', KEYS[7], ARGV[3], ARGV[4]) end
return {redis.call('SCARD', KEYS[4]), status, seeded}
"""


# KEYS: the bucket.  ARGV: burst, rate per second, seconds to keep the key (after that it would be full).
# Redis's own clock, so every process shares one time line. Returns "0" when a token was taken, else the
# seconds until one is there (a string: Redis turns a Lua number into an integer).
_TAKE_TOKEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return tostring(wait)
"""
# The same bucket, for limits outside a room (registration attempts per address, live.registration.attempts).
TAKE_TOKEN_SCRIPT = _TAKE_TOKEN


class RedisPresence(Presence):
    """Many processes on one Redis; see the module docstring for the key layout."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._redis: Any = redis_client(url)
        self._add = self._redis.register_script(_ADD_CONNECTION)
        self._admit = self._redis.register_script(_ADMIT)
        self._remove = self._redis.register_script(_REMOVE_CONNECTION)
        self._take = self._redis.register_script(_TAKE_TOKEN)
        self._beat: asyncio.Task[None] | None = None
        # Told about connections swept from dead processes (the namespace announces who left).
        self.on_swept: SweptHandler | None = None
        # session id -> (status, monotonic time it must be re-read by). Filled only while subscribed to
        # STATUS_CHANNEL; `_status_epoch` moves on every change heard, so a read that raced a change
        # is not cached (see `status`).
        self._statuses: dict[str, tuple[str, float]] = {}
        self._status_epoch = 0
        self._subscribed = False
        self._listener: asyncio.Task[None] | None = None

    def _proc_key(self, process_id: str | None = None) -> str:
        return K.process_connections(process_id or self.process_id)

    async def admit(self, participant: Participant, sid: str, status: str) -> Admission:
        s, p = participant.session_id, participant.participant_id
        epoch = self._status_epoch
        kv, field = K.status(s)
        count, current, seeded = await self._admit(
            keys=[kv, K.removed(s), K.people(s), K.connections(s, p), self._proc_key(), K.PROCESSES, K.staff(s)],
            args=[
                field, status, p, json.dumps(participant.to_dict()), sid, f"{s}\t{p}\t{sid}", self.process_id,
                "1" if participant.role in STAFF else "0",
            ],
        )  # fmt: skip
        count = int(count)
        if int(seeded):
            self._forget_status(s)  # as `set_status`: this process reads it from now on, and others hear of it
            await self._redis.publish(STATUS_CHANNEL, s)
        else:
            self._remember_status(s, str(current), epoch)
        return Admission(removed=count == -1, ended=count == -2, first=count == 1, status=str(current))

    @property
    def caching(self) -> bool:
        return self._subscribed

    async def announce_change(self, session_id: str) -> None:
        self._forget_status(session_id)
        await self._redis.publish(STATUS_CHANNEL, session_id)

    async def add_connection(self, participant: Participant, sid: str) -> bool:
        s, p = participant.session_id, participant.participant_id
        count = await self._add(
            keys=[K.people(s), K.connections(s, p), self._proc_key(), K.PROCESSES, K.staff(s)],
            args=[
                p,
                json.dumps(participant.to_dict()),
                sid,
                f"{s}\t{p}\t{sid}",
                self.process_id,
                "1" if participant.role in STAFF else "0",
            ],
        )
        return int(count) == 1

    async def remove_connection(self, session_id: str, participant_id: str, sid: str) -> bool:
        return await self._remove_for(self.process_id, session_id, participant_id, sid)

    async def _remove_for(self, process_id: str, session_id: str, participant_id: str, sid: str) -> bool:
        left = await self._remove(
            keys=[
                K.people(session_id),
                K.connections(session_id, participant_id),
                self._proc_key(process_id),
                K.hands(session_id),
                K.staff(session_id),
            ],
            args=[participant_id, sid, f"{session_id}\t{participant_id}\t{sid}"],
        )
        return int(left) == 0

    async def participants(self, session_id: str) -> list[Participant]:
        raw = await self._redis.hgetall(K.people(session_id))
        return [Participant.from_dict(json.loads(v)) for v in raw.values()]

    async def staff(self, session_id: str) -> list[Participant]:
        raw = await self._redis.hgetall(K.staff(session_id))
        return [Participant.from_dict(json.loads(v)) for v in raw.values()]

    async def connections(self, session_id: str, participant_id: str) -> list[str]:
        return sorted(await self._redis.smembers(K.connections(session_id, participant_id)))

    async def local_connections(self) -> list[Connection]:
        return _parse_entries(await self._redis.smembers(self._proc_key()))

    async def raise_hand(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.sadd(K.hands(session_id), participant_id))

    async def lower_hand(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.srem(K.hands(session_id), participant_id))

    async def hands(self, session_id: str) -> list[str]:
        return sorted(await self._redis.smembers(K.hands(session_id)))

    async def mark_removed(self, session_id: str, participant_id: str) -> None:
        await self._redis.sadd(K.removed(session_id), participant_id)

    async def is_removed(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._redis.sismember(K.removed(session_id), participant_id))

    async def ping(self) -> str:
        await self._redis.ping()
        return "ok"

    async def take_token(self, session_id: str, participant_id: str, kind: str, burst: int, rate: float) -> float:
        keep = math.ceil(burst / rate) + 1 if rate > 0 else 86400
        wait = await self._take(keys=[K.bucket(session_id, participant_id, kind)], args=[burst, rate, keep])
        return float(wait)

    async def status(self, session_id: str) -> str | None:
        cached = self._statuses.get(session_id)
        clock = time.monotonic()
        if cached is not None and cached[1] > clock:
            return cached[0]
        epoch = self._status_epoch
        name, field = K.status(session_id)
        value = await self._redis.hget(name, field)
        if value is None:
            return None
        self._remember_status(session_id, str(value), epoch, clock)
        return str(value)

    def _remember_status(self, session_id: str, value: str, epoch: int, clock: float | None = None) -> None:
        """Caches a status read when `epoch` was current. Not when a change was heard while the read was in
        flight (it may predate the change), nor while unsubscribed (a change would go unheard)."""
        if epoch == self._status_epoch and self._subscribed:
            self._statuses[session_id] = (value, (time.monotonic() if clock is None else clock) + STATUS_TTL)

    async def set_status(self, session_id: str, status: str, *, only_new: bool = False) -> bool:
        name, field = K.status(session_id)
        if only_new:
            if not await self._redis.hsetnx(name, field, status):
                return False
        else:
            await self._redis.hset(name, field, status)
        self._forget_status(session_id)  # this process reads the new status from now on, heard or not
        await self._redis.publish(STATUS_CHANNEL, session_id)
        return True

    def _forget_status(self, session_id: str | None) -> None:
        """Drops one cached status (every one for None)."""
        self._status_epoch += 1
        if session_id is None:
            self._statuses.clear()
        else:
            self._statuses.pop(session_id, None)
        self._changed(session_id)

    async def _hear_statuses(self) -> None:
        """Listens on STATUS_CHANNEL for as long as the process runs, resubscribing after a lost connection."""
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(STATUS_CHANNEL)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self._subscribed = True  # changes published from now on are heard
                    elif message["type"] == "message":
                        self._forget_status(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("room state: lost the session-status channel; resubscribing", exc_info=True)
            finally:
                self._subscribed = False
                self._forget_status(None)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(1.0)

    async def set_media(self, session_id: str, participant_id: str, media: MediaState) -> None:
        await self._redis.hset(K.media(session_id), participant_id, json.dumps(media.to_dict()))

    async def media(self, session_id: str, participant_ids: list[str] | None = None) -> dict[str, MediaState]:
        if participant_ids is None:
            raw = dict(await self._redis.hgetall(K.media(session_id)))
        elif not participant_ids:
            return {}
        else:
            values = await self._redis.hmget(K.media(session_id), participant_ids)
            raw = {p: v for p, v in zip(participant_ids, values, strict=True) if v is not None}
        return {p: MediaState.from_dict(json.loads(v)) for p, v in raw.items()}

    async def set_focus(self, session_id: str, participant_id: str, visible: bool) -> None:
        await self._redis.hset(K.focus(session_id), participant_id, "1" if visible else "0")

    async def focus(self, session_id: str) -> dict[str, bool]:
        raw = await self._redis.hgetall(K.focus(session_id))
        return {p: v == "1" for p, v in raw.items()}

    async def removals_loaded(self, session_id: str) -> bool:
        return bool(await self._redis.hget(kv_key(session_id), REMOVALS_LOADED_FIELD) == "1")

    async def mark_removals_loaded(self, session_id: str) -> None:
        await self._redis.hset(kv_key(session_id), REMOVALS_LOADED_FIELD, "1")

    async def set_empty_mark(self, session_id: str, mark: str | None) -> None:
        if mark is None:
            await self._redis.hdel(kv_key(session_id), EMPTY_FIELD)
        else:
            await self._redis.hset(kv_key(session_id), EMPTY_FIELD, mark)

    async def empty_mark(self, session_id: str) -> str | None:
        value = await self._redis.hget(kv_key(session_id), EMPTY_FIELD)
        return None if value is None else str(value)

    async def session_ids(self) -> set[str]:
        return await sessions_with_keys(self._redis)

    async def drop_session(self, session_id: str) -> int:
        # Every store's keys of the session share the prefix (see `live.redis`): one sweep drops them all.
        dropped = await drop_session_keys(self._redis, session_id)
        self._forget_status(session_id)
        return dropped

    async def start(self) -> None:
        await self._heartbeat()
        self._beat = asyncio.create_task(self._beat_forever(), name="room-state-heartbeat")
        self._listener = asyncio.create_task(self._hear_statuses(), name="room-state-statuses")

    async def _heartbeat(self) -> None:
        await self._redis.set(K.process_alive(self.process_id), "1", ex=PROCESS_TTL)
        await self._redis.sadd(K.PROCESSES, self.process_id)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._heartbeat()
                swept = await self.sweep_dead_processes()
                if swept and self.on_swept is not None:
                    await self.on_swept(swept)
            except Exception:
                log.exception("room state: heartbeat failed")

    async def sweep_dead_processes(self) -> list[Swept]:
        """Removes connections held by processes whose heartbeat expired; returns them."""
        swept: list[Swept] = []
        for process_id in await self._redis.smembers(K.PROCESSES):
            if process_id == self.process_id or await self._redis.exists(K.process_alive(process_id)):
                continue
            for conn in _parse_entries(await self._redis.smembers(self._proc_key(process_id))):
                raw = await self._redis.hget(K.people(conn.session_id), conn.participant_id)
                person = Participant.from_dict(json.loads(raw)) if raw else None
                left = await self._remove_for(process_id, conn.session_id, conn.participant_id, conn.sid)
                swept.append(Swept(conn, person, left))
            await self._redis.srem(K.PROCESSES, process_id)
            log.info("room state: swept %d connections of dead process %s", len(swept), process_id)
        return swept

    async def close(self) -> None:
        for task in (self._beat, self._listener):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            await self._redis.delete(K.process_alive(self.process_id))
            await self._redis.srem(K.PROCESSES, self.process_id)
        except Exception:
            log.exception("room state: could not deregister process %s", self.process_id)
        await self._redis.aclose()


def _parse_entries(entries: set[str]) -> list[Connection]:
    result = []
    for entry in entries:
        parts = entry.split("\t")
        if len(parts) == 3:
            result.append(Connection(*parts))
    return result
