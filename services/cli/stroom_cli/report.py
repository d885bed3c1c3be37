"""`stroom report <family>`: every report family in the terminal, as CSV (totals included) or XLSX.

Reads the reporting database directly (DATABASE_URL / STROOM_DATA_DIR as the service does),
so it needs database access, not an API token: an operator's and analyst's tool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_cli.progress import dutch_number
from stroom_cli.runtime import ConfigurationError, load_settings
from stroom_cli.terminal import show_table
from stroom_reporting import commands as reporting
from stroom_reporting.settings import ReportingSettings

app = typer.Typer(no_args_is_help=True)
R = TypeVar("R")


@app.callback()
def report() -> None:
    """Rapportages uit de rapportagedatabase."""


def reporting_settings() -> ReportingSettings:
    """The reporting database's settings, refusing in one line when there is no database to read."""
    settings = load_settings(ReportingSettings)
    database = settings.data_dir / "reporting.db"
    if settings.database_url is None and not database.exists():
        ConfigurationError(
            f"geen rapportagedatabase in {database}: start eerst `stroom demo` of `stroom serve`, "
            "of wijs de gegevens aan met STROOM_DATA_DIR of DATABASE_URL"
        ).exit()
    return settings


async def _report(
    organisation: str,
    municipality: str | None,
    make: Callable[[AsyncConnection, reporting.Scope], Awaitable[R]],
) -> R:
    try:
        return await reporting.report(reporting_settings(), organisation, municipality, make)
    except reporting.UnknownScope as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None


async def _monthly(
    organisation: str, municipality: str | None, unit: str, first: int, last: int, as_of: datetime | None
) -> reporting.Report:
    return await _report(
        organisation,
        municipality,
        lambda conn, scope: reporting.monthly(
            conn, scope, reporting.REGULATIONS, (unit,), first, last, as_of
        ),
    )


async def print_monthly(
    console: Console,
    organisation: str,
    municipality: str | None,
    unit: str,
    first: int,
    last: int,
    as_of: datetime | None,
) -> reporting.Report:
    """Prints the monthly table per municipality and for the organisation; returns the report."""
    report = await _monthly(organisation, municipality, unit, first, last, as_of)
    tables = {t.name: t for t in report.tables}
    known = f"stand per {as_of.isoformat()}" if as_of else "actuele stand"
    unit_label = reporting.LABELS["unit"][unit]
    table = Table(title=f"{report.title} · {report.scope.organisation.name} · {unit_label} · {known}")
    for heading in ("Maand", "Gemeente", "Begin", "Instroom", "Uitstroom", "Eind"):
        table.add_column(heading, justify="left" if heading in ("Maand", "Gemeente") else "right")
    sections = [tables["municipality_totals"].rows, tables["organisation_totals"].rows]
    if municipality:
        sections = sections[:1]
    for rows in sections:
        for row in sorted(
            rows, key=lambda r: (r["municipality_name"] == "Totaal", r["municipality_name"], r["month"])
        ):
            table.add_row(
                row["month"],
                row["municipality_name"],
                *(cell(row[k]) for k in ("begin", "inflow", "outflow", "end")),
            )
        table.add_section()
    console.print(table)
    return report


def _period(first: str, last: str, as_of: datetime | None) -> tuple[int, int]:
    try:
        first_month, last_month = reporting.parse_month(first), reporting.parse_month(last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if first_month > last_month:
        raise typer.BadParameter("--from ligt na --to")
    if as_of is not None and as_of.tzinfo is None:
        raise typer.BadParameter("vraagt een tijdzone (bijvoorbeeld +01:00)", param_hint="--as-of")
    return first_month, last_month


@app.command("monthly")
def monthly(
    organisation: Annotated[str, typer.Option(help="Code van de organisatie, bv. werksaam-westfriesland")],
    first: Annotated[str, typer.Option("--from", help="Eerste maand JJJJ-MM")],
    last: Annotated[str, typer.Option("--to", help="Laatste maand JJJJ-MM")],
    municipality: Annotated[str | None, typer.Option(help="Eén gemeente GMnnnn")] = None,
    unit: Annotated[str, typer.Option(help="benefits (uitkeringen) of persons (personen)")] = "benefits",
    as_of: Annotated[datetime | None, typer.Option(help="RFC 3339: de cijfers zoals toen bekend")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Schrijf de rijen ook als CSV")] = None,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Schrijf ook de werkmap van de bestuursrapportage")
    ] = None,
) -> None:
    """Begin, instroom, uitstroom en eind per maand en gemeente (alle regelingen samen)."""
    first_month, last_month = _period(first, last, as_of)
    if unit not in ("benefits", "persons"):
        raise typer.BadParameter("benefits of persons", param_hint="--unit")
    report = asyncio.run(
        print_monthly(Console(), organisation, municipality, unit, first_month, last_month, as_of)
    )
    if csv is not None:
        write_csv(report, csv)
    if xlsx is not None:
        xlsx.write_bytes(reporting.to_xlsx(report))


@app.command("board")
def board(
    organisation: Annotated[str, typer.Option(help="Code van de organisatie, bv. werksaam-westfriesland")],
    first: Annotated[str, typer.Option("--from", help="Eerste maand JJJJ-MM")],
    last: Annotated[str, typer.Option("--to", help="Laatste maand JJJJ-MM (hoogstens 12 maanden)")],
    out: Annotated[Path, typer.Option("--out", help="De werkmap om te schrijven (.xlsx)")],
    municipality: Annotated[str | None, typer.Option(help="Eén gemeente GMnnnn")] = None,
    as_of: Annotated[datetime | None, typer.Option(help="RFC 3339: de cijfers zoals toen bekend")] = None,
) -> None:
    """De bestuursrapportage als werkmap: per gemeente en regeling de uitkeringen per maand."""
    first_month, last_month = _period(first, last, as_of)
    if len(reporting.month_range(first_month, last_month)) > reporting.MAX_MONTHS:
        raise typer.BadParameter(f"hoogstens {reporting.MAX_MONTHS} maanden", param_hint="--to")
    report = asyncio.run(
        _report(
            organisation,
            municipality,
            lambda conn, scope: reporting.board(conn, scope, first_month, last_month, as_of),
        )
    )
    out.write_bytes(reporting.to_xlsx(report))
    sheets = len(report.scope.municipalities)
    Console().print(f"{out}: {sheets} gemeenten, {reporting.period_label(first_month, last_month)}")


def print_report(console: Console, report: reporting.Report) -> None:
    """Every table of a report in the terminal, with the headings the exports use."""
    known = f"stand per {report.as_of.isoformat()}" if report.as_of else "actuele stand"
    period = " t/m ".join(report.period.values())
    console.print(f"[bold]{report.title}[/] · {report.scope.organisation.name} · {period} · {known}")
    for part in report.tables:
        columns, same = read_columns(part.columns, part.rows)
        title = " · ".join([part.title, *(f"{part.heading(c)}: {value}" for c, value in same.items())])
        headings = [
            (part.heading(c), any(isinstance(row.get(c), int | float) for row in part.rows)) for c in columns
        ]
        show_table(console, title, headings, [[cell(row.get(c)) for c in columns] for row in part.rows])


def read_columns(columns: list[str], rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """The columns a person reads, and the values said once for the whole table. A code is left
    out where its Dutch label or name stands beside it (`reason` beside `reason_label`); a column
    with one value in every row is said once, beside the title, or not at all when it is empty.
    The exports keep every column for the analysts who filter on them."""
    labelled = [c for c in columns if f"{c}_label" not in columns and f"{c}_name" not in columns]
    values = {c: {cell(row.get(c)) for row in rows} for c in labelled}
    same = {c: next(iter(v)) for c, v in values.items() if len(rows) > 1 and len(v) == 1}
    return [c for c in labelled if c not in same], {c: v for c, v in same.items() if v}


def cell(value: object) -> str:
    """A value as a Dutch reader reads it: thousands set apart with a point and a decimal comma
    (1.261,7), yes and no in words, nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int | float):
        return dutch_number(value)
    return str(value)


def write_csv(report: reporting.Report, target: Path) -> list[Path]:
    """The report as CSV, totals included: the tables that share the first table's columns go
    into `target` one after the other, a column saying which table a row is of; any table
    with columns of its own goes into a file beside it (`<name>_<table>.csv`)."""
    first = report.tables[0]
    same = [t for t in report.tables if t.columns == first.columns]
    combined = reporting.ReportTable(
        first.name,
        first.title,
        ["table", *first.columns],
        [{"table": t.title, **row} for t in same for row in t.rows],
        {"table": "Tabel", **first.headings},
    )
    target.write_text(reporting.to_csv(combined), encoding="utf-8")
    written = [target]
    for other in report.tables:
        if other not in same:
            path = target.with_name(f"{target.stem}_{other.name}{target.suffix or '.csv'}")
            path.write_text(reporting.to_csv(other), encoding="utf-8")
            written.append(path)
    return written


def _family(
    organisation: str,
    municipality: str | None,
    make: Callable[[AsyncConnection, reporting.Scope], Awaitable[reporting.Report]],
    csv: Path | None,
    xlsx: Path | None,
) -> None:
    console = Console()
    report = asyncio.run(_report(organisation, municipality, make))
    print_report(console, report)
    written = write_csv(report, csv) if csv is not None else []
    if xlsx is not None:
        xlsx.write_bytes(reporting.to_xlsx(report))
        written.append(xlsx)
    for path in written:
        console.print(f"Geschreven: {path}")


Organisation = Annotated[str, typer.Option(help="Code van de organisatie, bv. werksaam-westfriesland")]
First = Annotated[str, typer.Option("--from", help="Eerste maand JJJJ-MM")]
Last = Annotated[str, typer.Option("--to", help="Laatste maand JJJJ-MM")]
Municipality = Annotated[str | None, typer.Option(help="Eén gemeente GMnnnn")]
AsOf = Annotated[datetime | None, typer.Option(help="RFC 3339: de cijfers zoals toen bekend")]
Csv = Annotated[Path | None, typer.Option("--csv", help="Schrijf de tabellen ook als CSV (met totalen)")]
Xlsx = Annotated[Path | None, typer.Option("--xlsx", help="Schrijf ook de werkmap")]
StockDate = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="Peildatum JJJJ-MM-DD, standaard vandaag"),
]


def _stock_date(day: datetime | None, as_of: datetime | None) -> date:
    if as_of is not None and as_of.tzinfo is None:
        raise typer.BadParameter("vraagt een tijdzone (bijvoorbeeld +01:00)", param_hint="--as-of")
    return day.date() if day else date.today()


PeriodReport = Callable[
    [AsyncConnection, reporting.Scope, int, int, datetime | None], Awaitable[reporting.Report]
]
StockReport = Callable[[AsyncConnection, reporting.Scope, date, datetime | None], Awaitable[reporting.Report]]


def _over_period(name: str, build: PeriodReport, summary: str) -> None:
    """`stroom report <name> --from --to`: a family over a period of months."""

    def command(
        organisation: Organisation,
        first: First,
        last: Last,
        municipality: Municipality = None,
        as_of: AsOf = None,
        csv: Csv = None,
        xlsx: Xlsx = None,
    ) -> None:
        period = _period(first, last, as_of)
        _family(organisation, municipality, lambda c, s: build(c, s, *period, as_of), csv, xlsx)

    command.__doc__ = summary
    app.command(name)(command)


def _on_stock_date(name: str, build: StockReport, summary: str) -> None:
    """`stroom report <name> [--date]`: a family on a stock date."""

    def command(
        organisation: Organisation,
        day: StockDate = None,
        municipality: Municipality = None,
        as_of: AsOf = None,
        csv: Csv = None,
        xlsx: Xlsx = None,
    ) -> None:
        stock = _stock_date(day, as_of)
        _family(organisation, municipality, lambda c, s: build(c, s, stock, as_of), csv, xlsx)

    command.__doc__ = summary
    app.command(name)(command)


_over_period(
    "reasons", reporting.reasons, "Redenen van instroom en uitstroom in de periode, en de top 5 per gemeente."
)
_over_period(
    "placements",
    reporting.placements,
    "Plaatsingen per soort op elk maandeinde; beschut werk tegen de taakstelling.",
)
_over_period(
    "gate",
    reporting.gate,
    "Poortwachter: aanvragen ontvangen, toegekend, afgewezen en ingetrokken per maand.",
)
_over_period(
    "kpis",
    reporting.kpis_report,
    "KPI's K1-K5 over de periode, tegen dezelfde maanden een jaar eerder en de normen.",
)
_on_stock_date(
    "composition",
    reporting.composition,
    "Samenstelling van het bestand op een peildatum (duur, leeftijd, regeling, doelgroep).",
)
_on_stock_date("caseload", reporting.caseload, "Klanten per klantmanager en doelgroep op een peildatum.")


@app.command("trajectories")
def trajectories(
    organisation: Organisation,
    quarter: Annotated[str, typer.Option(help="Een maand van het kwartaal, JJJJ-MM")],
    municipality: Municipality = None,
    as_of: AsOf = None,
    csv: Csv = None,
    xlsx: Xlsx = None,
) -> None:
    """Trajecten per fase in een kwartaal, en de beëindigde naar laatste fase en uitkomst."""
    the_quarter = reporting.quarter_of(_period(quarter, quarter, as_of)[0])
    _family(
        organisation, municipality, lambda c, s: reporting.trajectories(c, s, [the_quarter], as_of), csv, xlsx
    )
