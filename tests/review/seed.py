"""A seeded set of determinations with known timestamps, written straight into the database (March 2024)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from service.config import Settings
from service.engine.evaluate import NOT_MET, UNKNOWN, Reason
from service.fhir.adjudication import reason_codes
from service.pas.claimresponse import Adjudication, build_claim_response
from service.pas.submit import DUE_WITHIN
from service.policies.registry import get_policy
from service.storage import open_storage
from service.storage.tables import Claim, ClaimReason, ClaimResponseRow

FROM, TO = "2024-03-01", "2024-03-31"
STATUS = {"deny": NOT_MET, "pend": UNKNOWN}
# (payer, priority, decision, received, hours to the first final decision or None, reason codes)
SEEDED = (
    ("aetna", "standard", "approve", datetime(2024, 3, 4, 9, 0, tzinfo=UTC), 24, ()),
    ("aetna", "standard", "approve", datetime(2024, 3, 6, 10, 0, tzinfo=UTC), 72, ()),
    ("aetna", "standard", "deny", datetime(2024, 3, 7, 8, 0, tzinfo=UTC), 48, ("cd22-status",)),
    ("aetna", "standard", "deny", datetime(2024, 3, 10, 12, 0, tzinfo=UTC), 6, ("diagnosis",)),
    ("aetna", "standard", "pend", datetime(2024, 3, 12, 12, 0, tzinfo=UTC), None, ("cd22-status", "disease-status")),
    ("aetna", "expedited", "approve", datetime(2024, 3, 15, 0, 0, tzinfo=UTC), 2, ()),
    ("aetna", "expedited", "deny", datetime(2024, 3, 16, 0, 0, tzinfo=UTC), 10, ("cd22-status",)),
    ("aetna", "expedited", "pend", datetime(2024, 3, 20, 0, 0, tzinfo=UTC), None, ("disease-status",)),
    ("bcbst", "standard", "deny", datetime(2024, 3, 8, 0, 0, tzinfo=UTC), 30, ("cd22-status",)),
    # outside the period by a minute either side: never counted
    ("aetna", "standard", "approve", datetime(2024, 2, 29, 23, 59, tzinfo=UTC), 1, ()),
    ("aetna", "expedited", "deny", datetime(2024, 4, 1, 0, 0, tzinfo=UTC), 1, ("cd22-status",)),
    # May 2024 (tests/review/test_report_timeliness.py counts them): receipt to the microsecond, the decision
    # to the whole second as claims.decided_at is stored, so instant ones land "before" receipt; and two late ones.
    ("aetna", "standard", "approve", datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC), -0.25 / 3600, ()),  # 08:00:00
    ("aetna", "expedited", "deny", datetime(2024, 5, 2, 9, 30, 0, 900000, tzinfo=UTC), 44.1 / 3600,
     ("cd22-status",)),  # 09:30:45
    ("aetna", "standard", "approve", datetime(2024, 5, 3, 10, 0, 0, 500000, tzinfo=UTC), 2699.5 / 3600, ()),  # 10:45:00
    ("bcbst", "expedited", "approve", datetime(2024, 5, 6, 0, 0, tzinfo=UTC), 80, ()),  # past 72 hours
    ("bcbst", "standard", "deny", datetime(2024, 5, 7, 0, 0, tzinfo=UTC), 170, ("cd22-status",)),  # past 7 days
    ("fepblue", "standard", "approve", datetime(2024, 5, 8, 0, 0, 0, 999999, tzinfo=UTC), -0.999999 / 3600, ()),
    ("nanthealth", "expedited", "approve", datetime(2024, 5, 9, 12, 0, 0, 400000, tzinfo=UTC), 89.6 / 3600, ()),
)
CODES = {"approve": "A1", "deny": "A3", "pend": "A4"}

# Counted by hand from SEEDED for March 2024 (the two rows a minute outside are not in it).
# standard: aetna approve 24 h, approve 72 h, deny 48 h, deny 6 h, pend; bcbst deny 30 h
# expedited: aetna approve 2 h, deny 10 h, pend
EXPECTED = {
    "all": {"requests": 9, "approved": 3, "approved_percent": 33.3, "denied": 4, "denied_percent": 44.4,
            "pended": 2, "pended_percent": 22.2, "approved_after_appeal": 0, "approved_after_appeal_percent": 0.0,
            "approved_extended_review": 0, "approved_extended_review_percent": 0.0, "decided": 7,
            "mean_hours_to_decision": 27.43, "median_hours_to_decision": 24.0},  # 192 h / 7; 2 6 10 [24] 30 48 72
    "standard": {"requests": 6, "approved": 2, "approved_percent": 33.3, "denied": 3, "denied_percent": 50.0,
                 "pended": 1, "pended_percent": 16.7, "approved_after_appeal": 0, "approved_after_appeal_percent": 0.0,
                 "approved_extended_review": 0, "approved_extended_review_percent": 0.0, "decided": 5,
                 "mean_hours_to_decision": 36.0, "median_hours_to_decision": 30.0},  # 180 h / 5; 6 24 [30] 48 72
    "expedited": {"requests": 3, "approved": 1, "approved_percent": 33.3, "denied": 1, "denied_percent": 33.3,
                  "pended": 1, "pended_percent": 33.3, "approved_after_appeal": 0, "approved_after_appeal_percent": 0.0,
                  "approved_extended_review": 0, "approved_extended_review_percent": 0.0, "decided": 2,
                  "mean_hours_to_decision": 6.0, "median_hours_to_decision": 6.0},  # 2 h and 10 h
}
REASONS = {"all": {"cd22-status": 4, "disease-status": 2, "diagnosis": 1},
           "standard": {"cd22-status": 3, "disease-status": 1, "diagnosis": 1},
           "expedited": {"cd22-status": 1, "disease-status": 1}}


def seed_rows(data_dir, database_url: str | None) -> None:
    """Write SEEDED as claims with their version-1 ClaimResponses (built by the real builder)."""
    storage = open_storage(Settings(data_dir=data_dir, database_url=database_url))
    try:
        with storage.sessions.begin() as session:
            for payer, priority, decision, received, hours, reasons in SEEDED:
                policy = get_policy(payer)
                response_id, number = str(uuid.uuid4()), f"PA-SEED-{uuid.uuid4().hex[:8]}"
                outcome = Adjudication(decision, tuple(Reason(c, STATUS[decision], "seeded", "") for c in reasons),
                                       6 if decision == "approve" else None, reviewer={"human": False})
                resource = build_claim_response(
                    {"patient": {"reference": "Patient/seed"}, "item": [{"sequence": 1}]}, {"reference": "Claim/seed"},
                    policy, outcome, response_id=response_id, version=1, number=number, created=received)
                claim = Claim(id=uuid.uuid4().hex, created_at=received, idempotency_key=f"seed:{response_id}",
                              payer_id=payer, request={"resourceType": "Bundle", "type": "collection", "entry": []},
                              response_id=response_id, current_version=1, decision=decision, priority=priority,
                              due_at=received + DUE_WITHIN[priority],
                              decided_at=received + timedelta(hours=hours) if hours is not None else None)
                session.add(claim)
                session.flush()
                session.add(ClaimResponseRow(claim_id=claim.id, response_id=response_id, version=1, created_at=received,
                                             decision=decision, review_code=CODES[decision], auth_number=number,
                                             human_reviewed=False, resource=resource))
                # As storage.claims writes them: the current version's reason codes, read from its JSON.
                session.add_all(ClaimReason(claim_id=claim.id, code=c) for c in reason_codes(resource))
    finally:
        storage.close()
