"""CRD's per-app state (keys, replay table, audit writer, hook settings) and the dependency naming it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.crd.audit import AuditWriter
from service.crd.hook import HookSettings
from service.crd.security import KeyStore, ReplayCache
from service.storage.db import Storage


@dataclass
class CrdState:
    """Made once at start-up (service/crd/routes.py start_crd) and closed at shutdown, never per request.

    `unsigned` and `base_url` are read from the settings once: authenticate runs on every hook call.
    """

    keys: KeyStore
    replay: ReplayCache
    audit: AuditWriter
    hook_settings: HookSettings
    storage: Storage
    unsigned: bool
    base_url: str


def crd_state_of(scope) -> CrdState:
    """The state from the ASGI scope: one attribute lookup, for the hook fast path, which answers
    before FastAPI's routing and so before any dependency could be solved (issue 25)."""
    return scope["app"].state.crd


def get_crd_state(request: Request) -> CrdState:
    return crd_state_of(request.scope)


CrdStateDep = Annotated[CrdState, Depends(get_crd_state)]
