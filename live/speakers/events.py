"""Payloads the speaker events emit: `speaker.invited` / `speaker.revoked {participant_id}`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpeakerChanged(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: str


EMITTED: dict[str, type[BaseModel]] = {"speaker.invited": SpeakerChanged, "speaker.revoked": SpeakerChanged}
