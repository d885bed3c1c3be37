"""One benefit's life as events: application, start, the client's guidance, placements and end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random
from typing import Any

from stroom_contract.codes import (
    OUTFLOW_TO_WORK,
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
    TrajectoryOutcome,
    TrajectoryPhase,
)
from stroom_simulator.clock import DAY, day_of, moment
from stroom_simulator.delivery import Delivery
from stroom_simulator.people import Household, People, Person, Place
from stroom_simulator.tables import (
    BBZ_OUTFLOW_REASON,
    CLIENT_STREAM_BY_STEP,
    COACH_CHANGE_MEAN_DAYS,
    DEVELOPMENT_PHASE,
    LADDER_STEP,
    LADDER_UNKNOWN_SHARE,
    MONTHLY_OUTFLOW,
    NOT_GRANTED_DECISION,
    OUTFLOW_REASON,
    PARTTIME_WORK_WHILE_ON_BENEFIT,
    PENSION_AGE_YEARS,
    PLACEMENT_BEFORE_EMPLOYMENT,
    PLACEMENT_END_REASON,
    PLAN_AFTER_GRANTED,
    PLAN_AFTER_NOT_GRANTED,
    PW_MONTHLY_OUTFLOW_BY_YEAR,
    SANCTION_FINE_SHARE,
    SUITABLE_PLACE_KIND,
    TARGET_STEP,
    TARGET_UNKNOWN_SHARE,
    TRAJECTORY_FOR_NEW_CLIENT,
    TRAJECTORY_FOR_STOCK_CLIENT,
    TRAJECTORY_OUTCOME,
    WORK_OBLIGATION_EXEMPT,
    YEARLY_PARTNER_JOINS,
    YEARLY_PARTNER_LEAVES,
    YEARLY_SANCTION,
)

_APPLICATION_RECEIVED = "stroom.application.received.v1"
_APPLICATION_DECIDED = "stroom.application.decided.v1"
_BENEFIT_STARTED = "stroom.benefit.started.v1"
_MEMBERS_CHANGED = "stroom.benefit.members_changed.v1"
_BENEFIT_ENDED = "stroom.benefit.ended.v1"
_ASSESSED = "stroom.client.assessed.v1"
_COACH_ASSIGNED = "stroom.client.coach_assigned.v1"
_PLAN_SENT = "stroom.plan.sent.v1"
_PROGRESS_REPORT = "stroom.progress_report.recorded.v1"
_PLACEMENT_STARTED = "stroom.placement.started.v1"
_PLACEMENT_ENDED = "stroom.placement.ended.v1"
_PHASE_CHANGED = "stroom.trajectory.phase_changed.v1"
_TRAJECTORY_ENDED = "stroom.trajectory.ended.v1"
_SANCTION = "stroom.sanction.imposed.v1"

_LONG_TRAJECTORY_DAYS = 3 * 365


@dataclass(frozen=True, slots=True)
class Ending:
    """How a benefit ends within the history, and who was in it by then."""

    day: date
    reason: OutflowReason
    household: Household


@dataclass(frozen=True, slots=True)
class _Benefit:
    place: Place
    ref: str
    regulation: Regulation
    start_date: date
    applicant: Person


def _client(person: Person) -> dict[str, Any]:
    return {"bsn": person.bsn}


def _member(person: Person, role: str) -> dict[str, Any]:
    return {"bsn": person.bsn, "role": role, "birth_date": person.birth_date.isoformat()}


def _birthday(birth: date, years: int) -> date:
    day = 28 if (birth.month, birth.day) == (2, 29) else birth.day
    return date(birth.year + years, birth.month, day)


class Lives:
    """Writes the events of applications and benefits between the history's start and horizon.

    Facts that depend on another one fall at least a day after it was recorded, so a history
    without noise is delivered in causal order; the noise comes from `Delivery` alone.
    """

    def __init__(self, rng: Random, out: Delivery, people: People, start: date, horizon: date) -> None:
        self._rng = rng
        self._out = out
        self._people = people
        self._start = start
        self._horizon = horizon
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
            self._out.emit(place.source, _APPLICATION_DECIDED, self._recorded(decided_on), data)

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
            self._out.erroneous(place.source, _APPLICATION_DECIDED, decided_at - 600, wrong)
        data = {
            "application_ref": application_ref,
            "decision": "granted",
            "decided_on": decided_on.isoformat(),
        }
        self._out.emit(place.source, _APPLICATION_DECIDED, decided_at, data)
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
        benefit = _Benefit(place, place.ref("uitkering"), regulation, start_date, household.applicant)
        after_start = day_of(started_at) + timedelta(days=1)
        first = max(after_start, self._start)
        ending = self._ending(benefit, first, household)
        stop = ending.day if ending else self._horizon
        ended_at = self._recorded(ending.day) if ending else None
        change = self._members_change(benefit, household, first, stop)
        members = [_member(household.applicant, "applicant")]
        if household.partner is not None:
            members.append(_member(household.partner, "partner"))
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
        self._out.emit(place.source, _BENEFIT_STARTED, started_at, data, reorder_after=later)
        if change is not None:
            at, change_data, household = change
            self._out.emit(place.source, _MEMBERS_CHANGED, at, change_data)
        if new:
            coach_day = self._between(first, first + timedelta(days=14))
        else:
            # The stock's coach and last assessment predate the history, like in the case system.
            earliest = max(after_start, self._start - timedelta(days=365))
            coach_day = self._between(earliest, max(earliest, self._start))
        if coach_day < stop:
            self._guidance(benefit, coach_day, first, stop)
        if self._rng.random() < (TRAJECTORY_FOR_NEW_CLIENT if new else TRAJECTORY_FOR_STOCK_CLIENT):
            self._trajectory(benefit, first, ending, new)
        self._sanctions(benefit, first, stop)
        self._work(benefit, first, ending)
        self._erroneous(benefit, first, stop)
        if ending is None or ended_at is None:
            return None
        data = {
            "benefit_ref": benefit.ref,
            "end_date": ending.day.isoformat(),
            "outflow_reason": ending.reason.value,
        }
        self._out.emit(place.source, _BENEFIT_ENDED, ended_at, data)
        return Ending(ending.day, ending.reason, household)

    def _ending(self, benefit: _Benefit, first: date, household: Household) -> Ending | None:
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
        pension = _birthday(benefit.applicant.birth_date, PENSION_AGE_YEARS)
        if first <= pension < self._horizon and (end is None or pension < end):
            return Ending(pension, OutflowReason.PENSION_AGE, household)
        if end is None or end >= self._horizon:
            return None
        table = BBZ_OUTFLOW_REASON if benefit.regulation is Regulation.BBZ else OUTFLOW_REASON
        return Ending(end, table.pick(rng), household)

    def _members_change(
        self, benefit: _Benefit, household: Household, first: date, stop: date
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
            data |= {"joined": [], "left": [_client(partner)]}
            after = Household(household.applicant)
        else:
            partner = self._people.partner_of(household.applicant)
            data |= {"joined": [_member(partner, "partner")], "left": []}
            after = Household(household.applicant, partner)
        return self._recorded(day), data, after

    def _guidance(self, benefit: _Benefit, coach_day: date, first: date, stop: date) -> None:
        """Coach, assessments on the participatieladder and progress reports while the benefit runs."""
        rng, out, source = self._rng, self._out, benefit.place.source
        day = coach_day
        while day < stop:
            if day == coach_day or day >= first:
                coach_ref = f"klantmanager-{rng.randrange(benefit.place.coaches) + 1:02d}"
                data = {
                    "client": _client(benefit.applicant),
                    "coach_ref": coach_ref,
                    "assigned_on": day.isoformat(),
                }
                out.emit(source, _COACH_ASSIGNED, self._recorded(day), data)
            day += timedelta(days=30 + int(rng.expovariate(1 / COACH_CHANGE_MEAN_DAYS)))

        if rng.random() < LADDER_UNKNOWN_SHARE:
            day = max(first, coach_day) + timedelta(days=rng.randint(60, 300))
        elif coach_day >= first:
            day = coach_day + timedelta(days=rng.randint(7, 60))
        else:
            day = self._between(coach_day, first)
        step = LADDER_STEP.pick(rng)
        target = None if rng.random() < TARGET_UNKNOWN_SHARE else max(step, TARGET_STEP.pick(rng))
        while day < stop:
            out.emit(
                source,
                _ASSESSED,
                self._recorded(day),
                self._assessment(benefit.applicant, day, step, target, rng),
            )
            day += timedelta(days=rng.randint(300, 420))
            roll = rng.random()
            step = min(step + 1, 6) if roll < 0.2 else max(step - 1, 1) if roll < 0.25 else step
            if target is None and rng.random() < 0.5:
                target = max(step, TARGET_STEP.pick(rng))
            elif target is not None:
                target = max(step, target)

        day = coach_day + timedelta(days=rng.randint(80, 100))
        while day < stop:
            if day >= first:
                report: dict[str, Any] = {
                    "client": _client(benefit.applicant),
                    "recorded_on": day.isoformat(),
                }
                if (day - benefit.start_date).days > _LONG_TRAJECTORY_DAYS:
                    report["long_trajectory"] = True
                elif rng.random() < 0.7:
                    report["long_trajectory"] = False
                out.emit(source, _PROGRESS_REPORT, self._recorded(day), report)
            day += timedelta(days=rng.randint(80, 100))

    @staticmethod
    def _assessment(person: Person, day: date, step: int, target: int | None, rng: Random) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client": _client(person),
            "assessed_on": day.isoformat(),
            "ladder_step": step,
            "client_stream": CLIENT_STREAM_BY_STEP[step].pick(rng).value,
            "work_obligation_exempt": rng.random() < WORK_OBLIGATION_EXEMPT[step],
        }
        if target is not None:
            data["target_step"] = target
        return data

    def _trajectory(self, benefit: _Benefit, first: date, ending: Ending | None, new: bool) -> None:
        """A re-integration trajectory through the phases of doc 002, ending in one of its outcomes."""
        rng, out, place = self._rng, self._out, benefit.place
        stop = ending.day if ending else self._horizon
        begin = first + timedelta(days=rng.randint(14, 90) if new else rng.randrange(365))
        if begin >= stop:
            return
        day = begin + timedelta(days=rng.randint(30, 75))
        phases = [(begin, TrajectoryPhase.INTRODUCTION), (day, DEVELOPMENT_PHASE.pick(rng))]
        if rng.random() < 0.3:
            day += timedelta(days=rng.randint(60, 180))
            phases.append((day, DEVELOPMENT_PHASE.pick(rng)))
        day += timedelta(days=rng.randint(60, 180))
        phases.append((day, TrajectoryPhase.FINDING_WORK))
        end_day = day + timedelta(days=rng.randint(60, 240))
        outcome = TRAJECTORY_OUTCOME.pick(rng)
        if ending is not None and ending.day <= end_day:
            phases = [(day, phase) for day, phase in phases if day < ending.day]
            if ending.reason in OUTFLOW_TO_WORK:
                phases.append((ending.day, TrajectoryPhase.KEEPING_WORK))
                end_day, outcome = (
                    ending.day + timedelta(days=rng.randint(60, 180)),
                    TrajectoryOutcome.JOB_ACCEPTED,
                )
            else:
                end_day, outcome = ending.day, TrajectoryOutcome.DROPPED_OUT
        ref = place.ref("traject")
        last_at = 0
        for day, phase in phases:
            if day >= self._horizon:
                return
            last_at = self._recorded(day)
            data = {
                "trajectory_ref": ref,
                "client": _client(benefit.applicant),
                "municipality": place.code,
                "phase": phase.value,
                "effective_date": day.isoformat(),
            }
            out.emit(place.source, _PHASE_CHANGED, last_at, data)
            if phase is TrajectoryPhase.WORK_EXPERIENCE:
                start = day + timedelta(days=rng.randint(0, 14))
                end = min(start + timedelta(days=rng.randint(90, 180)), stop)
                self._placement(
                    benefit, PlacementKind.WORK_EXPERIENCE, start, end, float(rng.randint(16, 32))
                )
        end_day = max(end_day, day_of(last_at) + timedelta(days=1))
        if end_day >= self._horizon:
            return
        data = {"trajectory_ref": ref, "end_date": end_day.isoformat(), "outcome": outcome.value}
        out.emit(place.source, _TRAJECTORY_ENDED, self._recorded(end_day), data)
        start = end_day + timedelta(days=rng.randint(0, 30))
        if outcome is TrajectoryOutcome.SUITABLE_PLACE:
            end = start + timedelta(days=rng.randint(180, 1095))
            kind = SUITABLE_PLACE_KIND.pick(rng)
            self._placement(benefit, kind, start, end, float(rng.randint(16, 32)), employer=True)
        elif outcome is TrajectoryOutcome.MAX_PARTICIPATION:
            self._placement(benefit, PlacementKind.VOLUNTEER_WORK, start, None, float(rng.randint(4, 16)))

    def _work(self, benefit: _Benefit, first: date, ending: Ending | None) -> None:
        """Regular work: the job that ends the benefit, or part-time work next to it."""
        rng = self._rng
        stop = ending.day if ending else self._horizon
        employment = ending is not None and ending.reason is OutflowReason.EMPLOYMENT
        if ending is not None and employment and rng.random() < PLACEMENT_BEFORE_EMPLOYMENT:
            start = max(first, ending.day - timedelta(days=rng.randint(0, 30)))
            hours = float(rng.choice((32, 36, 38, 40)) if rng.random() < 0.8 else rng.randint(12, 31))
            end = ending.day + timedelta(days=rng.randint(90, 720)) if rng.random() < 0.3 else None
            self._placement(benefit, PlacementKind.REGULAR, start, end, hours, employer=True)
        span = (stop - first).days
        if span > 0 and rng.random() < PARTTIME_WORK_WHILE_ON_BENEFIT:
            start = first + timedelta(days=rng.randrange(span))
            end = start + timedelta(days=rng.randint(60, 365))
            self._placement(
                benefit, PlacementKind.REGULAR, start, end, float(rng.randint(8, 24)), employer=True
            )

    def _placement(
        self,
        benefit: _Benefit,
        kind: PlacementKind,
        start: date,
        end: date | None,
        hours: float | None,
        employer: bool = False,
    ) -> None:
        if start >= self._horizon:
            return
        rng, out, place = self._rng, self._out, benefit.place
        ref = place.ref("plaatsing")
        started_at = self._recorded(start)
        ended_at = None
        if end is not None:
            end = max(end, day_of(started_at) + timedelta(days=1))
            ended_at = self._recorded(end) if end < self._horizon else None
        data: dict[str, Any] = {
            "placement_ref": ref,
            "client": _client(benefit.applicant),
            "municipality": place.code,
            "kind": kind.value,
            "start_date": start.isoformat(),
        }
        if hours is not None:
            data["hours_per_week"] = hours
        if employer:
            data["employer_ref"] = f"werkgever-{rng.randrange(place.employers) + 1:04d}"
        out.emit(place.source, _PLACEMENT_STARTED, started_at, data, reorder_after=ended_at)
        if end is not None and ended_at is not None:
            ended = {"placement_ref": ref, "end_date": end.isoformat(), "reason": PLACEMENT_END_REASON[kind]}
            out.emit(place.source, _PLACEMENT_ENDED, ended_at, ended)

    def _sanctions(self, benefit: _Benefit, first: date, stop: date) -> None:
        rng = self._rng
        span = (stop - first).days
        if span <= 0 or rng.random() >= YEARLY_SANCTION * span / 365:
            return
        day = first + timedelta(days=rng.randrange(span))
        data = {
            "client": _client(benefit.applicant),
            "kind": "fine" if rng.random() < SANCTION_FINE_SHARE else "measure",
            "imposed_on": day.isoformat(),
            "benefit_ref": benefit.ref,
        }
        self._out.emit(benefit.place.source, _SANCTION, self._recorded(day), data)

    def _erroneous(self, benefit: _Benefit, first: date, stop: date) -> None:
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
            out.erroneous(source, _BENEFIT_ENDED, at, data)
        elif kind == 1:
            data = self._assessment(benefit.applicant, day, LADDER_STEP.pick(noise), None, noise)
            out.erroneous(source, _ASSESSED, at, data)
        else:
            self._erroneous_refs += 1
            data = {
                "placement_ref": f"plaatsing-c{self._erroneous_refs:05d}",
                "client": _client(benefit.applicant),
                "municipality": benefit.place.code,
                "kind": PlacementKind.REGULAR.value,
                "start_date": day.isoformat(),
            }
            out.erroneous(source, _PLACEMENT_STARTED, at, data)

    def _received(
        self, place: Place, application_ref: str, person: Person, regulation: Regulation, received_on: date
    ) -> int:
        at = self._recorded(received_on)
        data = {
            "application_ref": application_ref,
            "client": _client(person),
            "municipality": place.code,
            "regulation": regulation.value,
            "received_on": received_on.isoformat(),
        }
        self._out.emit(place.source, _APPLICATION_RECEIVED, at, data)
        return at

    def _plan(self, place: Place, person: Person, application_ref: str, received_at: int) -> None:
        sent_on = self._days_after(received_at, 7, 35)
        if sent_on < self._horizon:
            data = {
                "plan_ref": place.ref("plan"),
                "client": _client(person),
                "sent_on": sent_on.isoformat(),
                "application_ref": application_ref,
            }
            self._out.emit(place.source, _PLAN_SENT, self._recorded(sent_on), data)

    def _recorded(self, fact: date) -> int:
        """When a case system records a fact: mostly that day, sometimes days later, in office hours."""
        rng = self._rng
        roll = rng.random()
        lag = 0 if roll < 0.55 else rng.randint(1, 3) if roll < 0.85 else rng.randint(4, 14)
        ordinal = fact.toordinal() + lag
        weekday = (ordinal - 1) % 7
        if weekday >= 5:
            ordinal += 7 - weekday
        return ordinal * DAY + rng.randint(8 * 3600, 17 * 3600 + 1800)

    def _days_after(self, at: int, low: int, high: int) -> date:
        return day_of(at) + timedelta(days=self._rng.randint(low, high))

    def _between(self, low: date, high: date) -> date:
        return low + timedelta(days=self._rng.randrange(max(1, (high - low).days)))
