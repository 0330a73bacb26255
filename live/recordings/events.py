"""Payloads of the recording events: `recording.start`/`recording.stop` in, `recording.started`/`stopped` out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from live.rooms.dispatch import Payload


class RecordingCommandIn(Payload):
    """`recording.start` and `recording.stop` take `{}`."""


class Emitted(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordingAck(Emitted):
    ok: Literal[True]
    id: str


class RecordingChanged(Emitted):
    """`recording.started` / `recording.stopped`: `{id, at}` to everyone in the session."""

    id: str
    at: str


class RecordingPart(Emitted):
    """`room.state.recording`: the recording under way, or null."""

    id: str
    since: str


EMITTED: dict[str, type[Emitted]] = {"recording.started": RecordingChanged, "recording.stopped": RecordingChanged}
