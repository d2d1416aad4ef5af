"""The reviewer desk's routes, in match order: sign-in, the reviewer API, reports and audit, then cases."""
from __future__ import annotations

from fastapi import APIRouter

from service.review import access, actions, api, login, pages, peer, queue_page, reporting

router = APIRouter()
for part in (login, api, reporting, access, queue_page, peer, actions, pages):  # /review/{id} last: it would swallow /review/login
    router.include_router(part.router)
