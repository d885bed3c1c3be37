"""What the caseload API answers, as documented in its OpenAPI document (for generated clients)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from stroom_platform.pagination import PageLinks


class Named(BaseModel):
    code: str
    name: str


class LabelledCount(BaseModel):
    code: str | None
    label: str
    count: int


class ByRegulation(BaseModel):
    label: str
    by_regulation: list[LabelledCount]


class ByKind(BaseModel):
    label: str
    by_kind: list[LabelledCount]


class ByPhase(BaseModel):
    label: str
    by_phase: list[LabelledCount]


class CoachClients(BaseModel):
    coach_ref: str | None
    label: str
    clients: int
    by_client_stream: list[LabelledCount]


class Coaches(BaseModel):
    label: str
    items: list[CoachClients]
    links: PageLinks | None = Field(default=None, alias="_links")


class MunicipalityCaseload(BaseModel):
    """Het klantenbestand van één gemeente op een dag, zoals bekend op `as_of`."""

    municipality: Named
    date: dt.date
    as_of: str | None
    benefits: ByRegulation
    persons: ByRegulation
    placements: ByKind
    open_applications: ByRegulation
    trajectories: ByPhase
    coaches: Coaches


class MunicipalityCount(BaseModel):
    code: str
    name: str
    count: int


class LadderStepCount(BaseModel):
    step: int | None
    label: str
    count: int


class CoachCaseload(BaseModel):
    """De actieve klanten van één klantmanager op een dag, in de gemeenten die de aanroeper mag zien."""

    coach_ref: str
    date: dt.date
    label: str
    active_clients: int
    by_municipality: list[MunicipalityCount]
    by_client_stream: list[LabelledCount]
    by_ladder_step: list[LadderStepCount]
