"""The classes `slot_init` gives an `__init__` (caseload's events, the states and facts it builds
for every event folded): each field given is the field read, each default applies, and they stay
frozen and keyword-only as their declarations say."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from stroom_caseload.domain import events
from stroom_contract import facts
from stroom_contract.slotted import slot_init

CLASSES = [
    cls
    for module in (facts, events)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
]


def test_every_class_of_events_states_and_facts_is_here() -> None:
    assert {cls.__name__ for cls in CLASSES} >= {"BenefitState", "MemberSpell", "BenefitVersion", "Sanction"}
    assert len(CLASSES) == 17


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_each_field_given_is_read_back_and_each_default_applies(cls: Any) -> None:
    fields = dataclasses.fields(cls)
    given = {f.name: object() for f in fields}
    built = cls(**given)
    assert {f.name: getattr(built, f.name) for f in fields} == given
    required = {f.name: given[f.name] for f in fields if f.default is dataclasses.MISSING}
    defaulted = cls(**required)
    for f in fields:
        assert getattr(defaulted, f.name) is (given[f.name] if f.name in required else f.default)
    assert dataclasses.replace(built, **required) == cls(**{**given, **required})
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, fields[0].name, None)
    if required:
        with pytest.raises(TypeError):
            cls(**dict(list(required.items())[1:]))
    with pytest.raises(TypeError):
        cls(**given, extra=1)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_keyword_only_where_declared_so(cls: Any) -> None:
    fields = dataclasses.fields(cls)
    values = [object() for _ in fields]
    if all(f.kw_only for f in fields):
        with pytest.raises(TypeError):
            cls(*values)
    else:
        assert [getattr(cls(*values), f.name) for f in fields] == values


def test_a_dataclass_whose_generated_init_would_do_more_is_refused() -> None:
    """A __post_init__ (a check, a derived field) or a default factory would silently not run."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        amount: int

        def __post_init__(self) -> None:
            if self.amount < 0:
                raise ValueError("negatief")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    for cls in (Checked, Listed):
        with pytest.raises(AssertionError):
            slot_init(cls)
