"""CDS Hooks 2.0 "Trusting CDS Clients": verify the EHR's JWT (kid, jku, asymmetric alg, aud, exp, jti)."""
from __future__ import annotations

import hashlib
import threading
import time

import jwt

from service.config import load_jwks_file
from service.errors import ApiError, unauthorized
from service.fhir.client import HttpClient
from service.storage.hooks import claim_token_use

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256"]
SKEW_SECONDS = 60
MAX_LIFETIME = 300  # CDS Hooks: exp no more than five minutes in the future
JWKS_TTL = 300  # seconds a fetched JWK Set is reused before it is read again


class KeyStore:
    """Issuers' public keys: configured, from a file, or fetched from an allow-listed jku."""

    def __init__(self, issuers: dict[str, dict], http: HttpClient):
        self.issuers, self.http = issuers, http
        self.fetched: dict[str, tuple[float, dict]] = {}

    async def find_key(self, source: dict, header: dict):
        kid, jku = header.get("kid"), header.get("jku")
        if jku is not None:
            if jku not in source.get("jku", ()):
                raise unauthorized("the token's jku is not on this issuer's allow-list")
            jwks = await self.fetch_jwks(jku, kid)
        else:
            jwks = source.get("jwks") or (load_jwks_file(source["jwks_file"]) if "jwks_file" in source else {})
        for key in jwks.get("keys", []) if isinstance(jwks, dict) else ():
            if isinstance(key, dict) and key.get("kid") == kid:
                try:
                    return jwt.PyJWK(key).key
                except jwt.PyJWTError:
                    raise unauthorized(f"the trusted key {kid!r} cannot be used") from None
        raise unauthorized(f"no trusted key with kid {kid!r}")

    async def fetch_jwks(self, url: str, kid: object) -> dict:
        """The JWK Set at an allow-listed URL, cached; read again when a new kid appears (rotation)."""
        now = time.monotonic()
        cached = self.fetched.get(url)
        if cached and now - cached[0] < JWKS_TTL and (
                any(k.get("kid") == kid for k in cached[1].get("keys", [])) or now - cached[0] < 10):
            return cached[1]
        try:
            jwks = await self.http.get_json(url, what="the issuer's JWK Set (jku)")
        except ApiError:
            raise unauthorized("the issuer's JWK Set (jku) could not be read") from None
        if not isinstance(jwks, dict):
            raise unauthorized("the issuer's JWK Set (jku) is not a JWK Set")
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
    if claims["iat"] > time.time() + SKEW_SECONDS:
        raise unauthorized("the token was issued in the future")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME + SKEW_SECONDS:
        raise unauthorized("the token lives longer than five minutes")
    return claims
