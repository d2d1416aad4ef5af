"""Every route that reads or writes patient data, as one table, guarded by one ASGI middleware.

No token or a bad one: 401 with `WWW-Authenticate: Bearer` (RFC 6750); a token without the
route's scope: 403. Each protected call, allowed or refused, is recorded as an access event
(rendered as a FHIR AuditEvent); no patient identifier is written. Canonical artifacts, discovery
and health stay public; CDS Hooks calls keep their own JWT (crd/security.py).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from anyio import to_thread

from service.auth.policy import LOCAL, Principal, with_rules
from service.auth.scopes import Scope, parse_scopes, permits
from service.auth.tokens import Caller, read_token
from service.errors import ApiError, forbidden, render, send_reply, unauthorized
from service.logs import request_id
from service.storage.access import record_access

log = logging.getLogger("service.auth")


@dataclass(frozen=True)
class Rule:
    """A protected route: method, path pattern (an `id` group names the resource), what it needs."""

    method: str
    pattern: re.Pattern[str]
    resource: str
    action: str  # SMART v2 letter the scope must allow: c r u d s
    audit: str  # FHIR AuditEvent.action: C R U D E


def rule(method: str, path: str, resource: str, action: str, audit: str) -> Rule:
    return Rule(method, re.compile(path), resource, action, audit)


# The route table: one row per protected route (README "Scopes" shows the same table).
PROTECTED: tuple[Rule, ...] = (
    rule("POST", r"/fhir/Claim/\$submit", "Claim", "c", "E"),
    rule("POST", r"/fhir/Claim/\$inquire", "ClaimResponse", "s", "E"),
    rule("GET", r"/fhir/ClaimResponse/(?P<id>[^/]+)(/_history/[^/]+)?", "ClaimResponse", "r", "R"),
    rule("GET", r"/fhir/ClaimResponse", "ClaimResponse", "s", "R"),
    rule("POST", r"/fhir/Questionnaire/\$questionnaire-package", "QuestionnaireResponse", "c", "E"),
    rule("POST", r"/fhir/Questionnaire/[^/]+/\$populate", "QuestionnaireResponse", "c", "E"),
    rule("POST", r"/fhir/Questionnaire/\$next-question", "QuestionnaireResponse", "u", "E"),
    rule("GET", r"/fhir/AuditEvent", "AuditEvent", "s", "R"),
    rule("POST", r"/fhir/Subscription", "Subscription", "c", "C"),
    rule("GET", r"/fhir/Subscription/(?P<id>[^/$]+)(/\$status)?", "Subscription", "r", "R"),
    rule("GET", r"/fhir/Subscription", "Subscription", "s", "R"),
    rule("DELETE", r"/fhir/Subscription/(?P<id>[^/]+)", "Subscription", "d", "D"),
)
EVERYTHING = tuple(parse_scopes("system/*.cruds"))
UNAUTHENTICATED = "local-unauthenticated"
HOOK_CALLS = "/cds-services/"


def is_hook_call(path: str) -> bool:
    """POST /cds-services/{id} (not its feedback): a CDS Hooks call."""
    return path.startswith(HOOK_CALLS) and not path.endswith("/feedback")


def find_rule(method: str, path: str) -> tuple[Rule, str | None] | None:
    if not path.startswith("/fhir/"):  # CDS Hooks calls skip the table (the order-sign hot path)
        return None
    for r in PROTECTED:
        if r.method == method and (found := r.pattern.fullmatch(path)):
            return r, found.groupdict().get("id")
    return None


def bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def authorize(state, rule_: Rule, token: str | None) -> Caller:
    """The caller, or the ApiError (401/403) that refuses them."""
    settings = state.settings
    if settings.auth_disabled:
        return Principal(LOCAL, UNAUTHENTICATED, None, EVERYTHING)
    if token is None:
        raise unauthorized("a bearer access token is required (SMART Backend Services: POST /auth/token)")
    caller = read_token(token, str(state.token_secret), settings.public_base_url)
    if caller is None:
        raise unauthorized("the access token is not valid here (unknown, tampered or expired)")
    if not permits(list(caller.scopes), rule_.resource, rule_.action):
        raise forbidden(f"the token's scopes do not allow this: it needs system/{rule_.resource}.{rule_.action}")
    return with_rules(caller, settings.um_rules)


class AccessGuard:
    """ASGI middleware: checks the route table before routing; the caller goes on in scope['state']."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_hook_call(scope["path"]):
            # The order-sign hot path passes untouched: crd/routes.py records its own refusals.
            return await self.app(scope, receive, send)
        root = scope.get("root_path") or ""
        path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
        found = find_rule(scope["method"], path)
        if found is None:  # the desk, the reviewer API, reports, feedback: only a refusal is recorded here
            return await self.watch_refusals(scope, receive, send, path)
        rule_, rid = found
        state = scope["app"].state
        status = 500
        caller: Principal | None = None

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = bearer(scope.get("headers") or [])
        try:
            try:
                caller = authorize(state, rule_, token)
            except ApiError as refused:
                code, body, headers = render(refused)
                if code == 401 and token is not None:  # RFC 6750 section 3.1
                    headers = {**headers, "WWW-Authenticate": 'Bearer error="invalid_token"'}
                await send_reply(send_status, code, body, headers)
                return
            scope.setdefault("state", {})["caller"] = caller
            await self.app(scope, receive, send_status)
        finally:
            # A route may name what it made (e.g. $submit: the ClaimResponse) in request.state.audit_ref.
            kind, made = scope.get("state", {}).get("audit_ref") or (rule_.resource, None)
            event = access_event(caller, rule_.audit, kind, rid or made, status, rule_.pattern.pattern)
            await write_events(state.storage, [event])

    async def watch_refusals(self, scope, receive, send, path: str) -> None:
        """Pass the call on; when it is refused (401/403) anywhere, record who was refused where."""
        status = 0

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        if status in (401, 403):
            who = scope.get("state", {}).get("principal") or scope.get("state", {}).get("caller")
            event = access_event(who, "E", "route", None, status, path, detail=f"refused ({status}) {scope['method']}")
            await write_events(scope["app"].state.storage, [event])


def access_event(who: Principal | None, action: str, kind: str, resource_id: object, status: int, route: str,
                 detail: str | None = None, owner: str | None = None) -> dict:
    """One access_events row: who (client id or account, never a patient), what, how it ended, whose."""
    return {"agent": (who.id if who else "anonymous")[:256], "action": action, "resource_type": kind[:64],
            "resource_id": str(resource_id)[:64] if resource_id is not None else None,
            "outcome": "0" if status < 400 else "4" if status < 500 else "8",
            "route": route[:128], "request_id": request_id.get()[:64],
            "owner": (owner or (who.owner if who else None) or None), "detail": detail[:256] if detail else None}


async def write_events(storage, events: list[dict]) -> None:
    """Store access events off the event loop; a lost row is logged loudly, the call stays answered."""
    try:
        await to_thread.run_sync(record_access, storage, events)
    except Exception:  # noqa: BLE001 - the call is answered; a lost audit row is logged loudly
        log.exception("could not record an access event")


def caller_of(request) -> Caller | None:
    """The caller the guard admitted (None on a route that is not protected)."""
    return getattr(request.state, "caller", None)


__all__ = ["PROTECTED", "AccessGuard", "Caller", "Scope", "caller_of"]
