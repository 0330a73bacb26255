from tests.rooms.conftest import join, room

__all__ = ["join", "room"]
