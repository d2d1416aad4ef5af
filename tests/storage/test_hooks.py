"""CRD hook log and feedback: rows land as given, bad rows are refused whole."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.storage.hooks import record_hook_calls, save_feedback
from service.storage.models import HookCall, HookFeedback


def test_record_hook_calls_batch(storage):
    rows = [{"hook_instance": f"h{i}", "service_id": "besponsa-order-sign", "hook": "order-sign",
             "payer_id": "aetna" if i else None, "orders_matched": i,
             "answer": {"cards": i, "pa-needed": "auth-needed"}, "latency_ms": 1.5 * i,
             "status_code": 200} for i in range(3)]
    record_hook_calls(storage, rows)
    with storage.sessions() as s:
        got = s.scalars(select(HookCall).order_by(HookCall.hook_instance)).all()
    assert [(r.hook_instance, r.payer_id, r.orders_matched, r.answer["cards"], r.latency_ms)
            for r in got] == [("h0", None, 0, 0, 0.0), ("h1", "aetna", 1, 1, 1.5),
                              ("h2", "aetna", 2, 2, 3.0)]
    assert all(r.created_at is not None for r in got)


def test_record_hook_calls_refuses_unknown_column(storage):
    with pytest.raises(ValueError, match="patient"):
        record_hook_calls(storage, [{"service_id": "x", "patient": "Patient/1"}])
    with storage.sessions() as s:
        assert s.scalars(select(HookCall)).all() == []


def test_save_feedback(storage):
    items = [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"},
             {"card": "c2", "outcome": "overridden",
              "overrideReasons": [{"reason": {"code": "x"}}]}]
    assert save_feedback(storage, "svc", items) == 2
    assert save_feedback(storage, "svc", []) == 0
    with storage.sessions() as s:
        got = s.scalars(select(HookFeedback).order_by(HookFeedback.card_id)).all()
    assert [(r.service_id, r.card_id, r.outcome) for r in got] == [
        ("svc", "c1", "accepted"), ("svc", "c2", "overridden")]
    assert got[1].payload["overrideReasons"][0]["reason"]["code"] == "x"
