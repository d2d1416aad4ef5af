"""CRD hook log and CDS Hooks 2.0 feedback ("Feedback" section): batch writes, no PHI."""
from __future__ import annotations

from sqlalchemy import insert

from service.storage.models import HookCall, HookFeedback, utcnow

_CALL_FIELDS = ("hook_instance", "service_id", "hook", "payer_id", "orders_matched", "answer",
                "latency_ms", "status_code", "created_at")


def record_hook_calls(storage, rows: list[dict]) -> None:
    """Insert many hook_call rows in one transaction; unknown keys are refused, not dropped."""
    if not rows:
        return
    clean = []
    for row in rows:
        extra = set(row) - set(_CALL_FIELDS)
        if extra:
            raise ValueError(f"hook_call has no column(s) {sorted(extra)}")
        if not row.get("service_id"):
            raise ValueError("hook_call needs a service_id")
        clean.append({"created_at": utcnow(), "orders_matched": 0, **row})
    with storage.write_lock, storage.sessions.begin() as session:
        session.execute(insert(HookCall), clean)


def save_feedback(storage, service_id: str, items: list[dict]) -> int:
    """Store each CDS Hooks feedback item (card, outcome, the item itself); returns the count."""
    rows = [{"created_at": utcnow(), "service_id": service_id, "card_id": item.get("card"),
             "outcome": item.get("outcome"), "payload": item} for item in items]
    if rows:
        with storage.write_lock, storage.sessions.begin() as session:
            session.execute(insert(HookFeedback), rows)
    return len(rows)
