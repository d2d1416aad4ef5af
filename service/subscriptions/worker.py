"""Deliver outbox events and heartbeats over rest-hook, retrying with back-off (backport "REST-Hook", "Errors")."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from service.errors import FHIR_JSON, ApiError
from service.fhir.client import HttpClient
from service.storage import subscriptions as repo
from service.storage.subscriptions import SubscriptionRow
from service.subscriptions.headers import as_request_headers
from service.subscriptions.notify import EVENT, HEARTBEAT, Event, build_notification

log = logging.getLogger("service.subscriptions")

# response id -> the PAS response Bundle for a full-resource notification, or None when it cannot be had.
Render = Callable[[str], dict | None]
FAILURE_LOG_SECONDS = 60.0  # while passes keep failing, one log line per this many seconds
DELIVERY_FAILED = "delivery failed"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How often the worker looks, and how it retries: 5 s, 10 s, 20 s ... at most 10 min apart; after
    `max_attempts` failed posts in a row the subscription goes to `error`."""

    interval: float = 1.0
    first_retry: float = 5.0
    max_retry: float = 600.0
    max_attempts: int = 8
    lease: float = 120.0  # a claimed event is taken again after this long (a worker that died mid-post)
    batch: int = 50

    def retry_delay(self, attempts: int) -> float:
        return min(self.first_retry * 2 ** max(attempts - 1, 0), self.max_retry)


async def post_notification(http: HttpClient, sub: SubscriptionRow, bundle: dict) -> str | None:
    """POST one notification Bundle with the subscription's channel.header; None when the endpoint accepted
    it (2xx), else what is stored and shown to the subscriber: "delivery failed", with the HTTP status when
    one came back. A closed port, an open one that says nothing, a refused address and a timeout read
    alike (issue 20: the error must not map the payer's network); the operator's log says which."""
    client = replace(http, timeout=float(sub.timeout_seconds)) if sub.timeout_seconds else http
    try:
        reply = await client.request("POST", sub.endpoint, json_body=bundle, accept=FHIR_JSON,
                                     what="the subscriber's endpoint", headers=as_request_headers(sub.headers))
    except ApiError as exc:
        log.info("subscription post not delivered", extra={"fields": {"subscription": sub.id,
                                                                       "reason": exc.message[:200]}})
        return DELIVERY_FAILED
    return None if 200 <= reply.status < 300 else f"{DELIVERY_FAILED} (HTTP {reply.status})"


async def post_all(http: HttpClient, posts: list[tuple[SubscriptionRow, dict]]) -> list[str | None]:
    """Several notifications at once: one slow endpoint does not hold up the others."""
    return list(await asyncio.gather(*(post_notification(http, sub, bundle) for sub, bundle in posts)))


class DeliveryWorker:
    """A daemon thread: every `interval` it leases due outbox rows, posts them, records each outcome,
    and sends heartbeats to subscriptions that have heard nothing for their heartbeat period."""

    def __init__(self, storage, http: HttpClient, base_url: str, render: Render, policy: DeliveryPolicy):
        self.storage, self.http, self.base, self.render, self.policy = storage, http, base_url, render, policy
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="subscriptions", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        failures, logged_at = 0, 0.0
        while not self.stopping.is_set():
            try:
                self.run_once()
                if failures:
                    log.info("subscription delivery resumed", extra={"fields": {"failed_passes": failures}})
                failures = 0
            except Exception:  # noqa: BLE001 - the worker must outlive one bad pass; the rows stay in the outbox
                failures += 1
                # Once at the first failure, then once a minute: a pass a second while storage is away
                # would otherwise bury every other line of the log.
                if failures == 1 or time.monotonic() - logged_at >= FAILURE_LOG_SECONDS:
                    logged_at = time.monotonic()
                    log.exception("subscription delivery pass failed", extra={"fields": {"failed_passes": failures}})
            self.stopping.wait(self.policy.interval)

    def run_once(self) -> int:
        """One pass: due events, then heartbeats; returns how many posts were accepted."""
        return self.deliver_due() + self.send_heartbeats()

    def deliver_due(self) -> int:
        claimed = repo.claim_due(self.storage, now=time.time(), lease=self.policy.lease, limit=self.policy.batch)
        if not claimed:
            return 0
        bundles = [self.notification_for(item) for item in claimed]
        ready = [(item, bundle) for item, bundle in zip(claimed, bundles, strict=True) if bundle is not None]
        results = asyncio.run(post_all(self.http, [(item.subscription, bundle) for item, bundle in ready]))
        for (item, _), error in zip(ready, results, strict=True):
            self.record(item, error)
        for item, bundle in zip(claimed, bundles, strict=True):
            if bundle is None:
                self.record(item, "the PAS response Bundle could not be built")
        return sum(error is None for error in results)

    def notification_for(self, item: repo.Claimed) -> dict | None:
        """The event-notification Bundle (None: rendering the full resource failed, a defect to retry)."""
        event = Event(item.event.event_number, item.event.created_at, item.event.response_id)
        response = None
        if item.subscription.content == "full-resource":
            try:
                response = self.render(item.event.response_id)
            except Exception:  # noqa: BLE001 - logged with its frames; the event is retried, not lost
                log.exception("could not render ClaimResponse/%s for a notification", item.event.response_id)
                return None
        return build_notification(self.base, item.subscription, EVENT, event=event, response=response)

    def record(self, item: repo.Claimed, error: str | None) -> None:
        if error is None:
            repo.record_delivered(self.storage, item.event.id, item.subscription.id)
            return
        attempts = item.event.attempts + 1
        retry_at = None if attempts >= self.policy.max_attempts else time.time() + self.policy.retry_delay(attempts)
        repo.record_failed(self.storage, item.event.id, item.subscription.id, error, retry_at=retry_at)
        log.warning("subscription notification failed", extra={"fields": {
            "subscription": item.subscription.id, "event": item.event.event_number, "attempts": attempts,
            "gave_up": retry_at is None, "error": error[:200]}})

    def send_heartbeats(self) -> int:
        subs = repo.claim_heartbeats(self.storage, now=time.time(), limit=self.policy.batch)
        if not subs:
            return 0
        results = asyncio.run(post_all(self.http, [(sub, build_notification(self.base, sub, HEARTBEAT)) for sub in subs]))
        for sub, error in zip(subs, results, strict=True):
            repo.record_heartbeat(self.storage, sub.id, error, max_failures=self.policy.max_attempts)
        return sum(error is None for error in results)

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)


def start_subscriptions(app, render: Render, policy: DeliveryPolicy) -> DeliveryWorker:
    """Start the delivery worker at app start-up and stop it at shutdown (app.state.shutdown_hooks).

    `render(response_id)` gives the PAS response Bundle for full-resource payloads; `policy` is
    AppServices.delivery (create_app's `delivery=`: tests pass short intervals).
    """
    services = app.state.services
    settings = services.settings
    # Every post is checked against SUBSCRIPTION_ALLOWED_ORIGINS again at connect time (DNS, issue 20).
    worker = DeliveryWorker(services.storage, services.http.under(settings.subscription_origins),
                            settings.public_base_url, render, policy)
    app.state.subscriptions = worker  # tests/test_ssrf.py and tests/subscriptions stop it by this name
    app.state.shutdown_hooks.append(worker.close)
    worker.start()
    return worker
