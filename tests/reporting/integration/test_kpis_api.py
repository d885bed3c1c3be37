"""Report 8 over HTTP: KPI figures stated in advance, as_of, downloads and authorisation."""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime

import httpx
from openpyxl import load_workbook

from reporting.integration.conftest import EVERYTHING, HOORN, WHOLE_ORGANISATION, reporting_app
from reporting.samples import T1, application, benefit, record
from stroom_contract.codes import ClientStream, Decision, InflowReason, OutflowReason
from stroom_contract.facts import Assessment, Fact, PlanSent, ProgressReport
from stroom_platform.db import make_engine
from stroom_reporting import kpi_store
from stroom_reporting.repository import apply_facts, restate_kpis
from stroom_reporting.service.kpis import STILL_RESTATING

PERIOD = {"from": "2024-01", "to": "2024-06"}


FACTS = [
    # P(30 June 2024) in Hoorn: b1 only (b2 ended in March, to work).
    benefit("b1", "GM0405", date(2024, 1, 1)),
    benefit("b2", "GM0405", date(2023, 7, 1), date(2024, 3, 1)),
    record(
        "b1-a",
        "src|e1",
        Assessment(
            assessed_on=date(2024, 1, 2),
            ladder_step=3,
            client_stream=ClientStream.MEDIABLE,
            work_obligation_exempt=False,
        ),
    ),
    record("b1-a", "src|e2", ProgressReport(recorded_on=date(2024, 5, 1)), T1),
    application("a1", date(2023, 12, 1), Decision.GRANTED, date(2023, 12, 20)),
    record("b1-a", "src|e3", PlanSent(plan_ref="p1", sent_on=date(2024, 1, 31), application_ref="a1"), T1),
    benefit("m1", "GM0420", date(2024, 2, 1)),
]


async def _app(
    url: str, headers: dict[str, str] = EVERYTHING, facts: Sequence[Fact] = FACTS
) -> httpx.AsyncClient:
    """A client of the reporting app over a database with reporting's tables, holding `facts`."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await apply_facts(conn, facts, datetime.now(UTC))
    await engine.dispose()
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=reporting_app(url)), base_url="http://t", headers=headers
    )


def figures(doc: dict, municipality: str) -> dict[str, dict]:
    return {r["kpi"]: r for r in doc["tables"]["kpis"]["rows"] if r["municipality"] == municipality}


async def test_kpis_of_hand_made_facts(reporting_database: str) -> None:
    async with await _app(reporting_database) as client:
        response = await client.get("/v1/reports/kpis", params={"municipality": "GM0405", **PERIOD})
        assert response.status_code == 200, response.text
        hoorn = figures(response.json(), "GM0405")
        assert (hoorn["K1"]["value"], hoorn["K1"]["basis"]) == (181.0, 1)  # 1 Jan to 30 Jun
        assert (hoorn["K2"]["value"], hoorn["K2"]["norm"], hoorn["K2"]["met"]) == (100.0, 85.0, True)
        assert (hoorn["K3"]["value"], hoorn["K3_median"]["value"]) == (61.0, 61.0)  # 1 Dec to 31 Jan
        # One outflow to work over a mean of (2 + 2 + 1 + 1 + 1 + 1) / 6 clients at month ends.
        assert (hoorn["K4"]["value"], hoorn["K4"]["basis"]) == (75.0, 1)
        assert (hoorn["K5"]["value"], hoorn["K5"]["met"], hoorn["K5_pending"]["value"]) == (100.0, True, 0)
        # Each value is its numerator over its denominator, and says what it is and where from.
        assert (hoorn["K4"]["numerator"], hoorn["K4"]["denominator"]) == (1, 8 / 6)
        for kpi in ("K1", "K2", "K3", "K4", "K5"):
            row = hoorn[kpi]
            quotient = row["numerator"] / row["denominator"] * (1 if kpi in ("K1", "K3") else 100)
            assert round(quotient, 1) == row["value"], kpi
            assert row["definition"]
            assert (row["period"], row["stock_date"]) == ("2024-01 t/m 2024-06", "2024-06-30")
            assert row["source"].startswith("Stroom, gebeurtenissen tot 2024-")
        assert "P(D)" in hoorn["K1"]["definition"]
        total = figures(response.json(), "*")
        assert total["K1"] == {**hoorn["K1"], "municipality": "*", "municipality_name": "Totaal"}

        known_before = {"municipality": "GM0405", **PERIOD, "asOf": "2024-05-15T00:00:00Z"}
        earlier = figures((await client.get("/v1/reports/kpis", params=known_before)).json(), "GM0405")
        # The progress report and the plan were recorded on 1 June; as of mid May neither is known.
        assert (earlier["K2"]["value"], earlier["K2"]["met"], earlier["K3"]["basis"]) == (0.0, False, 0)
        # On 15 May the outflow of 1 March still awaits its six months.
        assert (earlier["K5"]["value"], earlier["K5_pending"]["value"]) == (None, 1)

        csv = await client.get(
            "/v1/reports/kpis", params={"municipality": "GM0405", **PERIOD, "format": "csv"}
        )
        lines = csv.text.lstrip("\ufeff").splitlines()
        assert lines[0] == (
            "Gemeentecode;Gemeente;KPI;Indicator;Definitie;Waarde;Zelfde periode vorig jaar;Norm;"
            "Norm gehaald;Teller;Noemer;Aantal (basis);Periode;Peildatum;Bron"
        )
        assert any(line.startswith("GM0405;Hoorn;K2;") and ";100.0;;85.0;ja;1;1;1;" in line for line in lines)
        xlsx = await client.get(
            "/v1/reports/kpis", params={"organisation": "werksaam-westfriesland", "format": "xlsx"}
        )
        assert "Hoorn" in load_workbook(io.BytesIO(xlsx.content)).sheetnames


async def test_the_source_line_says_so_while_kpi_cells_wait_for_their_restate(
    reporting_database: str,
) -> None:
    """Behind a backlog the facts are in the read models before their KPI cells are restated: the
    sheet's source line must not claim the cells hold every event up to the newest recorded."""
    engine = make_engine(reporting_database)
    params = {"municipality": "GM0405", **PERIOD}

    async def sheet(query: dict[str, str]) -> dict[str, dict]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reporting_app(reporting_database)),
            base_url="http://t",
            headers=EVERYTHING,
        ) as client:
            response = await client.get("/v1/reports/kpis", params=query)
        assert response.status_code == 200, response.text
        return figures(response.json(), "GM0405")

    try:
        async with engine.begin() as conn:
            await apply_facts(conn, FACTS, datetime.now(UTC), restate=False)
        async with engine.connect() as conn:
            # Hoorn's two benefits and its plan wait, and Medemblik's benefit; as of a moment
            # before the facts only the plan, which waits without its moment, may change.
            assert await kpi_store.waiting(conn) == 4
            assert await kpi_store.waiting(conn, datetime(2020, 1, 1, tzinfo=UTC)) == 1
        waiting = await sheet(params)
        assert waiting["K1"]["source"].startswith("Stroom, gebeurtenissen tot 2024-")
        assert waiting["K1"]["source"].endswith(STILL_RESTATING)
        earlier = await sheet({**params, "asOf": "2020-01-01T00:00:00Z"})
        assert (
            earlier["K1"]["source"]
            == f"Stroom, gebeurtenissen tot 2020-01-01T00:00:00+00:00{STILL_RESTATING}"
        )
        async with engine.begin() as conn:
            assert await restate_kpis(conn) == 4
        restated = await sheet(params)
    finally:
        await engine.dispose()
    assert restated["K1"]["source"] == waiting["K1"]["source"].removesuffix(STILL_RESTATING)
    assert (restated["K1"]["value"], restated["K1"]["basis"]) == (181.0, 1)


async def test_one_moment_in_any_offset_gives_one_k5(reporting_database: str) -> None:
    """K5's report day is the report date of the monthly report: `asOf`'s day in UTC, so one
    moment written with another offset is one sheet (b2's six months end on 31 August 2024)."""

    async def k5(client: httpx.AsyncClient, at: str) -> tuple[float | None, int]:
        params = {"municipality": "GM0405", **PERIOD, "asOf": at}
        hoorn = figures((await client.get("/v1/reports/kpis", params=params)).json(), "GM0405")
        return hoorn["K5"]["value"], hoorn["K5_pending"]["value"]

    async with await _app(reporting_database) as client:
        for utc, dutch in [
            ("2024-08-29T22:30:00Z", "2024-08-30T00:30:00+02:00"),
            ("2024-08-30T22:30:00Z", "2024-08-31T00:30:00+02:00"),
            ("2024-08-31T22:30:00Z", "2024-09-01T00:30:00+02:00"),
        ]:
            assert await k5(client, utc) == await k5(client, dutch), utc


async def test_kpis_are_authorised_per_municipality(reporting_database: str) -> None:
    async with await _app(reporting_database, headers={}) as client:
        hoorn = HOORN
        doc = (await client.get("/v1/reports/kpis", params=PERIOD, headers=hoorn)).json()
        assert {r["municipality"] for r in doc["tables"]["kpis"]["rows"]} == {"GM0405", "*"}
        denied = await client.get(
            "/v1/reports/kpis", params={"municipality": "GM0420", **PERIOD}, headers=hoorn
        )
        assert denied.status_code == 403
        org = WHOLE_ORGANISATION
        doc = (await client.get("/v1/reports/kpis", params=PERIOD, headers=org)).json()
        assert figures(doc, "*")["K1"]["basis"] == 2  # b1 and m1


def _recomputed(part: dict) -> float:
    """A numerator or denominator from the refs a trace lists (K1's numerator: their days)."""
    if "month_ends" in part:
        return sum(len(end["refs"]) for end in part["month_ends"]) / len(part["month_ends"])
    if part["refs"] and "days" in part["refs"][0]:
        return sum(r["days"] for r in part["refs"])
    return len(part["refs"])


# K3's plans over the sample applications (all of Hoorn): named, the latest before, none, too late.
PLANS = [
    record("a1-c", "src|e10", PlanSent(plan_ref="p1", sent_on=date(2024, 2, 1), application_ref="a1"), T1),
    record("a3-c", "src|e11", PlanSent(plan_ref="p2", sent_on=date(2024, 3, 1)), T1),
    record("a4-c", "src|e12", PlanSent(plan_ref="p3", sent_on=date(2024, 5, 10)), T1),
    record("nobody", "src|e13", PlanSent(plan_ref="p4", sent_on=date(2024, 3, 1)), T1),
    record("a2-c", "src|e14", PlanSent(plan_ref="p5", sent_on=date(2024, 8, 1)), T1),
]


async def test_each_kpi_recomputed_from_its_trace_gives_its_value(
    loaded_url: str, client: httpx.AsyncClient
) -> None:
    engine = make_engine(loaded_url)
    async with engine.begin() as conn:
        await apply_facts(conn, PLANS, datetime.now(UTC))
    await engine.dispose()
    period = {"from": "2024-01", "to": "2024-06"}
    for scope in ({"municipality": "GM0405"}, {"organisation": "werksaam-westfriesland"}):
        doc = (await client.get("/v1/reports/kpis", params={**scope, **period})).json()
        code = scope.get("municipality", "*")
        rows = figures(doc, code)
        for kpi in ("K1", "K2", "K3", "K4", "K5", "inflow_rate", "outflow_rate"):
            response = await client.get("/v1/reports/kpis/trace", params={**scope, **period, "kpi": kpi})
            assert response.status_code == 200, response.text
            trace = response.json()
            numerator, denominator = _recomputed(trace["numerator"]), _recomputed(trace["denominator"])
            assert (numerator, denominator) == (trace["numerator"]["value"], trace["denominator"]["value"])
            row = rows[kpi]
            assert numerator == row["numerator"], (code, kpi)
            assert abs(denominator - row["denominator"]) < 1e-9, (code, kpi)
            value = numerator / denominator * (1 if kpi in ("K1", "K3") else 100) if denominator else None
            assert (round(value, 1) if value is not None else None) == row["value"], (code, kpi)
            refs = trace["numerator"]["refs"] + trace["denominator"].get("refs", [])
            if kpi == "K3":
                # The plans and the applications they were linked to, by key and pseudonymous ref.
                assert sorted(
                    (r["plan_ref"], r["application_ref"], r["days"]) for r in trace["numerator"]["refs"]
                ) == [
                    ("plan:src:p1", "application:src:a1", 29),
                    ("plan:src:p2", "application:src:a3", 23),
                    ("plan:src:p3", "application:src:a4", 70),
                ]
                assert {r["client_ref"] for r in refs} == {"a1-c", "a3-c", "a4-c"}
                median = statistics.median(r["days"] for r in trace["numerator"]["refs"])
                assert trace["median"] == median == rows["K3_median"]["value"] == 29
            else:
                assert all(r["benefit_ref"].startswith("benefit:") for r in refs)
        assert all(rows[k]["denominator"] > 0 for k in ("K1", "K2", "K3", "K4", "K5", "inflow_rate"))
    wrong = await client.get("/v1/reports/kpis/trace", params={**period, "kpi": "K3_median"})
    assert wrong.status_code == 400
    assert wrong.json()["type"].endswith("kpi-not-traceable")


# Out of Hoorn to work and back within 6 months (in Medemblik); out of Medemblik and back after 9.
DOOR = [
    benefit("d1", "GM0405", date(2023, 1, 1), date(2024, 2, 1), applicant="x", recorded_from=T1),
    benefit("d2", "GM0420", date(2024, 5, 1), applicant="x", recorded_from=T1),
    benefit("d3", "GM0420", date(2023, 1, 1), date(2024, 3, 1), applicant="y", recorded_from=T1),
    benefit("d4", "GM0405", date(2024, 12, 1), applicant="y", recorded_from=T1),
]


async def test_the_revolving_door_also_as_an_organisation_total(reporting_database: str) -> None:
    async with await _app(reporting_database, facts=DOOR) as client:
        params = {"organisation": "werksaam-westfriesland", **PERIOD}
        rows = (await client.get("/v1/reports/kpis", params=params)).json()["tables"]["revolving_door"][
            "rows"
        ]
        cells = {(r["municipality"], r["within_6m"], r["within_12m"]) for r in rows}
        assert cells == {("GM0405", 1, 1), ("GM0420", 0, 1), ("*", 1, 2)}
        assert {r["municipality_name"] for r in rows if r["municipality"] == "*"} == {"Totaal"}
        csv = await client.get(
            "/v1/reports/kpis", params={**params, "format": "csv", "table": "revolving_door"}
        )
        lines = csv.text.lstrip("\ufeff").splitlines()
        assert lines[0] == (
            "Gemeentecode;Gemeente;Uitstroomreden;Omschrijving uitstroomreden;CBS-code uitstroomreden;"
            "Nieuwe instroomreden;Omschrijving nieuwe instroomreden;CBS-code nieuwe instroomreden;"
            "Terug binnen 6 maanden;Terug binnen 12 maanden"
        )
        employment = OutflowReason.EMPLOYMENT
        ended = InflowReason.EMPLOYMENT_ENDED
        reasons = [employment.value, employment.label, employment.cbs_code or ""]
        reasons += [ended.value, ended.label, ended.cbs_code or ""]
        assert {tuple(line.split(";")[2:8]) for line in lines[1:]} == {tuple(reasons)}
        assert {(r["outflow_reason"], r["inflow_reason"]) for r in rows} == {(employment, ended)}
        assert [line.split(";")[:2] + line.split(";")[8:] for line in lines[1:]] == [
            ["GM0405", "Hoorn", "1", "1"],
            ["GM0420", "Medemblik", "0", "1"],
            ["Totaal", "Totaal", "1", "2"],
        ]
        xlsx = await client.get("/v1/reports/kpis", params={**params, "format": "xlsx"})
        sheet = load_workbook(io.BytesIO(xlsx.content))["Totaal"]
        values = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
        assert [
            "Totaal",
            "Totaal",
            "employment",
            "Arbeid in dienstbetrekking",
            "11",
            "employment_ended",
            "Einde arbeid in dienstbetrekking",
            1,
            2,
        ] in values


# Out of Hoorn to work: z comes back in Beverwijk (IJmond Werkt, another organisation), w in
# Medemblik (WerkSaam, like Hoorn), both within 6 months.
ELSEWHERE = [
    benefit("z1", "GM0405", date(2023, 1, 1), date(2024, 2, 1), applicant="z", recorded_from=T1),
    benefit("z2", "GM0375", date(2024, 4, 1), applicant="z", recorded_from=T1),
    benefit("w1", "GM0405", date(2023, 1, 1), date(2024, 3, 1), applicant="w", recorded_from=T1),
    benefit("w2", "GM0420", date(2024, 5, 1), applicant="w", recorded_from=T1),
]


async def test_a_return_counts_in_the_organisation_only(reporting_database: str) -> None:
    async with await _app(reporting_database, facts=ELSEWHERE) as client:
        params = {"organisation": "werksaam-westfriesland", **PERIOD}
        doc = (await client.get("/v1/reports/kpis", params=params)).json()
        hoorn = figures(doc, "GM0405")
        # Two outflows decided, z's sustained (a benefit elsewhere is no return), w's returned.
        assert (hoorn["K5"]["numerator"], hoorn["K5"]["denominator"], hoorn["K5"]["value"]) == (1, 2, 50.0)
        door = doc["tables"]["revolving_door"]["rows"]
        assert {(r["municipality"], r["within_6m"], r["within_12m"]) for r in door} == {
            ("GM0405", 1, 1),
            ("*", 1, 1),
        }
