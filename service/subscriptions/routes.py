"""Subscription create, read, search, delete and $status (R4 Subscriptions Backport; PAS 2.2.1 profile-subscription)."""
from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.api.body import read_json
from service.api.deps import HttpDep, PrincipalDep, SettingsDep, StorageDep, get_principal
from service.api.openapi import json_body
from service.errors import gone, not_found
from service.fhir.bundle import searchset
from service.fhir.outcome import fhir_response
from service.fhir.shape import is_fhir_id
from service.storage import subscriptions as repo
from service.storage.db import Storage
from service.subscriptions import PAS_SUBSCRIPTION_PROFILE, SUBSCRIPTION_PROFILE
from service.subscriptions.notify import HANDSHAKE, build_notification, build_status_bundle
from service.subscriptions.request import read_subscription
from service.subscriptions.worker import post_notification

router = APIRouter(tags=["subscriptions"])
STATUSES = (repo.REQUESTED, repo.ACTIVE, repo.ERROR, repo.OFF)


def render_subscription(sub: repo.SubscriptionRow) -> dict:
    """The Subscription as stored, with the server's id and status (and R4 `error` while failing); the PAS
    profile is claimed only for full-resource payloads, the one content it allows."""
    profiles = [SUBSCRIPTION_PROFILE] + ([PAS_SUBSCRIPTION_PROFILE] if sub.content == "full-resource" else [])
    resource = {"resourceType": "Subscription", "id": sub.id, "meta": {"profile": profiles},
                **{k: v for k, v in sub.resource.items() if k != "resourceType"}, "status": sub.status}
    if isinstance(resource.get("channel"), dict):  # channel.header carries credentials: never rendered
        resource["channel"] = {k: v for k, v in resource["channel"].items() if k not in ("header", "_header")}
    if sub.status == repo.ERROR and sub.error:
        resource["error"] = sub.error
    return resource


def find_own(storage: Storage, request: Request, subscription_id: str) -> repo.SubscriptionRow:
    """The caller's subscription, or 404 (another owner's is as unknown as a missing one). The id is checked
    first: a path that names no resource (`$status` with no id: no guard row, no caller) is a 404, not a
    question of who asks, so the caller is read here and not by a PrincipalDep."""
    sub = None
    if is_fhir_id(subscription_id):
        sub = repo.get_subscription(storage, subscription_id, owner=get_principal(request).owner)
    if sub is None:
        raise not_found(f"Subscription/{subscription_id}")
    return sub


@router.post("/fhir/Subscription", openapi_extra=json_body("PAS Subscription (R4 backport, rest-hook)"))
async def create_subscription(request: Request, caller: PrincipalDep, storage: StorageDep, settings: SettingsDep,
                              http: HttpDep):
    """Create: stored as requested, a handshake posted to the endpoint, then active (or error with why)."""
    wanted = read_subscription(await read_json(request), settings.subscription_origins)
    base = settings.public_base_url
    sub = await run_in_threadpool(partial(repo.create_subscription, owner=caller.owner, client_id=caller.client_id),
                                  storage, wanted)
    request.state.audit_ref = ("Subscription", sub.id)
    # Checked again at connect time: the name is resolved once and every address it has must be allowed.
    error = await post_notification(http.under(settings.subscription_origins), sub,
                                    build_notification(base, sub, HANDSHAKE))
    updated = await run_in_threadpool(repo.record_handshake, storage, sub.id,
                                      None if error is None else f"handshake: {error}")
    sub = updated or sub
    return fhir_response(render_subscription(sub), 201, {"Location": f"{base}/fhir/Subscription/{sub.id}"})


@router.get("/fhir/Subscription/{subscription_id}/$status")
def read_status(subscription_id: str, request: Request, storage: StorageDep, settings: SettingsDep):
    """$status (instance): a searchset Bundle with one query-status Parameters."""
    sub = find_own(storage, request, subscription_id)
    return fhir_response(build_status_bundle(settings.public_base_url, sub))


@router.get("/fhir/Subscription/{subscription_id}")
def read_subscription_route(subscription_id: str, request: Request, storage: StorageDep):
    """FHIR read of one of the caller's subscriptions; 410 once deleted."""
    sub = find_own(storage, request, subscription_id)
    if sub.deleted_at is not None:
        raise gone(f"Subscription/{subscription_id}")
    return fhir_response(render_subscription(sub))


@router.get("/fhir/Subscription")
def search_subscriptions(caller: PrincipalDep, storage: StorageDep, settings: SettingsDep, status: str | None = None):
    """FHIR search: the caller's own subscriptions that were not deleted, optionally by status."""
    found = [] if status is not None and status not in STATUSES else \
        repo.list_subscriptions(storage, owner=caller.owner, status=status)
    return fhir_response(searchset(settings.public_base_url, "Subscription",
                                   [render_subscription(s) for s in found]))


@router.delete("/fhir/Subscription/{subscription_id}")
def delete_subscription(subscription_id: str, request: Request, storage: StorageDep):
    """FHIR delete: status off, nothing more is sent; deleting again is fine (204)."""
    if not is_fhir_id(subscription_id) or not repo.delete_subscription(
            storage, subscription_id, owner=get_principal(request).owner):
        raise not_found(f"Subscription/{subscription_id}")
    return Response(status_code=204)
