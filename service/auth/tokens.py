"""Access tokens for backend clients (SMART Backend Services): the client assertion in, a short-lived
bearer token out, and its verification on every protected request.

The assertion is an RFC 7523 JWT signed with the client's registered key (RS384 or ES384, by
`kid`); our access token is a JWT we sign with a secret every worker shares (server_secrets), so
any worker verifies any token without a lookup.
"""
from __future__ import annotations

import secrets
import time
from functools import lru_cache
from typing import Any

import jwt
from anyio import to_thread

from service.auth.clients import RegisteredClient
from service.auth.jwks import SKEW_SECONDS, JwksCache, ReplayCache, key_for
from service.auth.policy import KINDS, PAYER_CLIENT, PROVIDER_CLIENT, REVIEW_SCOPE, Principal
from service.auth.scopes import grant, parse_scope, parse_scopes
from service.errors import ApiError, OAuthError  # RFC 6749 5.2 errors, rendered by errors.render

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS384", "ES384"]  # SMART Backend Services: the two a server must support
MAX_ASSERTION_LIFETIME = 300  # exp at most five minutes ahead
TOKEN_SECONDS = 300


Caller = Principal  # the guard's name for the principal a token names (service/auth/policy.py)


async def verify_assertion(assertion: str, client_id_hint: str | None, clients: dict[str, RegisteredClient],
                           token_url: str, jwks: JwksCache, replay: ReplayCache) -> RegisteredClient:
    """The client a valid assertion proves; OAuthError invalid_client for anything else."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_client", "client_assertion is not a JWT", 401) from None
    if header.get("alg") not in ASSERTION_ALGORITHMS:  # none, HS256 (key confusion) and others
        raise OAuthError("invalid_client", f"algorithm {str(header.get('alg'))[:16]!r} is not accepted "
                                           f"(use {' or '.join(ASSERTION_ALGORITHMS)})", 401)
    iss = unverified.get("iss")
    client = clients.get(iss) if isinstance(iss, str) else None
    if client is None or (client_id_hint is not None and client_id_hint != iss):
        raise OAuthError("invalid_client", "the client is not registered here", 401)
    keys = client.jwks if client.jwks is not None else await fetch_client_jwks(client, header.get("kid"), jwks)
    key = key_for(keys, header.get("kid"))
    if key is None:
        raise OAuthError("invalid_client", "no registered key has the assertion's kid", 401)
    try:
        claims = jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS, audience=token_url, issuer=client.id,
                            leeway=SKEW_SECONDS, options={"require": ["iss", "sub", "aud", "exp", "jti"]})
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_client", "the assertion has expired", 401) from None
    except jwt.InvalidAudienceError:
        raise OAuthError("invalid_client", f"the assertion's aud must be this token endpoint's URL exactly: {token_url}",
                         401) from None
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_client", f"the assertion failed verification ({type(exc).__name__})", 401) from None
    except (TypeError, ValueError, KeyError):  # PyJWT's own: a header alg the registered key cannot verify
        raise OAuthError("invalid_client", f"the assertion's alg {str(header.get('alg'))[:16]!r} does not match "
                                           "the registered key's type", 401) from None
    if claims["sub"] != client.id:
        raise OAuthError("invalid_client", "the assertion's sub must equal its iss (the client id)", 401)
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] > time.time() + MAX_ASSERTION_LIFETIME + SKEW_SECONDS:
        raise OAuthError("invalid_client", "the assertion's exp is more than five minutes ahead", 401)
    # The replay table is in the database: checked on a worker thread, never on the event loop.
    if not isinstance(claims["jti"], str) or not await to_thread.run_sync(
            replay.check_and_add, f"{client.id}|{claims['jti']}", claims["exp"]):
        raise OAuthError("invalid_client", "the assertion's jti was already used", 401)
    return client


def claimed_client(assertion: object, client_id_hint: object) -> str | None:
    """The client id a token request claims (form client_id, else the assertion's unverified iss), for the
    log line of a refusal; at most 64 characters, since anyone may send anything."""
    claimed = client_id_hint
    if not isinstance(claimed, str) and isinstance(assertion, str):
        try:
            claimed = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return None
    return claimed[:64] if isinstance(claimed, str) else None


async def fetch_client_jwks(client: RegisteredClient, kid: object, jwks: JwksCache) -> dict:
    assert client.jwks_uri is not None
    try:
        return await jwks.fetch(client.jwks_uri, kid)
    except ApiError:
        raise OAuthError("invalid_client", "the client's registered JWK Set could not be read", 401) from None


def is_payer_only(word: str) -> bool:
    """A scope that names the reviewer API's permission explicitly (system/ClaimResponse with u)."""
    scope = parse_scope(word)
    return scope is not None and scope.resource == REVIEW_SCOPE[0] and REVIEW_SCOPE[1] in scope.actions


def granted_scopes(client: RegisteredClient, requested: str) -> list[str]:
    """requested ∩ registered, less a provider client's payer-only scopes (issue 20); invalid_scope when
    nothing is left. A provider's wildcard scope still covers ClaimResponse.u as a SMART scope, but the
    token's kind keeps every payer route closed to it (service/auth/policy.py)."""
    if not requested.strip():
        raise OAuthError("invalid_scope", "ask for at least one scope, e.g. system/Claim.c")
    granted = grant(client.scope, requested)
    if client.kind != PAYER_CLIENT:
        granted = [word for word in granted if not is_payer_only(word)]
    if not granted:
        raise OAuthError("invalid_scope", "none of the requested scopes is registered for this client")
    return granted


def issue_token(secret: str, issuer: str, client: RegisteredClient, scopes: list[str]) -> dict[str, Any]:
    """The token response (RFC 6749 section 5.1; SMART: token_type bearer, expires_in at most 300)."""
    now = int(time.time())
    claims = {"iss": issuer, "aud": issuer, "sub": client.id, "owner": client.owner, "kind": client.kind,
              "scope": " ".join(scopes),
              "iat": now, "exp": now + TOKEN_SECONDS, "jti": secrets.token_urlsafe(12)}
    return {"access_token": jwt.encode(claims, secret, algorithm="HS256"), "token_type": "bearer",
            "expires_in": TOKEN_SECONDS, "scope": " ".join(scopes)}


def read_token(token: str, secret: str, issuer: str) -> Caller | None:
    """The caller a bearer token names, or None when it is not one of ours, tampered or expired."""
    found = verified(token, secret, issuer)
    if found is None or found[0] <= time.time():
        return None
    return found[1]


@lru_cache(maxsize=8192)
def verified(token: str, secret: str, issuer: str) -> tuple[float, Caller] | None:
    """(exp, caller) of a token whose signature, audience and issuer check out; expiry is checked by
    the caller on every use. Why cached: PyJWT's decode cost ~200 µs a call here, and a client sends
    the same token for up to five minutes; the result depends only on the arguments."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=issuer, issuer=issuer,
                            options={"require": ["sub", "exp", "scope", "owner"], "verify_exp": False})
    except jwt.PyJWTError:
        return None
    if not all(isinstance(claims.get(k), str) for k in ("sub", "scope", "owner")) or \
            not isinstance(claims["exp"], (int, float)):
        return None
    kind = claims.get("kind", PROVIDER_CLIENT)  # tokens from before client kinds were providers'
    if kind not in KINDS:
        return None
    return float(claims["exp"]), Principal(kind, claims["sub"], claims["owner"], tuple(parse_scopes(claims["scope"])))
