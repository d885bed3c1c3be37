"""The embedded issuer's token endpoint: OAuth 2.0 `client_credentials` for case systems.

NL GOV Assurance profile for OAuth 2.0: a machine client (a case system) authenticates as itself
and gets a short-lived access token bound to what it was registered for, nothing more. Clients are
registered in `STROOM_OAUTH_CLIENTS` with the SHA-256 of their secret only (`stroom oauth-client`
makes secret and entry), as API keys are. The client authenticates with HTTP Basic
(`client_secret_basic`) or with `client_id` and `client_secret` in the form (`client_secret_post`).

Refusals are RFC 9457 problems like every other answer of Stroom, carrying the RFC 6749 `error`
code as a member so OAuth client libraries can read it.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from stroom_platform.auth import SCOPES, ApiKey, Authenticator, grant, hash_api_key
from stroom_platform.issuer import load_or_create_signing_key, mint_token
from stroom_platform.problems import Problem
from stroom_platform.settings import CommonSettings

ENDPOINT = "/oauth2/token"
FORM = "application/x-www-form-urlencoded"
_MAX_FORM_BYTES = 4096


class TokenAnswer(BaseModel):
    access_token: str = Field(description="Het access token (JWT), te sturen als `Authorization: Bearer`.")
    token_type: str = Field(description="Altijd `Bearer`.")
    expires_in: int = Field(description="Seconden tot het token verloopt.")
    scope: str = Field(description="De scopes van het token, gescheiden door spaties.")


class OAuthProblem(Problem):
    """A refusal with its RFC 6749 error code."""

    def __init__(self, status: int, error: str, title: str, detail: str) -> None:
        super().__init__(status, "oauth-" + error.replace("_", "-"), title, detail, error=error)
        if error == "invalid_client":
            self.headers = {"WWW-Authenticate": 'Basic realm="stroom"'}


def _invalid_client() -> OAuthProblem:
    # One answer for an unknown client and a wrong secret: the answer tells nothing of which.
    return OAuthProblem(
        401,
        "invalid_client",
        "Client onbekend of geheim onjuist",
        "De client kon niet worden geauthenticeerd.",
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:
        # Not base64 (binascii.Error), characters outside ASCII, or not UTF-8 once decoded.
        raise _invalid_client() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client()
    # RFC 6749 2.3.1: both are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise OAuthProblem(400, "invalid_request", "Ongeldig verzoek", f"Stuur het verzoek als {FORM}.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise OAuthProblem(400, "invalid_request", "Ongeldig verzoek", "Het verzoek is te groot.")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthProblem(
            400, "invalid_request", "Ongeldig verzoek", "Het formulier is onleesbaar."
        ) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthProblem(
                400, "invalid_request", "Ongeldig verzoek", f"Parameter {name} komt twee keer voor."
            )
        form[name] = value
    return form


def token_router(settings: CommonSettings, authenticator: Authenticator) -> APIRouter:
    """`POST /oauth2/token` of the embedded issuer, for the clients of `STROOM_OAUTH_CLIENTS`."""
    key = load_or_create_signing_key(settings.data_dir)
    clients: dict[str, ApiKey] = {}
    for entry in settings.oauth_clients:
        # What a client may get is checked at start-up, as API keys are.
        grant(
            authenticator.organisations, entry.subject, entry.scopes, entry.organisation, entry.municipalities
        )
        clients[entry.subject] = entry
    ttl = settings.oauth_token_ttl_seconds
    router = APIRouter(tags=["oauth"])

    @router.post(
        ENDPOINT,
        response_model=TokenAnswer,
        responses={401: {"description": "Client onbekend of geheim onjuist."}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "scope": {"type": "string", "description": "Gevraagde scopes (spaties)."},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def issue_token(request: Request) -> dict[str, Any]:
        """Een access token voor een geregistreerde client (grant `client_credentials`)."""
        form = await _form(request)
        basic = _basic_credentials(request.headers.get("authorization"))
        posted = form.get("client_id"), form.get("client_secret")
        if basic is not None and any(posted):
            raise OAuthProblem(
                400, "invalid_request", "Ongeldig verzoek", "Authenticeer de client op één manier, niet twee."
            )
        client_id, secret = basic or posted
        if form.get("grant_type") != "client_credentials":
            raise OAuthProblem(
                400,
                "unsupported_grant_type",
                "Grant type niet ondersteund",
                "Deze uitgever geeft alleen tokens met grant_type=client_credentials.",
            )
        entry = clients.get(client_id or "")
        presented = hash_api_key(secret or "")
        if entry is None or not hmac.compare_digest(entry.hash, presented):
            raise _invalid_client()
        requested = form.get("scope", "").split() or entry.scopes
        beyond = sorted(set(requested) - set(entry.scopes))
        if beyond:
            raise OAuthProblem(400, "invalid_scope", "Scope niet toegestaan", _refused_scopes(beyond))
        token = mint_token(
            key,
            subject=entry.subject,
            scopes=requested,
            audience=settings.auth_audience,
            organisation=entry.organisation,
            municipalities=entry.municipalities,
            sources=entry.sources,
            ttl_seconds=ttl,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(sorted(set(requested))),
        }

    return router


def _refused_scopes(beyond: list[str]) -> str:
    """Why scopes are refused, naming only Stroom's own: anything else a client asks for is
    counted, not repeated, as it may be its secret or a BSN put in the wrong field."""
    known = [scope for scope in beyond if scope in SCOPES]
    unknown = len(beyond) - len(known)
    parts = [f"Deze client mag {', '.join(known)} niet vragen."] if known else []
    if unknown == 1:
        parts.append("Een gevraagde scope bestaat niet.")
    elif unknown:
        parts.append(f"{unknown} gevraagde scopes bestaan niet.")
    return " ".join(parts)
