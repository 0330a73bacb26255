"""Payloads the speaker events emit: `speaker.invited` / `speaker.revoked {participant_id}`."""

from __future__ import annotations

from live.rooms.server_events import ServerEvent, WireModel


class SpeakerChanged(WireModel):
    participant_id: str


class SpeakerInvitedOut(SpeakerChanged, ServerEvent):
    """A host or co-host made an attendee a speaker (they may publish until revoked); to everyone."""

    event = "speaker.invited"


class SpeakerRevokedOut(SpeakerChanged, ServerEvent):
    """A speaker was revoked (their published tracks stopped at once); to everyone."""

    event = "speaker.revoked"


EMITTED: tuple[type[ServerEvent], ...] = (SpeakerInvitedOut, SpeakerRevokedOut)
