"""Malformed hook requests: any one value of a valid order-sign call replaced by junk of another
JSON type gets an answer or a 4xx OperationOutcome, never a 500 (CDS Hooks 2.0; guide: bad
input never becomes a 500, and the service keeps serving)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as given_settings
from hypothesis import strategies as st

from service.app import create_app
from service.fhir.shape import readable, resource_problems
from tests.crd.requests import besponsa_request, hook_request
from tests.crd.test_hook_contexts import ENCOUNTER, ORDER, request, searchset
from tests.support.json_tree import JUNK, paths, replace
from tests.support.settings import make_settings

SIGN = "/cds-services/besponsa-order-sign"
BASE = hook_request([besponsa_request()])
APPOINTMENT = {"resourceType": "Appointment", "id": "ap1", "status": "proposed",
               "basedOn": [{"reference": "MedicationRequest/mr-x"}]}
# One valid call per kind of context: draft orders, dispatched references, booked appointments,
# the encounter's orders.
BASES = {
    "order-sign": BASE,
    "order-dispatch": request("order-dispatch", {"dispatchedOrders": ["MedicationRequest/mr-x"],
                                                 "performer": "Organization/o1"}, medicationRequests=searchset(ORDER)),
    "appointment-book": request("appointment-book", {"appointments": searchset(APPOINTMENT)},
                                medicationRequests=searchset(ORDER)),
    "encounter-start": request("encounter-start", {"encounterId": "enc1"}, encounter=ENCOUNTER,
                               medicationRequests=searchset(ORDER)),
}
# Every value in each request, orders and prefetched chart included (fhirServer left out: junk
# there would only be a 412 or 502 about the EHR, which other tests cover).
SPOTS = [(hook, p) for hook, body in BASES.items() for p in paths(body)
         if p[0] not in ("fhirServer", "fhirAuthorization")]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("crd-fuzz"), auth_disabled=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@given_settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SPOTS), JUNK)
def test_one_junk_value_anywhere_is_never_a_500(client, spot, junk):
    hook, path = spot
    r = client.post(f"/cds-services/besponsa-{hook}", json=replace(BASES[hook], path, junk))
    assert r.status_code in (200, 400, 412, 422), (spot, junk, r.status_code, r.text[:300])
    if r.status_code == 200:
        body = r.json()
        assert isinstance(body["cards"], list) and isinstance(body["systemActions"], list)
    else:
        assert r.json()["resourceType"] == "OperationOutcome"


def test_every_base_request_is_answered(tmp_path):
    """The fuzzed requests start from calls that work, so each junk value is the only fault."""
    with TestClient(create_app(make_settings(tmp_path, auth_disabled=True))) as c:
        for hook, body in BASES.items():
            r = c.post(f"/cds-services/besponsa-{hook}", json=body)
            assert r.status_code == 200 and r.json()["systemActions"], hook


def test_still_healthy_after_the_junk(client):
    assert client.get("/healthz").status_code == 200
    assert client.post(SIGN, json=BASE).status_code == 200


@given_settings(max_examples=400, deadline=None)
@given(st.sampled_from(SPOTS), JUNK)
def test_every_unreadable_value_is_named(spot, junk):
    """readable() is the fast check and resource_problems() the message: they must agree, or an
    unreadable resource would pass validation with no problem named."""
    hook, path = spot
    prefetch = replace(BASES[hook], path, junk).get("prefetch")
    for key, value in (prefetch.items() if isinstance(prefetch, dict) else ()):
        if value is not None:
            assert readable(value) == (resource_problems(value, key) == [])
