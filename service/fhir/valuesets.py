"""A ValueSet per coded concept (its answer codes), with $expand (FHIR R4 ValueSet/$expand)."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request

from service.fhir.codesystem import VERSION
from service.fhir.outcome import fhir_response, outcome_response, read_or_404
from service.policies.concepts import CODING, CONCEPTS, SYSTEM, Concept

BASE = "http://example.org/fhir/ValueSet"
router = APIRouter(tags=["terminology"])


def build_valueset(concept: Concept) -> dict:
    return {"resourceType": "ValueSet", "id": f"pa-criteria-{concept.code}", "url": f"{BASE}/pa-criteria-{concept.code}",
            "version": VERSION, "name": "PACriteria" + "".join(p.capitalize() for p in concept.code.split("-")),
            "title": f"Answers to '{concept.display}'", "status": "active",
            "compose": {"include": [{"system": SYSTEM, "concept": [
                {"code": c, "display": d} for c, d in concept.options]}]}}


def valuesets() -> dict[str, dict]:
    return {vs["id"]: vs for vs in (build_valueset(c) for c in CONCEPTS.values() if c.answer_type == CODING)}


def expand(vs: dict) -> dict:
    include = vs["compose"]["include"][0]
    return {**vs, "expansion": {"timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                                "total": len(include["concept"]),
                                "contains": [{"system": include["system"], **c} for c in include["concept"]]}}


@router.get("/fhir/ValueSet/$expand")
def expand_by_url(url: str | None = None):
    """Type-level $expand by canonical url."""
    found = next((vs for vs in valuesets().values() if url and url.split("|")[0] == vs["url"]), None)
    if found is None:
        return outcome_response(404, f"no ValueSet with url {url!r}", code="not-found")
    return fhir_response(expand(found))


@router.post("/fhir/ValueSet/$expand")
async def expand_posted(request: Request):
    """$expand with Parameters `url` (valueUri)."""
    try:
        body = await request.json()
    except ValueError:
        return outcome_response(400, "the body is not JSON")
    params = body.get("parameter") if isinstance(body, dict) else None
    url = next((p.get("valueUri") or p.get("valueUrl") for p in params or [] if isinstance(p, dict)
                and p.get("name") == "url"), None)
    if not url:
        return outcome_response(422, "give Parameters with a `url` parameter")
    return expand_by_url(url)


@router.get("/fhir/ValueSet/{vid}")
def read_valueset(vid: str):
    return read_or_404(valuesets(), "ValueSet", vid)


@router.get("/fhir/ValueSet/{vid}/$expand")
def expand_instance(vid: str):
    return read_or_404({k: expand(v) for k, v in valuesets().items() if k == vid}, "ValueSet", vid)
