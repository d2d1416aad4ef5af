"""The app's long-lived parts and their one lifecycle (issue 27): storage, the schema retry, the CRD audit
writer, the Subscription delivery worker; start() at start-up, close() at shutdown, in reverse order."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.fhir.client import HttpClient
from service.storage import open_storage
from service.storage.db import Storage
from service.storage.schema import SchemaState, start_schema
from service.subscriptions.worker import DeliveryPolicy

log = logging.getLogger("service")


@dataclass
class AppServices:
    """Made by create_app; the route modules' start_* functions register what they own to close.

    `delivery` is how the Subscription worker polls and retries (create_app's `delivery=`: tests pass
    short intervals). `storage` and `schema` exist from start() on.
    """

    settings: Settings
    http: HttpClient
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    stopping: threading.Event = field(default_factory=threading.Event)
    closers: list[Callable[[], None]] = field(default_factory=list)
    storage: Storage | None = None
    schema: SchemaState | None = None
    readiness: object = None  # api/health.py's ReadinessProbe, made by the first /readyz (it imports us)

    def start(self, app, starters: list[Callable[[object], object]]) -> None:
        """Open storage, start the schema retry, then each guide's start-up (keys, writers, workers)."""
        self.storage = app.state.storage = open_storage(self.settings)
        app.state.stopping = self.stopping
        self.schema = app.state.schema = start_schema(self.storage, self.stopping)
        for start in starters:
            start(app)
        self.closers.append(self.storage.close)

    def close(self, app) -> None:
        """Stop the threads, flush the writers (app.state.shutdown_hooks), close storage last."""
        self.stopping.set()
        for close in [*app.state.shutdown_hooks, *reversed(self.closers)]:
            try:
                close()
            except Exception:  # noqa: BLE001 - one part failing to close must not keep the rest open
                log.exception("a part of the service did not close cleanly")


def get_services(request: Request) -> AppServices:
    """The app's AppServices (create_app). Defined here, not in api/deps.py, until that module takes it."""
    return request.app.state.services


ServicesDep = Annotated[AppServices, Depends(get_services)]
