"""The CMS-0057-F report counted in SQL (issue 25) equals the in-memory reference (report.build_report) over the
same stored rows, on SQLite and PostgreSQL: sub-second receipts, decisions "before" receipt, the timeframe
boundary to the second, odd and even medians, open requests past due, reasons from claim_reasons."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from service.review.report import Determination, build_report, report_csv
from service.review.reporting import collect
from service.storage.tables import Claim, ClaimReason, ClaimResponseRow

PAYERS = ("aetna", "bcbst", "fepblue", "nanthealth")
CODES = ("cd22-status", "diagnosis", "disease-status", "ph-status")
NOW = datetime(2024, 7, 1, 12, 0, 0, 600000, tzinfo=UTC)
START, END = date(2024, 5, 1), date(2024, 6, 30)


def seeded(n: int = 160, seed: int = 25) -> list[tuple]:
    """(payer, priority, decision, received, decided, reasons): random but with the edge cases made sure of."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        received = datetime(2024, 4, 28, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 66 * 86400),
                                                                 microseconds=rng.randrange(0, 1_000_000))
        priority = rng.choice(("standard", "standard", "expedited"))
        decision = rng.choice(("approve", "approve", "deny", "pend"))
        limit = 72 * 3600 if priority == "expedited" else 7 * 86400
        taken = rng.choice((0, -0.4, 44.6, 90, limit, limit + 1, rng.randrange(60, 2 * limit)))
        decided = None if decision == "pend" else (received + timedelta(seconds=taken)).replace(microsecond=0)
        if i % 17 == 0:  # a re-pended request keeps its first final decision time
            decision, decided = "pend", received.replace(microsecond=0) + timedelta(hours=3)
        reasons = tuple(rng.sample(CODES, rng.randrange(0, 3))) if decision != "approve" else ()
        rows.append((PAYERS[i % len(PAYERS)] if i % 5 else "aetna", priority, decision, received, decided, reasons))
    rows.append(("bcbst", "urgent", "approve", datetime(2024, 5, 2, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC), ()))
    return rows


def store_rows(storage, rows) -> None:
    with storage.sessions.begin() as session:
        for payer, priority, decision, received, decided, reasons in rows:
            claim_id, response_id = uuid.uuid4().hex, str(uuid.uuid4())
            session.add(Claim(id=claim_id, created_at=received, idempotency_key=f"t:{claim_id}", payer_id=payer,
                              request={}, response_id=response_id, current_version=1, decision=decision,
                              priority=priority, due_at=received + timedelta(days=7), decided_at=decided))
            session.flush()
            session.add(ClaimResponseRow(claim_id=claim_id, response_id=response_id, version=1, created_at=received,
                                         decision=decision, review_code="A4", auth_number=None, human_reviewed=False,
                                         resource={}))
            session.add_all(ClaimReason(claim_id=claim_id, code=c) for c in reasons)


def reference(rows, payer: str | None, payers: list[str]) -> dict:
    start = datetime(START.year, START.month, START.day, tzinfo=UTC)
    stop = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    kept = [Determination(pr if pr in ("standard", "expedited") else "standard", d, rec, dec, rs, p)
            for p, pr, d, rec, dec, rs in rows if start <= rec < stop and payer in (None, p)]
    return build_report(kept, START, END, payer, NOW, payers)


def test_the_sql_report_equals_the_reference_for_every_payer_and_priority(store):
    rows = seeded()
    store_rows(store, rows)
    payers = sorted({*PAYERS, "bcbsnc"})
    got = collect(store, START, END, None, NOW, payers)
    want = reference(rows, None, payers)
    assert got == want
    assert report_csv(got, by_payer=True) == report_csv(want, by_payer=True)
    assert got["groups"]["all"]["requests"] > 100 and got["timeliness"]["all"]["open_past_due"] > 0
    assert got["groups"]["all"]["reasons"] and got["payers"]["bcbsnc"]["groups"]["all"]["requests"] == 0
    assert not [v for v in report_csv(got).split() if ",-" in v]  # never negative
    one = collect(store, START, END, "bcbst", NOW, ["bcbst"])
    assert one == reference(rows, "bcbst", ["bcbst"]) and list(one["payers"]) == ["bcbst"]


def test_even_and_odd_medians_and_an_empty_period(store):
    base = datetime(2024, 5, 10, 8, 0, 0, 900000, tzinfo=UTC)
    rows = [("aetna", "standard", "approve", base, base.replace(microsecond=0) + timedelta(seconds=s), ())
            for s in (10, 30, 31, 3600)]  # even: (30 + 31) / 2
    rows.append(("aetna", "expedited", "deny", base, base.replace(microsecond=0) - timedelta(seconds=5), ("diagnosis",)))
    store_rows(store, rows)
    got = collect(store, START, END, None, NOW, ["aetna"])
    assert got == reference(rows, None, ["aetna"])
    assert got["timeliness"]["standard"]["median_seconds_to_decision"] == 30.5
    assert got["timeliness"]["expedited"]["median_seconds_to_decision"] == 0.0  # decided "before" receipt: 0
    assert got["timeliness"]["all"]["median_seconds_to_decision"] == 30.0  # 0 10 [30] 31 3600
    empty = collect(store, date(2023, 1, 1), date(2023, 1, 31), None, NOW, ["aetna"])
    assert empty["groups"]["all"]["requests"] == 0 and empty["timeliness"]["all"]["median_seconds_to_decision"] is None
