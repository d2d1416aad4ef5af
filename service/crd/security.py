"""CDS Hooks 2.0 "Trusting CDS Clients": verify the EHR's JWT (kid, jku, asymmetric alg, aud, exp, jti)."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt

from service.storage.hooks import claim_token_use

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256"]
SKEW_SECONDS = 60
MAX_LIFETIME = 300  # CDS Hooks: exp no more than five minutes in the future
JWKS_TTL = 300  # seconds a fetched JWK Set is reused before it is read again
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class AuthError(Exception):
    """401: the reason is safe to return (it names no secret)."""


def parse_issuers(raw: str) -> dict[str, dict]:
    """CDS_TRUSTED_ISSUERS: JSON {iss: {"jwks_file": path} | {"jwks": {...}} | {"jku": [urls]}}."""
    if not raw.strip():
        return {}
    issuers = json.loads(raw)
    if not isinstance(issuers, dict):
        raise ValueError("CDS_TRUSTED_ISSUERS must be a JSON object of issuer -> key source")
    for iss, source in issuers.items():
        if not isinstance(source, dict) or not ({"jwks_file", "jwks", "jku"} & set(source)):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}] needs jwks_file, jwks or a jku allow-list")
        jku = source.get("jku", [])
        if not isinstance(jku, list) or not all(isinstance(u, str) for u in jku):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku must be a list of URLs")
        for url in jku:  # keys over plain http only from this machine (tests, sidecars)
            parts = urlsplit(url)
            if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
                raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku {url!r} must be https")
    return issuers


@lru_cache(maxsize=32)
def load_jwks_file(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class KeyStore:
    """Issuers' public keys: configured, from a file, or fetched from an allow-listed jku."""

    def __init__(self, issuers: dict[str, dict], timeout: float = 5.0):
        self.issuers, self.timeout = issuers, timeout
        self.fetched: dict[str, tuple[float, dict]] = {}

    async def find_key(self, source: dict, header: dict):
        kid, jku = header.get("kid"), header.get("jku")
        if jku is not None:
            if jku not in source.get("jku", ()):
                raise AuthError("the token's jku is not on this issuer's allow-list")
            jwks = await self.fetch_jwks(jku, kid)
        else:
            jwks = source.get("jwks") or (load_jwks_file(source["jwks_file"]) if "jwks_file" in source else {})
        for key in jwks.get("keys", []) if isinstance(jwks, dict) else ():
            if isinstance(key, dict) and key.get("kid") == kid:
                try:
                    return jwt.PyJWK(key).key
                except jwt.PyJWTError:
                    raise AuthError(f"the trusted key {kid!r} cannot be used") from None
        raise AuthError(f"no trusted key with kid {kid!r}")

    async def fetch_jwks(self, url: str, kid: object) -> dict:
        """The JWK Set at an allow-listed URL, cached; read again when a new kid appears (rotation)."""
        now = time.monotonic()
        cached = self.fetched.get(url)
        if cached and now - cached[0] < JWKS_TTL and (
                any(k.get("kid") == kid for k in cached[1].get("keys", [])) or now - cached[0] < 10):
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                jwks = response.json()
        except (httpx.HTTPError, ValueError):
            raise AuthError("the issuer's JWK Set (jku) could not be read") from None
        if not isinstance(jwks, dict):
            raise AuthError("the issuer's JWK Set (jku) is not a JWK Set")
        self.fetched[url] = (now, jwks)
        return jwks


class ReplayCache:
    """jti values already used: a fast per-process set in front of a table every worker shares."""

    def __init__(self, storage=None):
        self.storage = storage
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def check_and_add(self, key: str, expires: float) -> bool:
        now = time.time()
        until = expires + SKEW_SECONDS
        with self.lock:
            if len(self.seen) > 10_000:
                self.seen = {k: v for k, v in self.seen.items() if v > now}
            if self.seen.get(key, 0) > now:
                return False
            self.seen[key] = until
        if self.storage is None:
            return True
        return claim_token_use(self.storage, hashlib.sha256(key.encode()).hexdigest(), until, now)


async def verify_token(authorization: str | None, audience: str, keys: KeyStore) -> dict:
    """The verified claims, or AuthError saying which check failed (replay is checked by the caller)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError("a Bearer JWT is required")
    token = authorization[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError("the token is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise AuthError(f"algorithm {header.get('alg')!r} is not accepted")
    source = keys.issuers.get(unverified.get("iss"))
    if source is None:
        raise AuthError("the issuer is not trusted")
    try:
        claims = jwt.decode(token, await keys.find_key(source, header), algorithms=ALGORITHMS,
                            audience=audience, leeway=SKEW_SECONDS,
                            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("the token's aud is not this service's URL") from None
    except jwt.ImmatureSignatureError:
        raise AuthError("the token was issued in the future") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"the token failed verification: {type(exc).__name__}") from None
    if claims["iat"] > time.time() + SKEW_SECONDS:
        raise AuthError("the token was issued in the future")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME + SKEW_SECONDS:
        raise AuthError("the token lives longer than five minutes")
    return claims
