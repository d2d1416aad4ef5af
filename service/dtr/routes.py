"""DTR routes: Questionnaire and Library read and search, $questionnaire-package, $populate,
$next-question (DTR 2.1 section 4; SDC; FHIR R4 RESTful API)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from service.api.body import read_json
from service.api.deps import HttpDep, SettingsDep
from service.api.openapi import json_body
from service.dtr.adaptive import next_question
from service.dtr.artifacts import find_by_canonical, libraries, questionnaires
from service.dtr.operations import (
    build_package,
    ehr_access,
    ehr_chart_reads,
    find_questionnaire,
    given_chart,
    populate,
    read_parameters,
    unique_resources,
)
from service.errors import invalid, problem
from service.fhir.bundle import searchset
from service.fhir.chart import read_queries
from service.fhir.client import FhirServer
from service.fhir.origins import Refused, decide
from service.fhir.outcome import fhir_response, read_or_404

router = APIRouter(tags=["dtr"])


@router.get("/fhir/Questionnaire/{qid}")
def read_questionnaire(qid: str):
    """FHIR read of a payer's Questionnaire."""
    return read_or_404(questionnaires(), "Questionnaire", qid)


@router.get("/fhir/Questionnaire")
def search_questionnaires(settings: SettingsDep, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(questionnaires(), url, version)
    return fhir_response(searchset(settings.public_base_url, "Questionnaire", matches))


@router.get("/fhir/Library/{lid}")
def read_library(lid: str):
    """FHIR read of a prefill Library (text/cql and application/elm+json)."""
    return read_or_404(libraries(), "Library", lid)


@router.get("/fhir/Library")
def search_libraries(settings: SettingsDep, url: str | None = None, version: str | None = None):
    """Search by canonical `url` (optionally `url|version`) and `version`."""
    matches = find_by_canonical(libraries(), url, version)
    return fhir_response(searchset(settings.public_base_url, "Library", matches))


@router.post("/fhir/Questionnaire/$questionnaire-package",
             openapi_extra=json_body("DTR input Parameters", "dtr/questionnaire-package.json"))
async def questionnaire_package(request: Request):
    """DTR 2.1 $questionnaire-package (OperationDefinition questionnaire-package)."""
    return fhir_response(build_package(await read_json(request), date.today()))


@router.post("/fhir/Questionnaire/{qid}/$populate", openapi_extra=json_body("SDC Parameters", "dtr/populate.json"))
async def populate_questionnaire(qid: str, request: Request, settings: SettingsDep, http: HttpDep):
    """SDC $populate from a chart in the call, or read from the EHR's FHIR server with a bearer token through
    CRD's chart queries, filled from the subject and the SDC launch context (user, encounter, order)."""
    find_questionnaire(qid)  # an unknown Questionnaire is a 404 whatever the body says
    params = read_parameters(await read_json(request))
    access = ehr_access(params)
    if access is None:
        chart = given_chart(params)
        if not chart:
            raise invalid(problem("Parameters.parameter[context]",
                                  "give the patient's chart as a context/content Bundle, or fhirServer "
                                  "and fhirAuthorization to fetch it"))
    else:
        queries, tokens = ehr_chart_reads(params)  # SDC launch context: user, encounter, order
        allowed = settings.allowed_origins
        try:
            decide(access[0], allowed)
        except Refused as exc:
            raise invalid(problem("Parameters.parameter[fhirServer]",
                                  f"is not an EHR this payer is set up to call (EHR_ALLOWED_ORIGINS): {exc}")) from None
        # Resources sent as context content are used too (SDC: content is a Reference or a Resource).
        chart = unique_resources(given_chart(params) + await read_queries(
            FhirServer(http.under(allowed), *access), queries, tokens))
    return fhir_response(populate(qid, params, chart, date.today()))


@router.post("/fhir/Questionnaire/$next-question",
             openapi_extra=json_body("QuestionnaireResponse", "dtr/questionnaire-response-aetna.json"))
async def next_question_route(request: Request):
    """SDC adaptive forms: the next question that can still change the decision."""
    return fhir_response(next_question(await read_json(request)))
