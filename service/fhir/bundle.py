"""Bundles and references (FHIR R4 bundle.html, references.html): open, index, resolve, build searchsets."""
from __future__ import annotations

from collections.abc import Sequence

from service.fhir.json import objs, reference_of


def flatten(value: object) -> list[dict]:
    """The resources in one value: a resource itself, or every entry of a Bundle."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in objs(value.get("entry")) if isinstance(e.get("resource"), dict)]
    return [value] if value.get("resourceType") else []


def flatten_all(values: Sequence[object]) -> list[dict]:
    """flatten over several values (Bundles given are opened up)."""
    return [r for v in values for r in flatten(v)]


def as_collection(resources: list[dict]) -> dict:
    """Resources as one collection Bundle (what the prefill defines read)."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def index_resources(resources: list[dict]) -> dict[str, dict]:
    """Resources by 'Type/id', to resolve relative references."""
    out: dict[str, dict] = {}
    for r in resources:
        if isinstance(r, dict) and isinstance(r.get("resourceType"), str) and isinstance(r.get("id"), str):
            out[f"{r['resourceType']}/{r['id']}"] = r
    return out


def find_coverage(resources: list[dict]) -> dict | None:
    """The active Coverage, else the first one (CRD and DTR: the payer is the Coverage's payor)."""
    coverages = [r for r in resources if r.get("resourceType") == "Coverage"]
    return next((c for c in coverages if c.get("status") == "active"), coverages[0] if coverages else None)


class BundleIndex:
    """Resolve references inside a Bundle the way FHIR R4 Bundle rules say (fullUrl, then Type/id)."""

    def __init__(self, bundle: dict):
        self.entries = objs(bundle.get("entry"))
        self._by_key: dict[str, dict] = {}
        for entry in self.entries:
            res = entry.get("resource")
            if not isinstance(res, dict):
                continue
            if isinstance(entry.get("fullUrl"), str):
                self._by_key[entry["fullUrl"]] = entry
            if isinstance(res.get("id"), str) and isinstance(res.get("resourceType"), str):
                self._by_key.setdefault(f"{res['resourceType']}/{res['id']}", entry)

    def entry_for(self, reference: object) -> dict | None:
        """The entry a Reference points at, or None (logical or external references)."""
        ref = reference_of(reference)
        if ref is None:
            return None
        if ref in self._by_key:
            return self._by_key[ref]
        # An absolute URL whose tail is Type/id, or a relative Type/id against absolute fullUrls.
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


def searchset(base_url: str, resource_type: str, matches: list[dict]) -> dict:
    """A FHIR searchset Bundle of matches (R4 http.html#search)."""
    return {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
            "entry": [{"fullUrl": f"{base_url}/fhir/{resource_type}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in matches]}
