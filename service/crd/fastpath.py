"""The order-sign hot path: POST /cds-services/{id} answered straight from ASGI (CDS Hooks 2.0)."""
from __future__ import annotations

import logging

from service.crd.routes import JSON_HEADERS, error_reply, respond_to_hook
from service.crd.state import crd_state_of
from service.errors import internal, send_reply, too_large
from service.logs import request_id

log = logging.getLogger("service.crd")

PREFIX = "/cds-services/"
MAX_BODY = 32 * 1024 * 1024  # a full prefetch is kilobytes; refuse what cannot be a hook call


class BodyTooLarge(Exception):
    pass


async def read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class HookFastPath:
    """ASGI middleware answering hook calls without routing, dependency injection or Response objects.

    Why: order-sign sits inside the clinician's signing click, and that framework work cost as
    much as the decision itself. respond_to_hook renders every outcome, errors included; the
    router's /cds-services/{id} route calls the same function.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        root = scope.get("root_path") or ""
        path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
        service_id = path[len(PREFIX):] if path.startswith(PREFIX) else ""
        if not service_id or "/" in service_id:
            return await self.app(scope, receive, send)
        scope["path_params"] = {"service_id": service_id}
        try:
            status, data, headers = await respond_to_hook(scope, crd_state_of(scope), await read_body(receive))
        except BodyTooLarge:
            status, data, headers = error_reply(too_large(
                f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB"))
        except Exception:  # noqa: BLE001 - as the framework would: logged, and a 500 outcome
            log.exception("unhandled error in a CDS Hooks call")
            status, data, headers = error_reply(internal(request_id.get()))
        if headers is JSON_HEADERS:  # the answer: its header list made here, not encoded from a dict
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]})
            await send({"type": "http.response.body", "body": data})
        else:
            await send_reply(send, status, data, headers)
