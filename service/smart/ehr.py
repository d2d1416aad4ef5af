"""Reading the chart from, and saving responses to, the EHR's FHIR server with the user's token."""
from __future__ import annotations

import asyncio
import json

import httpx

from service.crd.chart import flatten
from service.crd.detect import index_resources, is_besponsa_order

CHART_QUERIES = ("Condition?patient={p}", "Observation?patient={p}", "MedicationStatement?patient={p}",
                 "MedicationRequest?patient={p}", "Coverage?patient={p}&status=active&_include=Coverage:payor")


class EhrError(Exception):
    """The EHR could not be reached or refused us: the page says so; nothing is guessed."""


def context_refs(token: dict) -> list[str]:
    """fhirContext references (SMART 2.x), or those an older EHR puts in appContext (JSON)."""
    refs = [c.get("reference") for c in token.get("fhirContext") or () if isinstance(c, dict)]
    app_context = token.get("appContext")
    if isinstance(app_context, str):
        try:
            app_context = json.loads(app_context)
        except ValueError:
            app_context = None
    if isinstance(app_context, dict):
        refs += [c.get("reference") for c in app_context.get("fhirContext") or () if isinstance(c, dict)]
        refs += [r for r in (app_context.get("coverage"), app_context.get("order"), app_context.get("response"))
                 if isinstance(r, str)]
    return [r for r in refs if isinstance(r, str) and "/" in r]


async def fetch_context(iss: str, access_token: str, patient: str, refs: list[str], timeout: float) -> dict:
    """Patient, Coverage + payor, the order, the chart, and any in-progress response."""
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"}
    base = iss.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            async def get(path: str) -> list[dict]:
                r = await client.get(f"{base}/{path}")
                r.raise_for_status()
                return flatten(r.json())
            batches = await asyncio.gather(get(f"Patient/{patient}"), *(get(ref) for ref in refs),
                                           *(get(q.format(p=patient)) for q in CHART_QUERIES))
    except (httpx.HTTPError, ValueError) as exc:
        raise EhrError(f"The EHR's FHIR server could not be read ({type(exc).__name__}).") from None
    resources = [r for batch in batches for r in batch]
    known = index_resources(resources)
    coverages = [r for r in resources if r.get("resourceType") == "Coverage"]
    return {
        "resources": resources, "known": known,
        "patient": next((r for r in resources if r.get("resourceType") == "Patient"), None),
        "coverage": next((c for c in coverages if c.get("status") == "active"), coverages[0] if coverages else None),
        "order": next((r for r in resources if is_besponsa_order(r, known)), None),
        "response": next((known[r] for r in refs if r.startswith("QuestionnaireResponse/") and r in known), None),
    }


async def save_response(iss: str, access_token: str, response: dict, existing_id: str | None,
                        timeout: float) -> str:
    """Create (POST) or, once saved or resumed, update (PUT) the response at the EHR; its id."""
    headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/fhir+json",
               "Accept": "application/fhir+json"}
    base = iss.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            if existing_id:
                r = await client.put(f"{base}/QuestionnaireResponse/{existing_id}", json={**response, "id": existing_id})
            else:
                r = await client.post(f"{base}/QuestionnaireResponse", json={k: v for k, v in response.items() if k != "id"})
            r.raise_for_status()
    except httpx.HTTPError as exc:
        raise EhrError(f"The EHR did not save the response ({type(exc).__name__}).") from None
    try:
        stored_id = (r.json() or {}).get("id")
    except ValueError:
        stored_id = None
    location = r.headers.get("Location", "")
    return existing_id or stored_id or location.split("QuestionnaireResponse/")[-1].split("/")[0]
