"""One benefit's life as events: the application, the start, changes of members, and the end."""

from __future__ import annotations

from datetime import date, timedelta
from random import Random
from typing import Any

from stroom_contract.codes import (
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
)
from stroom_simulator.clock import day_of, moment
from stroom_simulator.delivery import Delivery
from stroom_simulator.guidance import Guidance
from stroom_simulator.people import Household, People, Person, Place
from stroom_simulator.recording import (
    APPLICATION_DECIDED,
    APPLICATION_RECEIVED,
    ASSESSED,
    BENEFIT_ENDED,
    BENEFIT_STARTED,
    MEMBERS_CHANGED,
    PLACEMENT_STARTED,
    PLAN_SENT,
    Benefit,
    Ending,
    Recorder,
    client,
    member,
)
from stroom_simulator.tables import (
    BBZ_OUTFLOW_REASON,
    LADDER_STEP,
    MONTHLY_OUTFLOW,
    NOT_GRANTED_DECISION,
    OUTFLOW_REASON,
    PENSION_AGE_YEARS,
    PLAN_AFTER_GRANTED,
    PLAN_AFTER_NOT_GRANTED,
    PW_MONTHLY_OUTFLOW_BY_YEAR,
    YEARLY_PARTNER_JOINS,
    YEARLY_PARTNER_LEAVES,
)


def birthday(birth: date, years: int) -> date:
    day = 28 if (birth.month, birth.day) == (2, 29) else birth.day
    return date(birth.year + years, birth.month, day)


class Lives(Recorder):
    """Writes the events of applications and benefits between the history's start and horizon.

    Facts that depend on another one fall at least a day after it was recorded, so a history
    without noise is delivered in causal order; the noise comes from `Delivery` alone.
    """

    def __init__(self, rng: Random, out: Delivery, people: People, start: date, horizon: date) -> None:
        super().__init__(rng, out, start, horizon)
        self._people = people
        self._guide = Guidance(rng, out, start, horizon)
        self._erroneous_refs = 0

    def not_granted(self, place: Place, person: Person, regulation: Regulation, received_on: date) -> None:
        rng = self._rng
        application_ref = place.ref("aanvraag")
        received_at = self._received(place, application_ref, person, regulation, received_on)
        if rng.random() < PLAN_AFTER_NOT_GRANTED:
            self._plan(place, person, application_ref, received_at)
        decided_on = self._days_after(received_at, 5, 56)
        if decided_on < self._horizon:
            decision = NOT_GRANTED_DECISION.pick(rng)
            data = {
                "application_ref": application_ref,
                "decision": decision,
                "decided_on": decided_on.isoformat(),
            }
            self._out.emit(place.source, APPLICATION_DECIDED, self._recorded(decided_on), data)

    def granted(
        self,
        place: Place,
        household: Household,
        regulation: Regulation,
        inflow_reason: InflowReason,
        start_date: date,
        received_on: date,
    ) -> tuple[bool, Ending | None]:
        """An application that is granted; whether the benefit started within the history, and its end."""
        rng = self._rng
        application_ref = place.ref("aanvraag")
        received_at = self._received(place, application_ref, household.applicant, regulation, received_on)
        if rng.random() < PLAN_AFTER_GRANTED:
            self._plan(place, household.applicant, application_ref, received_at)
        decided_on = self._days_after(received_at, 10, 56)
        if decided_on >= self._horizon:
            return False, None
        decided_at = self._recorded(decided_on)
        if self._out.noise is not None and self._out.noise.random() < 0.02:
            # A wrong decision keyed in first and retracted: the application must count as granted.
            wrong = {
                "application_ref": application_ref,
                "decision": "rejected",
                "decided_on": decided_on.isoformat(),
            }
            self._out.erroneous(place.source, APPLICATION_DECIDED, decided_at - 600, wrong)
        data = {
            "application_ref": application_ref,
            "decision": "granted",
            "decided_on": decided_on.isoformat(),
        }
        self._out.emit(place.source, APPLICATION_DECIDED, decided_at, data)
        started_at = decided_at + rng.randint(60, 3600)
        ending = self._benefit(
            place, household, regulation, inflow_reason, start_date, started_at, application_ref, new=True
        )
        return True, ending

    def stock(
        self,
        place: Place,
        household: Household,
        regulation: Regulation,
        inflow_reason: InflowReason,
        start_date: date,
    ) -> Ending | None:
        """A benefit already running when the history starts, as its case system reports it."""
        started_at = self._recorded(start_date)
        return self._benefit(
            place, household, regulation, inflow_reason, start_date, started_at, None, new=False
        )

    def _benefit(
        self,
        place: Place,
        household: Household,
        regulation: Regulation,
        inflow_reason: InflowReason,
        start_date: date,
        started_at: int,
        application_ref: str | None,
        new: bool,
    ) -> Ending | None:
        benefit = Benefit(
            place, place.ref("uitkering"), regulation, start_date, household.applicant, household.partner
        )
        after_start = day_of(started_at) + timedelta(days=1)
        first = max(after_start, self._start)
        ending = self._ending(benefit, first, household)
        stop = ending.day if ending else self._horizon
        ended_at = self._recorded(ending.day) if ending else None
        change = self._members_change(benefit, household, first, stop)
        members = [member(household.applicant, "applicant")]
        if household.partner is not None:
            members.append(member(household.partner, "partner"))
        data: dict[str, Any] = {
            "benefit_ref": benefit.ref,
            "municipality": place.code,
            "regulation": regulation.value,
            "start_date": start_date.isoformat(),
            "inflow_reason": inflow_reason.value,
            "members": members,
        }
        if application_ref is not None:
            data["application_ref"] = application_ref
        later = ended_at if ended_at is not None else (change[0] if change else None)
        self._out.emit(place.source, BENEFIT_STARTED, started_at, data, reorder_after=later)
        if change is not None:
            at, change_data, household = change
            self._out.emit(place.source, MEMBERS_CHANGED, at, change_data)
        if new:
            coach_day = self._between(first, first + timedelta(days=14))
        else:
            # The stock's coach and last assessment predate the history, like in the case system.
            earliest = max(after_start, self._start - timedelta(days=365))
            coach_day = self._between(earliest, max(earliest, self._start))
        self._guide.follow(benefit, coach_day, first, ending, new)
        self._erroneous(benefit, first, stop)
        if ending is None or ended_at is None:
            return None
        data = {
            "benefit_ref": benefit.ref,
            "end_date": ending.day.isoformat(),
            "outflow_reason": ending.reason.value,
        }
        self._out.emit(place.source, BENEFIT_ENDED, ended_at, data)
        return Ending(ending.day, ending.reason, household)

    def _ending(self, benefit: Benefit, first: date, household: Household) -> Ending | None:
        rng = self._rng
        rate = MONTHLY_OUTFLOW.get(benefit.regulation)
        day, end = first, None
        while day < self._horizon:
            if rate is None:
                years = (day - benefit.start_date).days // 365
                chance = PW_MONTHLY_OUTFLOW_BY_YEAR[min(years, len(PW_MONTHLY_OUTFLOW_BY_YEAR) - 1)]
            else:
                chance = rate
            if rng.random() < chance:
                end = day + timedelta(days=rng.randrange(30))
                break
            day += timedelta(days=30)
        pension = birthday(benefit.applicant.birth_date, PENSION_AGE_YEARS)
        if first <= pension < self._horizon and (end is None or pension < end):
            return Ending(pension, OutflowReason.PENSION_AGE, household)
        if end is None or end >= self._horizon:
            return None
        table = BBZ_OUTFLOW_REASON if benefit.regulation is Regulation.BBZ else OUTFLOW_REASON
        return Ending(end, table.pick(rng), household)

    def _members_change(
        self, benefit: Benefit, household: Household, first: date, stop: date
    ) -> tuple[int, dict[str, Any], Household] | None:
        rng = self._rng
        # Keep clear of the end, so that without noise a change never arrives after the ended.
        span = (stop - first).days - 15
        if span <= 0:
            return None
        partner = household.partner
        chance = (YEARLY_PARTNER_LEAVES if partner else YEARLY_PARTNER_JOINS) * span / 365
        if rng.random() >= chance:
            return None
        day = first + timedelta(days=rng.randrange(span))
        data: dict[str, Any] = {"benefit_ref": benefit.ref, "effective_date": day.isoformat()}
        if partner is not None:
            data |= {"joined": [], "left": [client(partner)]}
            after = Household(household.applicant)
        else:
            partner = self._people.partner_of(household.applicant, day)
            data |= {"joined": [member(partner, "partner")], "left": []}
            after = Household(household.applicant, partner)
        return self._recorded(day), data, after

    def _erroneous(self, benefit: Benefit, first: date, stop: date) -> None:
        """Now and then a wrong event about this benefit or its client, retracted later."""
        noise, out, source = self._out.noise, self._out, benefit.place.source
        span = (stop - first).days
        if noise is None or span <= 0 or noise.random() >= out.rates.erroneous:
            return
        day = first + timedelta(days=noise.randrange(span))
        at = moment(day, noise.randint(8 * 3600, 17 * 3600))
        kind = noise.randrange(3)
        data: dict[str, Any]
        if kind == 0:
            reason = OUTFLOW_REASON.pick(noise)
            data = {"benefit_ref": benefit.ref, "end_date": day.isoformat(), "outflow_reason": reason.value}
            out.erroneous(source, BENEFIT_ENDED, at, data)
        elif kind == 1:
            data = Guidance.assessment(benefit.applicant, day, LADDER_STEP.pick(noise), None, noise)
            out.erroneous(source, ASSESSED, at, data)
        else:
            self._erroneous_refs += 1
            data = {
                "placement_ref": f"plaatsing-{benefit.place.tag}-c{self._erroneous_refs:05d}",
                "client": client(benefit.applicant),
                "municipality": benefit.place.code,
                "kind": PlacementKind.REGULAR.value,
                "start_date": day.isoformat(),
            }
            out.erroneous(source, PLACEMENT_STARTED, at, data)

    def _received(
        self, place: Place, application_ref: str, person: Person, regulation: Regulation, received_on: date
    ) -> int:
        at = self._recorded(received_on)
        data = {
            "application_ref": application_ref,
            "client": client(person),
            "municipality": place.code,
            "regulation": regulation.value,
            "received_on": received_on.isoformat(),
        }
        self._out.emit(place.source, APPLICATION_RECEIVED, at, data)
        return at

    def _plan(self, place: Place, person: Person, application_ref: str, received_at: int) -> None:
        sent_on = self._days_after(received_at, 7, 35)
        if sent_on < self._horizon:
            data = {
                "plan_ref": place.ref("plan"),
                "client": client(person),
                "sent_on": sent_on.isoformat(),
                "application_ref": application_ref,
            }
            self._out.emit(place.source, PLAN_SENT, self._recorded(sent_on), data)
