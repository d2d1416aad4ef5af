"""Registered backend clients (SMART Backend Services "Registering a client"), from one setting.

SMART_CLIENTS is JSON, inline or `@/path/to/file.json`: client id -> {"jwks": {...} | "jwks_file":
path | "jwks_uri": https URL, "scope": the most it may ask for, "organization": "system|value",
"kind": "provider" (the default) | "payer"}. Only payer clients hold payer-side permissions
(service/auth/policy.py); a provider client's payer-only scopes are left out of its tokens.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from service.auth.keysources import is_https_or_loopback, load_jwks_file
from service.auth.policy import CLIENT_KINDS, PROVIDER_CLIENT
from service.auth.scopes import parse_scope


@dataclass(frozen=True)
class RegisteredClient:
    id: str
    scope: str
    jwks: dict | None = None
    jwks_uri: str | None = None
    organization: str | None = None
    kind: str = PROVIDER_CLIENT  # a principal kind: provider-client or payer-client

    @property
    def owner(self) -> str:
        """Whose requests these are: the organization it acts for, else the client itself (isolation)."""
        return f"org:{self.organization}" if self.organization else f"client:{self.id}"


def parse_clients(raw: str) -> dict[str, RegisteredClient]:
    """The registered clients; ValueError names the first bad entry (start-up refuses it)."""
    text = raw.strip()
    if not text:
        return {}
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    entries = json.loads(text)
    if not isinstance(entries, dict):
        raise ValueError("must be a JSON object of client id -> registration")
    return {cid: parse_client(cid, entry) for cid, entry in entries.items()}


def parse_client(cid: str, entry: object) -> RegisteredClient:
    where = f"[{cid!r}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    sources = [k for k in ("jwks", "jwks_file", "jwks_uri") if k in entry]
    if len(sources) != 1:
        raise ValueError(f"{where} needs exactly one of jwks, jwks_file, jwks_uri")
    scope = entry.get("scope")
    if not isinstance(scope, str) or not scope.split() or any(parse_scope(s) is None for s in scope.split()):
        raise ValueError(f"{where}.scope must list SMART scopes, e.g. 'system/Claim.c system/ClaimResponse.rs'")
    organization = entry.get("organization")
    if organization is not None and (not isinstance(organization, str) or "|" not in organization):
        raise ValueError(f"{where}.organization must be 'system|value'")
    kind = entry.get("kind", "provider")
    if kind not in CLIENT_KINDS:
        raise ValueError(f"{where}.kind must be 'provider' or 'payer'")
    jwks, uri = entry.get("jwks"), entry.get("jwks_uri")
    if "jwks_file" in entry:
        jwks = load_jwks_file(str(entry["jwks_file"]))
    elif "jwks" in entry and (not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list)):
        raise ValueError(f"{where}.jwks must be a JWK Set")
    if uri is not None:
        if not isinstance(uri, str) or not is_https_or_loopback(uri):
            raise ValueError(f"{where}.jwks_uri must be an https URL")
    return RegisteredClient(cid, scope, jwks, uri, organization, CLIENT_KINDS[kind])
