"""Organisations and their municipalities, loaded from a versioned configuration file."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stroom_contract.messages import dutch_message

DEFAULT_FILE = Path(__file__).parent / "config" / "organisations.yaml"
CONFIG_VERSION = 1


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^GM\d{4}$")]
    name: Annotated[str, Field(min_length=1)]


Year = Annotated[int, Field(ge=2000, le=2100)]
Places = Annotated[float, Field(ge=0)]
Percentage = Annotated[float, Field(ge=0, le=100)]


class ShelteredWorkTarget(BaseModel):
    """Beschut werk: the national taakstelling plus the places a municipality adds itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    municipality: Annotated[str, Field(pattern=r"^GM\d{4}$")]
    year: Year
    taakstelling: Places
    additional: Places = 0

    @property
    def total(self) -> float:
        return self.taakstelling + self.additional


class KpiTargets(BaseModel):
    """KPI targets of one year (reports-v1 KPI annex); a missing one is not assessed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: Year
    k1_reduction_pct: Percentage | None = None
    k2_min_pct: Percentage | None = None
    k3_reduction_pct: Percentage | None = None
    k5_min_pct: Percentage | None = None


class FigureStatus(BaseModel):
    """When a month's figures stop being provisional, in whole months after the month's end (as
    CBS publishes: voorlopig, then nader voorlopig, then definitief)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provisional_months: Annotated[int, Field(ge=0, le=36)] = 2
    definitive_months: Annotated[int, Field(ge=0, le=36)] = 5

    @model_validator(mode="after")
    def _in_order(self) -> FigureStatus:
        if self.definitive_months < self.provisional_months:
            raise ValueError("definitive_months ligt vóór provisional_months")
        return self


class Targets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sheltered_work: list[ShelteredWorkTarget] = []
    kpi: list[KpiTargets] = []


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    code: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    name: Annotated[str, Field(min_length=1)]
    municipalities: Annotated[list[Municipality], Field(min_length=1)]
    targets: Targets = Targets()
    figure_status: FigureStatus = FigureStatus()

    @model_validator(mode="after")
    def _targets_of_own_municipalities(self) -> Organisation:
        own = {m.code for m in self.municipalities}
        seen: set[tuple[str, int]] = set()
        for target in self.targets.sheltered_work:
            if target.municipality not in own:
                raise ValueError(
                    f"taakstelling beschut werk voor {target.municipality}, dat geen gemeente van"
                    f" {self.code} is"
                )
            if (target.municipality, target.year) in seen:
                raise ValueError(
                    f"twee taakstellingen beschut werk voor {target.municipality} in {target.year}"
                )
            seen.add((target.municipality, target.year))
        years = [k.year for k in self.targets.kpi]
        if len(set(years)) != len(years):
            raise ValueError(f"twee sets KPI-doelen voor één jaar in {self.code}")
        return self

    def sheltered_work_target(self, municipality: str, year: int) -> ShelteredWorkTarget | None:
        return next(
            (t for t in self.targets.sheltered_work if (t.municipality, t.year) == (municipality, year)),
            None,
        )

    def kpi_targets(self, year: int) -> KpiTargets | None:
        return next((k for k in self.targets.kpi if k.year == year), None)


class OrganisationsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    organisations: Annotated[list[Organisation], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> OrganisationsConfig:
        if self.version != CONFIG_VERSION:
            raise ValueError(f"versie {self.version} wordt niet ondersteund; verwacht {CONFIG_VERSION}")
        seen: dict[str, str] = {}
        for org in self.organisations:
            for municipality in org.municipalities:
                if municipality.code in seen:
                    raise ValueError(
                        f"gemeente {municipality.code} staat zowel bij {seen[municipality.code]}"
                        f" als bij {org.code}"
                    )
                seen[municipality.code] = org.code
        codes = [org.code for org in self.organisations]
        if len(set(codes)) != len(codes):
            raise ValueError("de codes van de organisaties moeten uniek zijn")
        return self

    @cached_property
    def municipality_codes(self) -> frozenset[str]:
        return frozenset(m.code for org in self.organisations for m in org.municipalities)

    @cached_property
    def organisation_of(self) -> dict[str, Organisation]:
        return {m.code: org for org in self.organisations for m in org.municipalities}

    @cached_property
    def municipality_names(self) -> dict[str, str]:
        return {m.code: m.name for org in self.organisations for m in org.municipalities}

    def organisation(self, code: str) -> Organisation | None:
        return next((org for org in self.organisations if org.code == code), None)


class ConfigurationError(Exception):
    """The configuration file cannot be used; the message says where and why."""


def load_organisations(path: Path = DEFAULT_FILE) -> OrganisationsConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: niet te lezen: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: geen geldige YAML: {exc}") from None
    try:
        return OrganisationsConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'bestand'}: {dutch_message(err)}"
            for err in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"{path}: {problems}") from None
