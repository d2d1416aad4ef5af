"""JWK Sets and JWT replay: keys by `kid` from a configured set or an allow-listed URL (cached,
re-read on an unknown kid at most every 10 s), and `jti` values every worker has seen (RFC 7523)."""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import jwt

from service.errors import ApiError, unauthorized
from service.fhir.client import HttpClient, named
from service.storage.hooks import claim_token_use

JWKS_TTL = 300  # seconds a fetched JWK Set is reused before it is read again
REFETCH_AFTER = 10  # an unknown kid reads the set again, but no more often than this
SKEW_SECONDS = 60


def key_for(jwks: object, kid: object) -> Any:
    """The public key with this `kid` in a JWK Set, or None; an unusable key is a 401."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    for key in keys if isinstance(keys, list) else ():
        if isinstance(key, dict) and key.get("kid") == kid:
            try:
                return jwt.PyJWK(key).key
            except jwt.PyJWTError:
                raise unauthorized(f"the trusted key {kid!r} cannot be used") from None
    return None


class JwksCache:
    """JWK Sets fetched through the one outbound client, per URL (one per app, event-loop thread).

    `allowed` is the allow-list each fetch is checked against (issue 20): EHR_ALLOWED_ORIGINS for clients'
    jwks_uri. None: the URL's own origin, for URLs the operator listed exactly and the caller matched
    before fetching (CDS_TRUSTED_ISSUERS jku).
    """

    def __init__(self, http: HttpClient, what: str = "the JWK Set", allowed: tuple[str, ...] | None = None):
        self.http, self.what, self.allowed = http, what, allowed
        self.fetched: dict[str, tuple[float, dict]] = {}

    async def fetch(self, url: str, kid: object) -> dict:
        """The JWK Set at `url`, cached; read again when a new kid appears (key rotation)."""
        now = time.monotonic()
        cached = self.fetched.get(url)
        if cached and now - cached[0] < JWKS_TTL and (
                key_known(cached[1], kid) or now - cached[0] < REFETCH_AFTER):
            return cached[1]
        try:
            jwks = await self.http.under(self.policy_for(url)).get_json(url, what=self.what, limit=256 * 1024)
        except ApiError:
            raise unauthorized(f"{self.what} could not be read") from None
        if not isinstance(jwks, dict):
            raise unauthorized(f"{self.what} is not a JWK Set")
        self.fetched[url] = (now, jwks)
        return jwks

    def policy_for(self, url: str) -> tuple[str, ...]:
        return self.allowed if self.allowed is not None else named(url)  # as the operator wrote it


def key_known(jwks: dict, kid: object) -> bool:
    keys = jwks.get("keys")
    return isinstance(keys, list) and any(isinstance(k, dict) and k.get("kid") == kid for k in keys)


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
