"""Reading untrusted FHIR JSON: each value as the type it should be, else empty (never raises).

A field of the wrong JSON type shows no fact; the edges that must refuse malformed input check
shapes first and name the problem (CDS Hooks and PAS routes).
"""
from __future__ import annotations


def obj(value: object) -> dict:
    """The value when it is a JSON object, else {}."""
    return value if isinstance(value, dict) else {}


def objs(value: object) -> list[dict]:
    """The JSON objects of a list; anything else reads as empty."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def listed(value: object) -> list:
    """The value when it is a JSON array, else []."""
    return value if isinstance(value, list) else []


def text_of(value: object) -> str:
    """The value when it is a string, else ""."""
    return value if isinstance(value, str) else ""


def reference_of(value: object) -> str | None:
    """Reference.reference, when the value is a Reference object holding a string."""
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None
