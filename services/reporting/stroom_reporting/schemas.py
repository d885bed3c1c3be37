"""What the reporting API answers, as documented in its OpenAPI document (for generated clients)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from stroom_platform.pagination import PageLinks
from stroom_reporting.service.exports import XLSX_MEDIA


class Named(BaseModel):
    code: str
    name: str


class OrganisationEntry(BaseModel):
    code: str
    name: str
    municipalities: list[Named] = Field(description="Alleen de gemeenten die deze aanroeper mag zien.")


class ReportTableDocument(BaseModel):
    title: str
    columns: list[str] = Field(description="De kolommen van elke rij, in volgorde.")
    rows: list[dict[str, Any]]
    headings: dict[str, str] | None = Field(
        default=None, description="Koppen van kolommen die alleen deze tabel heeft (maanden als kolommen)."
    )


class ReportDocument(BaseModel):
    """Elke rapportfamilie als JSON: haar tabellen, met Nederlandse kopjes per kolom."""

    report: str
    title: str
    organisation: Named
    municipalities: list[Named]
    period: dict[str, str] = Field(description="`from`/`to` (YYYY-MM), `quarter` of `stock_date`.")
    as_of: str | None = Field(description="De cijfers zoals bekend op dit moment; null: nu.")
    headings: dict[str, str]
    tables: dict[str, ReportTableDocument]


# The same report as a download, with `format=csv` (one table) or `format=xlsx`.
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}


class TracedRef(BaseModel):
    benefit_ref: str
    client_ref: str | None


class Trace(BaseModel):
    """De gepseudonimiseerde refs achter één cijfer van rapport 1."""

    municipality: str
    regulation: str
    unit: str
    month: str
    measure: str
    count: int = Field(description="Alle refs achter het cijfer, over alle pagina's.")
    refs: list[TracedRef]
    links: PageLinks | None = Field(default=None, alias="_links")


class Figures(BaseModel):
    begin: int
    inflow: int
    outflow: int
    end: int


class Change(BaseModel):
    municipality: str
    regulation: str
    unit: str
    month: str
    changed_at: str
    status: Literal["voorlopig", "nader voorlopig", "definitief"] = Field(
        description="Hoe definitief de maand nu is (zoals CBS publiceert)."
    )
    revision: bool = Field(description="Gewijzigd nadat de maand definitief werd.")
    before: Figures | None = Field(default=None, description="Bij een herziening: de cijfers toen.")
    after: Figures | None = Field(default=None, description="Bij een herziening: de cijfers nu.")


class Changes(BaseModel):
    since: str
    changes: list[Change]
    links: PageLinks | None = Field(default=None, alias="_links")
