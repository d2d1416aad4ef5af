"""OperationOutcome responses for every error at the HTTP edge (FHIR R4 OperationOutcome)."""
from __future__ import annotations

from fastapi.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


def build_outcome(problems: list[str] | str, *, code: str = "invalid",
                  severity: str = "error", expression: list[str] | None = None) -> dict:
    """One issue per problem, each naming what is wrong in plain words."""
    if isinstance(problems, str):
        problems = [problems]
    issues = []
    for text in problems:
        issue = {"severity": severity, "code": code, "diagnostics": text}
        if expression:
            issue["expression"] = expression
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_response(status: int, problems: list[str] | str, *, code: str = "invalid") -> JSONResponse:
    return JSONResponse(build_outcome(problems, code=code), status_code=status, media_type=FHIR_JSON)


def fhir_response(resource: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON, headers=headers)


def read_or_404(resources: dict[str, dict], kind: str, rid: str) -> JSONResponse:
    """FHIR read from an in-memory table: the resource, or 404 naming what is unknown."""
    found = resources.get(rid)
    if found is None:
        return outcome_response(404, f"{kind}/{rid} is not known", code="not-found")
    return fhir_response(found)
