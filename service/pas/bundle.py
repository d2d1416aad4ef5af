"""Reading PAS Bundles: unwrap the operation input, resolve references, fingerprint requests."""
from __future__ import annotations

import hashlib
import json

from service.crd.detect import HCPCS_CODES, HCPCS_SYSTEMS  # CONTRACT: The drug, declared once
from service.fhir.json import reference_of, text_of



def unwrap_resource(body: object, expected: str = "Bundle") -> tuple[dict | None, list[str]]:
    """The Bundle itself, or the `resource` parameter of a Parameters (FHIR operation input)."""
    if not isinstance(body, dict):
        return None, ["the request body must be a JSON object (a Bundle or Parameters)"]
    if body.get("resourceType") == "Parameters":
        found = [p.get("resource") for p in body.get("parameter") or ()
                 if isinstance(p, dict) and p.get("name") == "resource"]
        if len(found) != 1 or not isinstance(found[0], dict):
            return None, ["Parameters must carry exactly one 'resource' parameter holding a Bundle"]
        body = found[0]
    if body.get("resourceType") != expected:
        return None, [f"expected a {expected}, got {body.get('resourceType')!r}"]
    return body, []


class BundleIndex:
    """Resolve references inside a Bundle the way FHIR R4 Bundle rules say (fullUrl, type/id)."""

    def __init__(self, bundle: dict):
        self.entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)]
        self._by_key: dict[str, dict] = {}
        for entry in self.entries:
            res = entry.get("resource")
            if not isinstance(res, dict):
                continue
            if isinstance(entry.get("fullUrl"), str):
                self._by_key[entry["fullUrl"]] = entry
            if res.get("id") and res.get("resourceType"):
                self._by_key.setdefault(f"{res['resourceType']}/{res['id']}", entry)

    def entry_for(self, reference: object) -> dict | None:
        """The entry a Reference points at, or None (logical or external references)."""
        ref = reference_of(reference)
        if ref is None:
            return None
        if ref in self._by_key:
            return self._by_key[ref]
        # absolute URL whose tail is Type/id, or relative Type/id against an absolute fullUrl
        tail = "/".join(ref.rstrip("/").split("/")[-2:])
        hit = self._by_key.get(tail)
        if hit is None:
            hit = next((e for k, e in self._by_key.items() if k.endswith("/" + tail)), None)
        return hit

    def resolve(self, reference: object, resource_type: str | None = None) -> dict | None:
        entry = self.entry_for(reference)
        res = entry.get("resource") if entry else None
        if res is not None and resource_type and res.get("resourceType") != resource_type:
            return None
        return res


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


def is_besponsa_item(item: dict) -> bool:
    """True when the item's productOrService is HCPCS J9229 (or legacy C9028)."""
    concept = item.get("productOrService")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return isinstance(codings, list) and any(isinstance(c, dict) and text_of(c.get("system")) in HCPCS_SYSTEMS
                                             and text_of(c.get("code")) in HCPCS_CODES for c in codings)
