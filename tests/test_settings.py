"""Settings from the environment and `.env`, and the secret key generated once."""

from __future__ import annotations

import concurrent.futures
import stat
from pathlib import Path

import pytest

from live.db.engine import upgrade_sync
from live.errors import InvalidInput
from live.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_are_one_process_on_sqlite(tmp_path: Path) -> None:
    settings = Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.redis_url is None
    assert settings.public_url == "http://127.0.0.1:8080" and settings.ice_servers == []


def test_a_missing_secret_is_generated_once_into_var(tmp_path: Path) -> None:
    first = Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")
    second = Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")
    assert len(first.secret_key) > 40 and first.secret_key == second.secret_key
    assert (tmp_path / "secret.key").read_text() == first.secret_key


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LIVE_PUBLIC_URL=https://live.example.com/\nLIVE_SECRET_KEY=from-file\n")
    settings = Settings.from_env({"LIVE_SECRET_KEY": "from-env", "LIVE_VAR_DIR": str(tmp_path)}, env_file=env_file)
    assert settings.public_url == "https://live.example.com" and settings.secret_key == "from-env"
    assert settings.secure_cookies


def test_ice_servers_must_be_a_json_list(tmp_path: Path) -> None:
    ok = Settings.from_env(
        {"LIVE_ICE_SERVERS": '[{"urls": "stun:stun.example.com"}]', "LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x"
    )
    assert ok.ice_servers == [{"urls": "stun:stun.example.com"}]
    with pytest.raises(InvalidInput, match="LIVE_ICE_SERVERS"):
        Settings.from_env({"LIVE_ICE_SERVERS": "{nope", "LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x")
    with pytest.raises(InvalidInput, match="Not a JSON list"):
        Settings.from_env({"LIVE_ICE_SERVERS": "{}", "LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x")


def test_the_one_on_one_grace_period_is_a_number_of_seconds(tmp_path: Path) -> None:
    default = Settings.from_env({"LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x")
    assert default.one_on_one_grace_seconds == 60.0
    set_ = Settings.from_env({"LIVE_ONE_ON_ONE_GRACE_SECONDS": "90", "LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x")
    assert set_.one_on_one_grace_seconds == 90.0
    for bad in ("soon", "-5", "nan"):
        with pytest.raises(InvalidInput, match=r"LIVE_ONE_ON_ONE_GRACE_SECONDS.*Not a number of seconds"):
            Settings.from_env({"LIVE_ONE_ON_ONE_GRACE_SECONDS": bad, "LIVE_SECRET_KEY": "k" * 32}, env_file=tmp_path / "x")


def test_an_empty_secret_key_file_is_refused_at_start_up(tmp_path: Path) -> None:
    # What a process sees when another one created the file and has not written it yet (or crashed).
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(InvalidInput, match=r"has 0 bytes; at least 32"):
        Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")


def test_a_half_written_secret_key_file_is_refused_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("abc123")
    with pytest.raises(InvalidInput, match=r"secret\.key.*has 6 bytes"):
        Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")


def test_processes_starting_together_agree_on_one_whole_key(tmp_path: Path) -> None:
    var = tmp_path / "var"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: Settings.from_env({"LIVE_VAR_DIR": str(var)}, env_file=tmp_path / "x").secret_key,
                             range(16)))
    assert len(set(keys)) == 1 and len(keys[0]) >= 32
    assert [p.name for p in var.iterdir()] == ["secret.key"], "no temp file is left behind"


def test_the_var_directory_key_and_database_are_private_to_their_owner(tmp_path: Path) -> None:
    var = tmp_path / "var"
    Settings.from_env({"LIVE_VAR_DIR": str(var)}, env_file=tmp_path / "none")
    database = var / "db" / "live.db"
    upgrade_sync(f"sqlite+aiosqlite:///{database}")
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_media_is_embedded_unless_janus_is_asked_for_with_its_nodes(tmp_path: Path) -> None:
    env = {"LIVE_SECRET_KEY": "k" * 32, "LIVE_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(env, env_file=tmp_path / "none").media == "embedded"
    nodes = '[{"url": "http://127.0.0.1:8088/janus", "role": "origin"}, {"url": "http://e:8088/janus", "role": "edge"}]'
    settings = Settings.from_env(env | {"LIVE_MEDIA": "janus", "LIVE_JANUS": nodes}, env_file=tmp_path / "none")
    assert settings.media == "janus"
    assert [(n.role, n.url) for n in settings.janus] == [
        ("origin", "http://127.0.0.1:8088/janus"),
        ("edge", "http://e:8088/janus"),
    ]
    with pytest.raises(InvalidInput, match="'LIVE_MEDIA' has value 'mediasoup'"):
        Settings.from_env(env | {"LIVE_MEDIA": "mediasoup"}, env_file=tmp_path / "none")
    with pytest.raises(InvalidInput, match="exactly one 'origin'"):
        Settings.from_env(env | {"LIVE_MEDIA": "janus"}, env_file=tmp_path / "none")


def test_rate_limits_and_the_question_cap_come_from_the_environment(tmp_path: Path) -> None:
    env = {"LIVE_VAR_DIR": str(tmp_path), "LIVE_RATE_LIMITS": '{"chat": {"burst": 12, "rate": 0.5}, "rtc": {"rate": 40}}',
           "LIVE_MAX_QUESTIONS": "80"}
    settings = Settings.from_env(env, env_file=tmp_path / "none")
    assert (settings.chat_burst, settings.chat_rate) == (12, 0.5)
    assert (settings.rtc_burst, settings.rtc_rate) == (60, 40.0)  # the burst keeps its default
    assert settings.max_questions == 80


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("LIVE_RATE_LIMITS", '{"typing": {"burst": 1}}', "'typing'"),
        ("LIVE_RATE_LIMITS", '{"chat": {"burst": 0}}', "chat.burst 0"),
        ("LIVE_RATE_LIMITS", '{"chat": {"rate": "fast"}}', "chat.rate 'fast'"),
        ("LIVE_RATE_LIMITS", '{"chat": {"every": 1}}', "'chat'"),
        ("LIVE_RATE_LIMITS", "[]", "Not a JSON object"),
        ("LIVE_MAX_QUESTIONS", "lots", "'lots'"),
    ],
)
def test_bad_limits_are_refused_naming_the_value(tmp_path: Path, name: str, value: str, named: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Settings.from_env({"LIVE_VAR_DIR": str(tmp_path), name: value}, env_file=tmp_path / "none")
    assert name in exc.value.message and named in exc.value.message


def test_recordings_go_under_var_unless_a_directory_is_set_and_retention_must_be_a_number(tmp_path: Path) -> None:
    default = Settings.from_env({"LIVE_VAR_DIR": str(tmp_path)}, env_file=tmp_path / "none")
    assert default.recordings_path == tmp_path / "recordings" and default.recording_retention_days == 90
    chosen = Settings.from_env(
        {"LIVE_VAR_DIR": str(tmp_path), "LIVE_RECORDINGS_DIR": "/srv/recordings", "LIVE_RECORDING_RETENTION_DAYS": "7"},
        env_file=tmp_path / "none",
    )
    assert chosen.recordings_path == Path("/srv/recordings") and chosen.recording_retention_days == 7
    with pytest.raises(InvalidInput, match="LIVE_RECORDING_RETENTION_DAYS"):
        Settings.from_env({"LIVE_VAR_DIR": str(tmp_path), "LIVE_RECORDING_RETENTION_DAYS": "a week"}, env_file=tmp_path / "none")
