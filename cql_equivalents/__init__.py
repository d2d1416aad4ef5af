"""Python equivalents of the generated prefill CQL (BesponsaPrefill* Libraries), one function per define.

Standalone on purpose: it reads FHIR R4 JSON and knows CQL define names, nothing of the service,
so it can be checked against cql-execution define by define (tests/dtr/test_cql_differential.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from cql_equivalents.besponsa_prefill import DEFINES, index_bundle, index_chart, with_evidence

__all__ = ["DEFINES", "evaluate", "evaluate_define", "evaluate_with_evidence", "index_bundle", "index_chart"]


def evaluate(view: dict, defines: Iterable[str], today: date) -> dict[str, object]:
    """Each named define over an indexed chart ({"_index": index_chart(...)}); None values left out."""
    out: dict[str, object] = {}
    for name in defines:
        value = DEFINES[name](view, today)
        if value is not None:
            out[name] = value
    return out


def evaluate_with_evidence(view: dict, defines: Iterable[str], today: date) -> dict[str, tuple[object, dict | None]]:
    """Each named define that has a value, with the resource it came from:
    {define: (value, {"reference": "Observation/<id>", "date": "YYYY-MM-DD" or "", "label": ...})}.
    Labels: "CD22 result", "Philadelphia chromosome result", "Condition", "birth date",
    "medication record", "practitioner role". Evidence is None when the source has no id.
    Values are those `evaluate` gives; this walks the chart more, so CRD keeps to `evaluate`."""
    out: dict[str, tuple[object, dict | None]] = {}
    for name in defines:
        value, evidence = with_evidence(name, view, today)
        if value is not None:
            out[name] = (value, evidence)
    return out


def evaluate_define(define: str, bundle: dict, today: date) -> object:
    """One define over a chart Bundle, as cql-execution evaluates it (differential tests)."""
    return DEFINES[define]({"_index": index_bundle(bundle)}, today)
