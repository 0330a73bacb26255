"""The open poll of each session and its live tallies, shared by every process: in memory, or in Redis.

Both implementations behave like `live.polls.model.Ballots`. In Redis every change that must be
atomic across processes is one Lua script: opening (one open poll per session), voting and closing
(no vote lands after the final counts are read). A vote needs nothing else: its step checks the
poll is open and the session has not ended, refuses a second anonymous vote, swaps a re-vote's old
choices for the new ones with HINCRBY, tries the `poll.results` broadcast claims the caller asks
for, and on a first vote returns the voter's connections. The
votes a process receives while its previous script call is under way go together in its next one
(`VOTE_BATCH` at most), so a burst costs a few Redis commands per process, not one per vote.

The vote step reads two keys presence owns, the session's status and the voter's connections: the
board is handed their names (`SharedKeys`, which `live.rooms.presence.PresenceKeys` is) rather than
knowing presence's layout.

Redis key layout (under the session's prefix, `live.redis`):
    live:{session}:poll:open            str   the id of the session's open poll
    live:{session}:poll:{id}            hash  spec (definition JSON), status (open | closed)
    live:{session}:poll:{id}:ballots    hash  participant id -> "0,2" (choices), or "" when anonymous
    live:{session}:poll:{id}:counts     hash  option index -> count
    live:{session}:poll:{id}:due:{to}   str   a `poll.results` broadcast to audience `to` (staff | voters) is
                                              scheduled (expires by itself)
An anonymous poll's ballots say only *who* voted; *what* was chosen exists only in its counts.
"""

from __future__ import annotations

import abc
import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from live.errors import Conflict, NotFound
from live.polls.model import Ballots, PollSpec, PollStatus, Results, check_revote
from live.redis import redis_client, session_key
from live.rooms.model import check_status

# A closed poll's keys stay this long (the database has its truth) so late readers still find it.
CLOSED_TTL = 24 * 3600


class SharedKeys(Protocol):
    """The keys of presence that a vote reads in its atomic step."""

    def status(self, session_id: str) -> tuple[str, str]:
        """The hash and field of the session's status."""
        ...

    def connections(self, session_id: str, participant_id: str) -> str:
        """The set of one person's socket ids."""
        ...


@dataclass(frozen=True)
class OpenPoll:
    id: str
    spec: PollSpec


@dataclass(frozen=True)
class Cast:
    """What a vote did: whether it was the voter's first, and the choices it replaced (never for anonymous polls).

    `claimed`: the audiences whose next `poll.results` broadcast this vote claimed (see `claim_broadcast`).
    `tabs`: on a first vote, the voter's connections on every process, when the board could read them
    in the same step (None: ask the room state).
    """

    first: bool
    previous: tuple[int, ...] | None
    claimed: frozenset[str] = field(default_factory=frozenset)
    tabs: tuple[str, ...] | None = None


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

    async def session_ids(self) -> set[str]:
        """Sessions this board holds state for that room state would not list (none, in Redis:
        the polls' keys share the session's prefix, which `Presence.session_ids` lists)."""
        return set()

    async def drop_session(self, session_id: str) -> None:
        """Forget a session that ended long ago (in Redis its keys go with `Presence.drop_session`)."""
        for key in [k for k in self._specs if k[0] == session_id]:
            del self._specs[key]

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
    async def vote(
        self,
        session_id: str,
        poll_id: str,
        voter: str,
        choices: tuple[int, ...],
        anonymous: bool,
        claims: Mapping[str, float] | None = None,
    ) -> Cast:
        """Records a checked vote; refuses `poll_closed`, `unknown_poll`, (anonymous) `already_voted`, or
        (Redis) `session_ended`. In the same step, tries `claim_broadcast` for each audience of `claims`
        (audience -> claim seconds) and reports the ones won in `Cast.claimed`."""

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
    async def claim_broadcast(self, session_id: str, poll_id: str, audience: str, ttl: float) -> bool:
        """True for the one caller (on any process) that should schedule the next `poll.results` to `audience`;
        the claim lapses by itself after `ttl` seconds."""

    @abc.abstractmethod
    async def release_broadcast(self, session_id: str, poll_id: str, audience: str) -> None: ...

    @abc.abstractmethod
    async def close_backend(self) -> None:
        """Releases the backend's connections (nothing to do in memory)."""


class MemoryPollBoard(PollBoard):
    """One process: plain dicts; each method is atomic because it never awaits."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[str, str] = {}
        self._polls: dict[tuple[str, str], tuple[PollSpec, PollStatus, Ballots]] = {}
        self._due: dict[tuple[str, str, str], float] = {}

    async def session_ids(self) -> set[str]:
        return set(self._open) | {key[0] for key in self._polls}

    async def drop_session(self, session_id: str) -> None:
        await super().drop_session(session_id)
        self._open.pop(session_id, None)
        for poll in [k for k in self._polls if k[0] == session_id]:
            del self._polls[poll]
        for due in [k for k in self._due if k[0] == session_id]:
            del self._due[due]

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

    async def vote(
        self,
        session_id: str,
        poll_id: str,
        voter: str,
        choices: tuple[int, ...],
        anonymous: bool,
        claims: Mapping[str, float] | None = None,
    ) -> Cast:
        # The session's status was checked by the namespace without a pause since: one process, no race.
        _, status, ballots = self._poll(session_id, poll_id)
        if status is not PollStatus.OPEN:
            raise poll_closed(poll_id)
        previous = ballots.choices.get(voter)
        first = ballots.cast(voter, choices)
        claimed = frozenset(a for a, ttl in (claims or {}).items() if self._claim(session_id, poll_id, a, ttl))
        return Cast(first, None if first else previous, claimed)

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

    async def claim_broadcast(self, session_id: str, poll_id: str, audience: str, ttl: float) -> bool:
        return self._claim(session_id, poll_id, audience, ttl)

    def _claim(self, session_id: str, poll_id: str, audience: str, ttl: float) -> bool:
        key = (session_id, poll_id, audience)
        clock = time.monotonic()
        if self._due.get(key, 0.0) > clock:
            return False
        self._due[key] = clock + ttl
        return True

    async def release_broadcast(self, session_id: str, poll_id: str, audience: str) -> None:
        self._due.pop((session_id, poll_id, audience), None)

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

# Any number of votes, in order, each atomic (and the batch too). ARGV[1]: the status field of the
# session's status hash. Per vote, KEYS: poll, ballots, counts, the session's status hash, the voter's
# connections, then one broadcast-claim key per audience to try; ARGV: voter, choices ("0,2"),
# anonymous ("1" or "0"), number of claims, then each claim's milliseconds.
# Returns one reply per vote: {outcome, previous choices, claims won ("10": the first won, the second
# not), connections...}; outcome is first | again | unknown | session_ended | closed | already_voted,
# and the voter's connections follow on a first vote only.
_VOTES = """
local function vote(k, a, claims)
  local status = redis.call('HGET', KEYS[k], 'status')
  if not status then return {'unknown', '', ''} end
  if redis.call('HGET', KEYS[k + 3], ARGV[1]) == 'ended' then return {'session_ended', '', ''} end
  if status ~= 'open' then return {'closed', '', ''} end
  local voter, choices, anonymous = ARGV[a], ARGV[a + 1], ARGV[a + 2] == '1'
  local old = redis.call('HGET', KEYS[k + 1], voter)
  if old and anonymous then return {'already_voted', '', ''} end
  if old then
    for index in string.gmatch(old, '%d+') do redis.call('HINCRBY', KEYS[k + 2], index, -1) end
  end
  for index in string.gmatch(choices, '%d+') do redis.call('HINCRBY', KEYS[k + 2], index, 1) end
  if anonymous then redis.call('HSET', KEYS[k + 1], voter, '') else redis.call('HSET', KEYS[k + 1], voter, choices) end
  local won = ''
  for i = 0, claims - 1 do
    if redis.call('SET', KEYS[k + 5 + i], '1', 'NX', 'PX', ARGV[a + 4 + i]) then won = won .. '1' else won = won .. '0' end
  end
  if old then return {'again', old, won} end
  local reply = {'first', '', won}
  for _, sid in ipairs(redis.call('SMEMBERS', KEYS[k + 4])) do reply[#reply + 1] = sid end
  return reply
end
local replies = {}
local k, a = 1, 2
while a <= #ARGV do
  local claims = tonumber(ARGV[a + 3])
  replies[#replies + 1] = vote(k, a, claims)
  k = k + 5 + claims
  a = a + 4 + claims
end
return replies
"""

# Votes of one process sent to Redis in one script call at most (a burst of thousands goes in a few).
VOTE_BATCH = 200


@dataclass
class _PendingVote:
    keys: list[str]
    args: list[str | int]
    status_field: str
    done: asyncio.Future[list[str]]


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

    def __init__(self, url: str, shared: SharedKeys) -> None:
        super().__init__()
        self._shared = shared
        self._redis: Any = redis_client(url)
        self._open_script = self._redis.register_script(_OPEN)
        self._votes_script = self._redis.register_script(_VOTES)
        # Votes waiting for the next script call, and the task making those calls (one at a time).
        self._pending: list[_PendingVote] = []
        self._sender: asyncio.Task[None] | None = None
        self._close_script = self._redis.register_script(_CLOSE)

    @staticmethod
    def _k(session_id: str, *parts: str) -> str:
        return session_key(session_id, "poll", *parts)

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

    async def vote(
        self,
        session_id: str,
        poll_id: str,
        voter: str,
        choices: tuple[int, ...],
        anonymous: bool,
        claims: Mapping[str, float] | None = None,
    ) -> Cast:
        audiences = list(claims or {})
        status_hash, status_field = self._shared.status(session_id)
        pending = _PendingVote(
            keys=[
                self._k(session_id, poll_id),
                self._k(session_id, poll_id, "ballots"),
                self._k(session_id, poll_id, "counts"),
                status_hash,
                self._shared.connections(session_id, voter),
                *(self._k(session_id, poll_id, "due", a) for a in audiences),
            ],
            args=[
                voter,
                _encode(choices),
                "1" if anonymous else "0",
                len(audiences),
                *(max(1, int(ttl * 1000)) for ttl in (claims or {}).values()),
            ],
            status_field=status_field,
            done=asyncio.get_running_loop().create_future(),
        )
        self._pending.append(pending)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_votes(), name="poll-votes")
        outcome, old, won, *tabs = await pending.done
        if outcome == "unknown":
            raise unknown_poll(poll_id)
        if outcome == "closed":
            raise poll_closed(poll_id)
        if outcome == "session_ended":
            check_status("ended", (), "poll.vote")  # the namespace's refusal, for a change it had not heard yet
        if outcome == "already_voted":
            check_revote(anonymous=True)
        first = outcome == "first"
        return Cast(
            first,
            _decode(old) if outcome == "again" and not anonymous else None,
            frozenset(a for a, flag in zip(audiences, won, strict=True) if flag == "1"),
            tuple(sorted(tabs)) if first else None,
        )

    async def _send_votes(self) -> None:
        """Sends the waiting votes, VOTE_BATCH per script call, until none are left.

        A vote alone waits for nothing (the task starts at the next turn of the event loop); in a
        burst the votes that arrive during one round trip go together in the next, so a process pays
        one Redis command per batch instead of one per vote.
        """
        try:
            while self._pending:
                batch, self._pending = self._pending[:VOTE_BATCH], self._pending[VOTE_BATCH:]
                try:
                    replies = await self._votes_script(
                        keys=[k for vote in batch for k in vote.keys],
                        args=[batch[0].status_field, *(x for vote in batch for x in vote.args)],
                    )
                except Exception as exc:
                    for vote in batch:
                        if not vote.done.done():
                            vote.done.set_exception(exc)
                    continue
                for vote, reply in zip(batch, replies, strict=True):
                    if not vote.done.done():
                        vote.done.set_result(reply)
        finally:
            self._sender = None

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

    async def claim_broadcast(self, session_id: str, poll_id: str, audience: str, ttl: float) -> bool:
        due = self._k(session_id, poll_id, "due", audience)
        return bool(await self._redis.set(due, "1", nx=True, px=max(1, int(ttl * 1000))))

    async def release_broadcast(self, session_id: str, poll_id: str, audience: str) -> None:
        await self._redis.delete(self._k(session_id, poll_id, "due", audience))

    async def close_backend(self) -> None:
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        await self._redis.aclose()
