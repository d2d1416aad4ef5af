"""Reading PAS Bundles (unwrap the operation input, key identifiers, fingerprint requests) and
assembling response Bundles in which every reference resolves to exactly one entry."""
from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator

from service.errors import invalid, problem
from service.fhir.bundle import BundleIndex
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


# Back-references to the provider's own Claim: PAS response Bundles need not carry it (profile-pas-
# response-bundle has no Claim slice; the Inferno PAS kit skips ClaimResponse.request alike).
BACK_REFERENCES = frozenset({("ClaimResponse", "request")})


def references_in(node: object, skip: frozenset = frozenset(), owner: str = "") -> Iterator[dict]:
    """Every Reference object (a dict holding a string `reference`) in a resource, at any depth."""
    if isinstance(node, dict):
        kind = node.get("resourceType")
        owner = kind if isinstance(kind, str) else owner
        if isinstance(node.get("reference"), str):
            yield node
        for key, value in node.items():
            if (owner, key) not in skip:
                yield from references_in(value, skip, owner)
    elif isinstance(node, list):
        for value in node:
            yield from references_in(value, skip, owner)


# What this service makes: named under its own base, never resolved against a request.
OWN_TYPES = frozenset({"ClaimResponse", "CommunicationRequest", "Task"})


def own_url(base: str, target: str) -> str | None:
    """Our absolute URL for a reference to one of our resources (Type/id, or under any earlier base)."""
    parts = target.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in OWN_TYPES and (len(parts) == 2 or target.startswith(("http://", "https://"))):
        return f"{base}/fhir/{parts[-2]}/{parts[-1]}"
    return None


def point_to(ref: dict, base: str, index: BundleIndex) -> dict | None:
    """Make one of our references absolute (FHIR R4 bundle.html#references: resolvable whatever base a
    reader takes): ours to our URL, a request resource to its request fullUrl (returned, to echo); one
    that resolves nowhere becomes a logical reference (its identifier / display kept)."""
    target = ref["reference"]
    if target.startswith("#"):
        return None
    if (mine := own_url(base, target)) is not None:
        ref["reference"] = mine
        return None
    entry = index.entry_for(ref)
    if entry is not None and isinstance(entry.get("fullUrl"), str) and isinstance(entry.get("resource"), dict):
        ref["reference"] = entry["fullUrl"]
        return entry
    del ref["reference"]
    if not ref.get("identifier") and not ref.get("display"):
        ref["display"] = target[:200]
    return None


def absolute_references(resource: dict, base: str, request_bundle: dict) -> dict:
    """A copy of our resource whose references name what they mean absolutely (stored as served)."""
    out, index = copy.deepcopy(resource), BundleIndex(request_bundle)
    for ref in references_in(out, BACK_REFERENCES):
        point_to(ref, base, index)
    return out


def response_entries(base: str, own: list[dict], request_bundle: dict) -> list[dict]:
    """A PAS response Bundle's entries: our resources under our base (ClaimResponse first, spec-30), then
    each request resource they reference, and those reference in turn, once each with its request
    fullUrl (spec-31, spec-33). Request resources come last: their own relative references resolve
    against their base, which a reader taking the last entry's base (the Inferno kit) also gets."""
    index = BundleIndex(request_bundle)
    own = [copy.deepcopy(r) for r in own]
    queue = [e for r in own for ref in references_in(r, BACK_REFERENCES) if (e := point_to(ref, base, index))]
    mine = [f"{base}/fhir/{r['resourceType']}/{r['id']}" for r in own]
    echoed: dict[str, dict] = {}
    while queue:
        entry = queue.pop(0)
        if entry["fullUrl"] in echoed or entry["fullUrl"] in mine:
            continue
        echoed[entry["fullUrl"]] = {"fullUrl": entry["fullUrl"], "resource": entry["resource"]}
        # A Claim reached here is a prior Claim: its own related Claim stays out (spec-66).
        for ref in references_in(entry["resource"], frozenset({("Claim", "related")})):
            found = index.entry_for(ref)
            if found is not None and isinstance(found.get("fullUrl"), str) and isinstance(found.get("resource"), dict):
                queue.append(found)
    return [{"fullUrl": url, "resource": r} for url, r in zip(mine, own, strict=True)] + list(echoed.values())
