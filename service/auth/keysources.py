"""Where keys may come from (SMART Backend Services client registrations, CDS Hooks 2.0 "Trusting CDS
Clients"): JWK Set files, https URLs, and the CDS_TRUSTED_ISSUERS map. A leaf: settings validation and
the key stores both import it, and it imports nothing of the service.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_https_or_loopback(url: str) -> bool:
    """https, or plain http to this machine only (tests and sidecars): where keys may come from."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


@lru_cache(maxsize=32)
def load_jwks_file(path: str) -> dict:
    """A JWK Set from a file, read once (checked at start-up by parse_issuers)."""
    jwks = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{path} is not a JWK Set (an object with a 'keys' array)")
    return jwks


def parse_issuers(raw: str) -> dict[str, dict]:
    """CDS_TRUSTED_ISSUERS: JSON {iss: {"jwks_file": path} | {"jwks": {...}} | {"jku": [urls]}}."""
    if not raw.strip():
        return {}
    issuers = json.loads(raw)
    if not isinstance(issuers, dict):
        raise ValueError("CDS_TRUSTED_ISSUERS must be a JSON object of issuer -> key source")
    for iss, source in issuers.items():
        if isinstance(source, dict) and "jwks_file" in source:
            load_jwks_file(str(source["jwks_file"]))  # unreadable or not a JWK Set: refuse now
        if not isinstance(source, dict) or not ({"jwks_file", "jwks", "jku"} & set(source)):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}] needs jwks_file, jwks or a jku allow-list")
        jku = source.get("jku", [])
        if not isinstance(jku, list) or not all(isinstance(u, str) for u in jku):
            raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku must be a list of URLs")
        for url in jku:
            if not is_https_or_loopback(url):
                raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].jku {url!r} must be https")
    return issuers
