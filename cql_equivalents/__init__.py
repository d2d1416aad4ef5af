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
    return DEFINES[define](bundle, today)


def prefill(bundle: dict, concepts: Iterable[str], today: date) -> dict[str, object]:
    """Engine-form values for the requested concepts the chart shows; absent ones are left out."""
    return prefill_view({"_index": defines.index_bundle(bundle)}, concepts, today)


def prefill_chart(chart: Iterable[dict], concepts: Iterable[str], today: date) -> dict[str, object]:
    """prefill over a list of resources (CRD's prefetch), without wrapping them in a Bundle."""
    return prefill_view({"_index": defines.index_chart(chart)}, concepts, today)


def prefill_view(view: dict, concepts: Iterable[str], today: date) -> dict[str, object]:
    # The view holds only the index the defines read: the caller's bundle is never touched.
    out: dict[str, object] = {}
    for code in concepts:
        define = CONCEPT_DEFINES.get(code)
        if define is not None:
            value = define(view, today)
            if value is not None:
                out[code] = value
    return out


# concept -> its define's function, looked up once rather than on every prefill.
CONCEPT_DEFINES = {c.code: DEFINES[c.cql_define] for c in CONCEPTS.values() if c.cql_define}
