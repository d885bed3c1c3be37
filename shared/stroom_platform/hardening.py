"""Security headers on every response and a rate limit per credential, for all three services.

Both are plain ASGI middleware: they see every answer, also problems and static files, and add
no per-request work beyond a header list and a dictionary look-up.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stroom_contract.redaction import redact
from stroom_platform.api_docs import DOCS_URL
from stroom_platform.auth import API_KEY_HEADER, Authenticator
from stroom_platform.problems import PROBLEM_JSON, TYPE_BASE
from stroom_platform.settings import CommonSettings

# No inline script or style anywhere: the dashboard loads its code and styles from /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API docs page (stroom_platform.api_docs) loads its script from the service like the
# dashboard does; Swagger UI sets some styles inline, so only its page allows those.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HSTS = "max-age=31536000; includeSubDomains"
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# By (docs page, HTTPS): the headers a response gets, unless it sets one itself.
_EXTRA = {
    (docs, https): (
        *_COMMON,
        (b"content-security-policy", (DOCS_CSP if docs else CSP).encode()),
        *([(b"strict-transport-security", HSTS.encode())] if https else []),
    )
    for docs in (False, True)
    for https in (False, True)
}
# Probes must answer however busy a caller is.
_UNLIMITED = frozenset({"/healthz", "/readyz"})


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str], tls_terminated: bool) -> None:
        self.app = app
        self.docs_paths = docs_paths
        self.tls_terminated = tls_terminated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.tls_terminated or scope.get("scheme") == "https"
        extra = _EXTRA[scope["path"] in self.docs_paths, https]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                if b"cache-control" not in present:
                    # Answers hold figures about people's benefits: no cache keeps a copy.
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets per key: `rate` requests a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        # Most recently used last; the least recently used go first when there are too many keys.
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


async def bucket_key(scope: Scope, authenticator: Authenticator) -> str:
    """Whose bucket a request takes from: the verified subject of its token or API key, else its
    client address. Never the raw header: anyone can send a new made-up token with each request."""
    headers = Headers(scope=scope)
    principal = await authenticator.known_principal(headers.get("authorization"), headers.get(API_KEY_HEADER))
    if principal is not None:
        # The route's dependency finds the caller here and does not look it up again.
        scope.setdefault("state", {})["principal"] = principal
        return "subject:" + principal.subject
    client = scope.get("client")
    return "address:" + (client[0] if client else "unknown")


class RateLimit:
    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets, authenticator: Authenticator) -> None:
        self.app = app
        self.buckets = buckets
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNLIMITED:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(await bucket_key(scope, self.authenticator), time.monotonic())
        if not wait:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        body = orjson.dumps(
            {
                "type": TYPE_BASE + "too-many-requests",
                "title": "Te veel verzoeken",
                "status": 429,
                "detail": f"Deze credential doet meer verzoeken dan toegestaan; probeer het over "
                f"{retry_after} seconden opnieuw.",
                "instance": redact(scope["path"]),
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def harden(app: FastAPI, settings: CommonSettings) -> None:
    """Rate limit inside, headers outside: a 429 carries the security headers too."""
    if settings.rate_limit_per_second > 0:
        buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, authenticator=app.state.authenticator)
    docs = {DOCS_URL, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.add_middleware(
        SecurityHeaders,
        docs_paths=frozenset(p for p in docs if p),
        tls_terminated=settings.tls_terminated,
    )
