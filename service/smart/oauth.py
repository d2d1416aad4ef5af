"""SMART App Launch 2.x: discovery, PKCE S256 authorization request, code exchange."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import httpx

SCOPES = "launch openid fhirUser patient/*.rs patient/QuestionnaireResponse.cu"
STANDALONE_SCOPES = "launch/patient openid fhirUser patient/*.rs patient/QuestionnaireResponse.cu"


class LaunchError(Exception):
    """A launch that cannot go on; the page says why in plain words."""


def make_pkce() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def discover(iss: str, timeout: float) -> dict:
    """{iss}/.well-known/smart-configuration (SMART 2.x section 2.1)."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.get(f"{iss.rstrip('/')}/.well-known/smart-configuration",
                                 headers={"Accept": "application/json"})
            r.raise_for_status()
            config = r.json()
    except (httpx.HTTPError, ValueError):
        raise LaunchError("The EHR's SMART configuration could not be read.") from None
    if "authorization_endpoint" not in config or "token_endpoint" not in config:
        raise LaunchError("The EHR's SMART configuration names no authorization or token endpoint.")
    return config


def authorize_url(config: dict, *, client_id: str, redirect_uri: str, iss: str, state: str,
                  challenge: str, launch: str | None) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": SCOPES if launch else STANDALONE_SCOPES, "state": state, "aud": iss,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    if launch:
        params["launch"] = launch
    return f"{config['authorization_endpoint']}?{urlencode(params)}"


async def exchange_code(config: dict, *, code: str, verifier: str, client_id: str, redirect_uri: str,
                        timeout: float) -> dict:
    """The token response: access_token plus patient, fhirContext, appContext, fhirUser."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": client_id}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.post(config["token_endpoint"], data=data, headers={"Accept": "application/json"})
            r.raise_for_status()
            token = r.json()
    except (httpx.HTTPError, ValueError):
        raise LaunchError("The EHR did not grant access (the token exchange failed).") from None
    if not token.get("access_token"):
        raise LaunchError("The EHR's token response has no access token.")
    return token
