"""Python equivalents of the generated prefill CQL (BesponsaPrefill* Libraries), one function per define.

Standalone on purpose: it reads FHIR R4 JSON and knows CQL define names, nothing of the service,
so it can be checked against cql-execution define by define (tests/dtr/test_cql_differential.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from cql_equivalents.besponsa_prefill import DEFINES, index_bundle, index_chart

__all__ = ["DEFINES", "evaluate", "evaluate_define", "index_bundle", "index_chart"]


def evaluate(view: dict, defines: Iterable[str], today: date) -> dict[str, object]:
    """Each named define over an indexed chart ({"_index": index_chart(...)}); None values left out."""
    out: dict[str, object] = {}
    for name in defines:
        value = DEFINES[name](view, today)
        if value is not None:
            out[name] = value
    return out


def evaluate_define(define: str, bundle: dict, today: date) -> object:
    """One define over a chart Bundle, as cql-execution evaluates it (differential tests)."""
    return DEFINES[define]({"_index": index_bundle(bundle)}, today)
