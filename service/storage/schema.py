"""Bring the schema up at start-up, and keep trying in the background while the database is away,
so the process serves /readyz (503, saying why) instead of exiting (a load balancer waits for it)."""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("service.storage")
RETRY_SECONDS = 2.0
REASON_LIMIT = 200


def describe_failure(exc: BaseException) -> str:
    """The database's own reason, e.g. 'database "pa" does not exist', from the driver's message (never
    SQLAlchemy's wrapper, which can carry statements and parameters; libpq never echoes a password)."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    for marker in ("FATAL:", "ERROR:", "failed: "):  # libpq puts the server's or the socket's reason last
        if marker in first:
            first = first.rsplit(marker, 1)[1]
            break
    reason = " ".join(first.split())[:REASON_LIMIT]
    return f"{type(orig).__name__}: {reason}" if reason else type(orig).__name__


class SchemaState:
    """Whether this process has found the schema current; `error` says why not yet."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.error: str | None = "not migrated yet"


def start_schema(storage, stopping: threading.Event) -> SchemaState:
    """Migrate now; on failure, retry every RETRY_SECONDS on a daemon thread until it works."""
    state = SchemaState()

    def attempt() -> bool:
        try:
            storage.migrate()
        except Exception as exc:  # noqa: BLE001 - any failure: report, wait, retry
            state.error = f"database unreachable or not migrated ({describe_failure(exc)}); check DATABASE_URL"
            return False
        state.error = None
        state.ready.set()
        return True

    if not attempt():
        log.error("storage is not ready; serving /readyz 503 and retrying", extra={"fields": {"why": state.error}})

        def retry() -> None:
            while not stopping.wait(RETRY_SECONDS):
                if attempt():
                    log.info("storage is ready")
                    return

        threading.Thread(target=retry, name="schema-retry", daemon=True).start()
    return state
