"""JSON logs with a request id on every line; never patient data (guide: no PHI in logs)."""
from __future__ import annotations

import contextvars
import itertools
import json
import logging
import sys
import time
import traceback
import uuid

import orjson

from service.errors import internal, render, send_reply

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                 "msg": record.getMessage(),
                 "request_id": getattr(record, "request_id", None) or request_id.get()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            entry.update(describe_exception(record.exc_info[1]))
        try:  # orjson: a third of json.dumps's cost, on the access line every request writes (issue 25)
            return orjson.dumps(entry, default=str, option=AS_JSON_DUMPS).decode()
        except TypeError:  # what orjson refuses (an int past 64 bits): the standard library's way
            return json.dumps(entry, default=str)


# Dates, dataclasses and subclasses go through str() as json.dumps(default=str) sends them.
AS_JSON_DUMPS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                 | orjson.OPT_PASSTHROUGH_SUBCLASS)


def describe_exception(exc: BaseException) -> dict:
    """The error's type and the frames it came through, never its message: database drivers put
    bound parameters there, and a KeyError's message is the key (a patient reference, a birth date)."""
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    kind, orig = type(exc), getattr(exc, "orig", None)
    return {"error": f"{kind.__module__}.{kind.__qualname__}" + (f" ({type(orig).__name__})" if orig else ""),
            "where": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames]}


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    # Stamp the id when the record is made: handlers may format it later, off this context.
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id.get()
    return record


def configure_logging(level: str) -> None:
    logging.setLogRecordFactory(_record_with_request_id)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs each request
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines (start, stop) in our JSON too
        server_log = logging.getLogger(name)
        server_log.handlers[:] = []
        server_log.propagate = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # httpx logs full URLs at INFO, and FHIR search URLs can carry patient ids.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def incoming_request_id(headers) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")[:64]
            return text if text.isprintable() else ""
    return ""


class RequestIdMiddleware:
    """Pure ASGI middleware: X-Request-ID in and out, one access line per request (no query)."""

    def __init__(self, app):
        self.app = app
        self.log = logging.getLogger("service.access")
        self.errors = logging.getLogger("service")
        # A random per-process prefix and a counter: unique across workers, and no syscall per request.
        self.prefix, self.counter = uuid.uuid4().hex[:16], itertools.count(1)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = incoming_request_id(scope.get("headers") or ()) or f"{self.prefix}{next(self.counter):016x}"
        token = request_id.set(rid)
        started, status, sent = time.perf_counter(), 500, False

        async def send_with_id(message):
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status, sent = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # noqa: BLE001 - a defect: logged with the request id, answered 500, kept alive
            self.errors.exception("unhandled error")
            if not sent:
                await send_reply(send_with_id, *render(internal(rid)))
        finally:
            # Path only: query strings can carry patient ids (GET ClaimResponse?patient=...).
            if self.log.isEnabledFor(logging.INFO):
                self.log.info("request", extra={"fields": {
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2)}})
            request_id.reset(token)
