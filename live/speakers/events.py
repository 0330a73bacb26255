"""Payloads the speaker events emit: `speaker.invited` / `speaker.revoked` (everyone) and `speaker.accepted` /
`speaker.declined` (the hosts and the speaker's own tabs), each `{participant_id}`."""

from __future__ import annotations

from live.rooms.server_events import Omittable, ServerEvent, WireModel


class SpeakerChanged(WireModel):
    participant_id: str
    # The speaker's name, in `speaker.invited` and `speaker.accepted` (an audience does not otherwise know it).
    name: Omittable[str] = None


class SpeakerInvitedOut(SpeakerChanged, ServerEvent):
    """A host or co-host made an attendee a speaker (they may publish until revoked), with their name; to everyone."""

    event = "speaker.invited"


class SpeakerRevokedOut(SpeakerChanged, ServerEvent):
    """A speaker's invitation ended (revoked, declined, or they left; their published tracks stopped at once); to everyone."""

    event = "speaker.revoked"


class SpeakerAcceptedOut(SpeakerChanged, ServerEvent):
    """The invited attendee passed the device check and speaks from now on, with their name; to the hosts and their own tabs."""

    event = "speaker.accepted"


class SpeakerDeclinedOut(SpeakerChanged, ServerEvent):
    """The invited attendee said no (or stepped down); to the hosts and their own tabs."""

    event = "speaker.declined"


EMITTED: tuple[type[ServerEvent], ...] = (SpeakerInvitedOut, SpeakerRevokedOut, SpeakerAcceptedOut, SpeakerDeclinedOut)
