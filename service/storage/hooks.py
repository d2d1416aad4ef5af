"""CRD hook log and CDS Hooks 2.0 feedback ("Feedback" section): batch writes, no PHI."""
from __future__ import annotations

import json
from datetime import UTC

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from service.storage.db import Storage
from service.storage.tables import HookFeedback, TokenUse, utcnow

_CALL_FIELDS = frozenset(("hook_instance", "service_id", "hook", "payer_id", "orders_matched", "answer",
                          "latency_ms", "status_code", "created_at"))


def record_hook_calls(storage: Storage, rows: list[dict]) -> None:
    """Insert many hook_call rows in one statement; unknown keys are refused, not dropped."""
    if not rows:
        return
    clean = []
    for row in rows:
        if not row.keys() <= _CALL_FIELDS:
            raise ValueError(f"hook_call has no column(s) {sorted(set(row) - _CALL_FIELDS)}")
        if not row.get("service_id"):
            raise ValueError("hook_call needs a service_id")
        clean.append({"created_at": utcnow(), "orders_matched": 0, **row})
    insert_hook_calls(storage, [tuple(_as_sql(c, r.get(c)) for c in _CALL_COLUMNS) for r in clean])


_CALL_COLUMNS = ("created_at", "hook_instance", "service_id", "hook", "payer_id", "orders_matched",
                 "answer", "latency_ms", "status_code")
_CHUNK = 1000  # 9 000 parameters: under SQLite's 32 766 limit


def insert_hook_calls(storage: Storage, values: list[tuple]) -> None:
    """One multi-row INSERT per chunk, through the driver (CRD audit writer, off the event loop).

    Rows are tuples in _CALL_COLUMNS order, ready for the driver: created_at as UTC text
    'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite form) and `answer` as JSON text; the
    writer thread then holds the GIL only to flatten them.

    Why raw: executemany makes a driver call per row, and each call releases the GIL; a
    background thread then waits behind the busy event loop for every single row.
    """
    dialect = storage.engine.dialect
    sqlite = dialect.name == "sqlite"
    marks = ["?" if dialect.paramstyle == "qmark" else "%s"] * len(_CALL_COLUMNS)
    if not sqlite:  # text in, typed columns: UTC timestamps and JSON
        marks[_CALL_COLUMNS.index("created_at")] = "(%s::text || '+00')::timestamptz"
        marks[_CALL_COLUMNS.index("answer")] += "::json"
    group = "(" + ",".join(marks) + ")"
    with storage.write_lock, storage.engine.begin() as conn:
        for chunk in fixed_chunks(values):
            sql = f"INSERT INTO hook_call ({', '.join(_CALL_COLUMNS)}) VALUES " + ",".join([group] * len(chunk))
            conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row))


CHUNK_SIZES = (1000, 100, 10, 1)


def fixed_chunks(values: list[tuple]) -> list[list[tuple]]:
    """Chunks of 1000, 100, 10 and 1 rows only: four statement texts in all, so the driver's
    statement cache stays bounded (a new text per batch size grew memory without end)."""
    chunks, start = [], 0
    for size in CHUNK_SIZES:
        while len(values) - start >= size:
            chunks.append(values[start:start + size])
            start += size
    return chunks


def _as_sql(column: str, value):
    if column == "answer":
        return json.dumps(value)
    if column == "created_at":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def save_feedback(storage: Storage, service_id: str, items: list[dict]) -> int:
    """Store each CDS Hooks feedback item (card, outcome, the item itself); returns the count."""
    rows = [{"created_at": utcnow(), "service_id": service_id, "card_id": item.get("card"),
             "outcome": item.get("outcome"), "payload": item} for item in items]
    if rows:
        with storage.write() as session:
            session.execute(insert(HookFeedback), rows)
    return len(rows)


def claim_token_use(storage: Storage, key: str, expires_at: float, now: float) -> bool:
    """Record a JWT id; False when any worker has already recorded it (a replay)."""
    with storage.write() as session:
        session.execute(delete(TokenUse).where(TokenUse.expires_at < now))
        try:
            with session.begin_nested():
                session.execute(insert(TokenUse).values(key=key, expires_at=expires_at))
        except IntegrityError:
            return False
    return True
