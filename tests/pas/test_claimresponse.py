"""ClaimResponse details that need no server: periods and the deny-requires-review setting."""
from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.pas.claimresponse import add_months
from tests.pas.bundles import request_bundle
from tests.pas.cases import CD22_NEGATIVE
from tests.pas.read import review_action


@pytest.mark.parametrize("start,months,end", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2026, 11, 15), 3, date(2027, 2, 15)),
    (date(2026, 3, 1), 12, date(2027, 3, 1)),
])
def test_add_months(start, months, end):
    assert add_months(start, months) == end


def test_deny_requires_review_pends_with_reasons(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_base_url="http://testserver", auth_disabled=True,
                        deny_requires_review=True)
    with TestClient(create_app(settings)) as client:
        body = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", CD22_NEGATIVE)).json()
    cr = body["entry"][0]["resource"]
    action = review_action(cr)
    assert action["code"] == "A4" and "cd22-status" in action["reasons"]
    assert cr["disposition"].startswith("Pended for a clinician's review")
