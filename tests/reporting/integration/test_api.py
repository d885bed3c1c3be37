"""The reporting API: report families, exports, trace, changes, problems and authorisation."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
from openpyxl import load_workbook

from reporting.integration.conftest import HOORN, WHOLE_ORGANISATION, reporting_app
from stroom_contract.codes import (
    ClientStream,
    OutflowReason,
    Regulation,
    TrajectoryOutcome,
    TrajectoryPhase,
)
from stroom_platform.organisations import OrganisationsConfig

ORG = "werksaam-westfriesland"


def row_of(doc: dict, table: str, **match: object) -> dict:
    rows = [r for r in doc["tables"][table]["rows"] if all(r[k] == v for k, v in match.items())]
    assert len(rows) == 1, match
    return rows[0]


async def test_monthly_figures_and_totals(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/monthly", params={"organisation": ORG, "from": "2024-01", "to": "2024-03"}
    )
    assert response.status_code == 200
    doc = response.json()
    hoorn = {"municipality": "GM0405", "regulation": "PW", "month": "2024-03"}
    benefits = row_of(doc, "rows", unit="benefits", **hoorn)
    persons = row_of(doc, "rows", unit="persons", **hoorn)
    # The random histories add to these; the sample facts alone give at least these figures.
    assert benefits["municipality_name"] == "Hoorn"
    for row in doc["tables"]["rows"]["rows"] + doc["tables"]["organisation_totals"]["rows"]:
        assert row["end"] == row["begin"] + row["inflow"] - row["outflow"]
    total = row_of(doc, "municipality_totals", municipality="GM0405", unit="benefits", month="2024-03")
    assert total["end"] >= benefits["end"] >= 3
    assert persons["end"] >= 4
    period = row_of(doc, "period_totals", unit="benefits", municipality="GM0405", regulation="PW")
    assert (
        period["begin"]
        == row_of(doc, "rows", unit="benefits", municipality="GM0405", regulation="PW", month="2024-01")[
            "begin"
        ]
    )
    assert period["end"] == benefits["end"]


async def test_a_repeated_parameter_counts_once(client: httpx.AsyncClient) -> None:
    once = await client.get(
        "/v1/reports/monthly",
        params={
            "organisation": ORG,
            "municipality": "GM0405",
            "regulation": "PW",
            "from": "2024-01",
            "to": "2024-03",
        },
    )
    twice = await client.get(
        "/v1/reports/monthly",
        params=[
            ("organisation", ORG),
            ("municipality", "GM0405"),
            ("municipality", "GM0405"),
            ("regulation", "PW"),
            ("regulation", "PW"),
            ("from", "2024-01"),
            ("to", "2024-03"),
        ],
    )
    assert once.status_code == twice.status_code == 200
    assert once.json()["tables"] == twice.json()["tables"]
    assert row_of(
        twice.json(), "rows", unit="benefits", municipality="GM0405", regulation="PW", month="2024-03"
    )


async def test_trace_expands_every_figure(client: httpx.AsyncClient) -> None:
    doc = (
        await client.get(
            "/v1/reports/monthly", params={"municipality": "GM0405", "from": "2024-03", "to": "2024-03"}
        )
    ).json()
    for row in doc["tables"]["rows"]["rows"]:
        for measure in ("begin", "inflow", "outflow", "end"):
            traced = (
                await client.get(
                    "/v1/reports/monthly/trace",
                    params={
                        "municipality": "GM0405",
                        "regulation": row["regulation"],
                        "unit": row["unit"],
                        "month": "2024-03",
                        "measure": measure,
                    },
                )
            ).json()
            assert traced["count"] == len(traced["refs"]) == row[measure]
    traced = (
        await client.get(
            "/v1/reports/monthly/trace",
            params={
                "municipality": "GM0405",
                "regulation": "PW",
                "unit": "benefits",
                "month": "2024-03",
                "measure": "inflow",
            },
        )
    ).json()
    assert {"benefit_ref": "benefit:src:b4", "client_ref": None} in traced["refs"]


async def test_csv_and_xlsx_downloads(client: httpx.AsyncClient) -> None:
    params = {"organisation": ORG, "from": "2024-01", "to": "2024-03", "unit": "benefits"}
    csv_response = await client.get("/v1/reports/monthly", params={**params, "format": "csv"})
    assert csv_response.status_code == 200
    lines = csv_response.text.lstrip("\ufeff").splitlines()
    assert lines[0] == (
        "Maand;Gemeentecode;Gemeente;Regeling;Omschrijving;Eenheid;Begin;Instroom;Uitstroom;Eind;"
        "Status;Herzien na definitief"
    )
    json_rows = (await client.get("/v1/reports/monthly", params=params)).json()["tables"]["rows"]["rows"]
    assert len(lines) == 1 + len(json_rows)
    # JSON keeps the code as the value and adds the label; CSV has both, in columns of their own.
    assert {(r["regulation"], r["regulation_label"]) for r in json_rows} >= {
        ("PW", "Participatiewet (algemene bijstand)"),
        ("BBZ", Regulation.BBZ.label),
    }
    assert any(
        line.startswith("2024-01;GM0405;Hoorn;PW;Participatiewet (algemene bijstand);Uitkeringen;")
        for line in lines
    )
    xlsx = await client.get("/v1/reports/monthly", params={**params, "format": "xlsx"})
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames == [
        "Drechterland",
        "Enkhuizen",
        "Hoorn",
        "Koggenland",
        "Medemblik",
        "Opmeer",
        "Stede Broec",
        "Totaal",
    ]
    values = [[c.value for c in row] for row in workbook["Hoorn"].iter_rows()]
    assert values[1][0] == "WerkSaam Westfriesland · periode januari 2024 t/m maart 2024 · actuele stand"
    assert ["2024-01", "GM0405", "Hoorn", "PW", "Participatiewet (algemene bijstand)", "Uitkeringen"] in [
        v[:6] for v in values
    ]
    assert [
        "Maand",
        "Gemeentecode",
        "Gemeente",
        "Regeling",
        "Omschrijving",
        "Eenheid",
        "Begin",
        "Instroom",
        "Uitstroom",
        "Eind",
        "Status",
        "Herzien na definitief",
    ] in values
    subtitles = {
        "reasons": "periode januari 2024 t/m maart 2024",
        "placements": "periode januari 2024 t/m maart 2024",
        "gate": "periode januari 2024 t/m maart 2024",
        "composition": "peildatum 31 maart 2024",
        "caseload": "peildatum 31 maart 2024",
        "trajectories": "kwartaal 2024-K1",
    }
    for family, subtitle in subtitles.items():
        period = (
            {"stockDate": "2024-03-31"} if "peildatum" in subtitle else {"from": "2024-01", "to": "2024-03"}
        )
        for fmt in ("csv", "xlsx"):
            response = await client.get(
                f"/v1/reports/{family}", params={"organisation": ORG, **period, "format": fmt}
            )
            assert response.status_code == 200, (family, fmt, response.text)
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        assert sheet["A2"].value == f"WerkSaam Westfriesland · {subtitle} · actuele stand", family


async def test_bad_parameters_are_problems(client: httpx.AsyncClient) -> None:
    cases = {
        "unknown-organisation": {"organisation": "nope"},
        "unknown-municipality": {"municipality": "GM9999"},
        "municipality-outside-organisation": {"organisation": ORG, "municipality": "GM0375"},
        "invalid-month": {"organisation": ORG, "from": "2024-13"},
        "invalid-period": {"organisation": ORG, "from": "2024-05", "to": "2024-01"},
        "invalid-unit": {"organisation": ORG, "unit": "cats"},
        "invalid-as-of": {"organisation": ORG, "asOf": "2024-01-01T00:00:00"},
    }
    for slug, params in cases.items():
        response = await client.get("/v1/reports/monthly", params=params)
        assert response.status_code == 400, slug
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith(slug)


async def test_other_families(client: httpx.AsyncClient, organisations: OrganisationsConfig) -> None:
    hoorn = {"municipality": "GM0405"}
    werksaam = organisations.organisation_of["GM0405"]
    target = werksaam.sheltered_work_target("GM0405", 2024)
    assert target is not None
    placements = (
        await client.get("/v1/reports/placements", params={**hoorn, "from": "2024-03", "to": "2024-03"})
    ).json()
    sheltered = row_of(placements, "sheltered_work", month="2024-03")
    expected = (1, target.total, round(100 / target.total, 1))
    assert (sheltered["active"], sheltered["target"], sheltered["realisation_pct"]) == expected
    assert row_of(placements, "placements", month="2024-03", kind="wage_subsidy")["active"] == 1
    gate = (await client.get("/v1/reports/gate", params={**hoorn, "from": "2024-01", "to": "2024-03"})).json()
    february = row_of(gate, "gate", month="2024-02")
    assert (february["received"], february["granted"], february["rejected"], february["withdrawn"]) == (
        1,
        0,
        1,
        1,
    )
    assert february["not_granted_pct"] == 100.0
    trajectories = (
        await client.get("/v1/reports/trajectories", params={**hoorn, "quarter": "2024-02"})
    ).json()
    finding = row_of(trajectories, "phases", phase=TrajectoryPhase.FINDING_WORK.value)
    assert finding["phase_label"] == "Werk vinden"
    assert (finding["begin"], finding["inflow"], finding["outflow"], finding["end"]) == (0, 1, 1, 0)
    ended = row_of(
        trajectories,
        "ended",
        phase=TrajectoryPhase.FINDING_WORK.value,
        outcome=TrajectoryOutcome.JOB_ACCEPTED.value,
    )
    assert (ended["phase_label"], ended["outcome_label"], ended["count"]) == (
        "Werk vinden",
        "Werkaanvaarding",
        1,
    )
    composition = (
        await client.get("/v1/reports/composition", params={**hoorn, "stockDate": "2024-03-31"})
    ).json()
    assert row_of(composition, "composition", dimension="ladder_step", value="3")["count"] == 1
    single = row_of(composition, "composition", dimension="household", value="single")
    assert (single["dimension_label"], single["value_label"]) == ("Huishouden", "Alleenstaand")
    unknown = row_of(composition, "composition", dimension="target_step", value="unknown")
    assert (unknown["dimension_label"], unknown["value_label"]) == (
        "Doeltrede participatieladder",
        "Onbekend",
    )
    caseload = (await client.get("/v1/reports/caseload", params={**hoorn, "stockDate": "2024-03-31"})).json()
    mediable = row_of(caseload, "caseload", coach="coach-x", client_stream=ClientStream.MEDIABLE.value)
    assert (mediable["client_stream_label"], mediable["count"]) == ("Bemiddelbaar", 1)
    unknown = row_of(caseload, "caseload", coach="coach-x", client_stream="unknown")
    assert (unknown["client_stream_label"], unknown["count"]) == ("Onbekend", 1)
    earlier = (
        await client.get(
            "/v1/reports/caseload",
            params={**hoorn, "stockDate": "2024-03-31", "asOf": "2024-02-01T00:00:00Z"},
        )
    ).json()
    assert [r for r in earlier["tables"]["caseload"]["rows"] if r["coach"] == "coach-x"] == [mediable]
    reasons = (
        await client.get("/v1/reports/reasons", params={**hoorn, "from": "2024-01", "to": "2024-03"})
    ).json()
    top = [r for r in reasons["tables"]["top5"]["rows"] if r["direction"] == "inflow"]
    assert 1 <= len(top) <= 5
    assert top[0]["rank"] == 1
    assert top == sorted(top, key=lambda r: -r["count"])


async def test_changes_since(client: httpx.AsyncClient) -> None:
    before = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    changes = (
        await client.get("/v1/reports/monthly/changes", params={"organisation": ORG, "since": before})
    ).json()
    assert {"GM0405", "GM0420"} <= {c["municipality"] for c in changes["changes"]}
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert (
        await client.get("/v1/reports/monthly/changes", params={"organisation": ORG, "since": later})
    ).json()["changes"] == []


async def test_authorisation_per_municipality(loaded_url: str) -> None:
    app = reporting_app(loaded_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/v1/reports/monthly", params={"organisation": ORG})).status_code == 401
        hoorn = HOORN
        doc = (await c.get("/v1/reports/monthly", params={"organisation": ORG}, headers=hoorn)).json()
        assert {r["municipality"] for r in doc["tables"]["rows"]["rows"]} == {"GM0405"}
        assert [m["code"] for m in doc["municipalities"]] == ["GM0405"]
        denied = await c.get("/v1/reports/monthly", params={"municipality": "GM0420"}, headers=hoorn)
        assert denied.status_code == 403
        assert denied.json()["type"].endswith("forbidden-municipality")
        trace = {
            "municipality": "GM0420",
            "regulation": "PW",
            "unit": "benefits",
            "month": "2024-01",
            "measure": "end",
        }
        assert (await c.get("/v1/reports/monthly/trace", params=trace, headers=hoorn)).status_code == 403
        assert (
            await c.get("/v1/reports/gate", params={"organisation": "bar"}, headers=hoorn)
        ).status_code == 403
        xlsx = await c.get(
            "/v1/reports/monthly", params={"organisation": ORG, "format": "xlsx"}, headers=hoorn
        )
        assert load_workbook(io.BytesIO(xlsx.content)).sheetnames == ["Hoorn", "Totaal"]
        orgs = (await c.get("/v1/organisations", headers=hoorn)).json()
        assert orgs == [
            {
                "code": ORG,
                "name": "WerkSaam Westfriesland",
                "municipalities": [{"code": "GM0405", "name": "Hoorn"}],
            }
        ]
        whole = WHOLE_ORGANISATION
        doc = (await c.get("/v1/reports/monthly", params={"organisation": ORG}, headers=whole)).json()
        assert len(doc["municipalities"]) == 7
    await app.state.runtime.engine.dispose()


async def test_named_periods(client: httpx.AsyncClient) -> None:
    """`period` names a year, half year, quarter or month; the same as its month range."""
    cases = {
        "2024": ("2024-01", "2024-12"),
        "2024-H1": ("2024-01", "2024-06"),
        "2024-Q2": ("2024-04", "2024-06"),
    }
    cases["2024-03"] = ("2024-03", "2024-03")
    for period, (first, last) in cases.items():
        for family in ("monthly", "reasons", "gate", "placements", "kpis"):
            named = await client.get(f"/v1/reports/{family}", params={"organisation": ORG, "period": period})
            ranged = await client.get(
                f"/v1/reports/{family}", params={"organisation": ORG, "from": first, "to": last}
            )
            assert named.status_code == 200, (family, period, named.text)
            assert named.json() == ranged.json(), (family, period)
    year = (
        await client.get("/v1/reports/trajectories", params={"municipality": "GM0405", "period": "2024"})
    ).json()
    assert year["period"] == {"from": "2024-K1", "to": "2024-K4"}
    assert sorted({r["quarter"] for r in year["tables"]["phases"]["rows"]}) == [
        f"2024-K{q}" for q in range(1, 5)
    ]
    second = (
        await client.get("/v1/reports/trajectories", params={"municipality": "GM0405", "quarter": "2024-05"})
    ).json()
    assert [r for r in year["tables"]["phases"]["rows"] if r["quarter"] == "2024-K2"] == second["tables"][
        "phases"
    ]["rows"]
    wrong = {
        "invalid-period-name": {"period": "2024-H3"},
        "period-and-range": {"period": "2024", "from": "2024-01"},
    }
    for slug, params in wrong.items():
        response = await client.get("/v1/reports/monthly", params={"organisation": ORG, **params})
        assert response.status_code == 400, slug
        assert response.json()["type"].endswith(slug)


async def test_trajectories_over_months_and_the_gate_of_the_municipalities_together(
    client: httpx.AsyncClient,
) -> None:
    ranged = (
        await client.get(
            "/v1/reports/trajectories", params={"municipality": "GM0405", "from": "2024-02", "to": "2024-07"}
        )
    ).json()
    assert ranged["period"] == {"from": "2024-K1", "to": "2024-K3"}
    for quarter, month in (("2024-K1", "2024-02"), ("2024-K3", "2024-07")):
        alone = (
            await client.get("/v1/reports/trajectories", params={"municipality": "GM0405", "quarter": month})
        ).json()
        shown = [r for r in ranged["tables"]["phases"]["rows"] if r["quarter"] == quarter]
        assert shown == alone["tables"]["phases"]["rows"]
    both = await client.get("/v1/reports/trajectories", params={"quarter": "2024-02", "from": "2024-01"})
    assert (both.status_code, both.json()["type"].split("/")[-1]) == (400, "quarter-and-range")

    gate = (await client.get("/v1/reports/gate", params={"organisation": ORG, "period": "2024"})).json()
    rows = gate["tables"]["gate"]["rows"]
    totals = gate["tables"]["totals"]["rows"]
    assert [t["month"] for t in totals] == [f"2024-{m:02}" for m in range(1, 13)]
    assert sum(t["received"] for t in totals) > 0
    for total in totals:
        month = [r for r in rows if r["month"] == total["month"]]
        counts = {k: sum(r[k] for r in month) for k in ("received", "granted", "rejected", "withdrawn")}
        assert {k: total[k] for k in counts} == counts
        decided = counts["granted"] + counts["rejected"] + counts["withdrawn"]
        share = round(100 * (counts["rejected"] + counts["withdrawn"]) / decided, 1) if decided else None
        assert (total["municipality"], total["not_granted_pct"]) == ("*", share)
    period = {r["municipality"]: r for r in gate["tables"]["period_totals"]["rows"]}
    assert set(period) == {*(r["municipality"] for r in rows), "*"}
    for municipality, total in period.items():
        months = [r for r in (totals if municipality == "*" else rows) if r["municipality"] == municipality]
        counts = {k: sum(r[k] for r in months) for k in ("received", "granted", "rejected", "withdrawn")}
        assert {k: total[k] for k in counts} == counts
        decided = counts["granted"] + counts["rejected"] + counts["withdrawn"]
        share = round(100 * (counts["rejected"] + counts["withdrawn"]) / decided, 1) if decided else None
        assert total["not_granted_pct"] == share
    assert period["*"]["received"] > 0


async def test_codes_where_machines_read_labels_where_people_read(client: httpx.AsyncClient) -> None:
    hoorn = {"municipality": "GM0405", "from": "2024-03", "to": "2024-03"}
    placements = (await client.get("/v1/reports/placements", params=hoorn)).json()
    lks = row_of(placements, "placements", month="2024-03", kind="wage_subsidy")
    assert (lks["kind_label"], lks["status"]) == ("Loonkostensubsidie (LKS)", "definitief")
    assert row_of(placements, "sheltered_work", month="2024-03")["status"] == "definitief"
    gate = (await client.get("/v1/reports/gate", params=hoorn)).json()
    assert row_of(gate, "gate", month="2024-03")["status"] == "definitief"
    reasons = (await client.get("/v1/reports/reasons", params={"organisation": ORG, "period": "2024"})).json()
    outflows = [r for r in reasons["tables"]["reasons"]["rows"] if r["direction"] == "outflow"]
    assert {r["direction_label"] for r in outflows} == {"Uitstroom"}
    employment = [r for r in outflows if r["reason"] == "employment"]
    assert employment
    assert {(r["reason_label"], r["cbs_code"]) for r in employment} == {
        (OutflowReason.EMPLOYMENT.label, OutflowReason.EMPLOYMENT.cbs_code)
    }
    composition = (
        await client.get("/v1/reports/composition", params={"organisation": ORG, "stockDate": "2024-03-31"})
    ).json()
    pw = [r for r in composition["tables"]["composition"]["rows"] if r["dimension"] == "regulation"]
    assert {(r["value"], r["value_label"], r["cbs_code"]) for r in pw if r["value"] == "PW"} == {
        ("PW", "Participatiewet (algemene bijstand)", "01")
    }
    csv = await client.get("/v1/reports/placements", params={**hoorn, "format": "csv", "table": "placements"})
    header = csv.text.lstrip("\ufeff").splitlines()[0]
    assert header == "Maand;Gemeentecode;Gemeente;Soort plaatsing;Omschrijving;Actief;Status"
