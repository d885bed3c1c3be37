"""RFC 9457 problem details for every error a Stroom HTTP API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stroom_contract.messages import dutch_message
from stroom_contract.redaction import redact
from stroom_platform.dialect import DATABASE_ERRORS, database_away
from stroom_platform.responses import FastJSONResponse

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://stroom.example/problems/"
# When a caller may ask again after a database that did not answer: a restart or a failover takes
# seconds, and a sooner retry would only find it away again.
DATABASE_RETRY_SECONDS = 5
log = logging.getLogger(__name__)
HTTP_TITLES = {
    400: "Ongeldig verzoek",
    401: "Niet aangemeld",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    406: "Niet te leveren in het gevraagde formaat",
    413: "Verzoek te groot",
    415: "Inhoudstype niet ondersteund",
    429: "Te veel verzoeken",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] | None = None

    def document(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = redact(self.detail)
        if instance:
            # The path is the caller's input too: /v1/caseload/coaches/<anything>.
            doc["instance"] = redact(instance)
        doc.update(self.extensions)
        if self.status == 400 and "errors" not in doc:
            # Invalid input always lists its errors (ADR), also when there is one.
            doc["errors"] = [{"message": doc.get("detail", self.title)}]
        return doc


def problem_response(
    problem: Problem, request: Request, headers: dict[str, str] | None = None
) -> FastJSONResponse:
    version = getattr(request.app.state, "api_version", None)
    if version:
        # The 500 handler answers outside every middleware, so the header is set here too.
        headers = {**(headers or {}), "API-Version": version}
    return FastJSONResponse(
        problem.document(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> FastJSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request, headers=exc.headers)

    async def on_http(request: Request, exc: Exception) -> FastJSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}
        # Starlette's detail is the English status phrase; people read the title.
        title = HTTP_TITLES.get(exc.status_code, f"HTTP-fout {exc.status_code}")
        problem = Problem(exc.status_code, slug.get(exc.status_code, "http-error"), title)
        return problem_response(problem, request, headers=dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> FastJSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": dutch_message(err)}
            for err in exc.errors()
        ]
        # ADR /core/error-handling/invalid-input: 400, listing every error (not 422).
        problem = Problem(
            400,
            "invalid-request",
            "Ongeldig verzoek",
            "Zie `errors`: elke fout afzonderlijk.",
            errors=errors,
        )
        return problem_response(problem, request)

    async def on_database_error(request: Request, exc: Exception) -> FastJSONResponse:
        """A database that cannot answer now is the service's state, not a fault in the request
        or the code: 503, to be asked again. Any other database error is unexpected."""
        if not database_away(exc):
            raise exc
        log.warning("database niet bereikbaar", extra={"path": request.url.path, "error": type(exc).__name__})
        problem = Problem(
            503,
            "database-unavailable",
            "Database niet bereikbaar",
            f"De database antwoordt nu niet; probeer het over {DATABASE_RETRY_SECONDS} seconden opnieuw.",
        )
        return problem_response(problem, request, headers={"Retry-After": str(DATABASE_RETRY_SECONDS)})

    async def on_unexpected(request: Request, exc: Exception) -> FastJSONResponse:
        log.exception("onverwachte fout", extra={"path": request.url.path})
        return problem_response(Problem(500, "internal-error", "Interne fout"), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
