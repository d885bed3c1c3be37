"""A client's guidance while on benefit: coach, assessments, progress reports, trajectory and work."""

from __future__ import annotations

from datetime import date, timedelta
from random import Random
from typing import Any

from stroom_contract.codes import (
    OUTFLOW_TO_WORK,
    OutflowReason,
    PlacementKind,
    TrajectoryOutcome,
    TrajectoryPhase,
)
from stroom_simulator.clock import day_of
from stroom_simulator.people import Person
from stroom_simulator.recording import (
    ASSESSED,
    COACH_ASSIGNED,
    PHASE_CHANGED,
    PLACEMENT_ENDED,
    PLACEMENT_STARTED,
    PROGRESS_REPORT,
    SANCTION,
    TRAJECTORY_ENDED,
    Benefit,
    Ending,
    Recorder,
    client,
)
from stroom_simulator.tables import (
    CLIENT_STREAM_BY_STEP,
    COACH_CHANGE_MEAN_DAYS,
    DEVELOPMENT_PHASE,
    LADDER_STEP,
    LADDER_UNKNOWN_SHARE,
    PARTTIME_WORK_WHILE_ON_BENEFIT,
    PLACEMENT_BEFORE_EMPLOYMENT,
    PLACEMENT_END_REASON,
    SANCTION_FINE_SHARE,
    SUITABLE_PLACE_KIND,
    TARGET_STEP,
    TARGET_UNKNOWN_SHARE,
    TRAJECTORY_FOR_NEW_CLIENT,
    TRAJECTORY_FOR_STOCK_CLIENT,
    TRAJECTORY_OUTCOME,
    WORK_OBLIGATION_EXEMPT,
    YEARLY_SANCTION,
)

_LONG_TRAJECTORY_DAYS = 3 * 365


class Guidance(Recorder):
    """What happens to a benefit's applicant between the start and the end of the benefit."""

    def follow(
        self, benefit: Benefit, coach_day: date, first: date, ending: Ending | None, new: bool
    ) -> None:
        stop = ending.day if ending else self._horizon
        if coach_day < stop:
            self._guidance(benefit, coach_day, first, stop)
        if self._rng.random() < (TRAJECTORY_FOR_NEW_CLIENT if new else TRAJECTORY_FOR_STOCK_CLIENT):
            self._trajectory(benefit, first, ending, new)
        self._sanctions(benefit, first, stop)
        self._work(benefit, first, ending)

    def _guidance(self, benefit: Benefit, coach_day: date, first: date, stop: date) -> None:
        """Coach, assessments on the participatieladder and progress reports while the benefit runs."""
        rng, out, source = self._rng, self._out, benefit.place.source
        day = coach_day
        while day < stop:
            if day == coach_day or day >= first:
                # A coach belongs to the team of one municipality.
                coach = rng.randrange(benefit.place.coaches) + 1
                coach_ref = f"klantmanager-{benefit.place.code}-{coach:02d}"
                # One assignment for the household, recorded for each of its members at once.
                recorded = self._recorded(day)
                for person in filter(None, (benefit.applicant, benefit.partner)):
                    data = {"client": client(person), "coach_ref": coach_ref, "assigned_on": day.isoformat()}
                    out.emit(source, COACH_ASSIGNED, recorded, data)
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
                ASSESSED,
                self._recorded(day),
                self.assessment(benefit.applicant, day, step, target, rng),
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
                    "client": client(benefit.applicant),
                    "recorded_on": day.isoformat(),
                }
                if (day - benefit.start_date).days > _LONG_TRAJECTORY_DAYS:
                    report["long_trajectory"] = True
                elif rng.random() < 0.7:
                    report["long_trajectory"] = False
                out.emit(source, PROGRESS_REPORT, self._recorded(day), report)
            day += timedelta(days=rng.randint(80, 100))

    @staticmethod
    def assessment(person: Person, day: date, step: int, target: int | None, rng: Random) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client": client(person),
            "assessed_on": day.isoformat(),
            "ladder_step": step,
            "client_stream": CLIENT_STREAM_BY_STEP[step].pick(rng).value,
            "work_obligation_exempt": rng.random() < WORK_OBLIGATION_EXEMPT[step],
        }
        if target is not None:
            data["target_step"] = target
        return data

    def _trajectory(self, benefit: Benefit, first: date, ending: Ending | None, new: bool) -> None:
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
                "client": client(benefit.applicant),
                "municipality": place.code,
                "phase": phase.value,
                "effective_date": day.isoformat(),
            }
            out.emit(place.source, PHASE_CHANGED, last_at, data)
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
        out.emit(place.source, TRAJECTORY_ENDED, self._recorded(end_day), data)
        start = end_day + timedelta(days=rng.randint(0, 30))
        if outcome is TrajectoryOutcome.SUITABLE_PLACE:
            end = start + timedelta(days=rng.randint(180, 1095))
            kind = SUITABLE_PLACE_KIND.pick(rng)
            self._placement(benefit, kind, start, end, float(rng.randint(16, 32)), employer=True)
        elif outcome is TrajectoryOutcome.MAX_PARTICIPATION:
            self._placement(benefit, PlacementKind.VOLUNTEER_WORK, start, None, float(rng.randint(4, 16)))

    def _work(self, benefit: Benefit, first: date, ending: Ending | None) -> None:
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
        benefit: Benefit,
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
            "client": client(benefit.applicant),
            "municipality": place.code,
            "kind": kind.value,
            "start_date": start.isoformat(),
        }
        if hours is not None:
            data["hours_per_week"] = hours
        if employer:
            data["employer_ref"] = f"werkgever-{rng.randrange(place.employers) + 1:04d}"
        out.emit(place.source, PLACEMENT_STARTED, started_at, data, reorder_after=ended_at)
        if end is not None and ended_at is not None:
            ended = {"placement_ref": ref, "end_date": end.isoformat(), "reason": PLACEMENT_END_REASON[kind]}
            out.emit(place.source, PLACEMENT_ENDED, ended_at, ended)

    def _sanctions(self, benefit: Benefit, first: date, stop: date) -> None:
        rng = self._rng
        span = (stop - first).days
        if span <= 0 or rng.random() >= YEARLY_SANCTION * span / 365:
            return
        day = first + timedelta(days=rng.randrange(span))
        data = {
            "client": client(benefit.applicant),
            "kind": "fine" if rng.random() < SANCTION_FINE_SHARE else "measure",
            "imposed_on": day.isoformat(),
            "benefit_ref": benefit.ref,
        }
        self._out.emit(benefit.place.source, SANCTION, self._recorded(day), data)
