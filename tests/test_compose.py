"""docker-compose.yml, the Dockerfile and deploy/: the services, their health checks and the load balancer."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
TURN_CONF = ROOT / "deploy" / "turnserver.conf"
DOCKERFILE = ROOT / "Dockerfile"

# What an operator sets (docker-compose.yml says how); values only need to be well-formed here.
OPERATOR_ENV = {
    "LIVE_SECRET_KEY": "test-secret-key",
    "LIVE_POSTGRES_PASSWORD": "pgpass",
    "LIVE_TURN_PASSWORD": "turnpass",
    "LIVE_TURN_HOST": "203.0.113.7",
}
LIVE_SETTINGS = {"LIVE_DATABASE_URL", "LIVE_REDIS_URL", "LIVE_SECRET_KEY", "LIVE_PUBLIC_URL", "LIVE_ICE_SERVERS"}
APPS = ("app1", "app2")

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, enough to read our own file."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if not unset:
            return value or ""
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            raise KeyError(f"Compose variable {name!r} is required: {arg}")
        return ""

    return _VARIABLE.sub(replace, text)


def load_compose(env: Mapping[str, str] = OPERATOR_ENV) -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), env))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _nginx_directives(text: str) -> list[str]:
    """Every directive of an nginx config, comments dropped, whitespace collapsed."""
    without_comments = re.sub(r"#[^\n]*", "", text)
    return [" ".join(part.split()) for part in re.split(r"[;{}]", without_comments) if part.strip()]


def _nginx_block(text: str, header: str) -> str:
    """The body of the first block whose header starts with `header` (blocks nest, so count braces)."""
    without_comments = re.sub(r"#[^\n]*", "", text)
    start = re.search(re.escape(header) + r"[^{;]*\{", without_comments)
    assert start, f"No {header!r} block in nginx.conf"
    depth, index = 1, start.end()
    while depth:
        char = without_comments[index]
        depth += {"{": 1, "}": -1}.get(char, 0)
        index += 1
    return without_comments[start.end() : index - 1]


def _turn_settings() -> dict[str, str]:
    """turnserver.conf as name -> value (flags map to ""); repeated options keep the last value."""
    settings: dict[str, str] = {}
    for raw in TURN_CONF.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


def test_compose_runs_a_load_balancer_two_apps_postgres_redis_and_turn(services: dict[str, Any]) -> None:
    assert {"lb", "app1", "app2", "postgres", "redis", "turn"} <= set(services)
    assert services["lb"]["image"].startswith("nginx:")
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[0] == "redis"
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert services["turn"]["image"].startswith("coturn/coturn:")


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if service.get("restart") == "no":  # one-shot jobs (the migration) exit instead
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"service {name!r} has no health check"
        assert check["test"], f"service {name!r} has an empty health check"
        assert check.get("interval") and check.get("retries"), f"service {name!r} health check has no timing"


def test_there_are_two_app_processes_serving_on_8080_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    for name in APPS:
        app = services[name]
        assert app["command"] == ["live", "serve", "--host", "0.0.0.0", "--port", "8080"], name
        assert app["build"]["dockerfile"] == "Dockerfile"
        assert (ROOT / app["build"]["context"] / app["build"]["dockerfile"]).is_file()
        assert LIVE_SETTINGS <= set(app["environment"]), f"{name} lacks {LIVE_SETTINGS - set(app['environment'])}"
        assert app["environment"]["LIVE_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in app["environment"]["LIVE_DATABASE_URL"]
        assert app["environment"]["LIVE_REDIS_URL"].startswith("redis://redis:6379")
        assert app["environment"]["LIVE_SECRET_KEY"] == OPERATOR_ENV["LIVE_SECRET_KEY"]


def test_both_apps_share_one_secret_and_database_so_links_and_cookies_work_on_either(
    services: dict[str, Any],
) -> None:
    first, second = (services[name]["environment"] for name in APPS)
    assert first == second


def test_the_app_health_check_requests_healthz(services: dict[str, Any]) -> None:
    for name in APPS:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:8080/healthz" in check
    assert "/healthz" in DOCKERFILE.read_text().split("HEALTHCHECK", 1)[1]


def test_ice_servers_are_a_json_list_with_stun_and_turn_on_the_turn_host(services: dict[str, Any]) -> None:
    ice_servers = json.loads(services["app1"]["environment"]["LIVE_ICE_SERVERS"])
    assert isinstance(ice_servers, list)
    urls = [url for server in ice_servers for url in server["urls"]]
    host = OPERATOR_ENV["LIVE_TURN_HOST"]
    assert f"stun:{host}:3478" in urls
    assert f"turn:{host}:3478?transport=udp" in urls
    assert f"turn:{host}:3478?transport=tcp" in urls
    assert ice_servers[0]["username"] == "live"
    assert ice_servers[0]["credential"] == OPERATOR_ENV["LIVE_TURN_PASSWORD"]
    turn_command = " ".join(services["turn"]["command"])
    assert f"--user=live:{OPERATOR_ENV['LIVE_TURN_PASSWORD']}" in turn_command
    assert f"--external-ip={host}" in turn_command


def test_secrets_have_no_default_and_compose_refuses_to_start_without_them() -> None:
    for name in ("LIVE_SECRET_KEY", "LIVE_POSTGRES_PASSWORD", "LIVE_TURN_PASSWORD"):
        env = {key: value for key, value in OPERATOR_ENV.items() if key != name}
        with pytest.raises(KeyError, match=name):
            load_compose(env)


def test_apps_start_after_the_migration_and_healthy_postgres_and_redis(services: dict[str, Any]) -> None:
    assert services["migrate"]["command"] == ["live", "db", "upgrade"]
    for name in APPS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_the_load_balancer_mounts_nginx_conf_and_waits_for_both_apps(services: dict[str, Any]) -> None:
    lb = services["lb"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert {name: dep["condition"] for name, dep in lb["depends_on"].items()} == {
        "app1": "service_healthy",
        "app2": "service_healthy",
    }
    assert "8080:80" in lb["ports"]


def test_nginx_sticks_each_client_to_one_app_process() -> None:
    upstream = _nginx_directives(_nginx_block(NGINX_CONF.read_text(), "upstream live_app"))
    assert "ip_hash" in upstream
    servers = [d.split()[1] for d in upstream if d.startswith("server ")]
    assert servers == ["app1:8080", "app2:8080"]


def test_nginx_sends_every_connection_of_one_live_session_to_one_process() -> None:
    # A webinar's video is forwarded by one process: its viewers must all reach that process.
    text = NGINX_CONF.read_text()
    upstream = _nginx_directives(_nginx_block(text, "upstream live_rooms"))
    assert "hash $arg_session consistent" in upstream
    assert [d.split()[1] for d in upstream if d.startswith("server ")] == ["app1:8080", "app2:8080"]
    socket_io = _nginx_directives(_nginx_block(text, "location /socket.io/"))
    assert "proxy_pass http://live_rooms" in socket_io


def test_nginx_passes_websocket_upgrades_through() -> None:
    text = NGINX_CONF.read_text()
    directives = _nginx_directives(text)
    assert "proxy_http_version 1.1" in directives
    assert "proxy_set_header Upgrade $http_upgrade" in directives
    assert "proxy_set_header Connection $connection_upgrade" in directives
    upgrade_map = _nginx_directives(_nginx_block(text, "map $http_upgrade $connection_upgrade"))
    assert "default upgrade" in upgrade_map
    socketio = _nginx_directives(_nginx_block(text, "location /socket.io/"))
    assert "proxy_pass http://live_rooms" in socketio
    read_timeout = next(d for d in socketio if d.startswith("proxy_read_timeout "))
    # Longer than Socket.IO's 25 s ping interval, so a quiet WebSocket is not cut.
    assert int(read_timeout.split()[1].rstrip("s")) > 25


def test_turn_relays_on_the_port_range_compose_publishes(services: dict[str, Any]) -> None:
    settings = _turn_settings()
    assert "lt-cred-mech" in settings
    relay = f"{settings['min-port']}-{settings['max-port']}"
    assert f"{relay}:{relay}/udp" in services["turn"]["ports"]
    assert "3478:3478/udp" in services["turn"]["ports"]
    assert "./deploy/turnserver.conf:/etc/coturn/turnserver.conf:ro" in services["turn"]["volumes"]


def test_turn_may_relay_into_the_compose_network_where_the_media_servers_are(compose: dict[str, Any]) -> None:
    network = ipaddress.ip_network(compose["networks"]["live"]["ipam"]["config"][0]["subnet"])
    first, last = (ipaddress.ip_address(part) for part in _turn_settings()["allowed-peer-ip"].split("-"))
    assert (first, last) == (network.network_address, network.broadcast_address)


def test_the_image_installs_the_project_on_python_311_slim_and_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip()]
    assert lines[[line.startswith("FROM ") for line in lines].index(True)] == "FROM python:3.11-slim"
    assert any("pip install ." in line for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines[-1] == 'CMD ["live", "serve", "--host", "0.0.0.0", "--port", "8080"]'


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


def test_docker_compose_accepts_the_file() -> None:
    if _docker_compose_available():
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **OPERATOR_ENV},
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    else:
        # No compose plugin on this machine: the file must still be YAML with only compose's keys.
        compose = load_compose()
        assert set(compose) <= {"name", "services", "networks", "volumes", "configs", "secrets"} | {
            key for key in compose if key.startswith("x-")
        }
        for name, service in compose["services"].items():
            assert "image" in service or "build" in service, f"service {name!r} has neither image nor build"
            for volume in service.get("volumes", []):
                source = volume.split(":", 1)[0]
                if source.startswith("./"):
                    assert (ROOT / source).exists(), f"service {name!r} mounts missing {source}"
                else:
                    assert source in compose["volumes"], f"service {name!r} uses undeclared volume {source}"


JANUS_NODES = {"janus-origin": "origin", "janus-edge1": "edge1", "janus-edge2": "edge2"}


def test_the_janus_profile_runs_an_origin_and_two_edges_the_apps_know_about(services: dict[str, Any]) -> None:
    from live.media.janus.model import parse_nodes

    nodes = parse_nodes(json.loads(services["app1"]["environment"]["LIVE_JANUS"]))
    assert [(node.role, node.rtp_host) for node in nodes] == [
        ("origin", "janus-origin"),
        ("edge", "janus-edge1"),
        ("edge", "janus-edge2"),
    ]
    assert services["app1"]["environment"]["LIVE_MEDIA"] == "embedded"  # Janus only when asked for
    ranges = []
    for name, directory in JANUS_NODES.items():
        service = services[name]
        assert service["profiles"] == ["janus"]
        assert f"./deploy/janus/{directory}:/etc/live-janus:ro" in service["volumes"]
        published = service["ports"][0].split(":")[0]
        config = (ROOT / "deploy" / "janus" / directory / "janus.jcfg").read_text()
        assert f'rtp_port_range = "{published}"' in config
        ranges.append(published)
    assert len(set(ranges)) == 3


def test_the_janus_node_configs_are_what_the_generator_makes(services: dict[str, Any]) -> None:
    from live.media.janus.nodeconfig import NodeConfig

    for directory in JANUS_NODES.values():
        folder = ROOT / "deploy" / "janus" / directory
        main = (folder / "janus.jcfg").read_text()
        low, high = re.search(r'rtp_port_range = "(\d+)-(\d+)"', main).groups()  # type: ignore[union-attr]
        config = NodeConfig(directory, api_host="0.0.0.0", rtp_ports=(int(low), int(high)))
        for name, text in config.files(Path("/etc/live-janus")).items():
            assert (folder / name).read_text() == text, f"deploy/janus/{directory}/{name} differs from NodeConfig"
        # The API is never published; admin API off.
        assert "admin_http = false" in (folder / "janus.transport.http.jcfg").read_text()
