"""Is it FHIR R4 JSON we can read? A resource is an object with a string resourceType (FHIR R4 json.html).

Two checks that agree on purpose (a property test holds them together): `readable` runs on every
CDS Hooks call and builds no strings; `resource_problems` names each problem by its path. `is_fhir_id`
is the one check of the id syntax, for every path segment and reference that must name a resource.
"""
from __future__ import annotations

import re

from service.errors import Issue, problem

ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 datatypes.html#id


def is_fhir_id(value: object) -> bool:
    """FHIR R4 id syntax, [A-Za-z0-9-.]{1,64}: anything else names no resource here."""
    return isinstance(value, str) and ID.fullmatch(value) is not None


def readable(value: object) -> bool:
    """A resource is an object with a string resourceType (and a string id); a Bundle's entry is an
    array of objects whose resources are readable too. Checked on every call: plain loops, no strings."""
    if value.__class__ is not dict or value.get("resourceType").__class__ is not str:
        return False
    if "id" in value and value["id"].__class__ is not str:
        return False
    if value["resourceType"] != "Bundle":
        return True
    entries = value.get("entry", [])
    if entries.__class__ is not list:
        return False
    for entry in entries:
        if entry.__class__ is not dict:
            return False
        resource = entry.get("resource")
        if resource is not None and not readable(resource):
            return False
    return True


def resource_problems(value: object, where: str) -> list[Issue]:
    """What makes a value unreadable as FHIR R4 JSON here (see readable), each naming its path."""
    if readable(value):
        return []
    if not isinstance(value, dict):
        return [problem(where, "must be a FHIR resource (a JSON object)")]
    kind = value.get("resourceType")
    problems = [] if isinstance(kind, str) else [problem(f"{where}.resourceType", "must be a string")]
    if not isinstance(value.get("id", ""), str):
        problems.append(problem(f"{where}.id", "must be a string"))
    if kind == "Bundle":
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            return problems + [problem(f"{where}.entry", "must be an array")]
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(problem(f"{where}.entry[{i}]", "must be an object"))
            elif entry.get("resource") is not None:
                problems += resource_problems(entry["resource"], f"{where}.entry[{i}].resource")
    return problems
