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
from service.fhir.client import HttpClient
from service.storage.db import Storage
from service.web.sessions import SessionStore


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_http(request: Request) -> HttpClient:
    """The one outbound client (origin checks: call .under(allowed) before using it)."""
    return request.app.state.http


def get_token_secret(request: Request) -> object:
    """The key access tokens are signed with (a LazySecret; str() reads it; service/auth/routes.py)."""
    return request.app.state.token_secret


def get_smart_sessions(request: Request) -> SessionStore:
    """The SMART app's sessions (service/web/sessions.py start_sessions)."""
    return request.app.state.web_sessions.smart


def get_desk_sessions(request: Request) -> SessionStore:
    """The reviewer desk's sessions (service/web/sessions.py start_sessions)."""
    return request.app.state.web_sessions.desk


def get_principal(request: Request) -> Principal:
    """The caller the access guard admitted on a protected route (service/auth/guard.py)."""
    found = getattr(request.state, "caller", None)
    if found is None:
        raise unauthorized("a bearer access token is required (SMART Backend Services: POST /auth/token)")
    return found


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
HttpDep = Annotated[HttpClient, Depends(get_http)]
SmartSessionsDep = Annotated[SessionStore, Depends(get_smart_sessions)]
DeskSessionsDep = Annotated[SessionStore, Depends(get_desk_sessions)]
