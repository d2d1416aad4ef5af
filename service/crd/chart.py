"""Prefetch or fetch: the Coverage, its payer and the chart a hook needs (CDS Hooks 2.0 section 4)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from service.errors import ApiError, precondition_failed
from service.fhir.chart import ChartQuery, prefetch_tokens, read_queries
from service.fhir.client import FhirServer, HttpClient
from service.fhir.json import obj
from service.fhir.origins import Refused, decide

# Only order and Medication reads, by FHIR id syntax: a reference never becomes an arbitrary URL on the EHR.
READABLE = re.compile(r"(MedicationRequest|ServiceRequest|MedicationDispense|Medication)/[A-Za-z0-9\-.]{1,64}")


@dataclass
class Chart:
    resources: list[dict]  # what the service's prefetch templates asked for
    extra: list[dict] = field(default_factory=list)  # other prefetch keys: references only


def ehr_server(request: dict, http: HttpClient, allowed: tuple[str, ...]) -> FhirServer | None:
    """The EHR's FHIR server with the hook's bearer token, when the request lets us read it; a
    fhirServer outside EHR_ALLOWED_ORIGINS is never called (our token would go wherever it points)."""
    server = request.get("fhirServer")
    token = obj(request.get("fhirAuthorization")).get("access_token")
    if not (isinstance(server, str) and isinstance(token, str) and token):
        return None
    try:
        decide(server, allowed)
    except Refused as exc:
        raise precondition_failed(f"fhirServer is not an EHR this payer is set up to call "
                                  f"(EHR_ALLOWED_ORIGINS): {exc}") from None
    return FhirServer(http.under(allowed), server, token)  # checked again, with DNS, at connect time


def hook_tokens(request: dict) -> dict[str, str | None]:
    context = obj(request.get("context"))
    return prefetch_tokens(context.get("patientId"), context.get("userId"), context.get("encounterId"))


async def fetch(server: FhirServer, queries: list[ChartQuery], tokens: dict[str, str | None]) -> list[dict]:
    """Read from the EHR; CDS Hooks 2.0 answers 412 when the data cannot be retrieved."""
    try:
        return await read_queries(server, queries, tokens)
    except ApiError as exc:
        raise precondition_failed(f"the EHR FHIR data the hook needs could not be read: {exc.message}") from None


def open_into(out: list[dict], value: object) -> None:
    """fhir.bundle.flatten, appending to `out`: a resource itself, or each entry's resource of a
    Bundle (one loop, no lists in between; every hook call opens a dozen prefetch values)."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict) and isinstance(resource := entry.get("resource"), dict):
                    out.append(resource)
    elif value.get("resourceType"):
        out.append(value)


@lru_cache(maxsize=64)
def query_keys(queries: tuple[ChartQuery, ...]) -> frozenset[str]:
    return frozenset(q.key for q in queries)


async def gather_chart(request: dict, queries: tuple[ChartQuery, ...], http: HttpClient,
                       allowed: tuple[str, ...]) -> Chart:
    """Prefetched resources, with what is missing fetched from fhirServer (bearer token)."""
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, dict):
        prefetch = {}
    resources: list[dict] = []
    missing = []
    for query in queries:
        value = prefetch.get(query.key)
        if value is None:
            missing.append(query)
        else:
            open_into(resources, value)
    keys = query_keys(queries)
    extra: list[dict] = []
    for key, value in prefetch.items():
        if key not in keys:
            open_into(extra, value)
    if not missing:
        return Chart(resources, extra)
    server = ehr_server(request, http, allowed)
    if server is None:
        if any(q.key == "coverage" for q in missing):
            raise precondition_failed("prefetch 'coverage' is missing and no fhirServer with "
                                      "fhirAuthorization was given to fetch it")
        return Chart(resources, extra)
    return Chart(resources + await fetch(server, missing, hook_tokens(request)), extra)


async def read_references(request: dict, refs: list[str], http: HttpClient,
                          allowed: tuple[str, ...]) -> list[dict]:
    """Read 'Type/id' references the request names but did not send (orders, their Medication)."""
    server = ehr_server(request, http, allowed)
    wanted = [r for r in dict.fromkeys(refs) if isinstance(r, str) and READABLE.fullmatch(r)
              and not r.endswith(("/.", "/.."))]
    if not wanted or server is None:
        return []
    return await fetch(server, [ChartQuery(r, r) for r in wanted], {})
