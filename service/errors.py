"""One error type for every request that cannot be answered, rendered once (FHIR R4 OperationOutcome).

Raise an ApiError from anywhere (a route, the PAS reader, the EHR client, storage); the FastAPI
handler and the CDS Hooks fast path both call `render`. Client input gets a 4xx whose issues
name the element (`expression`); anything else that escapes is a defect: a logged 500 carrying
the request id, never a 4xx and never a clinical determination.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

FHIR_JSON = "application/fhir+json"  # FHIR R4 http.html#mime-type: the one definition, imported elsewhere


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: FHIR issue-type code, plain words, and the element it is about."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def as_fhir(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass
class ApiError(Exception):
    """A request refused or failed: an HTTP status, the issues behind it, optional headers."""

    status: int
    issues: tuple[Issue, ...]
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__("; ".join(i.diagnostics for i in self.issues))

    @property
    def message(self) -> str:
        return str(self)


class OAuthError(ApiError):
    """A token endpoint refusal (RFC 6749 section 5.2): `render` answers it as {error, error_description}
    JSON with Cache-Control: no-store, never as an OperationOutcome; invalid_client is a 401 with a challenge."""

    def __init__(self, error: str, description: str, status: int = 400):
        headers = {"WWW-Authenticate": 'Basic realm="token"'} if status == 401 else {}
        super().__init__(status, (Issue("security" if status == 401 else "invalid", description),),
                         {**headers, "Cache-Control": "no-store"})
        self.error = error

    @property
    def description(self) -> str:
        return self.message


def problem(path: str, message: str, code: str = "invalid") -> Issue:
    """An issue about one element: the diagnostics start with its path, `expression` holds it."""
    return Issue(code, f"{path}: {message}" if path else message, (path,) if path else ())


def _issues(problems: Issue | str | Iterable[Issue | str], code: str) -> tuple[Issue, ...]:
    if isinstance(problems, (Issue, str)):
        problems = [problems]
    return tuple(p if isinstance(p, Issue) else Issue(code, p) for p in problems)


def invalid(problems: Issue | str | Iterable[Issue | str], status: int = 422) -> ApiError:
    """The client's input is not what the operation takes (422 unprocessable, or 400 malformed)."""
    return ApiError(status, _issues(problems, "invalid"))


def bad_request(message: str, path: str = "", code: str = "invalid") -> ApiError:
    """400: malformed (not JSON, wrong parameters, a payer we do not serve)."""
    return ApiError(400, (problem(path, message, code),))


def not_found(what: str) -> ApiError:
    """404 naming what is unknown (also what another client owns: existence is not leaked)."""
    return ApiError(404, (Issue("not-found", f"{what} is not known"),))


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, (Issue(code, message),))


def unauthorized(message: str) -> ApiError:
    """401 with a Bearer challenge (RFC 6750 section 3)."""
    return ApiError(401, (Issue("security", message),), {"WWW-Authenticate": "Bearer"})


def gone(what: str) -> ApiError:
    """410: a deleted resource (FHIR R4 http.html#read: a read of a deleted resource is 410 Gone)."""
    return ApiError(410, (Issue("deleted", f"{what} was deleted"),))


def forbidden(message: str) -> ApiError:
    return ApiError(403, (Issue("forbidden", message),))


def not_acceptable(message: str) -> ApiError:
    return ApiError(406, (Issue("not-supported", message),))


def precondition_failed(message: str) -> ApiError:
    """412: CDS Hooks 2.0 "unable to retrieve the necessary FHIR data"."""
    return ApiError(412, (Issue("processing", message),))


def too_large(message: str) -> ApiError:
    return ApiError(413, (Issue("too-long", message),))


def upstream(message: str) -> ApiError:
    """502: a system we called (an EHR, a key server) failed or answered nonsense."""
    return ApiError(502, (Issue("transient", message),))


def unavailable(message: str, retry_after: int = 5) -> ApiError:
    """503: we cannot serve right now (storage away); the client may retry."""
    return ApiError(503, (Issue("transient", message),), {"Retry-After": str(retry_after)})


def internal(request_id: str) -> ApiError:
    """500: a defect. The body says only that, and which request id the log line carries."""
    return ApiError(500, (Issue("exception", f"internal error; the request was not processed "
                                             f"(request id {request_id})"),))


def build_outcome(issues: Sequence[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


def render(error: ApiError) -> tuple[int, bytes, dict[str, str]]:
    """(status, OperationOutcome JSON, headers): the only place an error becomes a response; a token
    endpoint refusal is RFC 6749 section 5.2 JSON instead."""
    if isinstance(error, OAuthError):
        body = {"error": error.error, "error_description": error.description}
        return error.status, orjson.dumps(body), {"content-type": "application/json", **error.headers}
    return error.status, orjson.dumps(build_outcome(error.issues)), {"content-type": FHIR_JSON, **error.headers}


async def send_reply(send, status: int, body: bytes, headers: dict[str, str],
                     extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A whole response on a raw ASGI channel: for the middlewares that answer before any route."""
    await send({"type": "http.response.start", "status": status, "headers": [
        *((k.encode(), v.encode()) for k, v in headers.items()), *extra,
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
