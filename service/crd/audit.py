"""The CRD audit trail: every hook call recorded off the request path, batched (no PHI)."""
from __future__ import annotations

import logging
import queue
import threading

from service.storage.hooks import record_hook_calls

log = logging.getLogger("service.crd.audit")


class AuditWriter:
    """A daemon thread that batches hook_call rows so order-sign never waits on a disk flush."""

    def __init__(self, storage, batch: int = 500, interval: float = 0.5):
        self.storage, self.batch, self.interval = storage, batch, interval
        self.rows: queue.Queue = queue.Queue(maxsize=10_000)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="crd-audit", daemon=True)
        self.thread.start()

    def record(self, row: dict) -> None:
        try:
            self.rows.put_nowait(row)
        except queue.Full:  # never block a clinician's order on the audit trail; say so loudly
            log.error("audit queue full; a hook call record was dropped")

    def drain(self) -> list[dict]:
        out = []
        while len(out) < self.batch:
            try:
                out.append(self.rows.get_nowait())
            except queue.Empty:
                break
        return out

    def run(self) -> None:
        while not self.stopping.is_set() or not self.rows.empty():
            rows = self.drain()
            if rows:
                try:
                    record_hook_calls(self.storage, rows)
                except Exception:  # noqa: BLE001 - the writer must outlive one bad batch
                    log.exception("could not store %d hook call records", len(rows))
            else:
                self.stopping.wait(self.interval)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
