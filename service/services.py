"""The app's long-lived parts and their one lifecycle (issue 27): storage, the schema retry, the CRD audit
writer, the Subscription delivery worker; start() at start-up, close() at shutdown, in reverse order."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from service.config import Settings
from service.fhir.client import HttpClient
from service.storage import open_storage

log = logging.getLogger("service")


@dataclass
class AppServices:
    """Made by create_app; the route modules' start_* functions register what they own to close."""

    settings: Settings
    http: HttpClient
    stopping: threading.Event = field(default_factory=threading.Event)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self, app, starters: list[Callable[[object], object]]) -> None:
        """Open storage, start the schema retry, then each guide's start-up (keys, writers, workers)."""
        from service.storage.schema import start_schema

        app.state.storage = open_storage(self.settings)
        app.state.stopping = self.stopping
        app.state.schema = start_schema(app.state.storage, self.stopping)
        for start in starters:
            start(app)
        self.closers.append(app.state.storage.close)

    def close(self, app) -> None:
        """Stop the threads, flush the writers (app.state.shutdown_hooks), close storage last."""
        self.stopping.set()
        for close in [*app.state.shutdown_hooks, *reversed(self.closers)]:
            try:
                close()
            except Exception:  # noqa: BLE001 - one part failing to close must not keep the rest open
                log.exception("a part of the service did not close cleanly")
