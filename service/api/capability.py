"""GET /fhir/metadata: the CapabilityStatement, built from one table of what is served (R4)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from service.api.deps import SettingsDep
from service.auth.routes import token_url
from service.fhir.outcome import fhir_response
from service.subscriptions import PAS_TOPIC, STATUS_OPERATION, TOPIC_CANONICAL

SDC = "http://hl7.org/fhir/uv/sdc/OperationDefinition"
DTR = "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition"
PAS = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition"
# resource type -> (interactions, search params, operations as (name, definition))
SERVED = {
    "Questionnaire": (("read", "search-type"), ("url", "version"), (
        ("questionnaire-package", f"{DTR}/questionnaire-package"),
        ("populate", f"{SDC}/Questionnaire-populate"),
        ("next-question", f"{SDC}/Questionnaire-next-question"))),
    "Library": (("read", "search-type"), ("url", "version"), ()),
    "CodeSystem": (("read",), (), ()),
    "ValueSet": (("read",), (), (("expand", "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"),)),
    "Claim": ((), (), (("submit", f"{PAS}/Claim-submit"), ("inquire", f"{PAS}/Claim-inquiry"))),
    "ClaimResponse": (("read", "search-type"), ("patient", "request"), ()),
    "Subscription": (("create", "read", "search-type", "delete"), ("status",), (("status", STATUS_OPERATION),)),
}
# resource type -> extensions on its entry (R4 Subscriptions Backport: the topics a server offers)
EXTENSIONS = {"Subscription": [{"url": TOPIC_CANONICAL, "valueCanonical": PAS_TOPIC}]}

router = APIRouter(tags=["fhir"])
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def security(base_url: str) -> dict:
    """rest.security: SMART Backend Services (SMART App Launch 2.x "Conformance"; the oauth-uris extension)."""
    return {"extension": [{"url": OAUTH_URIS, "extension": [{"url": "token", "valueUri": token_url(base_url)}]}],
            "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                     "code": "SMART-on-FHIR"}]}],
            "description": "Patient data needs a bearer token from the token endpoint (SMART Backend "
                           "Services); see /.well-known/smart-configuration."}


def build_capability_statement(base_url: str) -> dict:
    return {
        "resourceType": "CapabilityStatement", "id": "besponsa-pa", "status": "active",
        "date": date.today().isoformat(), "kind": "instance", "fhirVersion": "4.0.1",
        "format": ["json"], "implementation": {"description": "Besponsa prior authorization", "url": f"{base_url}/fhir"},
        "software": {"name": "besponsa-pa", "version": "0.1.0"},
        "instantiates": ["http://hl7.org/fhir/us/davinci-dtr/CapabilityStatement/dtr-payer-service"],
        "rest": [{"mode": "server", "security": security(base_url), "resource": [
            {**({"extension": EXTENSIONS[kind]} if kind in EXTENSIONS else {}), "type": kind,
             "interaction": [{"code": i} for i in interactions],
             **({"searchParam": [{"name": p, "type": "reference" if p in ("patient", "request") else "uri"
                                  if p == "url" else "token"} for p in params]} if params else {}),
             **({"operation": [{"name": n, "definition": d} for n, d in operations]} if operations else {})}
            for kind, (interactions, params, operations) in SERVED.items()]}],
    }


@router.get("/fhir/metadata")
def read_metadata(settings: SettingsDep):
    """FHIR R4 capabilities interaction."""
    return fhir_response(build_capability_statement(settings.public_base_url))
