"""The open poll of each session and its live tallies, shared by every process: in memory, or in Redis.

Both implementations behave like `live.polls.model.Ballots`. In Redis every change that must be
atomic across processes is one Lua script: opening (one open poll per session), voting (checks the
poll is open, refuses a second anonymous vote, swaps a re-vote's old choices for the new ones with
HINCRBY) and closing (no vote lands after the final counts are read).

Redis key layout (beside the room's keys, `live.rooms.state`):
    live:{session}:poll:open            str   the id of the session's open poll
    live:{session}:poll:{id}            hash  spec (definition JSON), status (open | closed)
    live:{session}:poll:{id}:ballots    hash  participant id -> "0,2" (choices), or "" when anonymous
    live:{session}:poll:{id}:counts     hash  option index -> count
    live:{session}:poll:{id}:due        str   a `poll.results` broadcast is scheduled (expires by itself)
An anonymous poll's ballots say only *who* voted; *what* was chosen exists only in its counts.
"""

from __future__ import annotations

import abc
import json
import time
from dataclasses import dataclass
from typing import Any

from live.errors import Conflict, NotFound
from live.polls.model import Ballots, PollSpec, PollStatus, Results, check_revote

# A closed poll's keys stay this long (the database has its truth) so late readers still find it.
CLOSED_TTL = 24 * 3600


@dataclass(frozen=True)
class OpenPoll:
    id: str
    spec: PollSpec


@dataclass(frozen=True)
class Cast:
    """What a vote did: whether it was the voter's first, and the choices it replaced (never for anonymous polls)."""

    first: bool
    previous: tuple[int, ...] | None


def poll_open_error(open_id: str) -> Conflict:
    return Conflict(
        f"Poll {open_id!r} is still open; close it before opening another (one poll at a time).", code="poll_open"
    )


def unknown_poll(poll_id: str) -> NotFound:
    return NotFound(f"Poll {poll_id!r} has not been opened in this session.", code="unknown_poll")


def poll_closed(poll_id: str) -> Conflict:
    return Conflict(f"Poll {poll_id!r} is closed; it takes no more votes.", code="poll_closed")


class PollBoard(abc.ABC):
    """The interface the handlers use; every method is one atomic step as other processes see it."""

    def __init__(self) -> None:
        # Definitions never change once a poll is open, so each process caches them.
        self._specs: dict[tuple[str, str], PollSpec] = {}

    @abc.abstractmethod
    async def open(self, session_id: str, poll_id: str, spec: PollSpec) -> None:
        """Opens the poll, or refuses with `poll_open` when the session already has one open."""

    @abc.abstractmethod
    async def current(self, session_id: str) -> OpenPoll | None: ...

    async def spec(self, session_id: str, poll_id: str) -> PollSpec:
        """The definition of a poll that has been opened (refuses `unknown_poll`)."""
        cached = self._specs.get((session_id, poll_id))
        if cached is None:
            cached = await self._load_spec(session_id, poll_id)
            if cached is None:
                raise unknown_poll(poll_id)
            self._specs[(session_id, poll_id)] = cached
        return cached

    @abc.abstractmethod
    async def _load_spec(self, session_id: str, poll_id: str) -> PollSpec | None: ...

    @abc.abstractmethod
    async def vote(self, session_id: str, poll_id: str, voter: str, choices: tuple[int, ...], anonymous: bool) -> Cast:
        """Records a checked vote; refuses `poll_closed`, `unknown_poll` or (anonymous) `already_voted`."""

    @abc.abstractmethod
    async def close(self, session_id: str, poll_id: str) -> Results:
        """Closes an open poll and returns its final results; refuses a poll that is not open."""

    @abc.abstractmethod
    async def results(self, session_id: str, poll_id: str) -> tuple[PollStatus, Results]: ...

    @abc.abstractmethod
    async def ballot(self, session_id: str, poll_id: str, voter: str) -> tuple[bool, tuple[int, ...] | None]:
        """(whether the person voted, their choices unless the poll is anonymous)."""

    @abc.abstractmethod
    async def ballots(self, session_id: str, poll_id: str) -> dict[str, tuple[int, ...] | None]: ...

    @abc.abstractmethod
    async def restore(self, session_id: str, poll_id: str, spec: PollSpec, ballots: Ballots) -> bool:
        """Puts back an open poll from the database after a restart; False when the board knows it or has another."""

    @abc.abstractmethod
    async def claim_broadcast(self, session_id: str, poll_id: str, ttl: float) -> bool:
        """True for the one caller (on any process) that should schedule the next `poll.results`."""

    @abc.abstractmethod
    async def release_broadcast(self, session_id: str, poll_id: str) -> None: ...

    @abc.abstractmethod
    async def close_backend(self) -> None:
        """Releases the backend's connections (nothing to do in memory)."""


class MemoryPollBoard(PollBoard):
    """One process: plain dicts; each method is atomic because it never awaits."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[str, str] = {}
        self._polls: dict[tuple[str, str], tuple[PollSpec, PollStatus, Ballots]] = {}
        self._due: dict[tuple[str, str], float] = {}

    def _poll(self, session_id: str, poll_id: str) -> tuple[PollSpec, PollStatus, Ballots]:
        entry = self._polls.get((session_id, poll_id))
        if entry is None:
            raise unknown_poll(poll_id)
        return entry

    async def open(self, session_id: str, poll_id: str, spec: PollSpec) -> None:
        if session_id in self._open:
            raise poll_open_error(self._open[session_id])
        self._open[session_id] = poll_id
        self._polls[(session_id, poll_id)] = (spec, PollStatus.OPEN, Ballots(len(spec.options), spec.anonymous))

    async def current(self, session_id: str) -> OpenPoll | None:
        poll_id = self._open.get(session_id)
        if poll_id is None:
            return None
        return OpenPoll(poll_id, self._polls[(session_id, poll_id)][0])

    async def _load_spec(self, session_id: str, poll_id: str) -> PollSpec | None:
        entry = self._polls.get((session_id, poll_id))
        return entry[0] if entry else None

    async def vote(self, session_id: str, poll_id: str, voter: str, choices: tuple[int, ...], anonymous: bool) -> Cast:
        _, status, ballots = self._poll(session_id, poll_id)
        if status is not PollStatus.OPEN:
            raise poll_closed(poll_id)
        previous = ballots.choices.get(voter)
        first = ballots.cast(voter, choices)
        return Cast(first, None if first else previous)

    async def close(self, session_id: str, poll_id: str) -> Results:
        spec, status, ballots = self._poll(session_id, poll_id)
        status.transition(PollStatus.CLOSED)
        self._polls[(session_id, poll_id)] = (spec, PollStatus.CLOSED, ballots)
        if self._open.get(session_id) == poll_id:
            del self._open[session_id]
        return Results(poll_id, list(ballots.counts), ballots.voters)

    async def results(self, session_id: str, poll_id: str) -> tuple[PollStatus, Results]:
        _, status, ballots = self._poll(session_id, poll_id)
        return status, Results(poll_id, list(ballots.counts), ballots.voters)

    async def ballot(self, session_id: str, poll_id: str, voter: str) -> tuple[bool, tuple[int, ...] | None]:
        _, _, ballots = self._poll(session_id, poll_id)
        return voter in ballots.choices, ballots.choices.get(voter)

    async def ballots(self, session_id: str, poll_id: str) -> dict[str, tuple[int, ...] | None]:
        return dict(self._poll(session_id, poll_id)[2].choices)

    async def restore(self, session_id: str, poll_id: str, spec: PollSpec, ballots: Ballots) -> bool:
        if session_id in self._open or (session_id, poll_id) in self._polls:
            return False
        self._open[session_id] = poll_id
        self._polls[(session_id, poll_id)] = (spec, PollStatus.OPEN, ballots)
        return True

    async def claim_broadcast(self, session_id: str, poll_id: str, ttl: float) -> bool:
        key = (session_id, poll_id)
        clock = time.monotonic()
        if self._due.get(key, 0.0) > clock:
            return False
        self._due[key] = clock + ttl
        return True

    async def release_broadcast(self, session_id: str, poll_id: str) -> None:
        self._due.pop((session_id, poll_id), None)

    async def close_backend(self) -> None:
        return None


# KEYS: open, poll, counts.  ARGV: poll id, spec JSON, number of options.
# Returns nothing when opened, else the id of the poll already open.
_OPEN = """
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'spec', ARGV[2], 'status', 'open')
for i = 0, tonumber(ARGV[3]) - 1 do redis.call('HSET', KEYS[3], tostring(i), 0) end
return false
"""

# KEYS: poll, ballots, counts.  ARGV: voter, choices ("0,2"), anonymous ("1" or "0").
# Returns {outcome, previous choices}: outcome is first | again | unknown | closed | already_voted.
_VOTE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'unknown', ''} end
if status ~= 'open' then return {'closed', ''} end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and ARGV[3] == '1' then return {'already_voted', ''} end
if old then
  for index in string.gmatch(old, '%d+') do redis.call('HINCRBY', KEYS[3], index, -1) end
end
for index in string.gmatch(ARGV[2], '%d+') do redis.call('HINCRBY', KEYS[3], index, 1) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], ARGV[1], '') else redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
if old then return {'again', old} end
return {'first', ''}
"""

# KEYS: open, poll, ballots, counts.  ARGV: poll id, seconds to keep the closed poll.
# Returns {'ok', voters, index, count, ...} or {status}: the final results are read in the same step.
_CLOSE = """
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'open' then return {status or 'unknown'} end
redis.call('HSET', KEYS[2], 'status', 'closed')
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
for i = 2, 4 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2])) end
local result = {'ok', redis.call('HLEN', KEYS[3])}
local counts = redis.call('HGETALL', KEYS[4])
for i = 1, #counts do result[#result + 1] = counts[i] end
return result
"""


def _encode(choices: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in choices)


def _decode(raw: str) -> tuple[int, ...]:
    return tuple(int(c) for c in raw.split(",") if c)


def _counts(raw: dict[str, Any], options: int) -> list[int]:
    counts = [0] * options
    for index, value in raw.items():
        if 0 <= int(index) < options:
            counts[int(index)] = int(value)
    return counts


class RedisPollBoard(PollBoard):
    """Many processes on one Redis; see the module docstring for the key layout."""

    def __init__(self, url: str) -> None:
        super().__init__()
        from live.rooms.state import redis_client

        self._redis: Any = redis_client(url)
        self._open_script = self._redis.register_script(_OPEN)
        self._vote_script = self._redis.register_script(_VOTE)
        self._close_script = self._redis.register_script(_CLOSE)

    @staticmethod
    def _k(session_id: str, *parts: str) -> str:
        return ":".join(("live", session_id, "poll", *parts))

    async def open(self, session_id: str, poll_id: str, spec: PollSpec) -> None:
        current = await self._open_script(
            keys=[self._k(session_id, "open"), self._k(session_id, poll_id), self._k(session_id, poll_id, "counts")],
            args=[poll_id, json.dumps(spec.to_dict()), len(spec.options)],
        )
        if current:
            raise poll_open_error(str(current))
        self._specs[(session_id, poll_id)] = spec

    async def current(self, session_id: str) -> OpenPoll | None:
        poll_id = await self._redis.get(self._k(session_id, "open"))
        if not poll_id:
            return None
        try:
            return OpenPoll(poll_id, await self.spec(session_id, poll_id))
        except NotFound:
            return None

    async def _load_spec(self, session_id: str, poll_id: str) -> PollSpec | None:
        raw = await self._redis.hget(self._k(session_id, poll_id), "spec")
        return PollSpec.from_dict(json.loads(raw)) if raw else None

    async def vote(self, session_id: str, poll_id: str, voter: str, choices: tuple[int, ...], anonymous: bool) -> Cast:
        outcome, old = await self._vote_script(
            keys=[self._k(session_id, poll_id), self._k(session_id, poll_id, "ballots"), self._k(session_id, poll_id, "counts")],
            args=[voter, _encode(choices), "1" if anonymous else "0"],
        )
        if outcome == "unknown":
            raise unknown_poll(poll_id)
        if outcome == "closed":
            raise poll_closed(poll_id)
        if outcome == "already_voted":
            check_revote(anonymous=True)
        return Cast(outcome == "first", _decode(old) if outcome == "again" and not anonymous else None)

    async def close(self, session_id: str, poll_id: str) -> Results:
        spec = await self.spec(session_id, poll_id)
        reply = await self._close_script(
            keys=[
                self._k(session_id, "open"),
                self._k(session_id, poll_id),
                self._k(session_id, poll_id, "ballots"),
                self._k(session_id, poll_id, "counts"),
            ],
            args=[poll_id, CLOSED_TTL],
        )
        if reply[0] != "ok":
            if reply[0] == "unknown":
                raise unknown_poll(poll_id)
            PollStatus(reply[0]).transition(PollStatus.CLOSED)
        flat = reply[2:]
        return Results(poll_id, _counts(dict(zip(flat[::2], flat[1::2], strict=True)), len(spec.options)), int(reply[1]))

    async def results(self, session_id: str, poll_id: str) -> tuple[PollStatus, Results]:
        spec = await self.spec(session_id, poll_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            status, voters, counts = await (
                pipe.hget(self._k(session_id, poll_id), "status")
                .hlen(self._k(session_id, poll_id, "ballots"))
                .hgetall(self._k(session_id, poll_id, "counts"))
                .execute()
            )
        if status is None:
            raise unknown_poll(poll_id)
        return PollStatus(status), Results(poll_id, _counts(counts, len(spec.options)), int(voters))

    async def ballot(self, session_id: str, poll_id: str, voter: str) -> tuple[bool, tuple[int, ...] | None]:
        raw = await self._redis.hget(self._k(session_id, poll_id, "ballots"), voter)
        if raw is None:
            return False, None
        return True, (_decode(raw) if raw else None)

    async def ballots(self, session_id: str, poll_id: str) -> dict[str, tuple[int, ...] | None]:
        raw = await self._redis.hgetall(self._k(session_id, poll_id, "ballots"))
        return {voter: (_decode(value) if value else None) for voter, value in raw.items()}

    async def restore(self, session_id: str, poll_id: str, spec: PollSpec, ballots: Ballots) -> bool:
        if await self._redis.exists(self._k(session_id, poll_id)):
            return False  # this board knows the poll: it is open, or closed and the database lags
        if not await self._redis.set(self._k(session_id, "open"), poll_id, nx=True):
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._k(session_id, poll_id), mapping={"spec": json.dumps(spec.to_dict()), "status": "open"})
            pipe.hset(self._k(session_id, poll_id, "counts"), mapping={str(i): n for i, n in enumerate(ballots.counts)})
            if ballots.choices:
                pipe.hset(
                    self._k(session_id, poll_id, "ballots"),
                    mapping={v: ("" if c is None else _encode(c)) for v, c in ballots.choices.items()},
                )
            await pipe.execute()
        return True

    async def claim_broadcast(self, session_id: str, poll_id: str, ttl: float) -> bool:
        return bool(await self._redis.set(self._k(session_id, poll_id, "due"), "1", nx=True, px=max(1, int(ttl * 1000))))

    async def release_broadcast(self, session_id: str, poll_id: str) -> None:
        await self._redis.delete(self._k(session_id, poll_id, "due"))

    async def close_backend(self) -> None:
        await self._redis.aclose()
