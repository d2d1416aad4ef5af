"""Reading PAS Bundles: unwrap the operation input, key identifiers, fingerprint requests."""
from __future__ import annotations

import hashlib
import json

from service.errors import invalid, problem
from service.fhir.json import objs


def unwrap_resource(body: object, expected: str = "Bundle") -> dict:
    """The Bundle itself, or the `resource` parameter of a Parameters (FHIR operation input)."""
    if not isinstance(body, dict):
        raise invalid(problem("", "the request body must be a JSON object (a Bundle or Parameters)"))
    if body.get("resourceType") == "Parameters":
        found = [p.get("resource") for p in objs(body.get("parameter")) if p.get("name") == "resource"]
        if len(found) != 1 or not isinstance(found[0], dict):
            raise invalid(problem("Parameters.parameter", "must carry exactly one 'resource' parameter "
                                                          "holding a Bundle"))
        body = found[0]
    if body.get("resourceType") != expected:
        raise invalid(problem("resourceType", f"expected a {expected}, got {str(body.get('resourceType'))[:40]!r}"))
    return body


def identifier_key(identifier: object) -> str | None:
    """'system|value' for an Identifier, the form the store indexes."""
    if not isinstance(identifier, dict) or not identifier.get("value"):
        return None
    return f"{identifier.get('system') or ''}|{identifier['value']}"


def request_digest(bundle: dict) -> str:
    """SHA-256 of the canonical request: sorted keys, no whitespace, send-time fields dropped."""
    body = {k: v for k, v in bundle.items() if k not in ("meta", "timestamp", "id")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
