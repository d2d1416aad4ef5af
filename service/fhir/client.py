"""The one way out to other systems: every outbound HTTP call (EHR FHIR reads and writes, SMART
discovery and token exchange, JWK Sets, publishing) goes through here.

Owns httpx (the only module that creates clients), bearer tokens, FHIR media types, a total
deadline per call (connect + every read + the body), a response size cap, no redirects, and the
mapping of upstream failures to one ApiError. Tests inject an httpx MockTransport
(client-py's FHIRServer and httpx's own transports are the model).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx

from service.errors import ApiError, upstream

FHIR_JSON = "application/fhir+json"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a chart page or a JWK Set is kilobytes; refuse the absurd


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers and the parsed JSON body (None when there is none)."""

    status: int
    headers: httpx.Headers
    body: Any


@dataclass(frozen=True)
class HttpClient:
    """Outbound HTTP with an injectable transport (one per app; per call, a short-lived httpx client).

    A client per call keeps no connection bound to one event loop; the transport, when injected,
    is shared (tests' MockTransport).
    """

    timeout: float = 5.0
    transport: httpx.AsyncBaseTransport | None = None
    sync_transport: httpx.BaseTransport | None = None
    max_bytes: int = MAX_RESPONSE_BYTES

    async def request(self, method: str, url: str, *, token: str | None = None, json_body: object = None,
                      form: dict[str, str] | None = None, accept: str = "application/json",
                      what: str = "the server", limit: int | None = None) -> Reply:
        """One call under a total deadline; any transport failure, timeout or oversize body is a 502."""
        headers = {"Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        content = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = FHIR_JSON
        try:
            return await asyncio.wait_for(self._send(method, url, headers, content, form, limit or self.max_bytes),
                                          self.timeout)
        except TimeoutError:
            raise upstream(f"{what} did not answer within {self.timeout:g} s") from None
        except httpx.InvalidURL:
            raise upstream(f"{what} has an unusable URL") from None
        except httpx.HTTPError as exc:
            raise upstream(f"{what} could not be reached ({type(exc).__name__})") from None

    async def _send(self, method: str, url: str, headers: dict[str, str], content: bytes | None,
                    form: dict[str, str] | None, limit: int) -> Reply:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout,
                                     follow_redirects=False) as client:
            async with client.stream(method, url, headers=headers, content=content, data=form) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise upstream(f"the answer from {url.split('?')[0]} is larger than {limit // 1024} KiB")
                return Reply(response.status_code, response.headers, parse_json(bytes(body)))

    async def get_json(self, url: str, *, token: str | None = None, accept: str = "application/json",
                       what: str = "the server", limit: int | None = None) -> Any:
        """GET a JSON document; a non-2xx answer or a body that is not JSON is a 502."""
        reply = await self.request("GET", url, token=token, accept=accept, what=what, limit=limit)
        return expect_json(reply, what)

    async def post_form(self, url: str, form: dict[str, str], *, what: str = "the server") -> Any:
        """POST application/x-www-form-urlencoded (OAuth 2.0 token requests), JSON back."""
        return expect_json(await self.request("POST", url, form=form, what=what), what)

    def post_form_sync(self, url: str, form: dict[str, str], *, what: str = "the server") -> Any:
        """A blocking form POST for command-line tools (getting a token)."""
        try:
            with httpx.Client(transport=self.sync_transport, timeout=self.timeout) as client:
                response = client.post(url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise upstream(f"{what} could not be reached ({type(exc).__name__})") from None
        return expect_json(Reply(response.status_code, response.headers, parse_json(response.content)), what)

    def post_json_sync(self, url: str, body: object, *, token: str | None = None,
                       what: str = "the server") -> Any:
        """A blocking POST for command-line tools (publishing artifacts)."""
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with httpx.Client(transport=self.sync_transport, timeout=self.timeout) as client:
                response = client.post(url, content=json.dumps(body).encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise upstream(f"{what} could not be reached ({type(exc).__name__})") from None
        return expect_json(Reply(response.status_code, response.headers, parse_json(response.content)), what)


def parse_json(data: bytes) -> Any:
    """The body as JSON, or None when empty or not JSON (the caller decides what that means)."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def expect_json(reply: Reply, what: str) -> Any:
    if not 200 <= reply.status < 300:
        said = reply.body.get("error_description") if isinstance(reply.body, dict) else None  # RFC 6749 5.2
        raise upstream(f"{what} answered HTTP {reply.status}" + (f": {str(said)[:200]}" if said else ""))
    if reply.body is None:
        raise upstream(f"{what} answered with no JSON")
    return reply.body


class FhirServer:
    """An EHR's FHIR server seen with one bearer token: reads, searches, create and update."""

    def __init__(self, http: HttpClient, base: str, token: str | None):
        self.http, self.base, self.token = http, base.rstrip("/"), token

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    async def get(self, path: str, what: str = "the EHR FHIR server") -> dict:
        """GET base/path (a read or a search) as a JSON object; anything else is a 502."""
        body = await self.http.get_json(self.url(path), token=self.token, accept=FHIR_JSON, what=what)
        if not isinstance(body, dict):
            raise upstream(f"{what} did not answer with a FHIR resource")
        return body

    async def get_all(self, paths: list[str], what: str = "the EHR FHIR server") -> list[dict]:
        """Several GETs in parallel; the first failure fails them all (never a silent 'no data')."""
        return list(await asyncio.gather(*(self.get(p, what) for p in paths)))

    async def save(self, resource_type: str, resource: dict, existing_id: str | None) -> Reply:
        """Create (POST) or update (PUT type/id); a non-2xx answer is a 502."""
        if existing_id:
            reply = await self.http.request("PUT", self.url(f"{resource_type}/{existing_id}"), token=self.token,
                                            json_body={**resource, "id": existing_id}, accept=FHIR_JSON,
                                            what="the EHR FHIR server")
        else:
            reply = await self.http.request("POST", self.url(resource_type), token=self.token,
                                            json_body={k: v for k, v in resource.items() if k != "id"},
                                            accept=FHIR_JSON, what="the EHR FHIR server")
        if not 200 <= reply.status < 300:
            raise upstream(f"the EHR FHIR server answered HTTP {reply.status} when saving the {resource_type}")
        return reply


__all__ = ["ApiError", "FhirServer", "HttpClient", "Reply"]
