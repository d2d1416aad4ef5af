"""CDS Hooks 2.0 "Trusting CDS Clients": verify the EHR's JWT (kid, asymmetric alg, aud, exp, jti)."""
from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from pathlib import Path

import jwt

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256"]
SKEW_SECONDS = 60
MAX_LIFETIME = 300  # CDS Hooks: exp no more than five minutes in the future


class AuthError(Exception):
    """401: the reason is safe to return (it names no secret)."""


def parse_issuers(raw: str) -> dict[str, dict]:
    """CDS_TRUSTED_ISSUERS: JSON {iss: {"jwks_file": path} | {"jwks": {...}}}; errors name the issuer."""
    if not raw.strip():
        return {}
    issuers = json.loads(raw)
    if not isinstance(issuers, dict):
        raise ValueError("CDS_TRUSTED_ISSUERS must be a JSON object of issuer -> key source")
    for iss, source in issuers.items():
        if not isinstance(source, dict) or not ({"jwks_file", "jwks"} & set(source)):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}] needs jwks_file or jwks")
    return issuers


@lru_cache(maxsize=32)
def load_jwks_file(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class ReplayCache:
    """Seen jti values until they expire. Per process: run one worker, or share the issuer's
    short exp window as the bound on what a replay across workers could achieve."""

    def __init__(self):
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def check_and_add(self, key: str, expires: float) -> bool:
        now = time.time()
        with self.lock:
            if len(self.seen) > 10_000:
                self.seen = {k: v for k, v in self.seen.items() if v > now}
            if self.seen.get(key, 0) > now:
                return False
            self.seen[key] = expires + SKEW_SECONDS
            return True


def find_key(source: dict, kid: str | None):
    jwks = source.get("jwks") or load_jwks_file(source["jwks_file"])
    for key in jwks.get("keys", []):
        if key.get("kid") == kid:
            return jwt.PyJWK(key).key
    raise AuthError(f"no trusted key with kid {kid!r}")


def verify_token(authorization: str | None, audience: str, issuers: dict[str, dict],
                 replay: ReplayCache) -> dict:
    """The verified claims, or AuthError saying which check failed."""
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
    source = issuers.get(unverified.get("iss"))
    if source is None:
        raise AuthError("the issuer is not trusted")
    try:
        claims = jwt.decode(token, find_key(source, header.get("kid")), algorithms=ALGORITHMS,
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
    if not replay.check_and_add(f"{claims['iss']}|{claims['jti']}", claims["exp"]):
        raise AuthError("the token's jti was already used")
    return claims
