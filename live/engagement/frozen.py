"""A quicker `__init__` for the frozen dataclasses a replay makes by the hundred thousand."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Gives a frozen dataclass an `__init__` that fills the instance `__dict__` directly.

    A frozen dataclass's generated `__init__` goes through `object.__setattr__` once per field, which costs
    about three times a plain assignment; replaying a year makes hundreds of thousands of such values
    (facts, evaluations, scores, report rows). The signature, defaults, equality, hashing and the refusal to
    assign after construction are the dataclass's own; only the construction is quicker. Classes with a
    default factory, `__post_init__`, keyword-only or init-less fields keep their own `__init__` (refused
    here so that nobody relies on this silently doing less).
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields
    ):
        raise TypeError(f"{cls.__name__} needs the dataclass's own __init__")
    namespace: dict[str, Any] = {}
    arguments = []
    for f in fields:
        if f.default is dataclasses.MISSING:
            arguments.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            arguments.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    values[{f.name!r}] = {f.name}\n" for f in fields)
    source = f"def __init__(self, {', '.join(arguments)}):\n    values = self.__dict__\n{body}"
    exec(source, namespace)  # what `dataclasses` itself does to make an __init__
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
