"""A faster `__init__` for the frozen, slotted dataclasses built for every event."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def slot_init(cls: type[T]) -> type[T]:
    """Gives a frozen, slotted dataclass an `__init__` that sets each slot through the slot's own
    descriptor, with the parameters dataclasses gives it: the one dataclasses writes calls
    `object.__setattr__` per field, a lookup and a generic call each, and caseload builds events,
    states and facts for every event it folds."""
    # What the generated __init__ does not do either: call a __post_init__.
    assert not hasattr(cls, "__post_init__"), cls.__qualname__
    scope: dict[str, Any] = {}
    positional: list[str] = ["self"]
    keyword: list[str] = []
    body: list[str] = []
    for i, spec in enumerate(fields(cls)):  # type: ignore[arg-type]  # applied to dataclasses only
        # What the generated __init__ does not do: leave a field out, or call a factory.
        assert spec.init, spec.name
        assert spec.default_factory is MISSING, spec.name
        scope[f"s{i}"] = getattr(cls, spec.name).__set__
        parameter = spec.name
        if spec.default is not MISSING:
            scope[f"d{i}"] = spec.default
            parameter += f"=d{i}"
        (keyword if spec.kw_only else positional).append(parameter)
        body.append(f"    s{i}(self, {spec.name})\n")
    parameters = ", ".join(positional + (["*", *keyword] if keyword else []))
    exec(f"def __init__({parameters}):\n{''.join(body)}", scope)  # noqa: S102  # from the class's own fields
    scope["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = scope["__init__"]  # type: ignore[method-assign]
    return cls
