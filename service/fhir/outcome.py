"""FHIR JSON responses for resources that exist; errors are raised as ApiError (service/errors.py)."""
from __future__ import annotations

from fastapi.responses import JSONResponse

from service.errors import FHIR_JSON, not_found


def fhir_response(resource: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON, headers=headers)


def read_or_404(resources: dict[str, dict], kind: str, rid: str) -> JSONResponse:
    """FHIR read from an in-memory table: the resource, or 404 naming what is unknown."""
    found = resources.get(rid)
    if found is None:
        raise not_found(f"{kind}/{rid}")
    return fhir_response(found)
