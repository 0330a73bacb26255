"""Payloads the speaker events emit: `speaker.invited` / `speaker.revoked` (everyone) and `speaker.accepted` /
`speaker.declined` (the hosts and the speaker's own tabs), each `{participant_id}`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpeakerChanged(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: str
    # The speaker's name, in `speaker.invited` and `speaker.accepted` (an audience does not otherwise know it).
    name: str | None = None


EMITTED: dict[str, type[BaseModel]] = {
    "speaker.invited": SpeakerChanged,
    "speaker.revoked": SpeakerChanged,
    "speaker.accepted": SpeakerChanged,
    "speaker.declined": SpeakerChanged,
}
