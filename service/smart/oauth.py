"""SMART App Launch 2.x: discovery, PKCE S256 authorization request, code exchange."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from service.errors import ApiError, upstream
from service.fhir.client import HttpClient

SCOPES = "launch openid fhirUser patient/*.rs patient/QuestionnaireResponse.cu"
STANDALONE_SCOPES = "launch/patient openid fhirUser patient/*.rs patient/QuestionnaireResponse.cu"


def make_pkce() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def discover(http: HttpClient, iss: str) -> dict:
    """{iss}/.well-known/smart-configuration (SMART 2.x section 2.1); a 502 when it cannot be used."""
    try:
        config = await http.get_json(f"{iss.rstrip('/')}/.well-known/smart-configuration",
                                     what="the EHR's SMART configuration", limit=256 * 1024)  # kilobytes, always
    except ApiError:
        raise upstream("The EHR's SMART configuration could not be read.") from None
    if not isinstance(config, dict) or not all(
            isinstance(config.get(k), str) and config[k].startswith(("https://", "http://"))
            for k in ("authorization_endpoint", "token_endpoint")):
        raise upstream("The EHR's SMART configuration names no usable authorization or token endpoint.")
    # Only what the launch needs is kept in the session, never the whole document.
    return {k: config[k] for k in ("authorization_endpoint", "token_endpoint")}


def authorize_url(config: dict, *, client_id: str, redirect_uri: str, iss: str, state: str,
                  challenge: str, launch: str | None) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": SCOPES if launch else STANDALONE_SCOPES, "state": state, "aud": iss,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    if launch:
        params["launch"] = launch
    return f"{config['authorization_endpoint']}?{urlencode(params)}"


async def exchange_code(http: HttpClient, config: dict, *, code: str, verifier: str, client_id: str,
                        redirect_uri: str) -> dict:
    """The token response: access_token plus patient, fhirContext, appContext, fhirUser."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": client_id}
    try:
        token = await http.post_form(config["token_endpoint"], data, what="the EHR's token endpoint")
    except ApiError:
        raise upstream("The EHR did not grant access (the token exchange failed).") from None
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise upstream("The EHR's token response has no access token.")
    return token
