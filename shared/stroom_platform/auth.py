"""Read access per municipality with a simple bearer credential.

`STROOM_API_TOKENS` maps tokens to what they may see:
`token-a=GM0405,GM0420;token-b=werksaam-westfriesland` (municipality codes or whole
organisations). Without tokens configured every caller sees everything: the embedded
single-user mode. Full authentication replaces `Access.from_token`, not the endpoints.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request

from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.problems import Problem


@dataclass(frozen=True)
class Access:
    """The municipalities a caller may read; `None` means all of them."""

    municipalities: frozenset[str] | None

    def allows(self, municipality: str) -> bool:
        return self.municipalities is None or municipality in self.municipalities

    def restrict(self, requested: Iterable[str]) -> list[str]:
        """The requested municipalities, refusing any the caller may not see."""
        requested = list(requested)
        denied = [code for code in requested if not self.allows(code)]
        if denied:
            raise Problem(
                403,
                "forbidden-municipality",
                "Not authorised for this municipality",
                f"This credential may not read {', '.join(sorted(denied))}.",
            )
        return requested


def parse_tokens(spec: str, organisations: OrganisationsConfig) -> dict[str, frozenset[str]]:
    tokens: dict[str, frozenset[str]] = {}
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        token, _, scopes = entry.partition("=")
        if not token or not scopes:
            raise ValueError("each API token entry must look like token=GM0405,organisation-code")
        codes: set[str] = set()
        for scope in (s.strip() for s in scopes.split(",")):
            org = organisations.organisation(scope)
            if org is not None:
                codes.update(m.code for m in org.municipalities)
            elif scope in organisations.municipality_codes:
                codes.add(scope)
            else:
                raise ValueError(f"API token scope {scope!r} is no configured municipality or organisation")
        tokens[token] = frozenset(codes)
    return tokens


class Authoriser:
    """A FastAPI dependency: `access: Annotated[Access, Depends(authoriser)]`."""

    def __init__(self, tokens: dict[str, frozenset[str]] | None) -> None:
        self._tokens = tokens

    @property
    def enabled(self) -> bool:
        return self._tokens is not None

    def __call__(self, request: Request) -> Access:
        if self._tokens is None:
            return Access(None)
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        presented = presented or request.query_params.get("token", "")
        for token, municipalities in self._tokens.items():
            if presented and hmac.compare_digest(token, presented):
                return Access(municipalities)
        raise Problem(
            401,
            "unauthorized",
            "Credential required",
            "Send `Authorization: Bearer <token>` with a token configured in STROOM_API_TOKENS.",
        )
