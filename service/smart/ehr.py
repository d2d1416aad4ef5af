"""Reading the chart from, and saving responses to, the EHR's FHIR server with the user's token."""
from __future__ import annotations

import json

from service.errors import ApiError, invalid
from service.fhir.bundle import find_coverage, index_resources
from service.fhir.chart import ChartQuery, prefetch_tokens, read_chart, read_queries
from service.fhir.client import FhirServer
from service.fhir.json import obj, objs, text_of
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


async def fetch_context(server: FhirServer, patient: str, user: str | None, refs: list[str],
                        questionnaire: str | None = None) -> dict:
    """Patient, Coverage + payor, the order, the chart (the one chart table), the user's Practitioner, and
    the in-progress response to resume: the one named in context, else the newest for `questionnaire`."""
    if not safe_reference(f"Coverage/{patient}"):  # the same id syntax
        raise invalid("The EHR named a patient id that is not a FHIR id.")
    resources = await read_chart(server, prefetch_tokens(patient, user))
    resources += await read_queries(server, [ChartQuery(r, r) for r in refs], {})
    known = index_resources(resources)
    named = next((known[r] for r in refs if r.startswith("QuestionnaireResponse/") and r in known), None)
    return {
        "resources": resources, "known": known,
        "patient": next((r for r in resources if r.get("resourceType") == "Patient"), None),
        "coverage": find_coverage(resources),
        "order": next((r for r in resources if is_besponsa_order(r, known)), None),
        "practitioner": await read_optional(server, user) if user and user.startswith("Practitioner/") else None,
        "response": named or (await find_draft(server, patient, questionnaire) if questionnaire else None),
    }


async def read_optional(server: FhirServer, ref: str) -> dict | None:
    """A resource the app can do without (the user's Practitioner, for the NPI): None if unreadable."""
    kind, _, rid = ref.partition("/")
    if not safe_reference(f"Coverage/{rid}"):
        return None
    try:
        found = await server.get(f"{kind}/{rid}")
    except ApiError:
        return None
    return found if found.get("resourceType") == kind else None


async def find_draft(server: FhirServer, patient: str, questionnaire: str) -> dict | None:
    """The newest in-progress response of this patient to this Questionnaire (what autosave wrote), so a
    new launch resumes it; an EHR that cannot search responses just gives a fresh form."""
    try:
        found = await read_queries(server, [ChartQuery("draft", f"QuestionnaireResponse?patient={patient}"
                                                                 "&status=in-progress")], {})
    except ApiError:
        return None
    mine = [r for r in found if r.get("resourceType") == "QuestionnaireResponse" and r.get("status") == "in-progress"
            and text_of(r.get("questionnaire")) == questionnaire
            and text_of(obj(r.get("subject")).get("reference")) == f"Patient/{patient}"]
    return max(mine, key=lambda r: text_of(r.get("authored")), default=None)


async def save_response(server: FhirServer, response: dict, existing_id: str | None) -> str:
    """Create (POST) or, once saved or resumed, update (PUT) the response at the EHR; its id."""
    reply = await server.save("QuestionnaireResponse", response, existing_id)
    stored_id = text_of(reply.body.get("id")) if isinstance(reply.body, dict) else ""
    location = reply.headers.get("Location", "")
    return existing_id or stored_id or location.split("QuestionnaireResponse/")[-1].split("/")[0]


__all__ = ["context_refs", "fetch_context", "save_response"]
