"""Settings from the environment and `.env`, and the secret key generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        {"LIVE_ICE_SERVERS": '[{"urls": "stun:stun.example.com"}]', "LIVE_SECRET_KEY": "k"}, env_file=tmp_path / "x"
    )
    assert ok.ice_servers == [{"urls": "stun:stun.example.com"}]
    with pytest.raises(InvalidInput, match="LIVE_ICE_SERVERS"):
        Settings.from_env({"LIVE_ICE_SERVERS": "{nope", "LIVE_SECRET_KEY": "k"}, env_file=tmp_path / "x")
    with pytest.raises(InvalidInput, match="Not a JSON list"):
        Settings.from_env({"LIVE_ICE_SERVERS": "{}", "LIVE_SECRET_KEY": "k"}, env_file=tmp_path / "x")


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
