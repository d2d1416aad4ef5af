"""A peer-to-peer recorded on a case (issue 22), on SQLite and PostgreSQL: the steps in order, each a trail row,
refused out of order in plain words with the typed fields kept, for nurses and physicians only."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from service.storage.peer import MAX_NOTE, MAX_WITH, OutOfOrder, peer_steps, record_peer_step
from service.storage.tables import AccessEvent, Claim, ClaimEvent
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22
from tests.review.desk import NURSE, PHYSICIAN, submit


def form(http: httpx.Client, **fields) -> dict:
    return {"csrf_token": http.headers["x-csrf-token"], **fields}


def add_claim(store, decision: str = "deny") -> str:
    claim_id = uuid.uuid4().hex
    with store.write() as session:
        session.add(Claim(id=claim_id, idempotency_key=f"p2p:{claim_id}", payer_id="aetna", request={},
                          response_id=str(uuid.uuid4()), current_version=1, decision=decision))
    return claim_id


def test_the_steps_go_in_order_and_each_is_a_trail_row(store):
    claim_id = add_claim(store)
    with pytest.raises(OutOfOrder, match="cannot be recorded as held yet: no peer-to-peer is open"):
        record_peer_step(store, claim_id, PHYSICIAN, "held")
    record_peer_step(store, claim_id, NURSE, "requested", with_="Dr Okafor's office", when="2026-11-20T09:00:00+00:00")
    with pytest.raises(OutOfOrder, match="the peer-to-peer is requested; next it can be scheduled or outcome"):
        record_peer_step(store, claim_id, PHYSICIAN, "held")
    with pytest.raises(OutOfOrder, match="only after the peer-to-peer was held"):
        record_peer_step(store, claim_id, PHYSICIAN, "outcome", outcome="overturned", note="x")
    record_peer_step(store, claim_id, NURSE, "scheduled", when="2026-11-21T14:30:00+00:00", with_="Dr Okafor")
    record_peer_step(store, claim_id, NURSE, "scheduled", when="2026-11-22T10:00:00+00:00", with_="Dr Okafor")
    record_peer_step(store, claim_id, PHYSICIAN, "held", with_="Dr Okafor", note="x" * (MAX_NOTE + 50))
    with pytest.raises(OutOfOrder, match="Say the outcome"):
        record_peer_step(store, claim_id, PHYSICIAN, "outcome", outcome="maybe")
    record_peer_step(store, claim_id, PHYSICIAN, "outcome", outcome="upheld", note="CD22 negative twice")
    steps = peer_steps(store, claim_id)
    assert [s.step for s in steps] == ["requested", "scheduled", "scheduled", "held", "outcome"]
    assert [s.actor for s in steps] == [NURSE, NURSE, NURSE, PHYSICIAN, PHYSICIAN]
    assert steps[2].when == "2026-11-22T10:00:00+00:00" and steps[-1].outcome == "upheld"
    assert len(steps[3].note) == MAX_NOTE  # capped, not refused
    with store.sessions() as session:
        rows = session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id)
                               .order_by(ClaimEvent.id)).all()
    assert {r.action for r in rows} == {"peer-to-peer"} and {r.outcome for r in rows} == {"deny"}
    assert set(rows[-1].detail) == {"step", "when", "with", "outcome", "note"}
    assert rows[-1].detail["outcome"] == "upheld" and rows[1].detail["outcome"] is None
    record_peer_step(store, claim_id, NURSE, "requested", with_="y" * (MAX_WITH + 9))  # a new round after an outcome
    assert peer_steps(store, claim_id)[-1].with_ == "y" * MAX_WITH


def test_a_request_not_yet_held_can_only_be_withdrawn(store):
    claim_id = add_claim(store, "pend")  # a peer-to-peer before the decision is allowed too
    record_peer_step(store, claim_id, PHYSICIAN, "requested")
    record_peer_step(store, claim_id, PHYSICIAN, "outcome", outcome="withdrawn")
    assert [s.step for s in peer_steps(store, claim_id)] == ["requested", "outcome"]
    with pytest.raises(LookupError):
        record_peer_step(store, "no-such-claim", PHYSICIAN, "requested")


def post_step(http: httpx.Client, response_id: str, **fields) -> httpx.Response:
    return http.post(f"/review/{response_id}/peer-to-peer", data=form(http, **fields), follow_redirects=False)


def test_a_physician_records_a_peer_to_peer_after_a_denial(physician, nurse, anon, storage):
    case = submit(anon, "fepblue", CD22_NEGATIVE)
    denied = physician.post(f"/pas/review/{case['id']}", json={"decision": "deny", "note": "CD22 negative",
                                                             "concepts": ["cd22-status"]})
    assert denied.status_code == 200, denied.text
    page = physician.get(f"/review/{case['id']}").text
    assert "No peer-to-peer has been requested on this case." in page and 'id="p2p-requested-submit"' in page
    early = post_step(physician, case["id"], step="held", note="we talked at noon")
    assert early.status_code == 409 and "cannot be recorded as held yet" in early.text
    assert "we talked at noon" in early.text  # the typed note is kept
    asked = post_step(nurse, case["id"], step="requested", **{"with": "Dr Okafor's office"})
    assert asked.status_code == 303 and asked.headers["location"].endswith("?done=peer-to-peer#peer-title")
    missing = post_step(physician, case["id"], step="scheduled", when="", **{"with": "Dr Okafor"})
    assert missing.status_code == 422 and "Say when the peer-to-peer is scheduled" in missing.text
    assert 'value="Dr Okafor"' in missing.text
    assert post_step(physician, case["id"], step="scheduled", when="2026-11-27T14:30",
                     **{"with": "Dr Okafor"}).status_code == 303
    page = physician.get(f"/review/{case['id']}?done=peer-to-peer").text
    assert "Peer-to-peer scheduled for 2026-11-27 14:30 UTC with Dr Okafor" in page
    assert "Peer-to-peer recorded on the case" in page and "Reschedule it" in page and "Record it as held" in page
    assert post_step(physician, case["id"], step="held", **{"with": "Dr Okafor"}).status_code == 303
    no_note = post_step(physician, case["id"], step="outcome", outcome="upheld")
    assert no_note.status_code == 422 and "Add a note" in no_note.text
    assert post_step(physician, case["id"], step="outcome", outcome="upheld",
                     note="CD22 negative on two samples; the denial stands").status_code == 303
    page = physician.get(f"/review/{case['id']}").text
    story = page[page.index('id="story-title"'):]
    for words in ("Peer-to-peer requested by Dr Okafor&#39;s office", "Peer-to-peer scheduled for 2026-11-27 14:30 UTC",
                  "Peer-to-peer held", "Peer-to-peer outcome: the decision was upheld",
                  "CD22 negative on two samples; the denial stands"):
        assert words in story, words
    assert 'id="p2p-requested-submit"' in page  # a new round may be asked after the outcome
    letter = physician.get(f"/review/{case['id']}/letter").text
    assert f"by {PHYSICIAN}" in letter and "Peer-to-peer outcome" not in letter  # the letter names the decision
    with storage.sessions() as session:
        claim_id = session.scalar(select(Claim.id).where(Claim.response_id == case["id"]))
        steps = session.execute(select(ClaimEvent.actor, ClaimEvent.detail).where(
            ClaimEvent.claim_id == claim_id, ClaimEvent.action == "peer-to-peer").order_by(ClaimEvent.id)).all()
    assert [(a, d["step"]) for a, d in steps] == [(NURSE, "requested"), (PHYSICIAN, "scheduled"),
                                                  (PHYSICIAN, "held"), (PHYSICIAN, "outcome")]
    assert steps[1][1]["when"] == "2026-11-27T14:30:00+00:00"
    with storage.sessions() as session:  # the access trail (/fhir/AuditEvent) names who recorded each step
        trail = session.execute(select(AccessEvent.agent, AccessEvent.detail).where(
            AccessEvent.route == "/review/peer-to-peer", AccessEvent.resource_id == case["id"])
            .order_by(AccessEvent.id)).all()
    assert [a for a, _ in trail] == [NURSE, PHYSICIAN, PHYSICIAN, PHYSICIAN]
    assert [d.split(" by ")[0] for _, d in trail] == [f"peer-to-peer {s}" for s in ("requested", "scheduled", "held", "outcome")]


def test_only_the_desk_reviewers_record_it_with_their_csrf_token(desk, nurse, operator, anon):
    case = submit(anon, "aetna", MISSING_CD22)  # a pended case: allowed as well
    refused = operator.post(f"/review/{case['id']}/peer-to-peer", data=form(operator, step="requested"))
    assert refused.status_code == 403
    forged = nurse.post(f"/review/{case['id']}/peer-to-peer", data={"step": "requested", "csrf_token": "forged"},
                        headers={"x-csrf-token": ""})
    assert forged.status_code == 403
    assert anon.post(f"/review/{case['id']}/peer-to-peer", data={"step": "requested"},
                     follow_redirects=False).status_code == 303  # to the sign-in page
    assert post_step(nurse, "no-such-response", step="requested").status_code == 404
    bad = post_step(nurse, case["id"], step="lunch")
    assert bad.status_code == 409 and "There is no peer-to-peer step" in bad.text
    assert post_step(nurse, case["id"], step="requested").status_code == 303
    assert "Peer-to-peer requested" in nurse.get(f"/review/{case['id']}").text
    operator_view = operator.get(f"/review/{case['id']}")
    assert operator_view.status_code == 403  # operators read no cases at all
