"""The desk shows what the current version was scored on (issue 27): after a claim update, the update's
answers, never the first QuestionnaireResponse's, and never answers prefilled again with today's date."""
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.review.pages import load_case
from service.storage import desk
from service.storage.tables import ClaimResponseRow
from tests.pas.bundles import request_bundle
from tests.pas.cases import MISSING_CD22
from tests.pas.test_lifecycle import update_of


def test_after_an_update_the_desk_shows_the_updates_answers(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", public_base_url="http://testserver", auth_disabled=True,
                        deny_requires_review=True)
    with TestClient(create_app(settings)) as client:
        original = request_bundle("aetna", {**MISSING_CD22, "age-years": 40})
        first = client.post("/fhir/Claim/$submit", json=original).json()["entry"][0]["resource"]
        update = update_of(original, {**MISSING_CD22, "age-years": 41})
        second = client.post("/fhir/Claim/$submit", json=update).json()["entry"][0]["resource"]
        assert second["id"] == first["id"] and second["meta"]["versionId"] == "2"
        storage = client.app.state.storage
        case = load_case(storage, settings, first["id"])
        ages = [row for row in case["answers"] if getattr(row, "concept", None) == "age-years"]
        assert ages and "41" in str(ages[0]), ages
        assert desk.questionnaire_of(storage, case["claim"].id).answers["age-years"] == 41
        with storage.sessions() as session:
            scored = session.scalars(select(ClaimResponseRow.scored).where(
                ClaimResponseRow.response_id == first["id"]).order_by(ClaimResponseRow.version)).all()
        assert [s["answers"]["age-years"] for s in scored] == [40, 41]  # each version's own snapshot
