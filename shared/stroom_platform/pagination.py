"""Pages of a long list in an answer, as the NL API Design Rules describe pagination: `page`
(from 1) and `pageSize` query parameters, `_links` with `self`, `first`, `prev`, `next` and
`last`, and the headers `X-Total-Count`, `X-Pagination-Page` and `X-Pagination-Limit`.

Each paginated list has a maximum page size, so no answer grows without bound. The default page
size is that maximum: a caller that never asked for pages gets what it got before, up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel

from stroom_platform.problems import Problem

T = TypeVar("T")
MAX_PAGE = 1_000_000


class Link(BaseModel):
    href: str


class PageLinks(BaseModel):
    """HAL-links naar de pagina's van een lijst."""

    self: Link
    first: Link
    last: Link
    prev: Link | None = None
    next: Link | None = None


@dataclass(frozen=True)
class PageRequest:
    page: int
    size: int


def page_request(maximum: int) -> Any:
    """A dependency reading `page` and `pageSize` (1..`maximum`, default `maximum`)."""

    # A coroutine, so FastAPI runs it on the event loop instead of handing it to a worker thread.
    async def dependency(
        page: int = Query(1, ge=1, le=MAX_PAGE, description="Het paginanummer, vanaf 1."),
        page_size: int = Query(
            maximum,
            alias="pageSize",
            ge=1,
            le=maximum,
            description=f"Hoeveel per pagina, hoogstens {maximum}.",
        ),
    ) -> PageRequest:
        return PageRequest(page, page_size)

    return dependency


def paginate(
    items: Sequence[T], request: Request, response: Response, wanted: PageRequest
) -> tuple[list[T], dict[str, Any]]:
    """The items of the wanted page and the `_links` to the others; sets the headers."""
    pages = max(1, -(-len(items) // wanted.size))
    if wanted.page > pages:
        raise Problem(
            400,
            "page-out-of-range",
            "Pagina bestaat niet",
            f"Er zijn {pages} pagina's van hoogstens {wanted.size}; vraag pagina 1 tot en met {pages}.",
        )

    def link(page: int) -> dict[str, str]:
        url = request.url.include_query_params(page=page, pageSize=wanted.size)
        return {"href": f"{url.path}?{url.query}"}

    links: dict[str, Any] = {"self": link(wanted.page), "first": link(1), "last": link(pages)}
    if wanted.page > 1:
        links["prev"] = link(wanted.page - 1)
    if wanted.page < pages:
        links["next"] = link(wanted.page + 1)
    response.headers["X-Total-Count"] = str(len(items))
    response.headers["X-Pagination-Page"] = str(wanted.page)
    response.headers["X-Pagination-Limit"] = str(wanted.size)
    start = (wanted.page - 1) * wanted.size
    return list(items[start : start + wanted.size]), links
