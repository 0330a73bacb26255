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
    # Seconds between live `poll.results` broadcasts for one poll to its hosts and co-hosts (a few a second
    # at most), and to its voters: each broadcast to voters goes to every one of them (thousands in a
    # webinar), so they get it less often; both always get the state after the last vote.
    # Hours a session's room state (Redis keys, or this process's memory) is kept after it ended; the
    # event log in the database keeps everything for good.
    state_retention_hours: float = 24.0
    poll_results_interval: float = 0.25
    poll_voter_results_interval: float = 1.0
    secure_cookies: bool = False
    # Sign-in throttle (live.auth.throttle): failures free per account and per address, then a lockout of
    # `login_lockout_base` seconds doubling per failure up to `login_lockout_max`; failures are forgotten
    # `login_failure_window` seconds after the last one.
    login_free_failures: int = 5
    login_address_free_failures: int = 20
    login_lockout_base: float = 1.0
    login_lockout_max: float = 900.0
    login_failure_window: float = 3600.0
    # Days a login cookie lasts (each one is a row in `login_sessions`, revoked on sign-out).
    login_days: int = 14
    # Webhooks to loopback, private, link-local or unspecified addresses (development only).
    webhook_allow_private: bool = False

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
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key,
            public_url=public_url,
            ice_servers=ice_servers,
            var_dir=var_dir,
            engagement=engagement,
            secure_cookies=public_url.startswith("https://"),
            webhook_allow_private=_bool_setting(values, "LIVE_WEBHOOK_ALLOW_PRIVATE"),
        )


def _bool_setting(values: Mapping[str, str], name: str) -> bool:
    raw = (values.get(name) or "false").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise InvalidInput(f"Config '{name}' has value {raw!r}. Not true or false.")


def _json_setting(values: Mapping[str, str], name: str, default: str) -> Any:
    raw = values.get(name) or default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Config '{name}' has value {raw!r}. Not valid JSON ({exc.msg}).") from exc


# A signing key shorter than this is refused at start-up: 32 random bytes is HMAC-SHA256's own key size.
MIN_SECRET_BYTES = 32


def ensure_private_dir(path: Path) -> None:
    """Creates `path` (and parents) readable by this user only: it holds the signing key and the database."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _stored_secret(var_dir: Path) -> str:
    path = var_dir / "secret.key"
    ensure_private_dir(var_dir)
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = _create_secret(path)
    if len(key.encode()) < MIN_SECRET_BYTES:
        raise InvalidInput(
            f"The signing key in {str(path)!r} has {len(key.encode())} bytes; at least {MIN_SECRET_BYTES} are "
            "needed. Delete the file to have a new one generated (signed-in staff will have to sign in again), "
            "or set LIVE_SECRET_KEY."
        )
    return key


def _create_secret(path: Path) -> str:
    """Writes a new key whole before it appears under its name, so a second process never reads half of it.

    The key goes into a private temp file first; `os.link` then publishes it only if no other process got
    there first (unlike `rename`, a link never replaces an existing file). The loser reads the winner's key.
    """
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key
