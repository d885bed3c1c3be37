"""Provisional figures: each month's status on the report date, and a late event for a definitive
month listed as a revision with its figures before and after."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from openpyxl import load_workbook

from reporting.changes import History, as_facts
from reporting.histories import MUNICIPALITIES, random_history
from reporting.integration.conftest import EVERYTHING, reporting_app
from stroom_contract.codes import InflowReason, Regulation, Role
from stroom_contract.facts import BenefitState, BenefitVersion, Fact, MemberSpell
from stroom_platform.db import make_engine
from stroom_platform.organisations import load_organisations
from stroom_reporting import queries
from stroom_reporting.repository import apply_facts
from stroom_reporting.service import reports

HOORN = {"municipality": "GM0405", "from": "2024-01", "to": "2024-06"}


def started(ref: str, start: date, recorded: datetime) -> Fact:
    state = BenefitState(
        municipality="GM0405",
        regulation=Regulation.PW,
        start_date=start,
        inflow_reason=InflowReason.EMPLOYMENT_ENDED,
        members=[
            MemberSpell(
                client_ref=f"{ref}-a", role=Role.APPLICANT, birth_date=date(1990, 5, 1), joined_on=start
            )
        ],
    )
    return History(
        entity=f"benefit:src:{ref}",
        revision=1,
        versions=[BenefitVersion(recorded_from=recorded, state=state)],
    )


@pytest.fixture
async def client(reporting_database: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(reporting_database)
    facts = [
        started("early", date(2024, 1, 10), datetime(2024, 1, 15, tzinfo=UTC)),
        # January 2024 is definitive from 2024-07-01 on; this start in January comes in September.
        started("late", date(2024, 1, 20), datetime(2024, 9, 2, tzinfo=UTC)),
        started("june", date(2024, 6, 5), datetime(2024, 6, 10, tzinfo=UTC)),
    ]
    async with engine.begin() as conn:
        await apply_facts(conn, as_facts(facts), datetime.now(UTC))
    await engine.dispose()
    app = reporting_app(reporting_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=EVERYTHING) as c:
        yield c
    await app.state.runtime.engine.dispose()


async def _january(client: httpx.AsyncClient, as_of: str | None) -> dict:
    params = {**HOORN, "regulation": "PW", "unit": "benefits"} | ({"asOf": as_of} if as_of else {})
    response = await client.get("/v1/reports/monthly", params=params)
    assert response.status_code == 200, response.text
    (row,) = [r for r in response.json()["tables"]["rows"]["rows"] if r["month"] == "2024-01"]
    return row


async def test_status_moves_through_the_three_and_a_late_event_is_a_revision(
    client: httpx.AsyncClient,
) -> None:
    seen = {}
    for as_of in ("2024-03-31T12:00:00Z", "2024-04-01T12:00:00Z", "2024-07-01T12:00:00Z", None):
        row = await _january(client, as_of)
        seen[as_of] = (row["status"], row["inflow"], row["revised"])
    assert seen == {
        "2024-03-31T12:00:00Z": ("voorlopig", 1, False),
        "2024-04-01T12:00:00Z": ("nader voorlopig", 1, False),
        "2024-07-01T12:00:00Z": ("definitief", 1, False),
        None: ("definitief", 2, True),
    }

    doc = (await client.get("/v1/reports/monthly", params=HOORN)).json()
    tables = doc["tables"]
    june = [r for r in tables["rows"]["rows"] if r["month"] == "2024-06" and r["unit"] == "benefits"]
    assert {(r["status"], r["revised"]) for r in june} == {("definitief", False)}
    hoorn_january = [
        r
        for r in tables["municipality_totals"]["rows"]
        if r["month"] == "2024-01" and r["unit"] == "benefits"
    ]
    assert [r["revised"] for r in hoorn_january] == [True]
    # February's opening stock moved with January: it is revised too.
    february = [r for r in tables["organisation_totals"]["rows"] if r["month"] == "2024-02"]
    assert {r["revised"] for r in february} == {True}
    period = [
        r for r in tables["period_totals"]["rows"] if r["regulation"] == "PW" and r["unit"] == "benefits"
    ]
    assert [(r["status"], r["revised"]) for r in period] == [("definitief", True)]

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    changes = (await client.get("/v1/reports/monthly/changes", params={**HOORN, "since": since})).json()
    by_key = {(c["month"], c["regulation"], c["unit"]): c for c in changes["changes"]}
    january = by_key[("2024-01", "PW", "benefits")]
    assert january["status"] == "definitief"
    assert january["revision"] is True
    assert january["before"] == {"begin": 0, "inflow": 1, "outflow": 0, "end": 1}
    assert january["after"] == {"begin": 0, "inflow": 2, "outflow": 0, "end": 2}
    assert by_key[("2024-01", "PW", "persons")]["after"]["inflow"] == 2
    june_change = by_key[("2024-06", "PW", "benefits")]
    assert (june_change["status"], june_change["revision"]) == ("definitief", False)
    assert june_change["before"] is None

    csv = await client.get("/v1/reports/monthly", params={**HOORN, "format": "csv"})
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].endswith(";Eind;Status;Herzien na definitief")
    assert any(
        line.startswith("2024-01;GM0405;Hoorn;PW;Participatiewet") and line.endswith(";definitief;ja")
        for line in lines
    )


@pytest.mark.parametrize("as_of", [None, datetime(2024, 5, 1, tzinfo=UTC)])
async def test_revisions_equal_the_figures_then_and_now(
    reporting_database: str, as_of: datetime | None
) -> None:
    """From the versions changed since, the differences are those of the whole report as known
    when each month became definitive and as known now (random histories with corrections)."""
    rng = random.Random(5)
    facts = [random_history(rng, f"benefit:rnd:{i}", 1, 4) for i in range(120)]
    engine = make_engine(reporting_database)
    async with engine.begin() as conn:
        await apply_facts(conn, as_facts(facts), datetime.now(UTC))
    organisations = load_organisations()
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    scope = reports.Scope(org, list(MUNICIPALITIES), organisations.municipality_names)
    statuses = reports.month_statuses(org, 202301, 202406, as_of)
    definitive = [m for m, s in statuses.items() if s == "definitief"]
    assert len(definitive) >= 6
    units = ("benefits", "persons")
    async with engine.connect() as conn:
        got = await reports._revisions(conn, scope, reports.REGULATIONS, units, definitive, as_of)
        expected = {}
        for month in definitive:
            then = reports.definitive_since(org, month)
            then_figures, now_figures = [
                await reports._monthly_figures(
                    conn,
                    queries.FlowsAsked(
                        list(MUNICIPALITIES), reports.REGULATIONS, units, month, month, moment
                    ),
                )
                for moment in (then, as_of)
            ]
            before, after = [
                reports._keyed([*f.rows, *f.municipality, *f.regulation, *f.organisation])
                for f in (then_figures, now_figures)
            ]
            for key, figures in after.items():
                difference = tuple(a - b for a, b in zip(figures, before[key], strict=True))
                if any(difference):
                    expected[key] = difference
    await engine.dispose()
    assert got == expected
    assert len(expected) > 10


async def test_board_workbook_marks_status_and_revisions(client: httpx.AsyncClient) -> None:
    for as_of, expected in (
        ("2024-07-01T12:00:00Z", ["definitief"] + ["nader voorlopig"] * 3 + ["voorlopig"] * 2),
        # Known since 2024-09-02, the late start was not yet in January, February and March when they became
        # definitive (on the first of July, August and September), but it was in April's.
        (None, ["definitief, herzien"] * 3 + ["definitief"] * 3),
    ):
        params = {**HOORN, "format": "xlsx"} | ({"asOf": as_of} if as_of else {})
        response = await client.get("/v1/reports/board", params=params)
        assert response.status_code == 200, response.text
        workbook = load_workbook(io.BytesIO(response.content))
        for sheet in ("Hoorn", "Overzicht aantal uitkeringen"):
            rows = [[c.value for c in row] for row in workbook[sheet].iter_rows()]
            (status,) = [row for row in rows if row[0] == "Status"]
            first = 1 if sheet == "Hoorn" else 2  # the overview's first column is Begin jan
            assert status[first : first + 6] == expected, (as_of, sheet)
        hoorn = workbook["Hoorn"]
        assert hoorn.cell(7, 7).font.i == (as_of is not None)  # June's Beginstand may still change
        assert not hoorn.cell(7, 2).font.i
    doc = (await client.get("/v1/reports/board", params=HOORN)).json()
    revised = {
        (r["municipality"], r["regulation"], r["unit"], r["month"])
        for r in doc["tables"]["revisions"]["rows"]
    }
    assert ("GM0405", "*", "benefits", "2024-01") in revised
    assert ("*", "PW", "persons", "2024-01") in revised
    assert [r["status"] for r in doc["tables"]["status"]["rows"]] == ["definitief"] * 6
