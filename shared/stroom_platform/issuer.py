"""The embedded issuer, and the authenticator each service builds from its settings.

Without a configured issuer Stroom is its own: an Ed25519 signing key is made under
`STROOM_DATA_DIR` the first time (readable by its owner only), the services trust its public
key, and `stroom token` signs tokens with it. No configuration therefore means this issuer, never
"no authentication".
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stroom_platform.auth import Authenticator, TokenVerifier, load_public_keys
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.settings import CommonSettings

EMBEDDED_ISSUER = "urn:stroom:embedded-issuer"
KEY_FILE = "token-signing.key"
ALGORITHM = "EdDSA"
DEFAULT_TTL_SECONDS = 3600


def signing_key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The embedded issuer's key, made once; concurrent first starts all end with the same key."""
    path = signing_key_path(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written whole to a private temporary file and linked into place: a reader never sees
        # half a key, and a key another process linked first is kept.
        temporary = data_dir / f".{KEY_FILE}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        temporary.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"{path} is leesbaar voor anderen (modus {mode:o}); chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise ValueError(
            f"{path} bevat geen bruikbare ondertekeningssleutel; verwijder het bestand om een nieuwe te maken"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} bevat geen Ed25519-ondertekeningssleutel")
    return key


def mint_token(
    key: Ed25519PrivateKey,
    *,
    subject: str,
    scopes: Iterable[str],
    audience: str,
    issuer: str = EMBEDDED_ISSUER,
    organisation: str | None = None,
    municipalities: Iterable[str] | None = None,
    sources: Iterable[str] = (),
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(sorted(set(scopes))),
    }
    if organisation is not None:
        claims["organisation"] = organisation
    if municipalities is not None:
        claims["municipalities"] = sorted(set(municipalities))
    sources = sorted(set(sources))
    if sources:
        claims["sources"] = sources
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def embedded_token(settings: CommonSettings, **claims: Any) -> str:
    """A token of the embedded issuer, for the CLI's own calls and `stroom token`."""
    if not settings.embedded_issuer:
        raise ValueError("STROOM_AUTH_ISSUER is gezet: tokens komen van die uitgever, niet van Stroom")
    key = load_or_create_signing_key(settings.data_dir)
    return mint_token(key, audience=settings.auth_audience, **claims)


def build_authenticator(settings: CommonSettings, organisations: OrganisationsConfig) -> Authenticator:
    """The authenticator a service's settings describe; raises ValueError naming what is wrong."""
    if settings.embedded_issuer:
        keys = [load_or_create_signing_key(settings.data_dir).public_key()]
        verifier = TokenVerifier(
            EMBEDDED_ISSUER, settings.auth_audience, [ALGORITHM], keys, None, settings.auth_leeway_seconds
        )
    else:
        assert settings.auth_issuer is not None  # checked by the settings
        keys = []
        if settings.auth_public_keys_file is not None:
            try:
                keys = load_public_keys(settings.auth_public_keys_file.read_text())
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise ValueError(
                    f"STROOM_AUTH_PUBLIC_KEYS_FILE bevat geen bruikbare publieke sleutel: {exc}"
                ) from None
        verifier = TokenVerifier(
            settings.auth_issuer,
            settings.auth_audience,
            settings.auth_algorithms,
            keys,
            settings.auth_jwks_url,
            settings.auth_leeway_seconds,
        )
    try:
        return Authenticator(organisations, verifier, settings.api_keys)
    except ValueError as exc:
        raise ValueError(f"STROOM_API_KEYS: {exc}") from None
