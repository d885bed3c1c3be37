"""Who is calling, and what they may do: OAuth 2.0 bearer JWTs and hashed API keys.

Every endpoint but the health checks, the OpenAPI document, the API docs and the dashboard's
static page needs a credential (NL GOV Assurance profile for OAuth 2.0):
* `Authorization: Bearer <JWT>`, signed by the configured issuer (public keys or a JWKS URL) or,
  without one, by the embedded issuer (`stroom_platform.issuer`); issuer, audience, `exp` and
  `nbf` are checked and only asymmetric algorithms from an allow-list are accepted;
* `X-API-Key: <key>` for machine clients that cannot do OAuth; only its SHA-256 is configured.
A token in the URL is refused: URLs end up in logs, histories and `Referer` headers.

Claims: `sub`, `scope` (space-separated), `organisation`, `municipalities` (list of CBS codes),
`sources` (list of CloudEvents sources this caller writes as).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from stroom_platform.api_docs import DOCS_URL
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.problems import Problem

log = logging.getLogger(__name__)

EVENTS_WRITE = "events:write"
REPORTS_READ = "reports:read"
REPORTS_READ_DETAIL = "reports:read:detail"
REPORTS_READ_PUBLIC = "reports:read:public"
CASELOAD_READ = "caseload:read"
OPS_READ = "ops:read"
ADMIN = "admin"
SCOPES = (
    EVENTS_WRITE,
    REPORTS_READ,
    REPORTS_READ_DETAIL,
    REPORTS_READ_PUBLIC,
    CASELOAD_READ,
    OPS_READ,
    ADMIN,
)

# Reachable without a credential: they disclose nothing about anyone's data. The OpenAPI
# document (/v1/openapi.json) is no API route, so no route dependency ever sees it; its old
# address redirects there, and the docs page and its script are static.
# The embedded issuer's token endpoint authenticates its clients itself (stroom_platform.oauth).
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/", "/openapi.json", DOCS_URL, f"{DOCS_URL}/init.js", "/oauth2/token"}
)
# Query parameters that carry a credential in some clients; refused wherever they appear.
URL_CREDENTIALS = frozenset({"token", "access_token", "id_token", "api_key", "apikey", "api-key", "jwt"})
API_KEY_HEADER = "X-API-Key"
REALM = "stroom"
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})
# How long a fetched JWKS is trusted: a key withdrawn from it stops verifying within this time.
JWKS_REFRESH_SECONDS = 300.0
# A token naming a key the cached JWKS lacks (the issuer rotated its key) has the set fetched
# again, but at most this often: a stream of made-up key ids must not turn into a stream of
# requests to the issuer.
JWKS_REFETCH_SECONDS = 30.0
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


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
                "Geen toegang tot deze gemeente",
                f"Deze inloggegevens geven geen toegang tot {', '.join(sorted(denied))}.",
            )
        return requested


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    `municipalities` is what the caller may read and write for: those named in the credential,
    else those of its organisation, else (`None`) every municipality.
    """

    subject: str
    scopes: frozenset[str]
    organisation: str | None
    municipalities: frozenset[str] | None
    sources: frozenset[str]

    @property
    def access(self) -> Access:
        return Access(self.municipalities)

    def may_write_as(self, source: str) -> bool:
        return source in self.sources

    def may_write_for(self, municipality: str) -> bool:
        return self.municipalities is not None and municipality in self.municipalities


def _municipalities(codes: Sequence[str]) -> str:
    return f"{'gemeente' if len(codes) == 1 else 'gemeenten'} {', '.join(codes)}"


def grant(
    organisations: OrganisationsConfig,
    subject: str,
    scopes: Iterable[str],
    organisation: str | None = None,
    municipalities: Iterable[str] | None = None,
    sources: Iterable[str] = (),
) -> Principal:
    """A principal from what a credential says, refusing (ValueError) what is not configured."""
    if not subject:
        raise ValueError("de inloggegevens noemen geen subject (sub)")
    codes: frozenset[str] | None = None
    if organisation is not None:
        org = organisations.organisation(organisation)
        if org is None:
            raise ValueError(f"onbekende organisatie {organisation!r}")
        codes = frozenset(m.code for m in org.municipalities)
    if municipalities is not None:
        named = frozenset(municipalities)
        unknown = sorted(named - organisations.municipality_codes)
        if unknown:
            raise ValueError(f"onbekende {_municipalities(unknown)}")
        if codes is not None and not named <= codes:
            outside = sorted(named - codes)
            belong = "hoort" if len(outside) == 1 else "horen"
            raise ValueError(f"{_municipalities(outside)} {belong} niet bij {organisation}")
        codes = named
    return Principal(subject, frozenset(scopes), organisation, codes, frozenset(sources))


class ApiKey(BaseModel):
    """One entry of STROOM_API_KEYS: the key's SHA-256 and what it grants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    subject: Annotated[str, Field(min_length=1)]
    scopes: Annotated[list[str], Field(min_length=1)]
    organisation: str | None = None
    municipalities: list[str] | None = None
    sources: list[str] = []


def hash_api_key(key: str) -> str:
    # A plain hash suffices: keys are 256 random bits, there is nothing to guess.
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class AuthProblem(Problem):
    """A refused credential: a problem document with its `WWW-Authenticate` challenge, and the
    reason the log gets."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str, challenge: str, reason: str | None = None
    ) -> None:
        super().__init__(status, slug, title, detail)
        self.headers = {"WWW-Authenticate": challenge}
        self.reason = reason or title


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def invalid_token(title: str, detail: str, reason: str | None = None) -> AuthProblem:
    """A refused token; its title is also the challenge's `error_description`, and so stays ASCII."""
    return AuthProblem(401, "invalid-token", title, detail, _challenge("invalid_token", title), reason)


def insufficient_scope(*scopes: str) -> AuthProblem:
    named = " of ".join(f"`{scope}`" for scope in scopes)
    return AuthProblem(
        403,
        "insufficient-scope",
        "Onvoldoende rechten",
        f"Hiervoor is de scope {named} nodig; deze inloggegevens hebben die niet.",
        _challenge("insufficient_scope", f"Nodig: scope {' of '.join(scopes)}", " ".join(scopes)),
    )


# Most specific first: PyJWT's exceptions form a hierarchy.
_TOKEN_ERRORS: list[tuple[type[Exception], str, str]] = [
    (jwt.ExpiredSignatureError, "Token verlopen", "Het token is verlopen (exp)."),
    (
        jwt.ImmatureSignatureError,
        "Token nog niet geldig",
        "Het token is nog niet geldig (nbf of iat ligt in de toekomst).",
    ),
    (
        jwt.InvalidIssuerError,
        "Onbekende uitgever",
        "Het token is niet uitgegeven door de uitgever die deze dienst vertrouwt (iss).",
    ),
    (
        jwt.InvalidAudienceError,
        "Token niet voor deze dienst",
        "Het token is niet voor deze dienst bedoeld (aud).",
    ),
    (
        jwt.MissingRequiredClaimError,
        "Token onvolledig",
        "Het token mist een verplicht gegeven (sub, iss, aud, exp of nbf).",
    ),
    (
        jwt.InvalidAlgorithmError,
        "Algoritme niet toegestaan",
        "Het token is ondertekend met een algoritme dat deze dienst niet accepteert.",
    ),
]
_BAD_SIGNATURE = (
    "Handtekening ongeldig",
    "De handtekening van het token klopt niet met een sleutel die deze dienst vertrouwt.",
)
_UNREADABLE = ("Token onleesbaar", "Het token is geen geldige JWT.")


def _token_problem(exc: Exception) -> AuthProblem:
    for kind, title, detail in _TOKEN_ERRORS:
        if isinstance(exc, kind):
            return invalid_token(title, detail)
    if isinstance(exc, jwt.InvalidSignatureError | jwt.InvalidKeyError | jwt.PyJWKClientError):
        return invalid_token(*_BAD_SIGNATURE)
    return invalid_token(*_UNREADABLE)


def check_algorithms(algorithms: Sequence[str]) -> list[str]:
    """The allow-list, refusing `none` and HMAC: a public key must never serve as an HMAC secret."""
    refused = sorted(a for a in algorithms if a in FORBIDDEN_ALGORITHMS or a.upper().startswith("HS"))
    if refused or not algorithms:
        raise ValueError(f"algoritmen niet toegestaan: {', '.join(refused) or '(lege lijst)'}")
    return list(algorithms)


def load_public_keys(text: str) -> list[Any]:
    """PEM public keys (one or more) or a JWKS document."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    stripped = text.strip()
    if stripped.startswith("{"):
        return [jwk.key for jwk in jwt.PyJWKSet.from_dict(json.loads(stripped)).keys]
    marker = "-----END PUBLIC KEY-----"
    blocks = [block + marker for block in stripped.split(marker) if block.strip()]
    keys = [load_pem_public_key(block.strip().encode()) for block in blocks]
    if not keys:
        raise ValueError("geen publieke sleutel gevonden")
    return keys


@dataclass(frozen=True)
class Verification:
    """A verified token's claims, and the moment until which that verdict may be reused: its
    `exp`, or sooner the next refresh of the keys that verified it."""

    claims: dict[str, Any]
    valid_until: float


class TokenVerifier:
    """Checks a JWT's signature, issuer, audience, exp and nbf; gives its claims."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        keys: Sequence[Any] = (),
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
        jwks_refresh_seconds: float = JWKS_REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
        jwks_refetch_seconds: float = JWKS_REFETCH_SECONDS,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._algorithms = check_algorithms(algorithms)
        self._keys = list(keys)
        # The key set is cached here, not in the client, so that a verification knows when the
        # keys it trusted were fetched and no verdict outlives their refresh.
        self._jwks = jwt.PyJWKClient(jwks_url, cache_jwk_set=False) if jwks_url else None
        self._jwks_refresh = jwks_refresh_seconds
        self._key_set: tuple[list[jwt.PyJWK], float] | None = None
        self._jwks_refetch = jwks_refetch_seconds
        # Verifications run in threads; one fetches while the others wait for its keys.
        self._fetching = threading.Lock()
        self._refetched = -math.inf
        self._leeway = leeway_seconds
        self.clock = clock
        if not self._keys and self._jwks is None:
            raise ValueError("tokencontrole vraagt publieke sleutels of een JWKS-adres")

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=self._algorithms,
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
        )
        return claims

    def verify(self, token: str) -> Verification:
        """The token's claims and until when they hold; raises a PyJWT error saying what is wrong
        with it."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in self._algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        keys, trusted_until = self._candidates(header.get("kid"))
        failure: Exception = jwt.InvalidSignatureError("no key verifies the signature")
        for key in keys:
            try:
                claims = self._decode(token, key)
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.InvalidAlgorithmError) as exc:
                failure = exc
            else:
                # `exp` is required and checked by `_decode`.
                return Verification(claims, min(float(claims["exp"]), trusted_until))
        raise failure

    def _candidates(self, kid: str | None) -> tuple[list[Any], float]:
        """The configured keys, or the JWKS's signing keys (the one named `kid` when it names one),
        and until when they are trusted: a key withdrawn from the JWKS is gone at its next fetch."""
        if self._jwks is None:
            return self._keys, math.inf
        now = self.clock()
        if self._outdated(kid, now):
            with self._fetching:
                if self._outdated(kid, now):  # unless a verification that held the lock fetched
                    self._fetch(now)
        assert self._key_set is not None
        jwks, fetched = self._key_set
        keys = [k for k in jwks if k.public_key_use in ("sig", None)]
        return [k.key for k in keys if kid is None or k.key_id == kid], fetched + self._jwks_refresh

    def _outdated(self, kid: str | None, now: float) -> bool:
        """Whether the cached key set is due for its refresh, or lacks `kid` and may be fetched
        again for it."""
        if self._key_set is None or now >= self._key_set[1] + self._jwks_refresh:
            return True
        known = kid is None or any(k.key_id == kid for k in self._key_set[0])
        return not known and now >= self._refetched + self._jwks_refetch

    def _fetch(self, now: float) -> None:
        assert self._jwks is not None
        if self._key_set is not None and now < self._key_set[1] + self._jwks_refresh:
            # Counted before fetching: an issuer that does not answer is not asked again sooner.
            self._refetched = now
        self._key_set = (self._jwks.get_jwk_set().keys, now)

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None


def _strings(value: Any, claim: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"claim {claim} moet een lijst van teksten zijn")
    return value


class VerifiedTokens:
    """Tokens already verified, with their principal, until their `exp` or the next refresh of the
    keys that verified them (`Verification.valid_until`): a signature check costs
    about a millisecond, a look-up a microsecond. Bounded: the least recently used go first.
    Keyed by the token's SHA-256, so the cache holds no usable credential."""

    def __init__(self, max_tokens: int = 10_000) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, key: bytes, now: float) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        principal, expires = entry
        if now >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return principal

    def put(self, key: bytes, principal: Principal, expires: float) -> None:
        self._entries[key] = (principal, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_tokens:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Authenticator:
    """Turns a request's credential into a `Principal`, or refuses it with a problem."""

    def __init__(
        self,
        organisations: OrganisationsConfig,
        verifier: TokenVerifier,
        api_keys: Sequence[ApiKey] = (),
    ) -> None:
        self.organisations = organisations
        self._verifier = verifier
        self.verified = VerifiedTokens()
        self._api_keys = {
            entry.hash: grant(
                organisations,
                entry.subject,
                entry.scopes,
                entry.organisation,
                entry.municipalities,
                entry.sources,
            )
            for entry in api_keys
        }

    def principal_from_claims(self, claims: dict[str, Any]) -> Principal:
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise ValueError("claim scope moet tekst zijn, de scopes gescheiden door spaties")
        organisation = claims.get("organisation")
        if organisation is not None and not isinstance(organisation, str):
            raise ValueError("claim organisation moet tekst zijn")
        municipalities = claims.get("municipalities")
        return grant(
            self.organisations,
            str(claims["sub"]),
            scope.split(),
            organisation,
            None if municipalities is None else _strings(municipalities, "municipalities"),
            _strings(claims.get("sources", []), "sources"),
        )

    async def token_principal(self, token: str) -> Principal:
        try:
            return await self._verified_principal(token)
        except AuthProblem as problem:
            log.warning("token geweigerd", extra={"reason": problem.reason})
            raise

    async def _verified_principal(self, token: str) -> Principal:
        """The token's principal, from the cache or verified; refuses without logging."""
        key = self.verified.key(token)
        cached = self.verified.get(key, self._verifier.clock())
        if cached is not None:
            return cached
        try:
            if self._verifier.fetches_keys:
                verification = await asyncio.to_thread(self._verifier.verify, token)
            else:
                verification = self._verifier.verify(token)
        except jwt.PyJWTError as exc:
            raise _token_problem(exc) from None
        try:
            principal = self.principal_from_claims(verification.claims)
        except ValueError as exc:
            raise invalid_token(
                "Token met onbekende gegevens",
                f"Het token is geldig ondertekend maar klopt niet met de configuratie: {exc}.",
                reason=str(exc),
            ) from None
        self.verified.put(key, principal, verification.valid_until)
        return principal

    def api_key_principal(self, key: str) -> Principal:
        presented = hash_api_key(key)
        for known, principal in self._api_keys.items():
            if hmac.compare_digest(known, presented):
                return principal
        log.warning("API-sleutel geweigerd")
        raise invalid_token("Onbekende API-sleutel", "Deze API-sleutel is niet bekend.")

    async def known_principal(self, authorization: str | None, api_key: str | None) -> Principal | None:
        """The caller a valid credential names, else None, without refusing or logging: the rate
        limit keys its buckets by it before any route runs (and the route refuses)."""
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            try:
                return await self._verified_principal(token.strip())
            except AuthProblem:
                return None
        if api_key is not None:
            return self._api_keys.get(hash_api_key(api_key.strip()))
        return None

    async def authenticate(self, request: Request) -> Principal:
        refuse_credentials_in_url(request)
        header = request.headers.get("authorization")
        key = request.headers.get(API_KEY_HEADER)
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthProblem(
                    401,
                    "invalid-credentials",
                    "Onbruikbare inloggegevens",
                    "Gebruik `Authorization: Bearer <token>`; andere schema's worden niet geaccepteerd.",
                    _challenge("invalid_request", "Gebruik het Bearer-schema"),
                )
            return await self.token_principal(token.strip())
        if key is not None:
            return self.api_key_principal(key.strip())
        raise AuthProblem(
            401,
            "credentials-required",
            "Inloggegevens vereist",
            f"Stuur `Authorization: Bearer <token>` (OAuth 2.0) of `{API_KEY_HEADER}: <sleutel>`.",
            _challenge(),
        )


def refuse_credentials_in_url(request: Request) -> None:
    found = sorted(name for name in request.query_params if name.lower() in URL_CREDENTIALS)
    if found:
        raise AuthProblem(
            400,
            "credentials-in-url",
            "Inloggegevens horen niet in de URL",
            f"Parameter {', '.join(found)} geweigerd: een URL komt in logs, browsergeschiedenis en"
            " Referer-headers terecht. Stuur het token in de header `Authorization: Bearer <token>`.",
            _challenge("invalid_request", "Inloggegevens horen niet in de URL"),
        )


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


async def principal_of(request: Request) -> Principal:
    """The caller, authenticated once per request."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = await _authenticator(request).authenticate(request)
        request.state.principal = principal
    return principal


async def authenticated(request: Request) -> None:
    """The app-wide dependency: no route but the public ones is reached without a credential."""
    refuse_credentials_in_url(request)
    if request.url.path not in PUBLIC_PATHS:
        await principal_of(request)


_BEARER = HTTPBearer(auto_error=False, description="OAuth 2.0 access token (JWT)")
_API_KEY = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="API-sleutel")


def require_scope(scope: str, *alternatives: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller, refusing (403) one with neither `scope` nor an alternative."""
    accepted = (scope, *alternatives)

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
        _key: Annotated[str | None, Security(_API_KEY)],
    ) -> Principal:
        principal = await principal_of(request)
        if principal.scopes.isdisjoint(accepted):
            raise insufficient_scope(*accepted)
        return principal

    dependency.__name__ = "require_" + "_or_".join(s.replace(":", "_") for s in accepted)
    return dependency


async def _writer(principal: Annotated[Principal, Depends(require_scope(EVENTS_WRITE))]) -> Principal:
    if principal.organisation is None or not principal.sources:
        raise Problem(
            403,
            "writer-unbound",
            "Schrijfrechten niet gebonden",
            "Een token met events:write moet aan een organisatie en ten minste één bron (source)"
            " gebonden zijn.",
        )
    return principal


Writer = Annotated[Principal, Depends(_writer)]
Reader = Annotated[Principal, Depends(require_scope(REPORTS_READ))]
# The caseload views name coaches and count their clients: operational, not a report.
CaseloadReader = Annotated[Principal, Depends(require_scope(CASELOAD_READ))]
DetailReader = Annotated[Principal, Depends(require_scope(REPORTS_READ_DETAIL))]
Operator = Annotated[Principal, Depends(require_scope(OPS_READ))]
Administrator = Annotated[Principal, Depends(require_scope(ADMIN))]
