"""The one body reader for every JSON route: size limit, strict JSON, depth limit (RFC 8259; FHIR R4 json.html).

Strict: NaN and Infinity are not JSON (they used to be stored, then fail every read), numbers
that overflow a double are refused, and nesting deeper than any FHIR resource we take is refused
before anything walks it recursively.
"""
from __future__ import annotations

import orjson
from fastapi import Request

from service.errors import bad_request, too_large

MAX_BYTES = 8 * 1024 * 1024  # a PAS request with its QuestionnaireResponse is tens of kilobytes
MAX_DEPTH = 64  # a QuestionnaireResponse nests item/answer/item; ours stay under 12 levels


async def read_bytes(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The body, refused with 413 once it passes `limit` (nothing larger is held in memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"the request body is larger than {limit // (1024 * 1024)} MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"the request body is larger than {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(data: bytes, what: str = "the request body") -> object:
    """Strict JSON with a depth limit; anything else is a 400 saying why."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"{what} is not JSON: {str(exc).split(':')[0]}") from None
    if too_deep(value, MAX_DEPTH):
        raise bad_request(f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


def too_deep(value: object, limit: int) -> bool:
    """True when arrays and objects nest deeper than `limit` (iterative: no recursion to overflow)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


async def read_json(request: Request, limit: int = MAX_BYTES) -> object:
    """read_bytes then parse_json: what every JSON route calls first."""
    return parse_json(await read_bytes(request, limit))
