"""HTTP policy for every response: JSON only for FHIR (406 otherwise, as JSON-only FHIR servers do),
and the security headers a browser needs (no framing, no sniffing, no referrer)."""
from __future__ import annotations

from service.errors import not_acceptable, render, send_reply

JSON_TYPES = ("application/fhir+json", "application/json", "application/*", "*/*", "application/json+fhir")
ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
PAGES = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]
POLICY_NAMES = frozenset(name for name, _ in ALWAYS)


def accepts_json(accept: str) -> bool:
    """An Accept header that admits JSON (absent or empty admits anything; RFC 9110 section 12.5.1)."""
    if not accept.strip():
        return True
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(kind in JSON_TYPES for kind in offered)


def wants_xml(scope) -> bool:
    if not scope["path"].startswith("/fhir/"):
        return False
    query = scope.get("query_string", b"").decode("latin-1")
    if "_format=" in query and any(x in query for x in ("_format=xml", "_format=application%2Ffhir%2Bxml",
                                                         "_format=application/fhir+xml", "_format=text%2Fxml")):
        return True
    accept = next((v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"accept"), "")
    return not accepts_json(accept)


class HttpPolicy:
    """Pure ASGI middleware (cheap on the CDS Hooks hot path: a header list extended, no parsing)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if wants_xml(scope):
            await send_reply(send, *render(not_acceptable("this server speaks FHIR JSON only "
                                                          "(Accept: application/fhir+json)")), extra=tuple(ALWAYS))
            return

        async def send_with_policy(message):
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {k.lower() for k, _ in headers}
                html = b"content-type" in names and any(
                    k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                # a page that set its own policy keeps it; each header is sent once
                if html or names & POLICY_NAMES:
                    headers.extend(h for h in ALWAYS + (PAGES if html else []) if h[0] not in names)
                else:  # the usual case (every CDS Hooks answer): both headers, nothing to compare
                    headers.extend(ALWAYS)
            await send(message)

        await self.app(scope, receive, send_with_policy)
