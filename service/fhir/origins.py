"""Which servers a caller may make us call (issue: outbound calls only where the payer allows).

EHR_ALLOWED_ORIGINS lists origins: `https://ehr.example.org`, a wildcard host `https://*.example.org`,
any port `http://127.0.0.1:*`, or `https://*` (any https server: the default). Plain http is
accepted only for loopback hosts, and only when listed.
"""
from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from service.config import LOOPBACK


def parse_origins(raw: str) -> tuple[str, ...]:
    """The allow-list; ValueError names an entry that is not scheme://host[:port] (start-up refuses it)."""
    entries = tuple(e.strip().rstrip("/") for e in raw.replace("\n", ",").split(",") if e.strip())
    for entry in entries:
        parts = urlsplit(entry.replace("*", "x"))
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
            raise ValueError(f"{entry!r} is not an origin (scheme://host[:port], '*' allowed in host or port)")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError(f"{entry!r}: plain http is allowed for loopback hosts only")
    return entries


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL with no credentials, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return None
    if not all(c.isascii() and c.isprintable() for c in url):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def is_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """True when the URL's origin matches an allow-list entry (and http only on loopback)."""
    origin = origin_of(url)
    if origin is None:
        return False
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        return False
    return any(fnmatch.fnmatchcase(origin, entry) for entry in allowed)
