"""The structure check of PAS response Bundles, as the Inferno PAS kit makes it and stricter.

Every Reference of every entry (the ClaimResponse's back-reference to the provider's Claim aside,
as the kit and profile-pas-response-bundle allow) resolves to exactly one entry, read two ways:
against the base of the entry that holds it (FHIR R4 bundle.html#references) and against the base
of the Bundle's last entry, port dropped (the kit's reading). Installed on every client the PAS
tests use (tests/pas/conftest.py), so every response Bundle they produce is checked.
"""
from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

SKIPPED = {("ClaimResponse", "request"), ("Claim", "related")}  # back-reference; a prior Claim's own prior (spec-66)


def references(node: object, owner: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        owner = node.get("resourceType", owner) if isinstance(node.get("resourceType"), str) else owner
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for key, value in node.items():
            if (owner, key) not in SKIPPED:
                yield from references(value, owner)
    elif isinstance(node, list):
        for value in node:
            yield from references(value, owner)


def base_of(full_url: str, *, keep_port: bool = True) -> str:
    """A RESTful fullUrl less its Type/id; '' for a urn."""
    parts = urlsplit(full_url)
    if parts.scheme not in ("http", "https"):
        return ""
    host = parts.netloc if keep_port else (parts.hostname or "")
    return f"{parts.scheme}://{host}" + "/".join(parts.path.split("/")[:-2])


def absolute(reference: str, base: str) -> str:
    if reference.startswith(("urn:", "http://", "https://")) or not base:
        return reference
    return f"{base}/{reference}"


def structure_problems(bundle: dict) -> list[str]:
    """Why a PAS response Bundle fails the structure check ([] when it passes)."""
    entries = bundle.get("entry") or []
    if not entries or entries[0].get("resource", {}).get("resourceType") != "ClaimResponse":
        return ["the first entry must be the ClaimResponse"]
    urls = [e.get("fullUrl") for e in entries]
    problems = [f"fullUrl {u} appears {urls.count(u)} times" for u in set(urls) if urls.count(u) != 1]
    kit_base = base_of(urls[-1] or "", keep_port=False)
    for entry in entries:
        for ref in references(entry["resource"]):
            if ref.startswith("#"):
                continue
            for how, base in (("own base", base_of(entry["fullUrl"])), ("last entry's base", kit_base)):
                found = urls.count(absolute(ref, base))
                if found != 1:
                    problems.append(f"{entry['resource']['resourceType']} references {ref}: against the {how} "
                                    f"it SHALL appear exactly once in the Bundle, found {found}")
    return problems


def assert_structure(bundle: dict) -> None:
    problems = structure_problems(bundle)
    assert problems == [], problems


def check_pas_response(path: str, status: int, body: object) -> None:
    """Check what $submit and $inquire answered: the response Bundle, or each returned inquiry Bundle."""
    if status != 200 or not isinstance(body, dict):
        return
    if path.endswith("/Claim/$submit"):
        assert_structure(body)
    elif path.endswith("/Claim/$inquire"):
        for part in body.get("parameter") or []:
            if part.get("name") == "return":
                assert_structure(part["resource"])


def install(client) -> None:
    """Check every PAS response an httpx (or Starlette TestClient) client receives."""
    def hook(response) -> None:
        if response.request.method == "POST" and response.request.url.path.endswith(("/$submit", "/$inquire")):
            response.read()
            check_pas_response(response.request.url.path, response.status_code,
                               response.json() if response.content else None)
    client.event_hooks["response"] = [*client.event_hooks["response"], hook]
