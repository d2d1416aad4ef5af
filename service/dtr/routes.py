"""DTR routes: Questionnaire read and search (DTR 2.1 section 4; FHIR R4 RESTful API)."""
from __future__ import annotations

import json
from datetime import date

from fastapi import APIRouter, Request

from service.crd.chart import HookError, gather_chart
from service.crd.services import CHART_PREFETCH
from service.dtr.operations import (
    OperationError, build_package, chart_bundle, populate, read_parameters, values_named,
)

from service.dtr.adaptive import next_question
from service.dtr.artifacts import find_by_canonical, libraries, questionnaires, search_bundle
from service.fhir.outcome import fhir_response, outcome_response, read_or_404

router = APIRouter(tags=["dtr"])


@router.get("/fhir/Questionnaire/{qid}")
def read_questionnaire(qid: str):
    """FHIR read of a payer's Questionnaire."""
    return read_or_404(questionnaires(), "Questionnaire", qid)


@router.get("/fhir/Questionnaire")
def search_questionnaires(request: Request, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(questionnaires(), url, version)
    return fhir_response(search_bundle("Questionnaire", matches,
                                       request.app.state.settings.public_base_url))


@router.get("/fhir/Library/{lid}")
def read_library(lid: str):
    """FHIR read of a prefill Library (text/cql and application/elm+json)."""
    return read_or_404(libraries(), "Library", lid)


@router.get("/fhir/Library")
def search_libraries(request: Request, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(libraries(), url, version)
    return fhir_response(search_bundle("Library", matches, request.app.state.settings.public_base_url))


async def read_json(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise OperationError(400, ["the body is not JSON"]) from None


@router.post("/fhir/Questionnaire/$questionnaire-package")
async def questionnaire_package(request: Request):
    """DTR 2.1 $questionnaire-package (OperationDefinition questionnaire-package)."""
    try:
        return fhir_response(build_package(await read_json(request), date.today()))
    except OperationError as exc:
        return outcome_response(exc.status, exc.problems)


@router.post("/fhir/Questionnaire/{qid}/$populate")
async def populate_questionnaire(qid: str, request: Request):
    """SDC $populate from a chart Bundle, or from the EHR's FHIR server with a bearer token."""
    try:
        body = await read_json(request)
        chart = await fetch_chart(body, request.app.state.settings.fhir_timeout_seconds)
        return fhir_response(populate(qid, body, date.today(), chart))
    except OperationError as exc:
        return outcome_response(exc.status, exc.problems)
    except HookError as exc:
        return outcome_response(exc.status, exc.message, code="processing")


async def fetch_chart(body: object, timeout: float) -> dict | None:
    """The chart from `fhirServer` (valueUrl) with `fhirAuthorization` (valueString token), if named."""
    params = read_parameters(body)
    server = next(iter(values_named(params, "fhirServer", "valueUrl")), None)
    token = next(iter(values_named(params, "fhirAuthorization", "valueString")), None)
    subject = next(iter(values_named(params, "subject", "valueReference")), None) or {}
    if not server:
        return None
    if not token or not str(subject.get("reference", "")).startswith("Patient/"):
        raise OperationError(422, ["fetching the chart needs fhirAuthorization and a Patient subject"])
    hook_like = {"context": {"patientId": subject["reference"].split("/", 1)[1]}, "prefetch": {},
                 "fhirServer": server, "fhirAuthorization": {"access_token": token}}
    return chart_bundle((await gather_chart(hook_like, CHART_PREFETCH, timeout)).resources)


@router.post("/fhir/Questionnaire/$next-question")
async def next_question_route(request: Request):
    """SDC adaptive forms: the next question that can still change the decision."""
    try:
        return fhir_response(next_question(await read_json(request)))
    except OperationError as exc:
        return outcome_response(exc.status, exc.problems)
