"""ValueSet read and $expand (FHIR R4 ValueSet/$expand: GET by url, POST Parameters, instance level)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from service.api.body import read_json
from service.api.openapi import json_body
from service.errors import invalid, not_found, problem
from service.fhir.json import objs, text_of
from service.fhir.outcome import fhir_response, read_or_404
from service.fhir.valuesets import expand, valuesets

router = APIRouter(tags=["terminology"])


@router.get("/fhir/ValueSet/$expand")
def expand_by_url(url: str | None = None):
    """Type-level $expand by canonical url."""
    found = next((vs for vs in valuesets().values() if url and url.split("|")[0] == vs["url"]), None)
    if found is None:
        raise not_found(f"ValueSet with url {url!r}")
    return fhir_response(expand(found))


@router.post("/fhir/ValueSet/$expand", openapi_extra=json_body("Parameters with url"))
async def expand_posted(request: Request):
    """$expand with Parameters `url` (valueUri)."""
    body = await read_json(request)
    params = objs(body.get("parameter")) if isinstance(body, dict) else []
    url = next((text_of(p.get("valueUri")) or text_of(p.get("valueUrl")) for p in params
                if p.get("name") == "url"), "")
    if not url:
        raise invalid(problem("Parameters.parameter", "give a `url` parameter (valueUri)"))
    return expand_by_url(url)


@router.get("/fhir/ValueSet/{vid}")
def read_valueset(vid: str):
    return read_or_404(valuesets(), "ValueSet", vid)


@router.get("/fhir/ValueSet/{vid}/$expand")
def expand_instance(vid: str):
    return read_or_404({k: expand(v) for k, v in valuesets().items() if k == vid}, "ValueSet", vid)
