"""What a route needs, by type (FastAPI "Dependencies", Annotated): the storage, the settings, the caller.

Routes name these instead of reaching into request.app.state; the values are made once by AppServices
(service/services.py) at start-up.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.auth.policy import Principal
from service.config import Settings
from service.errors import unauthorized
from service.storage.db import Storage


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_principal(request: Request) -> Principal:
    """The caller the access guard admitted on a protected route (service/auth/guard.py)."""
    found = getattr(request.state, "caller", None)
    if found is None:
        raise unauthorized("a bearer access token is required (SMART Backend Services: POST /auth/token)")
    return found


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
