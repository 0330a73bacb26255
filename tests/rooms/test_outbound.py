"""Outbound events are typed at the emit site: one model per server event, registered once, sent as pages
have always received them, and docs/protocol.md generated from the models."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import live.app
from live import protocol_doc
from live.isotime import iso_z
from live.rooms.events import SessionStartedOut
from live.rooms.outbound import OUTBOUND
from live.rooms.server_events import ServerEvent
from tests.rooms.support import schema_problem

LIVE = Path(live.app.__file__).resolve().parent
# The one module that hands an event to python-socketio.
EMITTER = LIVE / "rooms" / "server_events.py"


def _all_subclasses(cls: type[ServerEvent]) -> set[type[ServerEvent]]:
    found: set[type[ServerEvent]] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_every_server_event_has_one_model_registered_under_its_name() -> None:
    models = _all_subclasses(ServerEvent)
    assert models == set(OUTBOUND.values())
    for name, model in OUTBOUND.items():
        assert model.event == name
        assert model.__doc__, f"{model.__name__} needs a docstring: who receives {name!r}, and when"


def _untyped_emits(path: Path) -> list[str]:
    """Calls that emit an event name and a payload of their own instead of one `ServerEvent` model."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        if method not in ("emit", "emit_to", "emit_to_staff", "emit_about", "_emit", "_emit_to_session"):
            continue
        named = any(isinstance(a, ast.JoinedStr) or (isinstance(a, ast.Constant) and isinstance(a.value, str))
                    for a in node.args[:1])
        # `emit(model)`, `emit_to_staff(model)`; `emit_to(pid, model)`, `emit_about(pid, model)`, `_emit(model, to)`
        if named or len(node.args) > (1 if method in ("emit", "emit_to_staff") else 2):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_nothing_in_live_emits_a_name_and_a_dict() -> None:
    offenders = [hit for path in sorted(LIVE.rglob("*.py")) if path != EMITTER for hit in _untyped_emits(path)]
    assert offenders == []


def test_the_scan_finds_an_untyped_emit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "async def f(ctx, sio, message):\n"
        '    await ctx.emit("chat.message", {})\n'
        '    await sio.emit("x", {}, to="r")\n'
        '    await ctx.emit_to("c_1", "rtc.signal", {})\n'
        "    await ctx.emit(message)\n"
    )
    assert [hit.split(":")[1] for hit in _untyped_emits(bad)] == ["2", "3", "4"]


def test_docs_protocol_md_is_generated_from_the_models() -> None:
    text = protocol_doc.DOC.read_text(encoding="utf-8")
    assert protocol_doc.render(text) == text, "docs/protocol.md is out of date: run python -m live.protocol_doc"


def test_the_doc_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "protocol.md"
    page = protocol_doc.DOC.read_text(encoding="utf-8")
    assert "| `poll.closed` |" in page  # a row of a generated table
    stale.write_text(page.replace("| `poll.closed` |", "| `poll.shut` |"))
    assert protocol_doc.main(["--check", "--path", str(stale)]) == 1
    assert protocol_doc.main(["--path", str(stale)]) == 0
    assert protocol_doc.main(["--check", "--path", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == protocol_doc.DOC.read_text(encoding="utf-8")


# What the handlers sent before the models existed, key order included: the wire must not move.
AT = "2026-03-01T09:00:00.123456Z"
PERSON = {"participant_id": "c_1", "name": "Ada", "role": "attendee"}
WIRE_SAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        "room.state",
        {
            "session": {"id": "s1", "kind": "webinar", "title": "Roadmap", "status": "live"},
            "you": {"participant_id": "u_1", "role": "host", "name": "Hal"},
            "participants": [
                {"participant_id": "u_1", "name": "Hal", "role": "host", "hand_raised": False, "camera": True,
                 "mic": False, "visible": True},
                PERSON | {"hand_raised": True, "visible": False},
            ],
            "hands": ["c_1"],
            "poll": {"id": "p1", "question": "Q?", "options": ["a", "b"], "multiple": False, "anonymous": True,
                     "status": "open", "voted": False, "choices": None, "counts": [1, 0], "voters": 1},
            "chat": [{"id": "m1", "participant_id": "c_1", "name": "Ada", "text": "hi", "at": AT}],
            "questions": [{"id": "q1", "participant_id": "c_1", "name": "Ada", "text": "why?", "upvotes": 2,
                           "answered": False, "at": "2026-03-01T09:00:00Z"}],
            "ice_servers": [{"urls": "stun:stun.example.org"}],
            "limits": {"chat": {"burst": 5, "rate": 1.0}},
            "questions_total": 1,
            "publishers": ["u_1"],
            "screen": None,
            "recording": {"id": "r1", "since": AT},
            "speakers": [],
        },
    ),
    (
        "room.state",  # an attendee's, on Janus: no screen, recording or speakers; `media` instead
        {
            "session": {"id": "s1", "kind": "one_on_one", "title": "Check-in", "status": "scheduled"},
            "you": {"participant_id": "c_1", "role": "attendee", "name": "Ada"},
            "participants": [PERSON | {"hand_raised": False}],
            "hands": [],
            "poll": None,
            "chat": [],
            "questions": [],
            "ice_servers": [],
            "limits": {},
            "questions_total": 0,
            "publishers": [],
            "media": "janus",
        },
    ),
    ("presence.joined", PERSON),
    ("rtc.signal", {"from": "c_1", "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}),
    ("rtc.signal", {"from": "c_1", "description": {"type": "offer", "sdp": "v=0"}}),
    ("chat.message", {"id": "m1", "participant_id": "c_1", "name": "Ada", "text": "<b>hi</b>", "at": AT}),
    ("qa.updated", {"id": "q1", "participant_id": "c_1", "name": "Ada", "text": "why?", "upvotes": 1,
                    "answered": True, "at": AT}),
    ("poll.closed", {"poll_id": "p1", "counts": [3, 4], "voters": 7}),
    ("media.unavailable", {"reason": "media_server_down", "message": "The video server stopped."}),
]


@pytest.mark.parametrize(("event", "payload"), WIRE_SAMPLES, ids=[e for e, _ in WIRE_SAMPLES])
def test_the_wire_form_is_byte_for_byte_what_pages_received_before(event: str, payload: dict[str, Any]) -> None:
    sent = OUTBOUND[event].model_validate(payload).wire()
    assert json.dumps(sent) == json.dumps(payload)


@pytest.mark.parametrize("microsecond", [0, 1, 100, 123000, 123456, 999999])
def test_times_go_out_as_live_isotime_writes_them(microsecond: int) -> None:
    at = datetime(2026, 3, 1, 9, 0, 0, microsecond, tzinfo=UTC)
    sent = SessionStartedOut(id="s1", at=at).wire()["at"]
    assert sent == iso_z(at)
    assert sent.endswith("Z") and datetime.fromisoformat(sent) == at


def test_a_time_without_a_zone_is_refused_at_the_emit_site() -> None:
    with pytest.raises(ValidationError):
        SessionStartedOut(id="s1", at=datetime(2026, 3, 1, 9))


def test_the_test_clients_refuse_what_breaks_the_protocol() -> None:
    good = {"id": "m1", "participant_id": "c_1", "name": "Ada", "text": "hi", "at": AT}
    assert schema_problem("chat.message", good) is None
    assert "no model" in (schema_problem("chat.mesage", good) or "")
    assert "ChatMessageOut" in (schema_problem("chat.message", good | {"extra": 1}) or "")
    assert "ChatMessageOut" in (schema_problem("chat.message", {k: v for k, v in good.items() if k != "at"}) or "")
    assert "ChatMessageOut" in (schema_problem("chat.message", good | {"at": "yesterday"}) or "")
    assert "RoomStateOut" in (schema_problem("room.state", WIRE_SAMPLES[0][1] | {"you": {"role": "admin"}}) or "")
    # An optional field is absent when it does not apply, never null.
    assert "never null" in (schema_problem("rtc.signal", {"from": "c_1", "description": None, "candidate": {}}) or "")
