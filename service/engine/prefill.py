"""Prefill: a chart in, answers keyed by pa-criteria concept out (DTR 2.1 section 4.4 prefill).

The values come from the CQL define each concept names (concepts.py `cql_define`), computed by
the Python equivalents of the generated CQL; the concept table is the only map between them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import lru_cache

import cql_equivalents
from service.policies.concepts import CONCEPTS

# concept -> define, checked against the equivalents at import (start-up), never per request.
CONCEPT_DEFINES = {c.code: c.cql_define for c in CONCEPTS.values() if c.cql_define}
_missing = sorted(set(CONCEPT_DEFINES.values()) - set(cql_equivalents.DEFINES))
if _missing:
    raise RuntimeError(f"concepts name CQL defines with no Python equivalent: {_missing}")


@lru_cache(maxsize=256)
def plan(concepts: tuple[str, ...]) -> tuple[tuple[str, Callable[..., object]], ...]:
    """(concept, define function) for the concepts the chart can answer: made once per policy, since
    CRD prefills on every order signing and the lookups cost as much as a define."""
    return tuple((code, cql_equivalents.DEFINES[CONCEPT_DEFINES[code]]) for code in concepts if code in CONCEPT_DEFINES)


def prefill_view(view: dict[str, object], concepts: Iterable[str], today: date) -> dict[str, object]:
    """Engine-form answers for the requested concepts the chart shows; absent ones left out."""
    out: dict[str, object] = {}
    for code, define in plan(concepts if isinstance(concepts, tuple) else tuple(concepts)):
        value = define(view, today)
        if value is not None:
            out[code] = value
    return out


Evidence = dict[str, str]  # {"reference": "Observation/o1", "date": "2026-11-25" or "", "label": "CD22 result"}


def prefill_with_evidence(resources: Iterable[object], concepts: Iterable[str],
                          today: date) -> dict[str, tuple[object, Evidence | None]]:
    """prefill_resources with, for each answer, the chart resource it came from (DTR: show the clinician why)."""
    wanted = [(code, CONCEPT_DEFINES[code]) for code in concepts if code in CONCEPT_DEFINES]
    view: dict[str, object] = {"_index": cql_equivalents.index_chart(resources)}
    found = cql_equivalents.evaluate_with_evidence(view, (define for _, define in wanted), today)
    return {code: found[define] for code, define in wanted if define in found}


def describe_evidence(evidence: Evidence | None) -> str:
    """'CD22 result of 2026-11-25': what the clinician reads beside a prefilled answer."""
    if not evidence:
        return ""
    return f"{evidence.get('label') or 'chart entry'}" + (f" of {evidence['date']}" if evidence.get("date") else "")


def prefill_bundle(bundle: dict[str, object], concepts: Iterable[str], today: date) -> dict[str, object]:
    """prefill_view over a chart Bundle (DTR $populate, $questionnaire-package, the SMART app)."""
    return prefill_view({"_index": cql_equivalents.index_bundle(bundle)}, concepts, today)


def prefill_resources(resources: Iterable[object], concepts: Iterable[str], today: date) -> dict[str, object]:
    """prefill_view over a list of resources (CRD prefetch), without wrapping them in a Bundle."""
    return prefill_view({"_index": cql_equivalents.index_chart(resources)}, concepts, today)
