"""Python equivalents of the prefill CQL: `prefill(bundle, concepts, today)` for DTR, CRD and the app."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from cql_equivalents import besponsa_prefill as defines
from service.policies.concepts import CONCEPTS


def function_name(define: str) -> str:
    """CQL define name -> Python function name (AgeInYears -> age_in_years, CD22Status -> cd22_status)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", define).lower()


# define -> function, derived from the concept table (no second list of concepts).
DEFINES = {c.cql_define: getattr(defines, function_name(c.cql_define))
           for c in CONCEPTS.values() if c.cql_define}


def evaluate_define(define: str, bundle: dict, today: date) -> object:
    fn = DEFINES[define]
    return fn(bundle, today) if define == "AgeInYears" else fn(bundle)


def prefill(bundle: dict, concepts: Iterable[str], today: date) -> dict[str, object]:
    """Engine-form values for the requested concepts the chart shows; absent ones are left out."""
    out: dict[str, object] = {}
    bundle = {**bundle, "_index": defines.index_bundle(bundle)}  # a private view; the caller's is untouched
    for code in concepts:
        define = CONCEPTS[code].cql_define if code in CONCEPTS else None
        if define:
            value = evaluate_define(define, bundle, today)
            if value is not None:
                out[code] = value
    return out
