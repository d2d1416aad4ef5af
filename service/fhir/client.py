"""The one way out to other systems: every outbound HTTP call (EHR FHIR reads and writes, SMART
discovery and token exchange, JWK Sets, publishing) goes through here.

Owns httpx (the only module that creates clients), bearer tokens, FHIR media types, a total
deadline per call (connect + every read + the body), a response size cap, no redirects, and the
mapping of upstream failures to one ApiError. Tests inject an httpx MockTransport
(client-py's FHIRServer and httpx's own transports are the model).

Every call is checked by the outbound policy (service/fhir/origins.py, issue 20) against the allow-list
the caller names: before anything is sent, and again at connect time, where the host is resolved once,
every address it resolves to is checked, and the connection goes to that checked address (Host header
and TLS server name stay the URL's), so a name cannot point elsewhere between the check and the call.
"""
from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, replace
from typing import Any

import httpx

from service.errors import FHIR_JSON, ApiError, upstream
from service.fhir.origins import PUBLIC_HTTPS, Permit, Refused, address_of, check_addresses, decide, origin_of

MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a chart page or a JWK Set is kilobytes; refuse the absurd
MAX_ADDRESSES = 3  # addresses of one name tried in turn when a connection fails (IPv6, then IPv4, ...)


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers and the parsed JSON body (None when there is none)."""

    status: int
    headers: httpx.Headers
    body: Any


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the URL with a checked address, and the original's Host and TLS name."""

    url: str | httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


def resolve(url: str, permit: Permit) -> list[Target]:
    """Resolve the host once and check every address it has (DNS rebinding); the connections to try.
    Refused when an address is not one the permit reaches; OSError when the name does not resolve."""
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError("no address")
    check_addresses(permit, addresses)
    original = {"Host": parsed.netloc.decode("ascii")}
    # TLS checks the certificate against the name we were given, not the address we connect to.
    tls = {} if address_of(permit.host) is not None else {"sni_hostname": host}
    return [Target(parsed.copy_with(host=a.split("%", 1)[0]), original, tls) for a in addresses[:MAX_ADDRESSES]]


def named(url: str) -> tuple[str, ...]:
    """The URL's own origin as a one-entry allow-list: for a URL the operator wrote (a command line, an
    exact entry in configuration), which counts as listed by name (loopback too; http only to loopback)."""
    origin = origin_of(url)
    return (origin,) if origin else ()


def first_of(*lists: tuple[str, ...] | None) -> tuple[str, ...]:
    """The first allow-list given (an empty one refuses everything; only None means 'not given')."""
    return next(entries for entries in lists if entries is not None)


def refused(what: str, exc: Refused) -> ApiError:
    """The policy's refusal as a 502: it names the host and its kind; nothing was sent, so no port's state."""
    return upstream(f"{what} is not called: {exc}")


@dataclass(frozen=True)
class HttpClient:
    """Outbound HTTP with an injectable transport (one per app; per call, a short-lived httpx client).

    A client per call keeps no connection bound to one event loop; the transport, when injected,
    is shared (tests' MockTransport: then no DNS is done, but the policy's decide() still is).
    `allowed` is the allow-list a call is checked against unless it names its own, bound with `under()`
    (EHR_ALLOWED_ORIGINS, SUBSCRIPTION_ALLOWED_ORIGINS). Unbound (None): public https only, except for
    the blocking calls of command-line tools, which go to the one URL the operator typed (`named`).
    No proxy is taken from the environment: a proxy would resolve the name itself, past our check.
    """

    timeout: float = 5.0
    transport: httpx.AsyncBaseTransport | None = None
    sync_transport: httpx.BaseTransport | None = None
    max_bytes: int = MAX_RESPONSE_BYTES
    allowed: tuple[str, ...] | None = None

    def under(self, allowed: tuple[str, ...]) -> HttpClient:
        """This client with calls checked against `allowed` (issue 20: the caller says which list applies)."""
        return replace(self, allowed=allowed)

    async def request(self, method: str, url: str, *, token: str | None = None, json_body: object = None,
                      form: dict[str, str] | None = None, accept: str = "application/json",
                      what: str = "the server", limit: int | None = None, headers: dict[str, str] | None = None,
                      allowed: tuple[str, ...] | None = None) -> Reply:
        """One call under a total deadline; a refused URL or address, any transport failure, timeout or
        oversize body is a 502. `headers` are the caller's extra ones (a Subscription's channel.header)."""
        sent = {**(headers or {}), "Accept": accept}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        content = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent["Content-Type"] = FHIR_JSON
        try:
            permit = decide(url, first_of(allowed, self.allowed, PUBLIC_HTTPS))
            return await asyncio.wait_for(self._send(method, url, permit, sent, content, form,
                                                     limit or self.max_bytes), self.timeout)
        except Refused as exc:
            raise refused(what, exc) from None
        except TimeoutError:
            raise upstream(f"{what} did not answer within {self.timeout:g} s") from None
        except OSError:  # getaddrinfo: the name has no address
            raise upstream(f"{what} could not be reached (its name does not resolve)") from None
        except httpx.InvalidURL:
            raise upstream(f"{what} has an unusable URL") from None
        except httpx.HTTPError as exc:
            raise upstream(f"{what} could not be reached ({type(exc).__name__})") from None

    async def _send(self, method: str, url: str, permit: Permit, headers: dict[str, str], content: bytes | None,
                    form: dict[str, str] | None, limit: int) -> Reply:
        if self.transport is not None:  # an injected transport (tests): no DNS, decide() was applied
            targets = [Target(url, {}, {})]
        else:
            targets = await asyncio.to_thread(resolve, url, permit)
        for target in targets[:-1]:
            try:
                return await self._exchange(method, url, target, headers, content, form, limit)
            except httpx.ConnectError:
                continue  # the next checked address of the same name
        return await self._exchange(method, url, targets[-1], headers, content, form, limit)

    async def _exchange(self, method: str, url: str, target: Target, headers: dict[str, str],
                        content: bytes | None, form: dict[str, str] | None, limit: int) -> Reply:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout, follow_redirects=False,
                                     trust_env=False) as client:
            async with client.stream(method, target.url, headers={**headers, **target.headers}, content=content,
                                     data=form, extensions=target.extensions) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise upstream(f"the answer from {url.split('?')[0]} is larger than {limit // 1024} KiB")
                return Reply(response.status_code, response.headers, parse_json(bytes(body)))

    async def get_json(self, url: str, *, token: str | None = None, accept: str = "application/json",
                       what: str = "the server", limit: int | None = None,
                       allowed: tuple[str, ...] | None = None) -> Any:
        """GET a JSON document; a non-2xx answer or a body that is not JSON is a 502."""
        reply = await self.request("GET", url, token=token, accept=accept, what=what, limit=limit, allowed=allowed)
        return expect_json(reply, what)

    async def post_form(self, url: str, form: dict[str, str], *, what: str = "the server",
                        allowed: tuple[str, ...] | None = None) -> Any:
        """POST application/x-www-form-urlencoded (OAuth 2.0 token requests), JSON back."""
        return expect_json(await self.request("POST", url, form=form, what=what, allowed=allowed), what)

    def post_form_sync(self, url: str, form: dict[str, str], *, what: str = "the server",
                       allowed: tuple[str, ...] | None = None) -> Any:
        """A blocking form POST for command-line tools (getting a token)."""
        return expect_json(self._send_sync(url, {"Accept": "application/json"}, form=form, what=what,
                                           allowed=allowed), what)

    def post_json_sync(self, url: str, body: object, *, token: str | None = None,
                       what: str = "the server", allowed: tuple[str, ...] | None = None) -> Any:
        """A blocking POST for command-line tools (publishing artifacts)."""
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return expect_json(self._send_sync(url, headers, content=json.dumps(body).encode(), what=what,
                                           allowed=allowed), what)

    def _send_sync(self, url: str, headers: dict[str, str], *, content: bytes | None = None,
                   form: dict[str, str] | None = None, what: str, allowed: tuple[str, ...] | None) -> Reply:
        """One blocking POST under the same policy: decided, resolved once, sent to the checked address."""
        try:
            permit = decide(url, first_of(allowed, self.allowed, named(url)))
            targets = [Target(url, {}, {})] if self.sync_transport is not None else resolve(url, permit)
        except Refused as exc:
            raise refused(what, exc) from None
        except OSError:
            raise upstream(f"{what} could not be reached (its name does not resolve)") from None
        try:
            with httpx.Client(transport=self.sync_transport, timeout=self.timeout, follow_redirects=False,
                              trust_env=False) as client:
                for target in targets:
                    try:
                        response = client.post(target.url, content=content, data=form,
                                               headers={**headers, **target.headers}, extensions=target.extensions)
                        break
                    except httpx.ConnectError:
                        if target is targets[-1]:
                            raise
        except httpx.HTTPError as exc:
            raise upstream(f"{what} could not be reached ({type(exc).__name__})") from None
        return Reply(response.status_code, response.headers, parse_json(response.content))


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
