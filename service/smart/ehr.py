"""Reading the chart from, and saving responses to, the EHR's FHIR server with the user's token."""
from __future__ import annotations

import json

from service.errors import invalid
from service.fhir.bundle import find_coverage, index_resources
from service.fhir.chart import ChartQuery, prefetch_tokens, read_chart, read_queries
from service.fhir.client import FhirServer
from service.fhir.json import objs, text_of
from service.fhir.orders import is_besponsa_order

# A context reference is read only as Type/id of these types: never an arbitrary path on the EHR.
CONTEXT_TYPES = ("Coverage", "MedicationRequest", "ServiceRequest", "MedicationDispense", "QuestionnaireResponse")


def context_refs(token: dict) -> list[str]:
    """fhirContext references (SMART 2.x), or those an older EHR puts in appContext (JSON)."""
    refs = [c.get("reference") for c in objs(token.get("fhirContext"))]
    app_context = token.get("appContext")
    if isinstance(app_context, str):
        try:
            app_context = json.loads(app_context)
        except ValueError:
            app_context = None
    if isinstance(app_context, dict):
        refs += [c.get("reference") for c in objs(app_context.get("fhirContext"))]
        refs += [r for r in (app_context.get("coverage"), app_context.get("order"), app_context.get("response"))
                 if isinstance(r, str)]
    return [r for r in refs if isinstance(r, str) and safe_reference(r)]


def safe_reference(ref: str) -> bool:
    """Type/id with a FHIR id (R4 datatypes id: [A-Za-z0-9-.]{1,64}) of a type the app reads."""
    kind, _, rid = ref.partition("/")
    return (kind in CONTEXT_TYPES and 0 < len(rid) <= 64 and rid not in (".", "..")
            and all(c.isascii() and (c.isalnum() or c in "-.") for c in rid))


async def fetch_context(server: FhirServer, patient: str, user: str | None, refs: list[str]) -> dict:
    """Patient, Coverage + payor, the order, the chart (the one chart table), and any in-progress response."""
    if not safe_reference(f"Coverage/{patient}"):  # the same id syntax
        raise invalid("The EHR named a patient id that is not a FHIR id.")
    resources = await read_chart(server, prefetch_tokens(patient, user))
    resources += await read_queries(server, [ChartQuery(r, r) for r in refs], {})
    known = index_resources(resources)
    return {
        "resources": resources, "known": known,
        "patient": next((r for r in resources if r.get("resourceType") == "Patient"), None),
        "coverage": find_coverage(resources),
        "order": next((r for r in resources if is_besponsa_order(r, known)), None),
        "response": next((known[r] for r in refs if r.startswith("QuestionnaireResponse/") and r in known), None),
    }


async def save_response(server: FhirServer, response: dict, existing_id: str | None) -> str:
    """Create (POST) or, once saved or resumed, update (PUT) the response at the EHR; its id."""
    reply = await server.save("QuestionnaireResponse", response, existing_id)
    stored_id = text_of(reply.body.get("id")) if isinstance(reply.body, dict) else ""
    location = reply.headers.get("Location", "")
    return existing_id or stored_id or location.split("QuestionnaireResponse/")[-1].split("/")[0]


__all__ = ["context_refs", "fetch_context", "save_response"]
