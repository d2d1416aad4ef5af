"""The lean $submit write path (issue 25): one lookup, Core inserts, one commit; replays and races as before."""
from __future__ import annotations

import threading

from sqlalchemy import select

from service.fhir.adjudication import CRITERIA_SYSTEM
from service.storage import claims as repo
from service.storage.tables import Claim, ClaimEvent, ClaimReason, ClaimResponseRow, QuestionnaireResponseRow


def fields(key: str, response_id: str) -> dict:
    reason = {"extension": [{"extension": [{"url": "reasonCode", "valueCodeableConcept": {"coding": [
        {"system": CRITERIA_SYSTEM, "code": "cd22-status"}]}}]}]}
    return {
        "claim": {"id": f"c-{response_id}", "idempotency_key": key, "payer_id": "aetna", "request_hash": "h",
                  "request": {"resourceType": "Bundle", "note": "Zoë ✓"}, "response_id": response_id,
                  "decision": "deny", "patient_name": "Test, Zoë", "owner": "clinic-a"},
        "questionnaire": {"questionnaire": "q", "answers": {"age-years": 40}, "resource": {"status": "completed"}},
        "response": {"resource": {"id": response_id, "item": [{"adjudication": [reason]}]}, "decision": "deny",
                     "review_code": "A3", "auth_number": "PA-1", "unmet": True,
                     "scored": {"answers": {"age-years": 40}, "policy": "v1"}},
    }


def counting(key: str, response_id: str):
    calls: list[int] = []

    def build() -> dict:
        calls.append(1)
        return fields(key, response_id)
    return build, calls


def test_a_new_key_stores_every_row_once_and_answers_with_them(storage):
    build, calls = counting("k-new", "r-new")
    stored = repo.submit_once(storage, "k-new", build)
    assert stored.created and calls == [1]
    assert stored.claim.current_version == 1 and stored.claim.priority == "standard"  # column defaults applied
    assert stored.response.id is not None and stored.response.source_key is None
    assert stored.response.resource["id"] == "r-new" and stored.claim.request_hash == "h"
    with storage.sessions() as s:
        claim = s.scalar(select(Claim).where(Claim.idempotency_key == "k-new"))
        assert claim.request == {"resourceType": "Bundle", "note": "Zoë ✓"} and claim.patient_name == "Test, Zoë"
        row = s.scalar(select(ClaimResponseRow).where(ClaimResponseRow.claim_id == claim.id))
        assert (row.id, row.version, row.unmet, row.human_reviewed) == (stored.response.id, 1, True, False)
        assert row.scored == {"answers": {"age-years": 40}, "policy": "v1"}
        assert s.scalar(select(QuestionnaireResponseRow.answers).where(
            QuestionnaireResponseRow.claim_id == claim.id)) == {"age-years": 40}
        assert list(s.scalars(select(ClaimReason.code).where(ClaimReason.claim_id == claim.id))) == ["cd22-status"]
        event = s.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id))
        assert (event.action, event.actor, event.outcome, event.detail) == (
            "submit", "clinic-a", "deny", {"payer": "aetna", "version": 1})


def test_a_known_key_replays_without_building(storage):
    repo.submit_once(storage, "k-known", counting("k-known", "r-first")[0])
    build, calls = counting("k-known", "r-second")
    again = repo.submit_once(storage, "k-known", build)
    assert not again.created and calls == [] and again.response.response_id == "r-first"
    assert again.claim.request == {"resourceType": "Bundle", "note": "Zoë ✓"}


def test_a_key_an_update_recorded_replays_that_version(storage):
    repo.submit_once(storage, "k-chain", counting("k-chain", "r-chain")[0])
    repo.add_review(storage, "r-chain", "clinic-a", lambda cur: {
        "resource": {"id": "r-chain", "v": 2}, "decision": "approve", "review_code": "A1",
        "auth_number": "PA-1"}, human=False, source_key="update-key")
    build, calls = counting("update-key", "r-other")
    found = repo.submit_once(storage, "update-key", build)
    assert calls == [] and found.response.source_key == "update-key" and found.response.version == 2


def test_concurrent_first_submissions_store_one(storage):
    gate = threading.Barrier(4)
    results: list[repo.Stored] = []

    def build_for(n: int):
        def build() -> dict:
            gate.wait(timeout=30)  # every thread has looked the key up and found nothing
            return fields("k-race", f"r-race-{n}")
        return build

    threads = [threading.Thread(target=lambda n=n: results.append(repo.submit_once(storage, "k-race", build_for(n))))
               for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4 and sum(r.created for r in results) == 1
    assert len({r.response.response_id for r in results}) == 1
    with storage.sessions() as s:
        assert len(s.scalars(select(Claim.id).where(Claim.idempotency_key == "k-race")).all()) == 1
        assert len(s.scalars(select(ClaimEvent.id).where(ClaimEvent.action == "submit")).all()) == 1
