"""CDS Hooks 2.0 "Trusting CDS Clients": verify the EHR's JWT (kid, jku, asymmetric alg, aud, exp, jti)."""
from __future__ import annotations

import time
from typing import Any

import jwt

from service.auth.jwks import SKEW_SECONDS, JwksCache, ReplayCache, key_for
from service.auth.keysources import load_jwks_file
from service.errors import unauthorized
from service.fhir.client import HttpClient

__all__ = ["KeyStore", "ReplayCache", "verify_token"]

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256"]
MAX_LIFETIME = 300  # CDS Hooks: exp no more than five minutes in the future


class KeyStore:
    """Issuers' public keys: configured, from a file, or fetched from an allow-listed jku."""

    def __init__(self, issuers: dict[str, dict], http: HttpClient):
        self.issuers = issuers
        self.cache = JwksCache(http, "the issuer's JWK Set (jku)")

    async def find_key(self, source: dict, header: dict) -> Any:
        kid, jku = header.get("kid"), header.get("jku")
        if jku is not None:
            if jku not in source.get("jku", ()):
                raise unauthorized("the token's jku is not on this issuer's allow-list")
            jwks = await self.cache.fetch(jku, kid)
        else:
            jwks = source.get("jwks") or (load_jwks_file(source["jwks_file"]) if "jwks_file" in source else {})
        key = key_for(jwks, kid)
        if key is None:
            raise unauthorized(f"no trusted key with kid {kid!r}")
        return key


async def verify_token(authorization: str | None, audience: str, keys: KeyStore) -> dict:
    """The verified claims, or a 401 naming the failed check; replay is checked by the caller."""
    if not authorization or not authorization.startswith("Bearer "):
        raise unauthorized("a Bearer JWT is required")
    token = authorization[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise unauthorized("the token is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise unauthorized(f"algorithm {header.get('alg')!r} is not accepted")
    iss = unverified.get("iss")
    source = keys.issuers.get(iss) if isinstance(iss, str) else None
    if source is None:
        raise unauthorized("the issuer is not trusted")
    try:
        claims = jwt.decode(token, await keys.find_key(source, header), algorithms=ALGORITHMS,
                            audience=audience, leeway=SKEW_SECONDS,
                            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError:
        raise unauthorized("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise unauthorized("the token's aud is not this service's URL") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("the token was issued in the future") from None
    except jwt.PyJWTError as exc:
        raise unauthorized(f"the token failed verification: {type(exc).__name__}") from None
    except (TypeError, ValueError, KeyError):  # PyJWT's own when the header's alg does not fit the key's type
        raise unauthorized(f"the token's alg {str(header.get('alg'))[:16]!r} does not match the trusted key's type") from None
    if claims["iat"] > time.time() + SKEW_SECONDS:
        raise unauthorized("the token was issued in the future")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME + SKEW_SECONDS:
        raise unauthorized("the token lives longer than five minutes")
    return claims
