"""What the server sends on `/live`: the base of every outbound event model, and the one place that emits.

Each server -> client event is one pydantic model deriving `ServerEvent`, whose class variable `event` is
its Socket.IO name (registered in `live.rooms.outbound.OUTBOUND`, the single source of docs/protocol.md's
tables and of the tests' check of everything a client receives). Handlers pass the instance to
`Ctx.emit`/`emit_to`/`emit_to_staff`/`emit_about`, code outside a handler to `send`; neither takes an
event name and a dict, so an untyped emit cannot be written (a test also scans `live/` for one).

The wire form is `ServerEvent.wire()`: the model dumped once, as JSON types, with the field aliases
(`rtc.signal`'s `from`), and without the optional fields that were never set (`camera?`, `description?`):
a field written `name?` in docs/protocol.md is absent, not null, when it does not apply.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

# A time on the wire: ISO 8601 in UTC with a `Z` (`2026-03-01T09:00:00.123456Z`), exactly `live.isotime.iso_z`
# (tests/rooms/test_outbound.py holds pydantic's own JSON form of an aware datetime to it; a serializer
# calling `iso_z` made room.state's dump markedly slower). Emit sites pass a datetime, or the string of one
# read back from the room's cache; test clients check that what arrives parses back to an aware time.
UtcTime = AwareDatetime


T = TypeVar("T")


def _never_null(value: T) -> T:
    if value is None:
        raise ValueError("this field is absent or has a value; it is never null")
    return value


# Marks an optional field that is absent when it does not apply and never null: `camera: Omittable[bool] = None`
# (None is only the "not set" default, left out by `wire()`; a null received for it is refused).
NEVER_NULL = AfterValidator(_never_null)
Omittable = Annotated[T | None, NEVER_NULL]


class WireModel(BaseModel):
    """A part of an outbound payload (nested in an event): every key is declared, none is invented."""

    model_config = ConfigDict(extra="forbid")


class ServerEvent(WireModel):
    """One server -> client event; `event` names it on the wire and in `OUTBOUND`."""

    event: ClassVar[str]

    def wire(self) -> dict[str, Any]:
        """The payload as sent: serialized once, here."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


async def send(
    sio: Any,
    message: ServerEvent,
    *,
    to: str,
    namespace: str,
    skip_sid: str | None = None,
    ignore_queue: bool = False,
) -> None:
    """Emits `message` to a Socket.IO room or sid (through the Redis manager unless `ignore_queue`)."""
    await sio.emit(
        message.event, message.wire(), to=to, namespace=namespace, skip_sid=skip_sid, ignore_queue=ignore_queue
    )

