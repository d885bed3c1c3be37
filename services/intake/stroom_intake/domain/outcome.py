"""What became of each event offered to intake: accepted, a duplicate, a conflict or refused."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stroom_contract.validation import FieldError
from stroom_intake.domain.reading import Position


def fingerprint(canonical_wire: bytes) -> str:
    return hashlib.sha256(canonical_wire).hexdigest()


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event that breaks the contract; nothing of it is stored or published."""

    position: Position
    event_id: str | None
    source: str | None
    type: str | None
    errors: tuple[FieldError, ...]

    def documents(self) -> list[dict[str, Any]]:
        """One entry per field, as the problem document's `errors` list has them."""
        return [
            {
                **self.position.document(),
                "id": self.event_id,
                "source": self.source,
                "field": error.field,
                "message": error.message,
            }
            for error in self.errors
        ]


@dataclass(frozen=True, slots=True)
class Conflict:
    """A known (source, id) with different content: the first version is kept, this one dropped."""

    position: Position
    event_id: str
    source: str

    def document(self) -> dict[str, Any]:
        return {
            **self.position.document(),
            "id": self.event_id,
            "source": self.source,
            "message": "an event with this source and id was accepted earlier with different content;"
            " the first one is kept",
        }


@dataclass
class IngestReport:
    """Counts per event type, and each conflict and refusal with its position."""

    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    conflicts: list[Conflict] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        """Events now durably held: the newly accepted and the redelivered."""
        return self.accepted.total() + self.duplicates.total()

    def merge(self, other: IngestReport) -> None:
        self.accepted.update(other.accepted)
        self.duplicates.update(other.duplicates)
        self.conflicts.extend(other.conflicts)
        self.refusals.extend(other.refusals)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted.total(),
            "duplicates": self.duplicates.total(),
            "conflicts": [c.document() for c in self.conflicts],
            "refused": [doc for r in self.refusals for doc in r.documents()],
        }
