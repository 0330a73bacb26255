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
