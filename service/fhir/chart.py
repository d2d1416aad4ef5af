"""The chart the policies need, and the one table of queries that reads it from an EHR.

CRD advertises these as prefetch templates (CDS Hooks 2.0 "Prefetch Template"), fetches what an
EHR did not prefetch, and DTR `$populate` and the SMART app read the same queries, so every path
prefills from the same facts.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from service.errors import upstream
from service.fhir.bundle import flatten
from service.fhir.client import FhirServer

# LOINC codes of the Observations the prefill reads (CONTRACT: where prefill finds these facts).
OBSERVATION_CODES = ",".join(f"http://loinc.org|{c}" for c in (
    "14017-8", "21821-4", "21822-2", "21823-0", "21795-0", "46434-7"))


@dataclass(frozen=True)
class ChartQuery:
    """One prefetch key: its template, and alternatives tried in order when a token is missing."""

    key: str
    template: str
    alternatives: tuple[str, ...] = ()


CHART_QUERIES: tuple[ChartQuery, ...] = (
    ChartQuery("patient", "Patient/{{context.patientId}}"),
    ChartQuery("coverage", "Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor"),
    # The ordering clinician's role carries the specialty (NantHealth: prescribed by an oncologist).
    # CDS Hooks names the user's role when the user is one; a SMART fhirUser is often the Practitioner.
    ChartQuery("practitionerRole", "PractitionerRole?_id={{userPractitionerRoleId}}",
               ("PractitionerRole?practitioner={{userPractitionerId}}",)),
    ChartQuery("conditions", "Condition?patient={{context.patientId}}"),
    ChartQuery("observations", f"Observation?patient={{{{context.patientId}}}}&code={OBSERVATION_CODES}"),
    ChartQuery("medicationStatements", "MedicationStatement?patient={{context.patientId}}"),
    ChartQuery("medicationRequests", "MedicationRequest?patient={{context.patientId}}"),
    # CONTRACT: TKI history from all four medication record types.
    ChartQuery("medicationAdministrations", "MedicationAdministration?patient={{context.patientId}}"),
    ChartQuery("medicationDispenses", "MedicationDispense?patient={{context.patientId}}"),
)
CHART_PREFETCH = {q.key: q.template for q in CHART_QUERIES}
ENCOUNTER_QUERY = ChartQuery("encounter", "Encounter/{{context.encounterId}}")


def prefetch_tokens(patient_id: object, user: object, encounter_id: object = None) -> dict[str, str | None]:
    """The values of the prefetch tokens we use, from a patient id, a user reference and an encounter."""
    kind, _, uid = user.partition("/") if isinstance(user, str) else ("", "", "")
    return {"{{context.patientId}}": patient_id if isinstance(patient_id, str) else None,
            "{{context.encounterId}}": encounter_id if isinstance(encounter_id, str) else None,
            "{{userPractitionerRoleId}}": uid if kind == "PractitionerRole" and uid else None,
            "{{userPractitionerId}}": uid if kind == "Practitioner" and uid else None}


def fill_template(template: str, tokens: dict[str, str | None]) -> str | None:
    """Substitute the tokens; None when a token the template uses has no value here."""
    for token, value in tokens.items():
        if token in template:
            if not value:
                return None
            template = template.replace(token, value)
    return template


def fill_query(query: ChartQuery, tokens: dict[str, str | None]) -> str | None:
    """The first of a query's templates whose tokens all have values."""
    return next((q for t in (query.template, *query.alternatives) if (q := fill_template(t, tokens))), None)


MAX_PAGES = 20  # a chart search longer than this many pages is not a chart: fail rather than read forever


def next_page(server: FhirServer, body: dict) -> str | None:
    """The path of a searchset's next page (FHIR R4 "Paging": Bundle.link relation next), or None; a next
    link off the server's own base is refused, never followed (the token would go with it)."""
    found = body.get("link")
    links: list = found if isinstance(found, list) else []
    url = next((link.get("url") for link in links if isinstance(link, dict) and link.get("relation") == "next"), None)
    if not isinstance(url, str) or not url:
        return None
    if not url.startswith(server.base + "/"):
        raise upstream("the EHR's next-page link is not on its own FHIR base; the chart was not read")
    return url[len(server.base) + 1:]


async def read_all_pages(server: FhirServer, path: str) -> list[dict]:
    """One search, every page of it (the EHR decides the page size; _count is only a hint)."""
    bodies, page = [], path
    for _ in range(MAX_PAGES):
        body = await server.get(page)
        bodies.append(body)
        following = next_page(server, body) if body.get("resourceType") == "Bundle" else None
        if following is None:
            return bodies
        page = following
    raise upstream(f"the EHR's search {path.split('?')[0]} has more than {MAX_PAGES} pages; the chart was not read")


async def read_queries(server: FhirServer, queries: list[ChartQuery], tokens: dict[str, str | None]) -> list[dict]:
    """Every resource the queries find at the EHR, every page (queries in parallel); any failure fails the read."""
    paths = [p for q in queries if (p := fill_query(q, tokens))]
    pages = await asyncio.gather(*(read_all_pages(server, p) for p in paths))
    return [r for bodies in pages for body in bodies for r in flatten(body)]


async def read_chart(server: FhirServer, tokens: dict[str, str | None]) -> list[dict]:
    """The whole chart the policies need, read from the EHR with the user's token."""
    return await read_queries(server, list(CHART_QUERIES), tokens)
