"""The registry of every server -> client event on `/live`: event name -> its model (`live.rooms.server_events`).

One source for three readers: the emit sites (each passes an instance of one of these models), the
tables of docs/protocol.md (generated from `SECTIONS` and `ACKS` by `python -m live.protocol_doc`), and
the tests, which check every event a test client receives against `OUTBOUND` (an event missing here
fails them). A new outbound event is a model in its capability's `events.py`, listed in that module's
`EMITTED` and so here.
"""

from __future__ import annotations

from pydantic import BaseModel

from live.chat import events as chat
from live.media import events as media
from live.media.janus import events as janus
from live.polls import events as polls
from live.recordings import events as recordings
from live.rooms import events as rooms
from live.rooms.server_events import ServerEvent
from live.speakers import events as speakers

# docs/protocol.md section -> its events, in the order the tables list them.
SECTIONS: dict[str, tuple[type[ServerEvent], ...]] = {
    "room": rooms.EMITTED + chat.EMITTED + recordings.EMITTED + speakers.EMITTED,
    "media": media.EMITTED + janus.EMITTED,
    "polls": polls.EMITTED,
}


def _registry() -> dict[str, type[ServerEvent]]:
    found: dict[str, type[ServerEvent]] = {}
    for model in (m for models in SECTIONS.values() for m in models):
        if model.event in found:
            raise ValueError(f"Outbound event {model.event!r} has two models: {found[model.event]!r} and {model!r}.")
        found[model.event] = model
    return found


OUTBOUND: dict[str, type[ServerEvent]] = _registry()

# Acks that have a model of their own: client event -> the model of its `{ok: true, ...}` answer.
ACKS: dict[str, type[BaseModel]] = {
    "media.publish": media.AnswerAck,
    "media.subscribe": media.AnswerAck,
    "recording.start": recordings.RecordingAck,
    "recording.stop": recordings.RecordingAck,
}
