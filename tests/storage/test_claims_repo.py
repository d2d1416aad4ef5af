"""PAS repository: one row per idempotency key, versions appended, reviews never race."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from service.errors import ApiError
from service.storage import claims as repo
from service.storage.tables import ClaimEvent, ClaimResponseRow


def submission(key: str, response_id: str, decision: str = "pend") -> dict:
    return {
        "claim": {"id": f"c-{response_id}", "idempotency_key": key, "payer_id": "aetna",
                  "claim_identifier": "sys|1", "patient_ref": "Patient/p1", "provider_ref": "npi|1",
                  "member_key": "m|1", "request_ref": "Claim/1", "request_hash": "h",
                  "request": {"resourceType": "Bundle"}, "response_id": response_id,
                  "decision": decision},
        "questionnaire": {"questionnaire": "q", "answers": {"age-years": 40}, "resource": {}},
        "response": {"resource": {"id": response_id, "v": 1}, "decision": decision,
                     "review_code": "A4", "auth_number": "PA-1"},
    }


def test_second_save_with_same_key_returns_first(storage):
    first = repo.save_submission(storage, **submission("k1", "r1"))
    second = repo.save_submission(storage, **submission("k1", "r2"))
    assert first.created and not second.created
    assert second.response.response_id == "r1" and second.claim.id == first.claim.id
    with storage.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ClaimResponseRow)) == 1
        assert s.scalar(select(func.count()).select_from(ClaimEvent)) == 1


def test_review_appends_a_version(storage):
    repo.save_submission(storage, **submission("k2", "r2"))
    stored = repo.add_review(storage, "r2", "dr", lambda cur: {
        "resource": {"id": "r2", "v": 2}, "decision": "approve", "review_code": "A1",
        "auth_number": cur.response.auth_number})
    assert stored.claim.current_version == 2 and stored.response.human_reviewed
    assert repo.get_response(storage, "r2").response.resource == {"id": "r2", "v": 2}
    assert repo.get_response(storage, "r2", 1).response.resource == {"id": "r2", "v": 1}
    assert [r.version for r in repo.history(storage, "r2")] == [1, 2]
    assert repo.search(storage, decision="pend") == []
    assert [s.claim.decision for s in repo.search(storage, member_keys=["m|1"])] == ["approve"]


def test_concurrent_reviews_one_wins(storage):
    repo.save_submission(storage, **submission("k3", "r3"))
    gate = threading.Barrier(2)
    results: list[object] = []

    def review(decision):
        def build(cur):
            gate.wait()  # both reviewers read version 1 before either writes
            return {"resource": {"d": decision}, "decision": decision,
                    "review_code": "A1", "auth_number": "PA-1"}
        try:
            results.append(repo.add_review(storage, "r3", decision, build).claim.decision)
        except ApiError as exc:
            results.append(exc)

    threads = [threading.Thread(target=review, args=(d,)) for d in ("approve", "deny")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(isinstance(r, ApiError) and r.status == 409 for r in results) == 1
    assert [r.version for r in repo.history(storage, "r3")] == [1, 2]


def test_review_of_unknown_id(storage):
    with pytest.raises(ApiError) as raised:
        repo.add_review(storage, "nope", "dr", lambda cur: {})
    assert raised.value.status == 404 and raised.value.issues[0].code == "not-found"
