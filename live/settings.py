"""The one typed settings object, built once at start-up from the environment and `.env`."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from live.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/live.db"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: str = ""
    public_url: str = DEFAULT_PUBLIC_URL
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    var_dir: Path = Path("var")
    # Engagement configuration overrides (JSON object of EngagementConfig field -> value).
    engagement: dict[str, Any] = field(default_factory=dict)
    # Seconds between batched event-log flushes; the realtime path never waits on them.
    event_flush_interval: float = 0.05
    # Seconds between webhook outbox sweeps and between nightly-job checks.
    outbox_interval: float = 1.0
    scheduler_interval: float = 60.0
    # Attendee rate limits: a burst and a sustained rate per second.
    chat_burst: int = 5
    chat_rate: float = 1.0
    reaction_burst: int = 10
    reaction_rate: float = 3.0
    # Hand, focus and camera/mic state: a person toggles them a few times, not dozens a second.
    signal_burst: int = 10
    signal_rate: float = 2.0
    # SDP and ICE: a browser trickles 10-30 candidates at once per connection, and renegotiates on every
    # publisher change, so the burst is generous; a flood is still cut at 20 a second.
    rtc_burst: int = 60
    rtc_rate: float = 20.0
    vote_burst: int = 5
    vote_rate: float = 1.0
    query_burst: int = 10
    query_rate: float = 2.0
    # Questions one session takes in all: a host reads a webinar's Q&A, and past a few hundred nobody can;
    # the cap keeps one session's Q&A (and its Redis hash) bounded.
    max_questions: int = 500
    # Seconds between live `poll.results` broadcasts for one poll to its hosts and co-hosts (a few a second
    # at most), and to its voters: each broadcast to voters goes to every one of them (thousands in a
    # webinar), so they get it less often; both always get the state after the last vote.
    # Hours a session's room state (Redis keys, or this process's memory) is kept after it ended; the
    # event log in the database keeps everything for good.
    state_retention_hours: float = 24.0
    poll_results_interval: float = 0.25
    poll_voter_results_interval: float = 1.0
    secure_cookies: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
        """Environment variables win over `.env`; a missing secret key is generated once into `var/`."""
        values: dict[str, str] = {}
        env_path = Path(env_file)
        if env_path.is_file():
            values.update({k: v for k, v in dotenv_values(env_path).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        var_dir = Path(values.get("LIVE_VAR_DIR", "var"))
        database_url = values.get("LIVE_DATABASE_URL") or DEFAULT_DATABASE_URL
        redis_url = values.get("LIVE_REDIS_URL") or None
        public_url = (values.get("LIVE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
        ice_servers = _json_setting(values, "LIVE_ICE_SERVERS", "[]")
        if not isinstance(ice_servers, list):
            raise InvalidInput(f"Config 'LIVE_ICE_SERVERS' has value {ice_servers!r}. Not a JSON list.")
        engagement = _json_setting(values, "LIVE_ENGAGEMENT", "{}")
        if not isinstance(engagement, dict):
            raise InvalidInput(f"Config 'LIVE_ENGAGEMENT' has value {engagement!r}. Not a JSON object.")
        secret_key = values.get("LIVE_SECRET_KEY") or _stored_secret(var_dir)
        return cls(
            **_rate_limits(_json_setting(values, "LIVE_RATE_LIMITS", "{}")),
            max_questions=_positive_int(values, "LIVE_MAX_QUESTIONS", cls.max_questions),
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key,
            public_url=public_url,
            ice_servers=ice_servers,
            var_dir=var_dir,
            engagement=engagement,
            secure_cookies=public_url.startswith("https://"),
        )


def _json_setting(values: Mapping[str, str], name: str, default: str) -> Any:
    raw = values.get(name) or default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Config '{name}' has value {raw!r}. Not valid JSON ({exc.msg}).") from exc


# The attendee rate kinds an operator may tune (`live.rooms.model.RateKind`, staff_only aside).
RATE_KINDS = ("chat", "reaction", "signal", "rtc", "vote", "query")


def _rate_limits(raw: Any) -> dict[str, Any]:
    """`LIVE_RATE_LIMITS`, e.g. `{"chat": {"burst": 10, "rate": 2}}`, as `chat_burst`/`chat_rate` fields."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"Config 'LIVE_RATE_LIMITS' has value {raw!r}. Not a JSON object.")
    fields: dict[str, Any] = {}
    for kind, limit in raw.items():
        if kind not in RATE_KINDS:
            raise InvalidInput(f"Config 'LIVE_RATE_LIMITS' names {kind!r}. Not a rate kind ({', '.join(RATE_KINDS)}).")
        if not isinstance(limit, dict) or not set(limit) <= {"burst", "rate"}:
            raise InvalidInput(f"Config 'LIVE_RATE_LIMITS' has {kind!r}: {limit!r}. Not an object {{burst?, rate?}}.")
        burst, rate = limit.get("burst"), limit.get("rate")
        if burst is not None:
            if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
                raise InvalidInput(f"Config 'LIVE_RATE_LIMITS' has {kind}.burst {burst!r}. Not a whole number >= 1.")
            fields[f"{kind}_burst"] = burst
        if rate is not None:
            if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
                raise InvalidInput(f"Config 'LIVE_RATE_LIMITS' has {kind}.rate {rate!r}. Not a number > 0.")
            fields[f"{kind}_rate"] = float(rate)
    return fields


def _positive_int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = values.get(name)
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidInput(f"Config '{name}' has value {raw!r}. Not a whole number >= 1.")
    return number


def _stored_secret(var_dir: Path) -> str:
    path = var_dir / "secret.key"
    if path.is_file():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created exclusively so two processes starting together agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
