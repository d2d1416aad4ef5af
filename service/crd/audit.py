"""The CRD audit trail: every hook call recorded off the request path, batched (no PHI)."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque

import orjson
from sqlalchemy.exc import OperationalError

from service.storage.hooks import insert_hook_calls

log = logging.getLogger("service.crd.audit")


class AuditWriter:
    """A daemon thread that batches hook_call rows so order-sign never waits on a disk flush.

    The request path only appends a tuple; the thread builds rows and writes one multi-row
    INSERT per batch. One statement per batch matters: a driver call per row releases and
    re-takes the GIL each time, and under load every re-take waits behind the event loop.
    """

    def __init__(self, storage, batch: int = 1000, interval: float = 0.25, limit: int = 100_000):
        self.storage, self.batch, self.interval = storage, batch, interval
        self.pending: deque = deque(maxlen=limit)
        self.dropped = 0  # rows the bounded queue pushed out (reported, then reset)
        self.rejected = 0  # rows the database refused (counted for the life of the process)
        self.second, self.prefix = -1, ""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="crd-audit", daemon=True)
        self.thread.start()

    def record(self, hook_instance, service, result, latency_ms: float, status: int) -> None:
        """Queue one call as a row (a tuple append). Only small values are kept: holding whole
        responses until the batch is written would grow the heap the garbage collector walks."""
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1  # the oldest row falls off; reported by the writer
        self.pending.append((
            self.stamp(), hook_instance, service.id, service.hook,
            result.payer_id if result else None, result.orders if result else 0,
            orjson.dumps({"orders": result.summary if result else []}).decode(), round(latency_ms, 3), status))

    def stamp(self) -> str:
        """Now as UTC 'YYYY-MM-DD HH:MM:SS.ffffff', formatted once per second (hot path)."""
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second, self.prefix = second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{int((now - second) * 1e6):06d}"

    def take(self) -> list[tuple]:
        rows: list[tuple] = []
        while self.pending and len(rows) < self.batch:
            rows.append(self.pending.popleft())
        return rows

    def run(self) -> None:
        while not self.stopping.is_set() or self.pending:
            if self.dropped:
                log.error("audit backlog full; %d hook call records were dropped", self.dropped)
                self.dropped = 0
            rows = self.take()
            if rows and not self.store(rows):
                self.pending.extendleft(reversed(rows))  # the database is away: keep them, try later
                self.stopping.wait(self.interval * 8)
            if len(self.pending) < self.batch:
                self.stopping.wait(self.interval)

    def store(self, rows: list[tuple]) -> bool:
        """Write a batch; False when the database is away (rows kept). A batch a row of which the
        database refuses is written row by row, and only the refused rows are dropped, counted."""
        try:
            insert_hook_calls(self.storage, rows)
            return True
        except OperationalError:
            return False
        except Exception:  # noqa: BLE001 - one bad row must not lose its batch
            for row in rows:
                try:
                    insert_hook_calls(self.storage, [row])
                except OperationalError:
                    return False
                except Exception:  # noqa: BLE001 - a row the database refuses: dropped and counted
                    self.rejected += 1
            log.error("hook call records refused by the database", extra={"fields": {"rejected": self.rejected}})
            return True

    def flush(self) -> None:
        """Write everything queued so far (tests, shutdown)."""
        while self.pending:
            insert_hook_calls(self.storage, self.take())

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
