"""Entity histories as tests write them, and the full facts changes they stand for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stroom_contract.facts import (
    ApplicationChange,
    BenefitChange,
    EntityChange,
    Fact,
    PlacementChange,
    TrajectoryChange,
    Version,
)
from stroom_contract.keys import kind_of_key
from stroom_contract.rows import entity_rows

CHANGES: dict[str, type[EntityChange]] = {
    "benefit": BenefitChange,
    "placement": PlacementChange,
    "application": ApplicationChange,
    "trajectory": TrajectoryChange,
}


def full_change(entity: str, revision: int, versions: Sequence[Version]) -> EntityChange:
    """The change that replaces every row of `entity` by those of its states `versions`, as
    caseload publishes it when its rows before are not known."""
    kind = kind_of_key(entity)
    rows = entity_rows(kind, entity, [(v.recorded_from, v.state) for v in versions])
    return CHANGES[kind](entity=entity, revision=revision, rows=rows)


@dataclass(frozen=True)
class History:
    """An entity's states over recorded time at a revision."""

    entity: str
    revision: int
    versions: list[Any]

    @property
    def kind(self) -> str:
        return kind_of_key(self.entity)

    @property
    def change(self) -> EntityChange:
        return full_change(self.entity, self.revision, self.versions)

    def model_copy(self, update: dict[str, Any]) -> History:
        return replace(self, **update)


def as_facts(items: Iterable[Fact | History]) -> list[Fact]:
    return [item.change if isinstance(item, History) else item for item in items]
