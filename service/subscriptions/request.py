"""Read a Subscription create request (backport-subscription and PAS profile-subscription): every problem, one 422."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from service.errors import FHIR_JSON, Issue, bad_request, invalid, problem
from service.fhir.origins import Refused, decide
from service.storage.subscriptions import NewSubscription
from service.subscriptions import (
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    MAX_COUNT,
    PAS_TOPIC,
    PAYLOAD_CONTENT,
    TIMEOUT,
)
from service.subscriptions.headers import read_headers

CONTENTS = ("id-only", "full-resource")  # backport-content-value-set minus `empty`
DEFAULT_CONTENT = "id-only"
FILTER_KEY = "orgIdentifier"  # the PAS topic's one canFilterBy parameter (comparator eq)
# channel extension -> (value element, smallest, largest): seconds between heartbeats, seconds a post may
# take (our outbound client's own ceiling is 60 s), triggering resources per notification (we send one).
CHANNEL_EXTENSIONS = {
    HEARTBEAT_PERIOD: ("valueUnsignedInt", 1, 7 * 86400),
    TIMEOUT: ("valueUnsignedInt", 1, 60),
    MAX_COUNT: ("valuePositiveInt", 1, 1000),
}


def at_extension(path: str, url: str) -> str:
    """FHIRPath naming one extension of an element."""
    return f"{path}.extension('{url}')"


def read_subscription(body: object, allowed: tuple[str, ...]) -> NewSubscription:
    """The subscription a create asks for, or one 422 naming each element we cannot honour; the endpoint
    must be one SUBSCRIPTION_ALLOWED_ORIGINS allows (`allowed`, issue 20)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Subscription":
        raise bad_request("the body must be a FHIR R4 Subscription resource", "resourceType")
    problems: list[Issue] = []
    for path, element in (("Subscription", body), ("Subscription.channel", body.get("channel"))):
        if isinstance(element, dict) and element.get("modifierExtension"):
            problems.append(problem(f"{path}.modifierExtension", "a modifier extension is not understood here "
                                                                 "and may not be ignored"))
    if not isinstance(body.get("reason"), str) or not body["reason"].strip():
        problems.append(problem("Subscription.reason", "is required (R4: why the subscription is made)"))
    if body.get("status", "requested") != "requested":
        problems.append(problem("Subscription.status", "a new subscription is created as 'requested'; "
                                                       "the server makes it active after the handshake"))
    if body.get("criteria") != PAS_TOPIC:
        problems.append(problem("Subscription.criteria", f"must be the PAS subscription topic {PAS_TOPIC}"))
    org_filter = read_filter(body.get("_criteria"), problems)
    channel = body.get("channel")
    if not isinstance(channel, dict):
        problems.append(problem("Subscription.channel", "is required: a rest-hook channel"))
        channel = {}
    read_channel_type(channel, problems)
    endpoint = read_endpoint(channel.get("endpoint"), allowed, problems)
    headers = read_headers(channel.get("header"), problems)
    content = read_payload(channel, problems)
    limits = read_channel_extensions(channel, problems)
    end_at = read_end(body.get("end"), problems)
    if problems:
        raise invalid(problems)
    resource = {k: v for k, v in body.items() if k not in ("id", "meta", "text", "status", "error")}
    # channel.header is stored apart (it carries the endpoint's credentials) and never rendered back.
    resource["channel"] = {**{k: v for k, v in channel.items() if k not in ("header", "_header")},
                           "_payload": {**(channel.get("_payload") or {}), "extension": [
                               {"url": PAYLOAD_CONTENT, "valueCode": content}]}}
    return NewSubscription(topic=PAS_TOPIC, endpoint=endpoint, content=content, org_filter=org_filter,
                           heartbeat_seconds=limits.get(HEARTBEAT_PERIOD), timeout_seconds=limits.get(TIMEOUT),
                           max_count=limits.get(MAX_COUNT), end_at=end_at, resource=resource, headers=headers)


def extensions_of(element: object, path: str, problems: list[Issue]) -> list[tuple[int, dict]]:
    """(index, extension) pairs of an element's `extension` array; anything malformed is a problem."""
    if element is None or (isinstance(element, dict) and element.get("extension") is None):
        return []
    found = element.get("extension") if isinstance(element, dict) else None
    if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
        problems.append(problem(f"{path}.extension", "must be an array of extensions"))
        return []
    return list(enumerate(found))


def read_filter(criteria_element: object, problems: list[Issue]) -> str | None:
    """backport-filter-criteria: at most one, `orgIdentifier=<value>` (the PAS topic's one filter)."""
    path = "Subscription.criteria"
    values = []
    for i, ext in extensions_of(criteria_element, path, problems):
        if ext.get("url") != FILTER_CRITERIA:
            problems.append(problem(f"{path}.extension[{i}]", f"extension {str(ext.get('url'))[:200]!r} is not "
                                                              "supported on criteria"))
            continue
        key, sep, value = str(ext.get("valueString") or "").partition("=")
        if not isinstance(ext.get("valueString"), str) or not sep or key != FILTER_KEY or not value.strip() \
                or len(value) > 256:
            problems.append(problem(at_extension(path, FILTER_CRITERIA),
                                    f"the PAS topic filters by '{FILTER_KEY}=<organization identifier>' only"))
            continue
        values.append(value.strip())
    if len(values) > 1:
        problems.append(problem(at_extension(path, FILTER_CRITERIA), f"give at most one {FILTER_KEY} filter"))
    return values[0] if values else None


def read_channel_type(channel: dict, problems: list[Issue]) -> None:
    if channel.get("type") != "rest-hook":
        problems.append(problem("Subscription.channel.type", "must be 'rest-hook' (the only channel served)"))
    if channel.get("_type"):
        problems.append(problem("Subscription.channel.type.extension", "custom channel types are not served"))


def read_endpoint(value: object, allowed: tuple[str, ...], problems: list[Issue]) -> str:
    """An absolute https URL the allow-list reaches; plain http only to a listed loopback host (backport
    "REST-Hook" security notes); loopback, private and link-local hosts only when listed by name."""
    path = "Subscription.channel.endpoint"
    if not isinstance(value, str) or not value:
        problems.append(problem(path, "is required: the https URL notifications are posted to"))
        return ""
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises on a port that is not a number
    except ValueError:
        problems.append(problem(path, "is not a usable URL"))
        return ""
    if len(value) > 2048 or parts.scheme not in ("https", "http") or not host:
        problems.append(problem(path, "must be an absolute https URL (at most 2048 characters)"))
    elif parts.username is not None or parts.password is not None:
        problems.append(problem(path, "must not carry credentials"))
    else:
        try:
            decide(value, allowed)
        except Refused as exc:
            problems.append(problem(path, f"is not an endpoint this server posts to (SUBSCRIPTION_ALLOWED_ORIGINS): {exc}"))
    return value


def read_payload(channel: dict, problems: list[Issue]) -> str:
    """channel.payload application/fhir+json with backport-payload-content id-only | full-resource."""
    path = "Subscription.channel.payload"
    payload = channel.get("payload")
    if not isinstance(payload, str) or payload.split(";")[0].strip() != FHIR_JSON:
        problems.append(problem(path, f"must be {FHIR_JSON}"))
    contents = []
    for i, ext in extensions_of(channel.get("_payload"), path, problems):
        if ext.get("url") != PAYLOAD_CONTENT:
            problems.append(problem(f"{path}.extension[{i}]", f"extension {str(ext.get('url'))[:200]!r} is not "
                                                              "supported on payload"))
        elif ext.get("valueCode") not in CONTENTS:
            problems.append(problem(at_extension(path, PAYLOAD_CONTENT),
                                    f"must be one of {', '.join(CONTENTS)}, not {str(ext.get('valueCode'))[:40]!r}"))
        else:
            contents.append(ext["valueCode"])
    if len(contents) > 1:
        problems.append(problem(at_extension(path, PAYLOAD_CONTENT), "give the payload content once"))
    return contents[0] if contents else DEFAULT_CONTENT


def read_channel_extensions(channel: dict, problems: list[Issue]) -> dict[str, int]:
    """backport-heartbeat-period, backport-timeout and backport-max-count; any other channel extension
    would change how we deliver, so it is refused rather than ignored."""
    limits: dict[str, int] = {}
    path = "Subscription.channel"
    for i, ext in extensions_of(channel, path, problems):
        url = ext.get("url")
        if url not in CHANNEL_EXTENSIONS:
            problems.append(problem(f"{path}.extension[{i}]", f"extension {str(url)[:200]!r} is not supported on channel"))
            continue
        element, low, high = CHANNEL_EXTENSIONS[url]
        value: Any = ext.get(element)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high or url in limits:
            problems.append(problem(at_extension(path, url), f"needs one {element} from {low} to {high}"))
            continue
        limits[url] = value
    return limits


def read_end(value: object, problems: list[Issue]) -> float | None:
    """Subscription.end: an instant with a time zone, in the future (epoch seconds)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        problems.append(problem("Subscription.end", "must be an instant with a time zone"))
        return None
    if when.timestamp() <= datetime.now(when.tzinfo).timestamp():
        problems.append(problem("Subscription.end", "is in the past"))
        return None
    return when.timestamp()
