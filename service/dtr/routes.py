"""DTR routes: Questionnaire read and search (DTR 2.1 section 4; FHIR R4 RESTful API)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from service.dtr.artifacts import find_by_canonical, libraries, questionnaires, search_bundle
from service.fhir.outcome import fhir_response, outcome_response

router = APIRouter(tags=["dtr"])


@router.get("/fhir/Questionnaire/{qid}")
def read_questionnaire(qid: str):
    """FHIR read of a payer's Questionnaire."""
    found = questionnaires().get(qid)
    if found is None:
        return outcome_response(404, f"Questionnaire/{qid} is not known", code="not-found")
    return fhir_response(found)


@router.get("/fhir/Questionnaire")
def search_questionnaires(request: Request, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(questionnaires(), url, version)
    return fhir_response(search_bundle("Questionnaire", matches,
                                       request.app.state.settings.public_base_url))


@router.get("/fhir/Library/{lid}")
def read_library(lid: str):
    """FHIR read of a prefill Library (text/cql and application/elm+json)."""
    found = libraries().get(lid)
    if found is None:
        return outcome_response(404, f"Library/{lid} is not known", code="not-found")
    return fhir_response(found)


@router.get("/fhir/Library")
def search_libraries(request: Request, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(libraries(), url, version)
    return fhir_response(search_bundle("Library", matches, request.app.state.settings.public_base_url))
