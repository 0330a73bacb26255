"""The one typed settings object, built once at start-up from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from live.errors import InvalidInput
from live.mail.model import SmtpTarget, default_mail_from, parse_reminders
from live.media.janus.model import NodeSpec, parse_nodes

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
    # Seconds a live one-on-one stays open after its last person left, so a reload or a dropped
    # connection does not end the call (and score it) under them.
    one_on_one_grace_seconds: float = 60.0
    # Which engine carries webinar media: the aiortc forwarder in this process, or Janus nodes.
    media: str = "embedded"
    janus: list[NodeSpec] = field(default_factory=list)
    # Where recordings are written (`LIVE_RECORDINGS_DIR`); unset: `recordings/` under `var_dir`.
    recordings_dir: Path | None = None
    # Days a finished recording is kept before it is deleted (`LIVE_RECORDING_RETENTION_DAYS`; 0 keeps them).
    recording_retention_days: float = 90.0
    # Mail: unset SMTP URL writes each message as an .eml file under `mail_dir` (shown on /mail).
    smtp_url: str | None = None
    mail_from: str = ""
    mail_dir: Path | None = None  # None: `var_dir / "mail"`
    reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    # Seconds between sweeps for due reminders and for ended sessions still owed their follow-ups.
    reminder_interval: float = 30.0
    # Public registration: attempts one client address may make, as a burst and a sustained rate per second
    # (5, then one every two minutes: plenty for a person, little for a script filling the contact list).
    register_burst: int = 5
    register_rate: float = 1 / 120

    @property
    def mail_path(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    @property
    def sender(self) -> str:
        return self.mail_from or default_mail_from(self.public_url)
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
    # Reverse proxies whose X-Forwarded-For names the client (`LIVE_TRUSTED_PROXIES`, e.g. "10.0.0.0/8"); none by default.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir if self.recordings_dir is not None else self.var_dir / "recordings"

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
        media = values.get("LIVE_MEDIA") or "embedded"
        if media not in ("embedded", "janus"):
            raise InvalidInput(f"Config 'LIVE_MEDIA' has value {media!r}. Not 'embedded' or 'janus'.")
        janus = parse_nodes(_json_setting(values, "LIVE_JANUS", "[]")) if media == "janus" else []
        secret_key = values.get("LIVE_SECRET_KEY") or _stored_secret(var_dir)
        grace = _seconds_setting(values, "LIVE_ONE_ON_ONE_GRACE_SECONDS", 60.0)
        recordings_dir = values.get("LIVE_RECORDINGS_DIR") or None
        retention = values.get("LIVE_RECORDING_RETENTION_DAYS") or "90"
        try:
            retention_days = float(retention)
        except ValueError as exc:
            raise InvalidInput(
                f"Config 'LIVE_RECORDING_RETENTION_DAYS' has value {retention!r}. Not a number of days."
            ) from exc
        smtp_url = values.get("LIVE_SMTP_URL") or None
        if smtp_url:
            SmtpTarget.parse(smtp_url)  # refused at start-up, not at the first mail
        reminders = parse_reminders(values.get("LIVE_REMINDERS", "24h,1h"))
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
            one_on_one_grace_seconds=grace,
            media=media,
            janus=janus,
            recordings_dir=Path(recordings_dir) if recordings_dir else None,
            recording_retention_days=retention_days,
            smtp_url=smtp_url,
            mail_from=values.get("LIVE_MAIL_FROM") or "",
            mail_dir=Path(values["LIVE_MAIL_DIR"]) if values.get("LIVE_MAIL_DIR") else None,
            reminders=reminders,
            webhook_allow_private=_bool_setting(values, "LIVE_WEBHOOK_ALLOW_PRIVATE"),
            trusted_proxies=_trusted_proxies(values.get("LIVE_TRUSTED_PROXIES", "")),
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


def _seconds_setting(values: Mapping[str, str], name: str, default: float) -> float:
    raw = values.get(name)
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidInput(f"Config '{name}' has value {raw!r}. Not a number of seconds (0 or more).")
    return seconds


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


def _trusted_proxies(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    from live.api.client import parse_networks

    try:
        return parse_networks(raw.split(","))
    except ValueError as exc:
        raise InvalidInput(f"Config 'LIVE_TRUSTED_PROXIES' has value {raw!r}. {exc}.") from exc
