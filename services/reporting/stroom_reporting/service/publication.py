"""The monthly report for publication (`reports:read:public`): small figures suppressed.

Which cells to hide is `domain.disclosure`'s decision over the report's own rows and totals; this
module applies it to the tables the API and the exports serve. In JSON a hidden figure is `null`
and its row names it in `suppressed`; in CSV and XLSX it is `*`, explained by a legend table.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stroom_reporting.domain.disclosure import MEASURES, suppress_monthly
from stroom_reporting.domain.months import parse_month
from stroom_reporting.domain.mutations import MutationRow
from stroom_reporting.service.reports import Report, ReportTable

MARKER = "*"
MONTHLY_TABLES = frozenset(
    {
        "rows",
        "period_totals",
        "municipality_totals",
        "regulation_totals",
        "organisation_totals",
        "organisation_period_totals",
    }
)


def legend(threshold: int) -> str:
    return (
        f"{MARKER} = niet gepubliceerd: een aantal kleiner dan {threshold}, of een aantal waaruit"
        " zo'n klein aantal met de andere cijfers van de tabel te berekenen zou zijn."
    )


def _mutation_row(row: dict[str, Any]) -> MutationRow:
    month = 0 if row["month"] == "totaal" else parse_month(row["month"])
    return MutationRow(
        row["municipality"],
        row["regulation"],
        row["unit"],
        month,
        row["begin"],
        row["inflow"],
        row["outflow"],
        row["end"],
    )


def publish_monthly(report: Report, threshold: int, marker: str | None) -> Report:
    """The report with every figure the public may not see replaced by `marker` (None in JSON)."""
    tables = [t for t in report.tables if t.name in MONTHLY_TABLES]
    hidden = suppress_monthly([_mutation_row(row) for t in tables for row in t.rows], threshold)
    published: list[ReportTable] = []
    for table in report.tables:
        if table.name not in MONTHLY_TABLES:
            published.append(table)
            continue
        rows = []
        for row in table.rows:
            key = _mutation_row(row)
            cells = (key.municipality, key.regulation, key.unit, key.month)
            suppressed = [m for m in MEASURES if (*cells, m) in hidden]
            new = {**row, **dict.fromkeys(suppressed, marker)}
            if marker is None:
                new["suppressed"] = suppressed
            rows.append(new)
        if marker is not None:
            # A CSV holds one table: its legend goes with it, as a footnote line.
            rows.append(dict.fromkeys(table.columns, "") | {table.columns[0]: legend(threshold)})
        published.append(replace(table, rows=rows))
    published.append(
        ReportTable("legend", "Legenda", ["legend"], [{"legend": legend(threshold)}], {"legend": "Legenda"})
    )
    return replace(report, tables=published)
