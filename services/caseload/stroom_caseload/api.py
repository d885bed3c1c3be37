"""HTTP for case managers and policy officers: caseload per municipality and per coach."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.queries import CaseloadQueries, ClientCount, Projection
from stroom_caseload.schemas import CoachCaseload, MunicipalityCaseload
from stroom_contract.codes import ClientStream, CodeList, PlacementKind, Regulation, TrajectoryPhase
from stroom_platform.audit import AuditLog, record
from stroom_platform.auth import CaseloadReader
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.pagination import PageRequest, page_request, paginate
from stroom_platform.params import checked_day, checked_moment, checked_ref
from stroom_platform.problems import Problem

# Module level: FastAPI resolves these (string) annotations in the module's namespace.
OnDate = Annotated[date | None, Query(alias="date", description="Peildatum; standaard vandaag.")]
AsOf = Annotated[datetime | None, Query(alias="asOf", description="Zoals bekend op dit moment (RFC 3339).")]
NO_COACH = "Geen klantmanager toegewezen"
UNKNOWN = "Onbekend"


def _labelled(counts: dict[str, int], codes: type[CodeList]) -> list[dict[str, Any]]:
    labels = codes.labels()
    return [{"code": code, "label": labels.get(code, code), "count": n} for code, n in sorted(counts.items())]


def _stream(code: str | None) -> dict[str, Any]:
    return {"code": code, "label": ClientStream.labels().get(code, UNKNOWN) if code else UNKNOWN}


def _summary(p: Projection, name: str) -> dict[str, Any]:
    coaches = []
    for coach, streams in sorted(p.clients_per_coach().items(), key=lambda item: item[0] or ""):
        coaches.append(
            {
                "coach_ref": coach,
                "label": coach or NO_COACH,
                "clients": sum(streams.values()),
                "by_client_stream": [
                    {**_stream(s), "count": n} for s, n in sorted(streams.items(), key=lambda i: i[0] or "")
                ],
            }
        )
    return {
        "municipality": {"code": p.municipality, "name": name},
        "date": p.on.isoformat(),
        "as_of": p.as_of.isoformat() if p.as_of else None,
        "benefits": {"label": "Lopende uitkeringen", "by_regulation": _labelled(p.benefits, Regulation)},
        "persons": {
            "label": "Personen in lopende uitkeringen",
            "by_regulation": _labelled(p.persons, Regulation),
        },
        "placements": {"label": "Lopende plaatsingen", "by_kind": _labelled(p.placements, PlacementKind)},
        "open_applications": {
            "label": "Openstaande aanvragen",
            "by_regulation": _labelled(p.open_applications, Regulation),
        },
        "trajectories": {
            "label": "Trajecten per fase",
            "by_phase": _labelled(p.trajectories, TrajectoryPhase),
        },
        "coaches": {"label": "Klanten per klantmanager", "items": coaches},
    }


def _coach(coach_ref: str, on: date, rows: list[ClientCount], names: dict[str, str]) -> dict[str, Any]:
    by_stream: dict[str | None, int] = {}
    by_step: dict[int | None, int] = {}
    by_municipality: dict[str, int] = {}
    for row in rows:
        by_stream[row.client_stream] = by_stream.get(row.client_stream, 0) + row.clients
        by_step[row.ladder_step] = by_step.get(row.ladder_step, 0) + row.clients
        by_municipality[row.municipality] = by_municipality.get(row.municipality, 0) + row.clients
    return {
        "coach_ref": coach_ref,
        "date": on.isoformat(),
        "label": "Actieve klanten van de klantmanager",
        "active_clients": sum(by_municipality.values()),
        "by_municipality": [
            {"code": code, "name": names.get(code, code), "count": n}
            for code, n in sorted(by_municipality.items())
        ],
        "by_client_stream": [
            {**_stream(s), "count": n} for s, n in sorted(by_stream.items(), key=lambda i: i[0] or "")
        ],
        "by_ladder_step": [
            {"step": step, "label": f"Trede {step}" if step else UNKNOWN, "count": n}
            for step, n in sorted(by_step.items(), key=lambda i: i[0] or 0)
        ],
    }


# The most coaches one answer lists (case systems name them; nothing else bounds their number).
MAX_COACHES_PAGE = 1000


def caseload_router(engine: AsyncEngine, organisations: OrganisationsConfig, audit: AuditLog) -> APIRouter:
    router = APIRouter(prefix="/v1/caseload", tags=["caseload"])

    @router.get(
        "/municipalities/{code}",
        response_model=MunicipalityCaseload,
        responses={404: {"description": "Deze gemeente is niet geconfigureerd."}},
    )
    async def municipality(
        request: Request,
        code: str,
        reader: CaseloadReader,
        response: Response,
        wanted: Annotated[PageRequest, Depends(page_request(MAX_COACHES_PAGE))],
        on: OnDate = None,
        as_of: AsOf = None,
    ) -> dict[str, Any]:
        """De caseload van één gemeente; haar klantmanagers in pagina's van hoogstens 1.000."""
        if code not in organisations.municipality_codes:
            raise Problem(404, "unknown-municipality", "Onbekende gemeente", f"{code} is niet ingesteld.")
        reader.access.restrict([code])
        day = checked_day("date", on) or date.today()
        as_of = checked_moment("asOf", as_of)
        async with engine.connect() as conn:
            projection = await CaseloadQueries(conn).projection(code, day, as_of)
        summary = _summary(projection, organisations.municipality_names[code])
        items, links = paginate(summary["coaches"]["items"], request, response, wanted)
        summary["coaches"] |= {"items": items, "_links": links}
        coaches = [item["coach_ref"] for item in summary["coaches"]["items"] if item["coach_ref"]]
        await record(request, "detail-inzage", f"caseload {code}", "getoond", {"refs": coaches}, audit)
        return summary

    @router.get("/coaches/{coach_ref}", response_model=CoachCaseload)
    async def coach(
        request: Request,
        coach_ref: str,
        reader: CaseloadReader,
        on: OnDate = None,
        as_of: AsOf = None,
    ) -> dict[str, Any]:
        """De klanten van één klantmanager op een peildatum, in de gemeenten die de aanroeper mag
        lezen."""
        visible = sorted(c for c in organisations.municipality_codes if reader.access.allows(c))
        coach_ref = checked_ref("coach_ref", coach_ref)
        day = checked_day("date", on) or date.today()
        as_of = checked_moment("asOf", as_of)
        async with engine.connect() as conn:
            rows = await CaseloadQueries(conn).clients(visible, day, as_of, coach_ref=coach_ref)
        answer = _coach(coach_ref, day, rows, organisations.municipality_names)
        detail = {"refs": [coach_ref]}
        await record(request, "detail-inzage", f"caseload klantmanager {coach_ref}", "getoond", detail, audit)
        return answer

    return router
