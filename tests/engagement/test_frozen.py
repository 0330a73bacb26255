"""`frozen.quick_init`: the quicker constructor keeps everything a frozen dataclass promises."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from live.engagement.frozen import quick_init
from live.engagement.model import Component, ScoredSession


@quick_init
@dataclass(frozen=True)
class Point:
    x: float
    y: float = 0.0
    label: str = "origin"


def test_a_quick_frozen_dataclass_builds_compares_hashes_and_refuses_assignment_as_before() -> None:
    p = Point(1.5, label="a")
    assert (p.x, p.y, p.label) == (1.5, 0.0, "a")
    assert p == Point(x=1.5, y=0.0, label="a") and hash(p) == hash(Point(1.5, 0.0, "a"))
    assert repr(p) == "Point(x=1.5, y=0.0, label='a')"
    assert dataclasses.replace(p, y=2.0) == Point(1.5, 2.0, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1.0, 2.0, "b", "extra")  # type: ignore[call-arg]


def test_the_engines_values_are_built_by_it_and_classes_it_cannot_serve_are_refused() -> None:
    # The generated constructor names its dict `values`; the dataclass's own goes through object.__setattr__.
    assert "values" in ScoredSession.__init__.__code__.co_varnames
    assert Component(value=0.5, weight=40.0, points=20.0).points == 20.0

    @dataclass
    class Mutable:
        x: int

    @dataclass(frozen=True)
    class WithFactory:
        items: list[int] = field(default_factory=list)

    for cls in (Mutable, WithFactory):
        with pytest.raises(TypeError):
            quick_init(cls)
