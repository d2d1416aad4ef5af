"""Request bodies for the OpenAPI document: routes read raw FHIR JSON (no pydantic model), so each
POST names its media type and, from a checkout, carries the walk-through's example (examples/)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@cache
def load_example(name: str) -> Any:
    path = EXAMPLES / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # an installed package has no examples/: the schema says less
        return None


def json_body(summary: str, example: str | None = None, media: str = "application/fhir+json") -> dict:
    """openapi_extra for a route whose body is FHIR (or CDS Hooks) JSON read by api/body.py."""
    content: dict[str, Any] = {"schema": {"type": "object", "description": summary}}
    value = load_example(example) if example else None
    if value is not None:
        content["example"] = value
    return {"requestBody": {"required": True, "content": {media: content}}}
