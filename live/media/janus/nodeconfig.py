"""The configuration files of one Janus node as live runs it: HTTP API on one address, VideoRoom only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Debian's janus package puts its plugins and transports here.
LIB_DIR = Path("/usr/lib/x86_64-linux-gnu/janus")
# Everything live does not use is left out: fewer threads, fewer open ports, nothing to secure.
UNUSED_PLUGINS = (
    "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,"
    "libjanus_recordplay.so,libjanus_sip.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
)
UNUSED_TRANSPORTS = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so"


@dataclass(frozen=True)
class NodeConfig:
    """One node: where its HTTP API listens, its RTP port range and the interfaces ICE may use."""

    name: str
    api_host: str = "127.0.0.1"
    api_port: int = 8088
    rtp_ports: tuple[int, int] = (20000, 20999)
    # Interfaces (or address prefixes) ICE gathers on; "lo" keeps a test node on loopback only.
    ice_enforce: str = ""
    # Public address put in host candidates behind a 1:1 NAT (a container's published address).
    nat_1_1: str = ""
    # Seconds a Janus session lives without keepalives: what is left of a crashed app is freed then.
    session_timeout: int = 30
    admin_secret: str = ""
    debug_level: int = 3

    @property
    def url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}/janus"

    def files(self, configs_dir: Path) -> dict[str, str]:
        """File name -> content of every configuration file Janus reads from `configs_dir`."""
        nat = [f'ice_enforce_list = "{self.ice_enforce}"'] if self.ice_enforce else []
        if self.nat_1_1:
            nat.append(f'nat_1_1_mapping = "{self.nat_1_1}"')
        secret = f'\n\tadmin_secret = "{self.admin_secret}"' if self.admin_secret else ""
        low, high = self.rtp_ports
        main = f"""general: {{
\tconfigs_folder = "{configs_dir}"
\tplugins_folder = "{LIB_DIR / "plugins"}"
\ttransports_folder = "{LIB_DIR / "transports"}"
\tevents_folder = "{LIB_DIR / "events"}"
\tloggers_folder = "{LIB_DIR / "loggers"}"
\tdebug_level = {self.debug_level}
\tserver_name = "{self.name}"
\tsession_timeout = {self.session_timeout}{secret}
}}
media: {{
\trtp_port_range = "{low}-{high}"
}}
nat: {{
{chr(10).join(chr(9) + line for line in nat)}
}}
plugins: {{
\tdisable = "{UNUSED_PLUGINS},libjanus_streaming.so"
}}
transports: {{
\tdisable = "{UNUSED_TRANSPORTS}"
}}
loggers: {{
	disable = "libjanus_jsonlog.so"
}}
events: {{
\tbroadcast = false
}}
"""
        http = f"""general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tport = {self.api_port}
\tip = "{self.api_host}"
\thttps = false
}}
admin: {{
\tadmin_http = false
}}
"""
        # `string_ids = false`: rooms and publishers are numbered (see live.media.janus.engine).
        videoroom = "general: {\n\tstring_ids = false\n}\n"
        return {
            "janus.jcfg": main,
            "janus.transport.http.jcfg": http,
            "janus.plugin.videoroom.jcfg": videoroom,
        }

    def write(self, configs_dir: Path) -> Path:
        """Writes the files; returns the main configuration file to pass as `janus -C`."""
        configs_dir.mkdir(parents=True, exist_ok=True)
        for name, text in self.files(configs_dir.resolve()).items():
            (configs_dir / name).write_text(text)
        return configs_dir.resolve() / "janus.jcfg"
