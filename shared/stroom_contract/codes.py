"""Code lists of the contract, each code with its Dutch label and, where it has one, its CBS code."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CodeList(StrEnum):
    """A code whose value is the wire value; `label` is what people read, `cbs_code` what CBS uses."""

    label: str
    cbs_code: str | None

    def __new__(cls, value: str, label: str, cbs_code: str | None = None) -> CodeList:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.cbs_code = cbs_code
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        schema["x-labels"] = cls.labels()
        cbs_codes = {member.value: member.cbs_code for member in cls if member.cbs_code is not None}
        if cbs_codes:
            schema["x-cbs-codes"] = cbs_codes
        return schema


class Regulation(CodeList):
    PW = "PW", "Participatiewet (algemene bijstand)", "01"
    IOAW = "IOAW", "IOAW", "02"
    IOAZ = "IOAZ", "IOAZ", "03"
    BBZ = "BBZ", "Bbz", "14"


class InflowReason(CodeList):
    REFUGEE_SETTLEMENT = "refugee_settlement", "Taakstelling vluchtelingen/vergunninghouder"
    UNEMPLOYMENT_BENEFIT_ENDED = "unemployment_benefit_ended", "Einde uitkering werkloosheid (WW)"
    EMPLOYMENT_ENDED = "employment_ended", "Einde arbeid in dienstbetrekking"
    SICKNESS_BENEFIT_ENDED = "sickness_benefit_ended", "Einde uitkering ziekte"
    DISABILITY_BENEFIT_ENDED = "disability_benefit_ended", "Einde uitkering arbeidsongeschiktheid"
    RELATIONSHIP_ENDED = "relationship_ended", "Beëindiging huwelijk/relatie"
    MOVED_IN = "moved_in", "Vanuit andere gemeente/buitenland"
    SELF_EMPLOYMENT_ENDED = "self_employment_ended", "Einde zelfstandig beroep of bedrijf"
    STUDY_ENDED = "study_ended", "Beëindiging studie"
    OTHER_INCOME_ENDED = "other_income_ended", "Einde ander inkomen"
    HOMELESS = "homeless", "Dak- en thuisloos"
    PARTNER_RELATED = "partner_related", "Oorzaak bij partner"
    RELEASED_FROM_DETENTION = "released_from_detention", "Uit detentie"
    ALIMONY_ENDED = "alimony_ended", "Einde alimentatie"
    SUPPORT_BY_OTHERS_ENDED = "support_by_others_ended", "Einde onderhoud door familie/vrienden"
    OTHER = "other", "Overige redenen"


class OutflowReason(CodeList):
    EDUCATION_WITH_STUDENT_FINANCE = (
        "education_with_student_finance",
        "Onderwijs met studiefinanciering",
        "01",
    )
    RELATIONSHIP_STARTED = "relationship_started", "Aangaan relatie", "02"
    PENSION_AGE = "pension_age", "Bereiken AOW-leeftijd", "03"
    DECEASED = "deceased", "Overlijden", "04"
    DETENTION = "detention", "Detentie", "05"
    EDUCATION_AVAILABLE_NOT_TAKEN = (
        "education_available_not_taken",
        "Kunnen volgen van onderwijs maar dit niet doen",
        "06",
    )
    ABROAD_TOO_LONG = ("abroad_too_long", "Overschrijden maximale verblijfsduur buitenland", "07")
    EMPLOYMENT = "employment", "Arbeid in dienstbetrekking", "11"
    SELF_EMPLOYMENT = "self_employment", "Zelfstandig beroep of bedrijf", "13"
    UNEMPLOYMENT_BENEFIT = "unemployment_benefit", "Uitkering werkloosheid", "14"
    DISABILITY_BENEFIT = "disability_benefit", "Uitkering arbeidsongeschiktheid", "15"
    ALIMONY = "alimony", "Alimentatie", "17"
    CAPITAL_INCOME = "capital_income", "Vermogensopbrengsten", "18"
    OTHER_INCOME = "other_income", "Ander inkomen", "19"
    NO_INFORMATION = "no_information", "Geen inlichtingen", "31"
    MOVED_TO_OTHER_MUNICIPALITY = (
        "moved_to_other_municipality",
        "Verhuizing naar andere gemeente",
        "32",
    )
    MOVED_ABROAD = "moved_abroad", "Verhuizing naar buitenland", "33"
    INFORMATION_NO_SHOW = (
        "information_no_show",
        "Niet verschenen op herhaalde oproep inlichtingenplicht",
        "34",
    )
    REINTEGRATION_NO_SHOW = (
        "reintegration_no_show",
        "Niet verschenen op herhaalde oproep re-integratiegesprek",
        "35",
    )
    PARTNER_RELATED = "partner_related", "Oorzaak bij partner", "97"
    BBZ_PERIOD_ENDED = "bbz_period_ended", "Einde Bbz-periode", "98"
    UNKNOWN = "unknown", "Reden onbekend", "98"
    OTHER = "other", "Andere oorzaak", "98"


OUTFLOW_TO_WORK = frozenset({OutflowReason.EMPLOYMENT, OutflowReason.SELF_EMPLOYMENT})
OUTFLOW_TO_EDUCATION = frozenset({OutflowReason.EDUCATION_WITH_STUDENT_FINANCE})


class Role(CodeList):
    APPLICANT = "applicant", "Aanvrager"
    PARTNER = "partner", "Partner"


class Decision(CodeList):
    GRANTED = "granted", "Toegekend"
    REJECTED = "rejected", "Afgewezen"
    WITHDRAWN = "withdrawn", "Ingetrokken"


class ClientStream(CodeList):
    MEDIABLE = "mediable", "Bemiddelbaar"
    DEVELOPABLE = "developable", "Ontwikkelbaar"
    CARE = "care", "Zorgcliënt"


class PlacementKind(CodeList):
    REGULAR = "regular", "Regulier werk"
    WAGE_SUBSIDY = "wage_subsidy", "Loonkostensubsidie (LKS)"
    SHELTERED_WORK = "sheltered_work", "Beschut werk"
    SECONDMENT = "secondment", "Detachering"
    SUPPORTED_EMPLOYMENT = "supported_employment", "Begeleid werken"
    WORK_EXPERIENCE = "work_experience", "Werkervaringsplek"
    TRIAL_PLACEMENT = "trial_placement", "Proefplaatsing"
    PARTICIPATION_PLACE = "participation_place", "Participatieplaats"
    VOLUNTEER_WORK = "volunteer_work", "Vrijwilligerswerk"


PARTTIME_HOURS_BELOW = 32


class TrajectoryPhase(CodeList):
    INTRODUCTION = "introduction", "Kennismaking"
    PERSONAL_DEVELOPMENT = "personal_development", "Persoonlijke ontwikkeling"
    WORK_EXPERIENCE = "work_experience", "Ontwikkeling door werkervaring"
    APPLICATION_SKILLS = "application_skills", "Ontwikkeling sollicitatievaardigheden"
    FINDING_WORK = "finding_work", "Werk vinden"
    KEEPING_WORK = "keeping_work", "Werk houden"


class TrajectoryOutcome(CodeList):
    JOB_ACCEPTED = "job_accepted", "Werkaanvaarding"
    SUITABLE_PLACE = "suitable_place", "Passende plek"
    MAX_PARTICIPATION = "max_participation", "Maximale participatie"
    DROPPED_OUT = "dropped_out", "Voortijdig afgebroken"


class SanctionKind(CodeList):
    MEASURE = "measure", "Maatregel"
    FINE = "fine", "Boete"
