"""Decoding Socket.IO packets: a payload JSON cannot decode becomes a clear refusal, not an internal error.

python-socketio decodes each packet's JSON before any handler runs; a payload nested thousands deep makes
`json.loads` raise RecursionError (malformed JSON: ValueError), which the server logs as an internal error
and answers with nothing, so the client waits for an ack forever. `GuardedPacket` (the server's
`packet_class`) keeps the packet's type, namespace and ack id, which are read before the JSON, and puts a
marker event in its place; the namespace answers it like any bad input: `{ok: false, error: {code:
"invalid", ...}}`, on a connection that stays open.
"""

from __future__ import annotations

import json
from typing import Any

from socketio import packet

# The event name a packet whose payload could not be decoded is dispatched under (no client can send it:
# a real event name never starts with a NUL).
UNDECODABLE = "\x00undecodable"


class GuardedPacket(packet.Packet):  # type: ignore[misc]  # python-socketio ships no type information
    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments = int(super().decode(encoded_packet))
        except RecursionError:
            self.data = [UNDECODABLE, "The payload is nested too deeply to read; send a flatter object."]
            return 0
        except json.JSONDecodeError as exc:
            self.data = [UNDECODABLE, f"The payload is not valid JSON ({exc.msg} at position {exc.pos})."]
            return 0
        if self.packet_type == packet.EVENT and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            # python-socketio would index `data[0]` as the event name and fail inside.
            self.data = [UNDECODABLE, "An event is a JSON list: [name, payload]."]
        return attachments
