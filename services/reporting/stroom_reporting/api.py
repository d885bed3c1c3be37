"""HTTP API of the reporting service: every report family as JSON, CSV or XLSX; trace; changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from stroom_contract.rows import UNITS
from stroom_platform.audit import record
from stroom_platform.auth import (
    REPORTS_READ,
    REPORTS_READ_DETAIL,
    REPORTS_READ_PUBLIC,
    Access,
    DetailReader,
    Principal,
    insufficient_scope,
    principal_of,
    require_scope,
)
from stroom_platform.pagination import PageRequest, page_request, paginate
from stroom_platform.params import FIRST_YEAR, LAST_YEAR, checked_day, checked_moment
from stroom_platform.problems import Problem
from stroom_reporting import queries
from stroom_reporting.domain import board as board_layout
from stroom_reporting.domain.months import (
    format_month,
    last_day,
    month_of,
    month_range,
    parse_month,
    parse_period,
    previous_month,
    quarter_of,
)
from stroom_reporting.runtime import ReportingRuntime
from stroom_reporting.schemas import DOWNLOADS, Changes, OrganisationEntry, ReportDocument, Trace
from stroom_reporting.service import exports, reports
from stroom_reporting.service import publication as publication_rules
from stroom_reporting.service.answers import Answer
from stroom_reporting.service.kpis import TRACEABLE, kpi_trace, kpis_report

router = APIRouter(prefix="/v1", tags=["reports"])
# Page sizes: the most refs behind one figure and restated months one answer holds.
MAX_TRACE_PAGE = 5000
MAX_CHANGES_PAGE = 2000
# Ten years of months: a board report's longest horizon, and a bounded answer.
MAX_PERIOD_MONTHS = 120


# The dependencies are coroutines although none waits: FastAPI runs a plain `def` dependency on a
# worker thread, one thread hop per parameter of every request.
async def runtime(request: Request) -> ReportingRuntime:
    value: ReportingRuntime = request.app.state.runtime
    return value


# What a `reports:read:public` caller may ask: the published monthly figures and the organisation
# picker. Every other route needs `reports:read`, also one added later.
PUBLISHED_PATHS = frozenset({"/v1/reports/monthly", "/v1/organisations"})


async def access(
    request: Request, reader: Annotated[Principal, Depends(require_scope(REPORTS_READ, REPORTS_READ_PUBLIC))]
) -> Access:
    if REPORTS_READ not in reader.scopes and request.url.path not in PUBLISHED_PATHS:
        raise insufficient_scope(REPORTS_READ)
    return reader.access


async def detail_access(reader: DetailReader) -> Access:
    return reader.access


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with (await runtime(request)).reads.connect() as conn:
        yield conn


Runtime = Annotated[ReportingRuntime, Depends(runtime)]
Caller = Annotated[Access, Depends(access)]
DetailCaller = Annotated[Access, Depends(detail_access)]
Conn = Annotated[AsyncConnection, Depends(connection)]
OrganisationParam = Annotated[
    str | None, Query(description="Code van de organisatie, bv. werksaam-westfriesland")
]
MunicipalityParam = Annotated[
    list[str] | None, Query(description="CBS-code(s) GMnnnn; standaard alle zichtbare")
]
FromParam = Annotated[str | None, Query(alias="from", description="Eerste maand JJJJ-MM")]
ToParam = Annotated[str | None, Query(alias="to", description="Laatste maand JJJJ-MM")]
NamedPeriodParam = Annotated[
    str | None,
    Query(description="Een benoemde periode in plaats van from/to: 2025, 2025-H1, 2025-Q2, 2025-06"),
]
AsOfParam = Annotated[
    datetime | None,
    Query(alias="asOf", description="RFC 3339: de cijfers zoals toen bekend (events met time <= asOf)"),
]
FormatParam = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv of xlsx")]
TableParam = Annotated[str | None, Query(description="Welke tabel een CSV bevat; standaard de eerste")]
StockDateParam = Annotated[date | None, Query(alias="stockDate", description="Peildatum; standaard vandaag")]


async def resolve_scope(
    rt: Runtime,
    caller: Caller,
    organisation: OrganisationParam = None,
    municipality: MunicipalityParam = None,
) -> reports.Scope:
    orgs = rt.organisations
    requested = list(dict.fromkeys(municipality or []))
    unknown = [m for m in requested if m not in orgs.municipality_codes]
    if unknown:
        raise Problem(
            400, "unknown-municipality", "Onbekende gemeente", f"Niet geconfigureerd: {', '.join(unknown)}."
        )
    if organisation is not None:
        org = orgs.organisation(organisation)
        if org is None:
            raise Problem(
                400, "unknown-organisation", "Onbekende organisatie", f"Geen organisatie {organisation!r}."
            )
    elif requested:
        org = orgs.organisation_of[requested[0]]
    else:
        visible = [o for o in orgs.organisations if any(caller.allows(m.code) for m in o.municipalities)]
        if not visible:
            raise Problem(403, "forbidden-municipality", "Geen toegang tot een gemeente")
        org = visible[0]
    own = [m.code for m in org.municipalities]
    outside = [m for m in requested if m not in own]
    if outside:
        raise Problem(
            400,
            "municipality-outside-organisation",
            "Gemeente buiten de organisatie",
            f"{', '.join(outside)} hoort niet bij {org.code}.",
        )
    if requested:
        chosen = caller.restrict(requested)
    else:
        chosen = [m for m in own if caller.allows(m)]
        if not chosen:
            caller.restrict(own)
    return reports.Scope(org, chosen, orgs.municipality_names)


async def resolve_period(
    first: FromParam = None, last: ToParam = None, period: NamedPeriodParam = None
) -> tuple[int, int]:
    if period is not None:
        if first or last:
            raise Problem(
                400,
                "period-and-range",
                "Periode dubbel opgegeven",
                "Geef óf period óf from/to op, niet beide.",
            )
        try:
            first_month, last_month = parse_period(period)
        except ValueError:
            raise Problem(
                400,
                "invalid-period-name",
                "Onbekende periode",
                f"{period!r} is geen periode; gebruik bijvoorbeeld 2025, 2025-H1, 2025-Q2 of 2025-06.",
            ) from None
    else:
        try:
            last_month = parse_month(last) if last else month_of(date.today())
            first_month = parse_month(first) if first else (last_month // 100) * 100 + 1
        except ValueError:
            shown = ", ".join(
                f"{name} is {value!r}" for name, value in (("from", first), ("to", last)) if value
            )
            raise Problem(
                400,
                "invalid-month",
                "Ongeldige maand",
                f"Een maand is JJJJ-MM, bijvoorbeeld 2025-03; {shown}.",
            ) from None
    if not FIRST_YEAR * 100 < first_month <= last_month < (LAST_YEAR + 1) * 100:
        if first_month > last_month:
            raise Problem(400, "invalid-period", "Ongeldige periode", "`from` ligt na `to`.")
        raise Problem(
            400,
            "invalid-month",
            "Ongeldige maand",
            f"Maanden liggen in de jaren {FIRST_YEAR} tot en met {LAST_YEAR}.",
        )
    months = (last_month // 100 - first_month // 100) * 12 + last_month % 100 - first_month % 100 + 1
    if months > MAX_PERIOD_MONTHS:
        raise Problem(
            400,
            "period-too-long",
            "Periode te lang",
            f"Een rapport beslaat hoogstens {MAX_PERIOD_MONTHS} maanden; vraag een kortere periode op.",
        )
    return first_month, last_month


async def resolve_as_of(as_of: AsOfParam = None) -> datetime | None:
    return checked_moment("asOf", as_of)


@dataclass(frozen=True)
class Output:
    format: str
    table: str | None


async def output(format: FormatParam = "json", table: TableParam = None) -> Output:
    return Output(format, table)


def respond(report: reports.Report, out: Output) -> Response:
    return AnswerResponse(answer_of(report, out), None)


class AnswerResponse(Response):
    """A 200 response of an answer's body and headers as it built them (Answer.sent)."""

    def __init__(self, answer: Answer, accept_encoding: str | None) -> None:
        # Not Response's own __init__: it would build the headers again.
        self.status_code = 200
        self.background = None
        body, headers = answer.sent(accept_encoding)
        self.body = body
        # A list of its own: a middleware may change the headers of the response it passes on.
        self.raw_headers = list(headers)


def answer_of(report: reports.Report, out: Output) -> Answer:
    if out.format == "json":
        # orjson straight to bytes: FastAPI's generic encoder walks every row and cell in Python.
        return Answer(orjson.dumps(report.document()), "application/json")
    stamp = "_".join(report.period.values())
    filename = f"stroom_{report.family}_{report.scope.organisation.code}_{stamp}"
    if out.format == "xlsx":
        disposition = f'attachment; filename="{filename}.xlsx"'
        return Answer(exports.to_xlsx(report), exports.XLSX_MEDIA, (("content-disposition", disposition),))
    chosen = next((t for t in report.tables if out.table in (None, t.name)), None)
    if chosen is None:
        names = ", ".join(t.name for t in report.tables)
        raise Problem(400, "unknown-table", "Onbekende tabel", f"Kies een van: {names}.")
    disposition = f'attachment; filename="{filename}_{chosen.name}.csv"'
    return Answer(
        exports.to_csv(chosen).encode(), "text/csv; charset=utf-8", (("content-disposition", disposition),)
    )


def answer_key(request: Request, principal: Principal) -> Hashable:
    """A kept answer's key: the route, every query parameter as given, what the caller may read
    (its scopes and municipalities: with the parameters they decide the report's scope and
    whether it is published figures only), and the day a report without `asOf` speaks of (today in
    UTC, for the monthly report and K5 alike). An answer depends on nothing else but the read
    models' generation. The path and the query string are read as the request's scope holds them:
    a kept answer is found without building the request's URL or parsing its query."""
    return (
        request.scope["path"],
        request.scope["query_string"],
        principal.scopes,
        principal.municipalities,
        reports.report_date(None),
    )


# The routes whose answers are kept (service.answers), by the path a request asks.
KEPT_PATHS = frozenset({"/v1/reports/monthly", "/v1/reports/kpis"})


class KeptAnswers:
    """ASGI middleware inside the rate limit and the security headers (service_app's `inner`): a
    GET of a route whose answers are kept, asked before by a caller with the same scopes and
    municipalities and answered under the generation that stands now, gets that answer here,
    before the router matches its route and solves its parameters: those were most of the time
    a kept answer took. A request refused there would not have been answered and kept. Any other
    request goes on to its route, with the generation read here."""

    def __init__(self, app: ASGIApp, runtime: ReportingRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def read_generation(self) -> int:
        async with self.runtime.reads.connect() as conn:
            return await queries.generation(conn)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answers = self.runtime.answers
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] not in KEPT_PATHS
            or not answers.size
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            principal = await principal_of(request)
            generation, answer = await answers.kept(answer_key(request, principal), self.read_generation)
        except Exception:
            # The route authenticates and reads again, and refuses or reports a failure as
            # problem details (this middleware sits outside their handlers).
            await self.app(scope, receive, send)
            return
        if answer is None:
            request.state.generation = generation
            await self.app(scope, receive, send)
            return
        await AnswerResponse(answer, request.headers.get("accept-encoding"))(scope, receive, send)


async def served(
    request: Request, conn: AsyncConnection, compute: Callable[[], Awaitable[Answer]]
) -> Response:
    """The answer of a route in KEPT_PATHS: computed, and kept while its generation stands."""
    rt: ReportingRuntime = request.app.state.runtime

    def key() -> Hashable:
        return answer_key(request, request.state.principal)

    answer = await rt.answers.serve(conn, key, compute, getattr(request.state, "generation", None))
    return AnswerResponse(answer, request.headers.get("accept-encoding"))


async def units(
    unit: Annotated[str | None, Query(description="benefits of persons; standaard beide")] = None,
) -> tuple[str, ...]:
    if unit is None:
        return UNITS
    if unit not in UNITS:
        raise Problem(400, "invalid-unit", "Ongeldige eenheid", "unit is benefits of persons.")
    return (unit,)


async def regulations(regulation: Annotated[list[str] | None, Query()] = None) -> tuple[str, ...]:
    wrong = [r for r in regulation or [] if r not in reports.REGULATIONS]
    if wrong:
        raise Problem(400, "invalid-regulation", "Onbekende regeling", f"Onbekend: {', '.join(wrong)}.")
    # A repeated value asks for the same figures once: listed twice, they were counted twice.
    return tuple(dict.fromkeys(regulation)) if regulation else reports.REGULATIONS


async def stock_date(stock_date: StockDateParam = None) -> date:
    return checked_day("stockDate", stock_date) or date.today()


async def quarters(
    quarter: Annotated[str | None, Query(description="Een maand van het kwartaal, JJJJ-MM")] = None,
    period: NamedPeriodParam = None,
    first: FromParam = None,
    last: ToParam = None,
) -> list[int]:
    """The quarter of `quarter`, or every quarter of a named period or of the months from..to;
    default this quarter."""
    if period is not None or first or last:
        if quarter and (first or last):
            raise Problem(
                400,
                "quarter-and-range",
                "Kwartaal dubbel opgegeven",
                "Geef óf quarter óf from/to op, niet beide.",
            )
        first_month, last_month = await resolve_period(quarter or first, last, period)
        return sorted({quarter_of(m) for m in month_range(first_month, last_month)})
    return [quarter_of((await resolve_period(quarter, quarter))[0] if quarter else month_of(date.today()))]


# The query parameters every report shares, resolved (and validated) once, in the order they
# appear in the OpenAPI document.
ScopeDep = Annotated[reports.Scope, Depends(resolve_scope)]
Period = Annotated[tuple[int, int], Depends(resolve_period)]
AsOf = Annotated[datetime | None, Depends(resolve_as_of)]
Out = Annotated[Output, Depends(output)]
Regulations = Annotated[tuple[str, ...], Depends(regulations)]
Units = Annotated[tuple[str, ...], Depends(units)]
StockDate = Annotated[date, Depends(stock_date)]
Quarters = Annotated[list[int], Depends(quarters)]


@router.get("/organisations", response_model=list[OrganisationEntry])
async def organisations(rt: Runtime, caller: Caller) -> list[dict[str, Any]]:
    """De organisaties en gemeenten die deze aanroeper mag lezen (voor keuzelijsten)."""
    result = []
    for org in rt.organisations.organisations:
        visible = [{"code": m.code, "name": m.name} for m in org.municipalities if caller.allows(m.code)]
        if visible:
            result.append({"code": org.code, "name": org.name, "municipalities": visible})
    return result


async def publication(request: Request) -> bool:
    """True for a reader who may see published figures only (`reports:read:public`)."""
    scopes: frozenset[str] = getattr(getattr(request.state, "principal", None), "scopes", frozenset())
    return REPORTS_READ_PUBLIC in scopes and REPORTS_READ not in scopes


Public = Annotated[bool, Depends(publication)]


def published_shape(request: Request, scope: reports.Scope, period: tuple[int, int]) -> None:
    """Published tables have one shape: the whole organisation, every regulation, the months of
    one calendar year, as known now. Other cuts would let two answers be subtracted from each
    other (a subset of municipalities from the whole, one period from a longer one)."""
    narrowed = [
        name for name in ("municipality", "regulation", "as_of", "asOf") if name in request.query_params
    ]
    if narrowed:
        raise Problem(
            400,
            "not-published",
            "Niet gepubliceerd",
            f"Gepubliceerde cijfers zijn er alleen voor de hele organisatie, alle regelingen en de"
            f" actuele stand; laat {', '.join(narrowed)} weg.",
        )
    first, last = period
    if first % 100 != 1 or last // 100 != first // 100:
        raise Problem(
            400,
            "not-published",
            "Niet gepubliceerd",
            "Gepubliceerde cijfers beslaan één kalenderjaar: from is januari, to valt in hetzelfde jaar.",
        )
    whole = [m.code for m in scope.organisation.municipalities]
    if scope.municipalities != whole:
        raise Problem(
            403,
            "forbidden-municipality",
            "Geen toegang tot de hele organisatie",
            "Gepubliceerde cijfers zijn er alleen voor een hele organisatie.",
        )


@router.get("/reports/monthly", response_model=ReportDocument, responses=DOWNLOADS)
async def monthly(
    request: Request,
    rt: Runtime,
    conn: Conn,
    scope: ScopeDep,
    regulation: Regulations,
    unit: Units,
    period: Period,
    as_of: AsOf,
    out: Out,
    public: Public,
) -> Any:
    """Rapport 1: begin, instroom, uitstroom en eind per maand, met totalen over de periode en
    de organisatie.

    Met alleen `reports:read:public`: de cijfers voor publicatie, elk cijfer onder de drempel
    onderdrukt met elk cijfer waaruit het terug te rekenen is (JSON `null` en `suppressed` van de
    rij, CSV/XLSX `*` met een legenda)."""
    if public:
        published_shape(request, scope, period)

    async def compute() -> Answer:
        report = await reports.monthly(conn, scope, regulation, unit, *period, as_of)
        if public:
            marker = None if out.format == "json" else publication_rules.MARKER
            report = publication_rules.publish_monthly(report, rt.disclosure_threshold, marker)
        return answer_of(report, out)

    return await served(request, conn, compute)


@router.get("/reports/board", response_model=ReportDocument, responses=DOWNLOADS)
async def board(conn: Conn, scope: ScopeDep, period: Period, as_of: AsOf, out: Out) -> Any:
    """De bestuursrapportage: per gemeente de maanden als kolommen voor uitkeringen en
    personen, loonkostensubsidie en beschut werk; per regeling het aantal uitkeringen.
    `format=xlsx` geeft de werkmap zoals besturen hem afdrukken; hoogstens 12 maanden."""
    first, last = period
    if len(month_range(first, last)) > board_layout.MAX_MONTHS:
        raise Problem(
            400,
            "period-too-long",
            "Periode te lang",
            f"De bestuursrapportage beslaat hoogstens {board_layout.MAX_MONTHS} maanden.",
        )
    return respond(await reports.board(conn, scope, first, last, as_of), out)


@router.get("/reports/monthly/trace", response_model=Trace)
async def monthly_trace(
    request: Request,
    rt: Runtime,
    caller: DetailCaller,
    conn: Conn,
    municipality: Annotated[str, Query()],
    regulation: Annotated[str, Query()],
    unit: Annotated[str, Query()],
    month: Annotated[str, Query()],
    measure: Annotated[Literal["begin", "inflow", "outflow", "end"], Query()],
    as_of: AsOf,
    response: Response,
    wanted: Annotated[PageRequest, Depends(page_request(MAX_TRACE_PAGE))],
) -> dict[str, Any]:
    """De pseudonieme benefit-refs (en, voor personen, client-refs) achter één cijfer, in
    pagina's van hoogstens 5.000 (`page`, `pageSize`; `count` telt ze allemaal)."""
    await resolve_scope(rt, caller, None, [municipality])
    (the_month, _) = await resolve_period(month, month)
    stock_day = last_day(previous_month(the_month) if measure == "begin" else the_month)
    rows = await queries.trace(
        conn,
        municipality,
        (await regulations([regulation]))[0],
        (await units(unit))[0],
        measure,
        the_month,
        stock_day,
        as_of,
    )
    every = [
        {"benefit_ref": r.entity, "client_ref": r.client_ref if unit == "persons" else None} for r in rows
    ]
    refs, links = paginate(every, request, response, wanted)
    answer = {
        "municipality": municipality,
        "regulation": regulation,
        "unit": unit,
        "month": format_month(the_month),
        "measure": measure,
        "count": len(every),
        "refs": refs,
        "_links": links,
    }
    # Recorded before it is shown: a read that cannot be accounted for is not answered.
    await record(
        request,
        "detail-inzage",
        f"monthly/trace {municipality} {regulation} {unit} {format_month(the_month)} {measure}",
        "getoond",
        {"refs": [r["client_ref"] or r["benefit_ref"] for r in refs]},
    )
    return answer


@router.get("/reports/kpis/trace", dependencies=[Depends(require_scope(REPORTS_READ_DETAIL))])
async def kpis_trace(
    request: Request,
    conn: Conn,
    scope: ScopeDep,
    kpi: Annotated[str, Query(description="K1, K2, K3, K4, K5, inflow_rate of outflow_rate")],
    period: Period,
    as_of: AsOf,
) -> dict[str, Any]:
    """De pseudonieme refs achter de teller en de noemer van een KPI, voor één gemeente of het
    totaal over de gevraagde; daaruit opnieuw berekend geven ze de waarde van de KPI."""
    if kpi not in TRACEABLE:
        raise Problem(
            400,
            "kpi-not-traceable",
            "KPI niet herleidbaar",
            f"Herleidbaar zijn: {', '.join(TRACEABLE)}.",
        )
    answer = await kpi_trace(conn, scope, kpi, *period, as_of)
    shown = [
        r
        for part in (answer["numerator"], answer["denominator"], answer.get("pending", {}))
        for listed in (part, *part.get("month_ends", []))
        for r in listed.get("refs", [])
    ]
    await record(
        request,
        "detail-inzage",
        f"kpis/trace {kpi} {' '.join(scope.municipalities)} {answer['period']}",
        "getoond",
        {"refs": sorted({r["client_ref"] or r["benefit_ref"] for r in shown})},
    )
    return answer


@router.get("/reports/monthly/changes", response_model=Changes)
async def monthly_changes(
    request: Request,
    response: Response,
    conn: Conn,
    since: Annotated[datetime, Query(description="RFC 3339")],
    scope: ScopeDep,
    wanted: Annotated[PageRequest, Depends(page_request(MAX_CHANGES_PAGE))],
) -> dict[str, Any]:
    """Maanden waarvan de instroom of uitstroom na `since` (de klok van de dienst) is herzien;
    begin en eind van elke latere maand volgen daaruit. Elke maand draagt haar status van
    vandaag; een definitieve maand die daarna is herzien is een revisie, met voor en na."""
    checked_moment("since", since)
    changed, links = paginate(await reports.changes(conn, scope, since), request, response, wanted)
    return {"since": since.isoformat(), "changes": changed, "_links": links}


@router.get("/reports/reasons", response_model=ReportDocument, responses=DOWNLOADS)
async def reasons(conn: Conn, scope: ScopeDep, period: Period, as_of: AsOf, out: Out) -> Any:
    """Rapport 2: redenen van instroom en uitstroom in de periode, en de top 5 per gemeente."""
    return respond(await reports.reasons(conn, scope, *period, as_of), out)


@router.get("/reports/composition", response_model=ReportDocument, responses=DOWNLOADS)
async def composition(conn: Conn, scope: ScopeDep, day: StockDate, as_of: AsOf, out: Out) -> Any:
    """Rapport 3: het klantenbestand op een peildatum naar regeling, duur, leeftijd, huishouden, ladder."""
    return respond(await reports.composition(conn, scope, day, as_of), out)


@router.get("/reports/placements", response_model=ReportDocument, responses=DOWNLOADS)
async def placements(conn: Conn, scope: ScopeDep, period: Period, as_of: AsOf, out: Out) -> Any:
    """Rapport 4: plaatsingen per soort op maandeinden; beschut werk tegen de taakstelling."""
    return respond(await reports.placements(conn, scope, *period, as_of), out)


@router.get("/reports/trajectories", response_model=ReportDocument, responses=DOWNLOADS)
async def trajectories(conn: Conn, scope: ScopeDep, the_quarters: Quarters, as_of: AsOf, out: Out) -> Any:
    """Rapport 5: trajecten per fase in een kwartaal (of elk kwartaal van een benoemde periode),
    en de beëindigde naar laatste fase x uitkomst."""
    return respond(await reports.trajectories(conn, scope, the_quarters, as_of), out)


@router.get("/reports/caseload", response_model=ReportDocument, responses=DOWNLOADS)
async def caseload(conn: Conn, scope: ScopeDep, day: StockDate, as_of: AsOf, out: Out) -> Any:
    """Rapport 6: actieve klanten per klantmanager op een peildatum, naar klantstroom."""
    return respond(await reports.caseload(conn, scope, day, as_of), out)


@router.get("/reports/gate", response_model=ReportDocument, responses=DOWNLOADS)
async def gate(conn: Conn, scope: ScopeDep, period: Period, as_of: AsOf, out: Out) -> Any:
    """Rapport 7: aanvragen ontvangen, toegekend, afgewezen, ingetrokken; aandeel niet toegekend."""
    return respond(await reports.gate(conn, scope, *period, as_of), out)


@router.get("/reports/kpis", response_model=ReportDocument, responses=DOWNLOADS)
async def kpis(request: Request, conn: Conn, scope: ScopeDep, period: Period, as_of: AsOf, out: Out) -> Any:
    """Rapport 8: K1-K5 en de benchmarkpercentages met de waarde van vorig jaar, de norm en of
    die gehaald is, en de draaideur; per gemeente en voor de organisatie."""

    async def compute() -> Answer:
        return answer_of(await kpis_report(conn, scope, *period, as_of), out)

    return await served(request, conn, compute)
