"""What typing the outbound `/live` events costs per emit, against the untyped dicts, in the same run.

    .venv/bin/python bench/outbound.py [--participants 2000] [--repeat 5]

For each case the baseline is what the handlers did before the models existed (build the dict, then
python-socketio's `json.dumps` of the packet); the typed path builds the `ServerEvent` model (validating
it), dumps it once (`wire()`), then the same `json.dumps`. The emit's fan-out (Redis, sockets) is the
same either way and is not measured here. Prints microseconds per emit, best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import timeit
from collections.abc import Callable
from typing import Any

from live.chat.events import ChatMessageOut
from live.rooms.events import MediaStateOut, RoomStateOut

AT = "2026-03-01T09:00:00.123456Z"


def chat_message() -> dict[str, Any]:
    return {"id": "9f" * 16, "participant_id": "c_" + "1" * 32, "name": "Ada Lovelace", "text": "a question " * 8, "at": AT}


def room_state(people: int) -> dict[str, Any]:
    """A host's `room.state` in a webinar of `people`: everyone listed, with media state and focus."""
    participants = [
        {"participant_id": f"c_{n:032x}", "name": f"Guest {n}", "role": "attendee", "hand_raised": n % 50 == 0,
         "camera": False, "mic": False, "visible": n % 7 != 0}
        for n in range(people)
    ]
    return {
        "session": {"id": "s" * 32, "kind": "webinar", "title": "Quarterly roadmap", "status": "live"},
        "you": {"participant_id": "u_" + "0" * 32, "role": "host", "name": "Hal"},
        "participants": participants,
        "hands": [p["participant_id"] for p in participants if p["hand_raised"]],
        "poll": None,
        "chat": [chat_message() for _ in range(50)],
        "questions": [],
        "ice_servers": [],
        "limits": {"chat": {"burst": 5, "rate": 1.0}, "reaction": {"burst": 10, "rate": 3.0}},
        "questions_total": 0,
        "publishers": ["u_" + "0" * 32],
        "screen": None,
        "recording": None,
        "speakers": [],
    }


def attendee_state(people: int) -> dict[str, Any]:
    """An attendee's `room.state` in the same webinar (the join-storm path): the staff and themselves, 50 messages."""
    state = room_state(people)
    you = state["participants"][1] | {"hand_raised": False}
    del you["visible"]
    host = {"participant_id": "u_" + "0" * 32, "name": "Hal", "role": "host", "hand_raised": False, "camera": True,
            "mic": True}
    return state | {"you": {k: you[k] for k in ("participant_id", "role", "name")}, "participants": [host, you],
                    "hands": []}


def per_call(fn: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    state, attendee = room_state(args.participants), attendee_state(args.participants)
    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "chat.message",
            lambda: json.dumps(chat_message()),
            lambda: json.dumps(ChatMessageOut.model_validate(chat_message()).wire()),
        ),
        (
            "media.state",
            lambda: json.dumps({"participant_id": "c_1"} | {"camera": True, "mic": False}),
            lambda: json.dumps(MediaStateOut(participant_id="c_1", camera=True, mic=False).wire()),
        ),
        (
            "room.state (attendee, 50 messages)",
            lambda: json.dumps(attendee),
            lambda: json.dumps(RoomStateOut.model_validate(attendee).wire()),
        ),
        (
            f"room.state ({args.participants} people, host)",
            lambda: json.dumps(state),
            lambda: json.dumps(RoomStateOut.model_validate(state).wire()),
        ),
    ]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'event':<34} {'dict µs':>10} {'model µs':>10} {'ratio':>6}")
    for name, before, after in cases:
        old, new = per_call(before, args.repeat), per_call(after, args.repeat)
        print(f"{name:<34} {old:>10.1f} {new:>10.1f} {new / old:>6.2f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
