"""The DTR artifacts served, built once per process from the declarations (they are immutable)."""
from __future__ import annotations

from functools import lru_cache

from service.dtr.cql import build_library
from service.dtr.questionnaire import build_questionnaire
from service.policies.registry import all_policies


@lru_cache(maxsize=1)
def questionnaires() -> dict[str, dict]:
    """Questionnaire by id."""
    return {q["id"]: q for q in (build_questionnaire(p) for p in all_policies().values())}


@lru_cache(maxsize=1)
def libraries() -> dict[str, dict]:
    """Library (CQL + ELM) by id."""
    return {lib["id"]: lib for lib in (build_library(p) for p in all_policies().values())}


def find_by_canonical(resources: dict[str, dict], url: str | None, version: str | None) -> list[dict]:
    """Resources whose canonical matches; `url` may carry `|version` (R4 search on canonicals)."""
    if url and "|" in url:
        url, _, version = url.partition("|")
    return [r for r in resources.values()
            if (url is None or r.get("url") == url) and (version is None or r.get("version") == version)]
