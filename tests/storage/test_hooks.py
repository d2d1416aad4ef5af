"""CRD hook log and feedback: rows land as given, bad rows are refused whole."""
from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import select

from service.storage.hooks import record_hook_calls, save_feedback
from service.storage.tables import HookCall, HookFeedback


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


def test_audit_writer_rows_read_back_with_utc_times(storage):
    """The CRD writer's raw multi-row INSERT lands as SQLAlchemy reads it, on either database."""
    from datetime import datetime, timedelta

    from service.crd.audit import AuditWriter
    from service.crd.hook import HookResult
    from service.crd.services import SERVICES_BY_ID
    writer = AuditWriter(storage, interval=3600)  # flushed by hand below
    service = SERVICES_BY_ID["besponsa-order-sign"]
    before = datetime.now(UTC)
    writer.record("hook-1", service, HookResult({}, "bcbst", 2, [{"covered": "covered"}]), 1.23456, 200)
    writer.record(None, service, None, 0.5, 400)
    writer.flush()
    writer.close()
    with storage.sessions() as s:
        got = s.scalars(select(HookCall).order_by(HookCall.id)).all()
    assert [(r.hook_instance, r.service_id, r.hook, r.payer_id, r.orders_matched, r.answer, r.latency_ms,
             r.status_code) for r in got] == [
        ("hook-1", "besponsa-order-sign", "order-sign", "bcbst", 2, {"orders": [{"covered": "covered"}]},
         1.235, 200),
        (None, "besponsa-order-sign", "order-sign", None, 0, {"orders": []}, 0.5, 400)]
    for r in got:  # stored as UTC: read back (naive on SQLite) it is within seconds of now
        at = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= at <= datetime.now(UTC) + timedelta(seconds=1)


def test_audit_writer_keeps_a_batch_when_one_row_is_refused(storage):
    """A row the database refuses (PostgreSQL: a NUL in text) is dropped and counted; the others land."""
    from service.crd.audit import AuditWriter
    from service.crd.hook import HookResult
    from service.crd.services import SERVICES_BY_ID
    writer = AuditWriter(storage, interval=3600)
    service = SERVICES_BY_ID["besponsa-order-sign"]
    for instance in ("a", "bad\x00" if storage.engine.dialect.name == "postgresql" else "x" * 10, "c"):
        writer.record(instance, service, HookResult({}, "bcbst", 1, []), 1.0, 200)
    rows = writer.take()
    assert writer.store(rows) is True
    writer.close()
    with storage.sessions() as s:
        stored = s.scalars(select(HookCall.hook_instance)).all()
    refused = 1 if storage.engine.dialect.name == "postgresql" else 0
    assert len(stored) == 3 - refused and writer.rejected == refused


def test_audit_statements_come_in_four_sizes_only():
    from service.storage.hooks import CHUNK_SIZES, fixed_chunks
    for n in (0, 1, 9, 11, 999, 1234, 2222):
        chunks = fixed_chunks([(i,) for i in range(n)])
        assert sum(len(c) for c in chunks) == n and {len(c) for c in chunks} <= set(CHUNK_SIZES)
