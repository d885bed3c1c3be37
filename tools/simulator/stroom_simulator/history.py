"""A whole organisation's history: its stock at the start, then month by month inflow and outflow."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from random import Random

import yaml

from stroom_contract.codes import InflowReason, OutflowReason, Regulation
from stroom_platform.organisations import Organisation
from stroom_simulator.bsns import BsnSource
from stroom_simulator.clock import moment
from stroom_simulator.delivery import Delivery, Event, NoiseRates
from stroom_simulator.lives import Lives
from stroom_simulator.people import Household, People, Place
from stroom_simulator.recording import Ending
from stroom_simulator.tables import (
    AGE_YEARS_BY_REGULATION,
    CLIENTS_PER_COACH,
    INFLOW_AGE_YEARS,
    INFLOW_REASON,
    INFLOW_REASON_BY_REGULATION,
    INFLOW_REGULATION,
    MOVE_WITHIN_ORGANISATION,
    NO_RETURN,
    NOT_GRANTED_PER_GRANTED,
    RETURN_INFLOW_REASON,
    RETURN_WITHIN_6_MONTHS,
    RETURN_WITHIN_12_MONTHS,
    STOCK_AGE_YEARS,
    STOCK_DURATION_MONTHS,
    STOCK_REGULATION,
    Weighted,
)

SIZES_FILE = Path(__file__).parent / "municipalities.yaml"
SOURCE_PREFIX = "urn:stroom:gws:"
_OTHER_RETURN_REASON = Weighted(
    {InflowReason.OTHER_INCOME_ENDED: 3, InflowReason.UNEMPLOYMENT_BENEFIT_ENDED: 5, InflowReason.OTHER: 2}
)
# How strongly inflow steers the stock back to the municipality's size, per month.
_STEERING = 0.25


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate: `scale` multiplies every municipality's caseload size."""

    years: int = 5
    seed: int = 1
    start: date = date(2020, 1, 1)
    noise: bool = True
    scale: float = 1.0
    noise_rates: NoiseRates = field(default_factory=NoiseRates)

    def run_tag(self, organisation: str) -> str:
        """Six hex digits in every id and reference: the same for the same arguments, so a
        history is reproducible, and different for others, so a second simulated file adds to
        an installation instead of colliding with the first one's (source, id)s. Noise is left
        out: a noisy history holds the same events as the clean one, plus the noise."""
        arguments = f"{organisation}|{self.seed}|{self.start}|{self.years}|{self.scale}"
        return hashlib.blake2b(arguments.encode(), digest_size=3).hexdigest()

    @property
    def end(self) -> date:
        """The first day after the history."""
        start = self.start.replace(day=28) if (self.start.month, self.start.day) == (2, 29) else self.start
        return start.replace(year=start.year + self.years)


@dataclass(frozen=True, slots=True)
class _Arrival:
    """A household that starts a benefit on a known day: moved in, or back through the revolving door."""

    place: Place
    household: Household
    regulation: Regulation
    reason: InflowReason
    day: date


def simulate_history(
    organisation: Organisation,
    years: int = 5,
    seed: int = 1,
    start: date = date(2020, 1, 1),
    noise: bool = True,
    scale: float = 1.0,
) -> Iterator[Event]:
    """Raw CloudEvents of the organisation's case systems, in the order they are delivered."""
    config = SimulationConfig(years=years, seed=seed, start=start, noise=noise, scale=scale)
    return simulate(organisation, config)


def simulate(organisation: Organisation, config: SimulationConfig) -> Iterator[Event]:
    return _History(organisation, config).run()


def caseload_sizes() -> dict[str, int]:
    """Benefits running on a typical day per municipality code, from the package's table."""
    raw = yaml.safe_load(SIZES_FILE.read_text(encoding="utf-8"))
    return {code: int(entry["benefits"]) for code, entry in raw["municipalities"].items()}


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _first_of_month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


class _History:
    def __init__(self, organisation: Organisation, config: SimulationConfig) -> None:
        self._config = config
        self._rng = rng = Random(f"stroom-simulator:{config.seed}:facts")
        noise = Random(f"stroom-simulator:{config.seed}:noise") if config.noise else None
        tag = config.run_tag(organisation.code)
        self._out = Delivery(noise, config.noise_rates, tag)
        self._people = People(BsnSource(Random(f"stroom-simulator:{config.seed}:bsn")), rng)
        self._start = config.start
        self._horizon = config.end
        self._month_now = _month_index(config.start) - 1
        self._lives = Lives(rng, self._out, self._people, self._start, self._horizon)
        sizes = caseload_sizes()
        unknown = [m.code for m in organisation.municipalities if m.code not in sizes]
        if unknown:
            raise ValueError(f"no caseload size for {', '.join(unknown)} in {SIZES_FILE}")
        self._places = []
        for municipality in organisation.municipalities:
            target = max(1, round(sizes[municipality.code] * config.scale))
            self._places.append(
                Place(
                    code=municipality.code,
                    name=municipality.name,
                    source=SOURCE_PREFIX + municipality.code,
                    target=target,
                    coaches=max(1, round(target / CLIENTS_PER_COACH)),
                    employers=max(5, target // 4),
                    tag=tag,
                )
            )
        self._place_weights = Weighted({place.code: place.target for place in self._places})
        self._by_code = {place.code: place for place in self._places}
        self._active: Counter[str] = Counter()
        self._ends: Counter[tuple[str, int]] = Counter()
        self._arrivals: defaultdict[int, list[_Arrival]] = defaultdict(list)

    def run(self) -> Iterator[Event]:
        for place in self._places:
            self._stock(place)
        month = _month_index(self._start)
        last = _month_index(self._horizon - timedelta(days=1))
        while month <= last:
            self._month(month)
            month += 1
            yield from self._out.flush(moment(_first_of_month(month)))
        yield from self._out.drain()

    def _stock(self, place: Place) -> None:
        rng = self._rng
        for _ in range(place.target):
            regulation = STOCK_REGULATION.pick(rng)
            ages = AGE_YEARS_BY_REGULATION.get(regulation, STOCK_AGE_YEARS)
            household = self._people.household(ages, self._start)
            low, high = STOCK_DURATION_MONTHS.pick(rng)
            start_date = self._start - timedelta(
                days=rng.randint(max(1, round(low * 30.44)), round(high * 30.44))
            )
            reason = self._inflow_reason(regulation)
            ending = self._lives.stock(place, household, regulation, reason, start_date)
            self._started(place, regulation, ending)

    def _month(self, month: int) -> None:
        rng = self._rng
        self._month_now = month
        first = max(_first_of_month(month), self._start)
        days = (_first_of_month(month + 1) - first).days
        for place in self._places:
            self._active[place.code] -= self._ends.pop((place.code, month - 1), 0)
        arrivals = Counter[str]()
        for arrival in self._arrivals.pop(month, []):
            received_on = arrival.day + timedelta(days=rng.randint(0, 10))
            started, ending = self._lives.granted(
                arrival.place, arrival.household, arrival.regulation, arrival.reason, arrival.day, received_on
            )
            if started:
                arrivals[arrival.place.code] += 1
                self._started(arrival.place, arrival.regulation, ending)
        for place in self._places:
            gap = place.target - self._active[place.code]
            wanted = self._ends[(place.code, month)] - arrivals[place.code] + _STEERING * gap
            granted = self._round(max(0.0, wanted * rng.uniform(0.85, 1.15)))
            for _ in range(granted):
                received_on = first + timedelta(days=rng.randrange(days))
                regulation = INFLOW_REGULATION.pick(rng)
                ages = AGE_YEARS_BY_REGULATION.get(regulation, INFLOW_AGE_YEARS)
                household = self._people.household(ages, received_on)
                reason = self._inflow_reason(regulation)
                start_date = received_on - timedelta(days=rng.randint(0, 10))
                started, ending = self._lives.granted(
                    place, household, regulation, reason, start_date, received_on
                )
                if started:
                    self._started(place, regulation, ending)
            for _ in range(self._round(granted * NOT_GRANTED_PER_GRANTED)):
                received_on = first + timedelta(days=rng.randrange(days))
                person = self._people.person(INFLOW_AGE_YEARS, received_on)
                self._lives.not_granted(place, person, INFLOW_REGULATION.pick(rng), received_on)

    def _started(self, place: Place, regulation: Regulation, ending: Ending | None) -> None:
        """Counts the benefit and plans what follows its end: a move within the region, or a return."""
        self._active[place.code] += 1
        if ending is None:
            return
        self._ends[(place.code, _month_index(ending.day))] += 1
        rng = self._rng
        if ending.reason is OutflowReason.MOVED_TO_OTHER_MUNICIPALITY:
            if len(self._places) > 1 and rng.random() < MOVE_WITHIN_ORGANISATION:
                code = place.code
                while code == place.code:
                    code = self._place_weights.pick(rng)
                self._arrive(self._by_code[code], ending, regulation, InflowReason.MOVED_IN, 1)
            return
        if ending.reason in NO_RETURN:
            return
        roll = rng.random()
        if roll < RETURN_WITHIN_6_MONTHS + RETURN_WITHIN_12_MONTHS:
            after = rng.randint(30, 182) if roll < RETURN_WITHIN_6_MONTHS else rng.randint(183, 365)
            reason = RETURN_INFLOW_REASON.get(ending.reason) or _OTHER_RETURN_REASON.pick(rng)
            regulation = Regulation.PW if regulation is Regulation.BBZ else regulation
            self._arrive(place, ending, regulation, reason, after)

    def _arrive(
        self, place: Place, ending: Ending, regulation: Regulation, reason: InflowReason, after: int
    ) -> None:
        # An end within the month being simulated arrives no earlier than the next month.
        day = max(ending.day + timedelta(days=after), _first_of_month(self._month_now + 1))
        if day < self._horizon:
            self._arrivals[_month_index(day)].append(
                _Arrival(place, ending.household, regulation, reason, day)
            )

    def _inflow_reason(self, regulation: Regulation) -> InflowReason:
        return INFLOW_REASON_BY_REGULATION.get(regulation, INFLOW_REASON).pick(self._rng)

    def _round(self, value: float) -> int:
        """Stochastic rounding keeps small municipalities' flows right on average."""
        whole = int(value)
        return whole + (self._rng.random() < value - whole)
