"""Distributions the simulator draws from: WerkSaam's client-file analysis (tables 3–12) and docs 002/004."""

from __future__ import annotations

from bisect import bisect
from collections.abc import Mapping
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

from stroom_contract.codes import (
    ClientStream,
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
    TrajectoryOutcome,
    TrajectoryPhase,
)

T = TypeVar("T")


class Weighted(Generic[T]):
    """Draws from a table of counts; the counts are kept as published, not as percentages."""

    def __init__(self, counts: Mapping[T, float]) -> None:
        self.values = [value for value, count in counts.items() if count > 0]
        self._cumulative = list(accumulate(counts[value] for value in self.values))
        self.share = {value: counts[value] / self._cumulative[-1] for value in self.values}

    def pick(self, rng: Random) -> T:
        return self.values[bisect(self._cumulative, rng.random() * self._cumulative[-1])]


# Table 3: clients per regulation on 1-7-2017 (the stock).
STOCK_REGULATION = Weighted(
    {Regulation.PW: 3132, Regulation.IOAW: 185, Regulation.IOAZ: 12, Regulation.BBZ: 26}
)
# Table 8: inflow per regulation in 2016.
INFLOW_REGULATION = Weighted(
    {Regulation.PW: 1350, Regulation.IOAW: 83, Regulation.IOAZ: 11, Regulation.BBZ: 103}
)
# Table 4: how long the stock's benefits had been running, as (from, to) months.
STOCK_DURATION_MONTHS = Weighted(
    {(0, 6): 507, (6, 12): 427, (12, 24): 629, (24, 36): 367, (36, 48): 355, (48, 60): 263, (60, 180): 807}
)
# Table 5: age of the stock's clients, as (from, to) years; "older than 55" stops before AOW age.
STOCK_AGE_YEARS = Weighted({(18, 27): 399, (27, 35): 612, (35, 45): 724, (45, 55): 800, (55, 66): 820})
# New clients are younger than the stock: the long-stayers are the older ones.
INFLOW_AGE_YEARS = Weighted({(18, 27): 30, (27, 35): 24, (35, 45): 20, (45, 55): 16, (55, 65): 10})
# IOAW is for those who became unemployed at 50 or older, IOAZ for former self-employed from 55.
AGE_YEARS_BY_REGULATION = {
    Regulation.IOAW: Weighted({(50, 56): 1, (56, 66): 2}),
    Regulation.IOAZ: Weighted({(55, 66): 1}),
}
# Household table: couples (with or without children) 18 % of clients.
COUPLE_SHARE = 0.18
PENSION_AGE_YEARS = 67

# Table 6: participatieladder step on 1-7-2017; 7.2 % not assessed yet.
LADDER_STEP = Weighted({1: 287, 2: 971, 3: 888, 4: 533, 5: 370, 6: 62})
LADDER_UNKNOWN_SHARE = 243 / 3355
# Table 7: target step (doeltrede); 15.3 % without one.
TARGET_STEP = Weighted({1: 40, 2: 842, 3: 151, 4: 614, 5: 372, 6: 822})
TARGET_UNKNOWN_SHARE = 514 / 3355

# Table 9: inflow reasons, first half of 2017 ("Uitkering ziekte" was not published: "?").
INFLOW_REASON = Weighted(
    {
        InflowReason.REFUGEE_SETTLEMENT: 129,
        InflowReason.UNEMPLOYMENT_BENEFIT_ENDED: 113,
        InflowReason.EMPLOYMENT_ENDED: 109,
        InflowReason.SICKNESS_BENEFIT_ENDED: 25,
        InflowReason.RELATIONSHIP_ENDED: 73,
        InflowReason.MOVED_IN: 60,
        InflowReason.SELF_EMPLOYMENT_ENDED: 41,
        InflowReason.STUDY_ENDED: 19,
        InflowReason.OTHER_INCOME_ENDED: 39,
        InflowReason.DISABILITY_BENEFIT_ENDED: 27,
        InflowReason.HOMELESS: 11,
        InflowReason.PARTNER_RELATED: 16,
        InflowReason.RELEASED_FROM_DETENTION: 8,
        InflowReason.ALIMONY_ENDED: 4,
        InflowReason.SUPPORT_BY_OTHERS_ENDED: 11,
        InflowReason.OTHER: 14,
    }
)
# IOAW follows WW, IOAZ and Bbz follow self-employment.
INFLOW_REASON_BY_REGULATION = {
    Regulation.IOAW: Weighted(
        {InflowReason.UNEMPLOYMENT_BENEFIT_ENDED: 8, InflowReason.DISABILITY_BENEFIT_ENDED: 2}
    ),
    Regulation.IOAZ: Weighted({InflowReason.SELF_EMPLOYMENT_ENDED: 1}),
    Regulation.BBZ: Weighted({InflowReason.SELF_EMPLOYMENT_ENDED: 3, InflowReason.OTHER_INCOME_ENDED: 1}),
}

# Table 11: outflow reasons, first half of 2017. "Verhuizing naar andere gemeente of buitenland"
# (90) is split over the two codes; "Einde Bbz-periode" only ends Bbz benefits (see below).
OUTFLOW_REASON = Weighted(
    {
        OutflowReason.EMPLOYMENT: 222,
        OutflowReason.MOVED_TO_OTHER_MUNICIPALITY: 75,
        OutflowReason.MOVED_ABROAD: 15,
        OutflowReason.UNKNOWN: 72,
        OutflowReason.RELATIONSHIP_STARTED: 64,
        OutflowReason.SELF_EMPLOYMENT: 39,
        OutflowReason.NO_INFORMATION: 21,
        OutflowReason.PARTNER_RELATED: 16,
        OutflowReason.DETENTION: 12,
        OutflowReason.OTHER_INCOME: 8,
        OutflowReason.EDUCATION_WITH_STUDENT_FINANCE: 8,
        OutflowReason.DECEASED: 8,
        OutflowReason.DISABILITY_BENEFIT: 8,
        OutflowReason.CAPITAL_INCOME: 3,
        OutflowReason.REINTEGRATION_NO_SHOW: 2,
        OutflowReason.ABROAD_TOO_LONG: 3,
        OutflowReason.INFORMATION_NO_SHOW: 1,
        OutflowReason.UNEMPLOYMENT_BENEFIT: 3,
        OutflowReason.ALIMONY: 3,
        OutflowReason.OTHER: 6,
    }
)
BBZ_OUTFLOW_REASON = Weighted(
    {OutflowReason.BBZ_PERIOD_ENDED: 48, OutflowReason.SELF_EMPLOYMENT: 10, OutflowReason.EMPLOYMENT: 4}
)

# Monthly chance that a benefit ends, by regulation and by full years it has run. Chosen so that
# the stock's durations look like table 4 and yearly outflow is about 40 % of the stock (table 10).
PW_MONTHLY_OUTFLOW_BY_YEAR = (0.055, 0.035, 0.025, 0.022, 0.02, 0.016)
MONTHLY_OUTFLOW = {Regulation.IOAW: 0.03, Regulation.IOAZ: 0.05, Regulation.BBZ: 0.12}

# Table 12: about 3 % of those who leave are back within 6 months, 1.5 % within 6 to 12 months.
RETURN_WITHIN_6_MONTHS = 0.03
RETURN_WITHIN_12_MONTHS = 0.015
NO_RETURN = frozenset(
    {
        OutflowReason.DECEASED,
        OutflowReason.PENSION_AGE,
        OutflowReason.MOVED_TO_OTHER_MUNICIPALITY,
        OutflowReason.MOVED_ABROAD,
    }
)
RETURN_INFLOW_REASON = {
    OutflowReason.EMPLOYMENT: InflowReason.EMPLOYMENT_ENDED,
    OutflowReason.DETENTION: InflowReason.RELEASED_FROM_DETENTION,
    OutflowReason.RELATIONSHIP_STARTED: InflowReason.RELATIONSHIP_ENDED,
    OutflowReason.SELF_EMPLOYMENT: InflowReason.SELF_EMPLOYMENT_ENDED,
    OutflowReason.PARTNER_RELATED: InflowReason.PARTNER_RELATED,
    OutflowReason.UNEMPLOYMENT_BENEFIT: InflowReason.UNEMPLOYMENT_BENEFIT_ENDED,
}
# Of those moving to another municipality, the share that stays within the organisation's region.
MOVE_WITHIN_ORGANISATION = 0.4

# Doc 004: 60.8 % of reports stopped at the gate in 2013, 34 % in 2012: about half not granted.
NOT_GRANTED_PER_GRANTED = 1.1
NOT_GRANTED_DECISION = Weighted({"rejected": 65, "withdrawn": 35})
PLAN_AFTER_GRANTED = 0.85
PLAN_AFTER_NOT_GRANTED = 0.2

# Coaches (klantmanagers) carry about 60-80 clients each.
CLIENTS_PER_COACH = 70

# Doc 002 (IJmond Werkt! Q1 2023): trajectories by phase and outcome.
DEVELOPMENT_PHASE = Weighted(
    {
        TrajectoryPhase.PERSONAL_DEVELOPMENT: 246,
        TrajectoryPhase.WORK_EXPERIENCE: 123,
        TrajectoryPhase.APPLICATION_SKILLS: 147,
    }
)
# Outcomes other than a job (a job ends the benefit: that outcome follows outflow to employment).
TRAJECTORY_OUTCOME = Weighted(
    {
        TrajectoryOutcome.SUITABLE_PLACE: 36,
        TrajectoryOutcome.MAX_PARTICIPATION: 10,
        TrajectoryOutcome.DROPPED_OUT: 34,
    }
)
TRAJECTORY_FOR_NEW_CLIENT = 0.35
TRAJECTORY_FOR_STOCK_CLIENT = 0.25
SUITABLE_PLACE_KIND = Weighted(
    {
        PlacementKind.WAGE_SUBSIDY: 35,
        PlacementKind.SHELTERED_WORK: 20,
        PlacementKind.PARTICIPATION_PLACE: 15,
        PlacementKind.SECONDMENT: 10,
        PlacementKind.SUPPORTED_EMPLOYMENT: 10,
        PlacementKind.TRIAL_PLACEMENT: 10,
    }
)
# Outflow to employment is mostly preceded by a registered placement in regular work.
PLACEMENT_BEFORE_EMPLOYMENT = 0.75
PARTTIME_WORK_WHILE_ON_BENEFIT = 0.05

YEARLY_SANCTION = 0.04
SANCTION_FINE_SHARE = 0.2
YEARLY_PARTNER_LEAVES = 0.04
YEARLY_PARTNER_JOINS = 0.015
WORK_OBLIGATION_EXEMPT = {1: 0.45, 2: 0.2, 3: 0.08, 4: 0.03, 5: 0.01, 6: 0.0}
COACH_CHANGE_MEAN_DAYS = 4 * 365
CLIENT_STREAM_BY_STEP = {
    1: Weighted({ClientStream.CARE: 8, ClientStream.DEVELOPABLE: 2}),
    2: Weighted({ClientStream.CARE: 6, ClientStream.DEVELOPABLE: 4}),
    3: Weighted({ClientStream.DEVELOPABLE: 7, ClientStream.CARE: 2, ClientStream.MEDIABLE: 1}),
    4: Weighted({ClientStream.DEVELOPABLE: 6, ClientStream.MEDIABLE: 4}),
    5: Weighted({ClientStream.MEDIABLE: 8, ClientStream.DEVELOPABLE: 2}),
    6: Weighted({ClientStream.MEDIABLE: 1}),
}
PLACEMENT_END_REASON = {
    PlacementKind.REGULAR: "Einde dienstverband",
    PlacementKind.WAGE_SUBSIDY: "Einde loonkostensubsidie",
    PlacementKind.SHELTERED_WORK: "Einde dienstverband beschut werk",
    PlacementKind.SECONDMENT: "Einde detachering",
    PlacementKind.SUPPORTED_EMPLOYMENT: "Einde begeleiding",
    PlacementKind.WORK_EXPERIENCE: "Werkervaringsplek afgerond",
    PlacementKind.TRIAL_PLACEMENT: "Proefplaatsing afgerond",
    PlacementKind.PARTICIPATION_PLACE: "Einde participatieplaats",
    PlacementKind.VOLUNTEER_WORK: "Gestopt met vrijwilligerswerk",
}
