"""Payloads of the recording events: `recording.start`/`recording.stop` in, `recording.started`/`stopped` out."""

from __future__ import annotations

from typing import Literal

from live.rooms.dispatch import Payload
from live.rooms.server_events import ServerEvent, UtcTime, WireModel


class RecordingCommandIn(Payload):
    """`recording.start` and `recording.stop` take `{}`."""


class RecordingAck(WireModel):
    """The ack of `recording.start` and `recording.stop`."""

    ok: Literal[True]
    id: str


class RecordingChanged(WireModel):
    id: str
    at: UtcTime


class RecordingStartedOut(RecordingChanged, ServerEvent):
    """A host or co-host started recording; to everyone (pages show the recording badge)."""

    event = "recording.started"


class RecordingStoppedOut(RecordingChanged, ServerEvent):
    """The recording stopped (a host, or the session's end) and its files are ready; to everyone (pages hide
    the badge)."""

    event = "recording.stopped"


class RecordingPart(WireModel):
    """`room.state.recording`: the recording under way, or null."""

    id: str
    since: UtcTime


EMITTED: tuple[type[ServerEvent], ...] = (RecordingStartedOut, RecordingStoppedOut)
