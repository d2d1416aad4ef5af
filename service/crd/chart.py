"""Prefetch or fetch: the Coverage, its payer and the chart a hook needs (CDS Hooks 2.0 section 4)."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import httpx


class HookError(Exception):
    """A request we cannot answer; the edge renders status + OperationOutcome."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def flatten(value: object) -> list[dict]:
    """The resources in one prefetch value: a resource, or every entry of a Bundle."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in value.get("entry") or ()
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [value] if value.get("resourceType") else []


def readable(value: object) -> bool:
    """A resource is an object with a string resourceType (and a string id); a Bundle's entry is an
    array of objects whose resources are readable too. Checked on every call: plain loops, no strings."""
    if value.__class__ is not dict or value.get("resourceType").__class__ is not str:
        return False
    if "id" in value and value["id"].__class__ is not str:
        return False
    if value["resourceType"] != "Bundle":
        return True
    entries = value.get("entry", [])
    if entries.__class__ is not list:
        return False
    for entry in entries:
        if entry.__class__ is not dict:
            return False
        resource = entry.get("resource")
        if resource is not None and not readable(resource):
            return False
    return True


def resource_problems(value: object, where: str) -> list[str]:
    """What makes a value unreadable as FHIR R4 JSON here (see readable), each with its path."""
    if readable(value):
        return []
    if not isinstance(value, dict):
        return [f"{where} must be a FHIR resource (a JSON object)"]
    kind = value.get("resourceType")
    problems = [] if isinstance(kind, str) else [f"{where}.resourceType must be a string"]
    if not isinstance(value.get("id", ""), str):
        problems.append(f"{where}.id must be a string")
    if kind == "Bundle":
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            return problems + [f"{where}.entry must be an array"]
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(f"{where}.entry[{i}] must be an object")
            elif entry.get("resource") is not None:
                problems += resource_problems(entry["resource"], f"{where}.entry[{i}].resource")
    return problems


def fill_template(template: str, request: dict) -> str | None:
    """Substitute the prefetch tokens we use; None when a token has no value here."""
    context = request.get("context") or {}
    user = str(context.get("userId") or "")
    tokens = {"{{context.patientId}}": context.get("patientId"),
              "{{context.encounterId}}": context.get("encounterId"),
              "{{userPractitionerRoleId}}": user.split("/", 1)[1] if user.startswith("PractitionerRole/") else None}
    for token, value in tokens.items():
        if token in template:
            if not value:
                return None
            template = template.replace(token, str(value))
    return template


async def fetch_query(client: httpx.AsyncClient, base: str, query: str) -> list[dict]:
    response = await client.get(f"{base.rstrip('/')}/{query}")
    response.raise_for_status()
    return flatten(response.json())


def ehr_access(request: dict) -> tuple[str, str] | None:
    """(fhirServer, bearer token) when the request lets us read the EHR, else None."""
    server = request.get("fhirServer")
    auth = request.get("fhirAuthorization") if isinstance(request.get("fhirAuthorization"), dict) else {}
    token = auth.get("access_token")
    return (server, token) if isinstance(server, str) and isinstance(token, str) and token else None


async def fetch_all(access: tuple[str, str], queries: list[str], timeout: float) -> list[dict]:
    """GET each query from the EHR (in parallel); any failure is a 502, never a silent 'no data'."""
    server, token = access
    try:
        async with httpx.AsyncClient(timeout=timeout, headers={
                "Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}) as client:
            fetched = await asyncio.gather(*(fetch_query(client, server, q) for q in queries))
    except httpx.HTTPStatusError as exc:
        raise HookError(502, f"the EHR FHIR server answered {exc.response.status_code} "
                             f"to a query") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise HookError(502, f"the EHR FHIR server could not be read: {type(exc).__name__}") from None
    return [r for batch in fetched for r in batch]


# Only order and Medication reads, by FHIR id syntax: a reference never becomes an arbitrary URL on the EHR.
READABLE = re.compile(r"(MedicationRequest|ServiceRequest|MedicationDispense|Medication)/[A-Za-z0-9\-.]{1,64}")


@dataclass
class Chart:
    resources: list[dict]  # what the service's prefetch templates asked for
    extra: list[dict] = field(default_factory=list)  # other prefetch keys: references only


async def gather_chart(request: dict, templates: dict[str, str], timeout: float) -> Chart:
    """Prefetched resources, with what is missing fetched from fhirServer (bearer token)."""
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, dict):
        prefetch = {}
    resources, missing = [], []
    for key in templates:
        value = prefetch.get(key)
        if value is None:
            missing.append(key)
        else:
            resources += flatten(value)
    extra = [r for key, value in prefetch.items() if key not in templates for r in flatten(value)]
    if not missing:
        return Chart(resources, extra)
    access = ehr_access(request)
    if access is None:
        if "coverage" in missing:
            raise HookError(412, "prefetch 'coverage' is missing and no fhirServer with "
                                 "fhirAuthorization was given to fetch it")
        return Chart(resources, extra)
    queries = [q for k in missing if (q := fill_template(templates[k], request))]
    return Chart(resources + await fetch_all(access, queries, timeout), extra)


async def read_references(request: dict, refs: list[str], timeout: float) -> list[dict]:
    """Read 'Type/id' references the request names but did not send (orders, their Medication)."""
    access = ehr_access(request)
    wanted = [r for r in dict.fromkeys(refs) if isinstance(r, str) and READABLE.fullmatch(r)
              and not r.endswith(("/.", "/.."))]
    if not wanted or access is None:
        return []
    return await fetch_all(access, wanted, timeout)
