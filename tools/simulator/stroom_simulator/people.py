"""The simulated population: persons, households, and the municipalities they live in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from random import Random

from stroom_simulator.bsns import BsnSource
from stroom_simulator.tables import COUPLE_SHARE, Weighted

ADULT_YEARS = 18


@dataclass(frozen=True, slots=True)
class Person:
    bsn: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class Household:
    """The members of one benefit unit (a couple shares one benefit)."""

    applicant: Person
    partner: Person | None = None


@dataclass(slots=True)
class Place:
    """A municipality as the simulator sees it: its case system and the size of its caseload."""

    code: str
    name: str
    source: str
    target: int
    coaches: int
    employers: int
    # The run's tag (SimulationConfig.run_tag), so another run's identifiers differ.
    tag: str = ""
    _counters: dict[str, int] = field(default_factory=dict)

    def ref(self, kind: str) -> str:
        """The source system's next identifier of a kind, unique within the source."""
        count = self._counters[kind] = self._counters.get(kind, 0) + 1
        return f"{kind}-{self.tag}-{count:06d}" if self.tag else f"{kind}-{count:06d}"


class People:
    """Makes persons with distinct BSNs; their birth dates follow an age table on a given day."""

    def __init__(self, bsns: BsnSource, rng: Random) -> None:
        self._bsns = bsns
        self._rng = rng

    def person(self, ages: Weighted[tuple[int, int]], on: date) -> Person:
        low, high = ages.pick(self._rng)
        age_days = self._rng.randrange(low * 365 + 1, high * 365 - 1)
        return Person(self._bsns.next(), on - timedelta(days=age_days))

    def partner_of(self, person: Person, on: date) -> Person:
        """A partner a few years older or younger, but an adult on `on`."""
        gap = timedelta(days=self._rng.randint(-6 * 365, 4 * 365))
        adult = on - timedelta(days=ADULT_YEARS * 366)
        return Person(self._bsns.next(), min(person.birth_date + gap, adult))

    def household(self, ages: Weighted[tuple[int, int]], on: date) -> Household:
        applicant = self.person(ages, on)
        if self._rng.random() < COUPLE_SHARE:
            return Household(applicant, self.partner_of(applicant, on))
        return Household(applicant)
