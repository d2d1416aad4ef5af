"""Build notification Bundles and status Parameters (backport "Notifications", backport-subscription-status-r4)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from service.storage.subscriptions import ERROR, SubscriptionRow
from service.subscriptions import BACKPORT_SD

STATUS_PROFILE = f"{BACKPORT_SD}/backport-subscription-status-r4"
NOTIFICATION_PROFILE = f"{BACKPORT_SD}/backport-subscription-notification-r4"
HANDSHAKE, HEARTBEAT, EVENT, QUERY_STATUS = "handshake", "heartbeat", "event-notification", "query-status"


@dataclass(frozen=True)
class Event:
    """One triggering event: its number in the subscription, when it happened, the ClaimResponse it is about."""

    number: int
    timestamp: datetime
    response_id: str


def instant(when: datetime | None = None) -> str:
    """A FHIR instant in UTC; a stored time without a zone (SQLite) is UTC."""
    when = when or datetime.now(UTC)
    return (when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)).isoformat(timespec="milliseconds")


def subscription_url(base: str, subscription_id: str) -> str:
    return f"{base}/fhir/Subscription/{subscription_id}"


def focus_url(base: str, response_id: str) -> str:
    return f"{base}/fhir/ClaimResponse/{response_id}"


def build_status(base: str, sub: SubscriptionRow, kind: str, *, status: str | None = None,
                 event: Event | None = None, context: tuple[str, ...] = ()) -> dict:
    """The Parameters every notification starts with and $status answers (backport-subscription-status-r4):
    subscription, topic, status, type, events-since-subscription-start, the event, and the error if any."""
    status = status or sub.status
    params: list[dict] = [
        {"name": "subscription", "valueReference": {"reference": subscription_url(base, sub.id)}},
        {"name": "topic", "valueCanonical": sub.topic},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
        # Not counted for handshakes and heartbeats; for an event, the total inclusive of it.
        {"name": "events-since-subscription-start", "valueString": str(event.number if event else sub.events)},
    ]
    if event is not None:
        parts = [{"name": "event-number", "valueString": str(event.number)},
                 {"name": "timestamp", "valueInstant": instant(event.timestamp)},
                 {"name": "focus", "valueReference": {"reference": focus_url(base, event.response_id),
                                                      "type": "ClaimResponse"}}]
        parts += [{"name": "additional-context", "valueReference": {"reference": ref}} for ref in context]
        params.append({"name": "notification-event", "part": parts})
    if status == ERROR and sub.error:
        params.append({"name": "error", "valueCodeableConcept": {"text": sub.error}})
    return {"resourceType": "Parameters", "id": str(uuid.uuid4()), "meta": {"profile": [STATUS_PROFILE]},
            "parameter": params}


def build_notification(base: str, sub: SubscriptionRow, kind: str, *, status: str | None = None,
                       event: Event | None = None, response: dict | None = None) -> dict:
    """A notification Bundle (history): the status Parameters first, requested as $status (bdl-3/bdl-4);
    for a full-resource event, the PAS response Bundle next, linked as the event's additional context."""
    entries: list[dict] = []
    context: tuple[str, ...] = ()
    if event is not None and sub.content == "full-resource":
        entries.append(response_entry(base, event, response))
        context = (entries[0]["fullUrl"],) if response is not None else ()
    parameters = build_status(base, sub, kind, status=status, event=event, context=context)
    first = {"fullUrl": f"urn:uuid:{parameters['id']}", "resource": parameters,
             "request": {"method": "GET", "url": f"{subscription_url(base, sub.id)}/$status"},
             "response": {"status": "200"}}
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [NOTIFICATION_PROFILE]},
            "type": "history", "timestamp": instant(), "entry": [first, *entries]}


def response_entry(base: str, event: Event, response: dict | None) -> dict:
    """The PAS response Bundle as a history entry; when it cannot be had, only the request and its
    outcome (backport "Full Resource": a server that cannot include a resource fills request/response)."""
    if response is None:
        return {"fullUrl": focus_url(base, event.response_id),
                "request": {"method": "GET", "url": f"ClaimResponse/{event.response_id}"},
                "response": {"status": "404"}}
    return {"fullUrl": f"urn:uuid:{response.get('id') or uuid.uuid4()}", "resource": response,
            "request": {"method": "GET", "url": f"ClaimResponse/{event.response_id}"},
            "response": {"status": "200"}}


def build_status_bundle(base: str, sub: SubscriptionRow) -> dict:
    """$status at the instance level: a searchset Bundle holding one query-status Parameters."""
    parameters = build_status(base, sub, QUERY_STATUS)
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": 1,
            "timestamp": instant(),
            "entry": [{"fullUrl": f"urn:uuid:{parameters['id']}", "resource": parameters,
                       "search": {"mode": "match"}}]}
