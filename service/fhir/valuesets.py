"""A ValueSet per coded concept (its answer codes), and its expansion (FHIR R4 ValueSet/$expand)."""
from __future__ import annotations

from datetime import UTC, datetime

from service.fhir.codesystem import VERSION
from service.policies.concepts import CODING, CONCEPTS, SYSTEM, Concept

BASE = "http://example.org/fhir/ValueSet"


def build_valueset(concept: Concept) -> dict:
    return {"resourceType": "ValueSet", "id": f"pa-criteria-{concept.code}", "url": f"{BASE}/pa-criteria-{concept.code}",
            "version": VERSION, "name": "PACriteria" + "".join(p.capitalize() for p in concept.code.split("-")),
            "title": f"Answers to '{concept.display}'", "status": "active",
            "compose": {"include": [{"system": SYSTEM, "concept": [
                {"code": c, "display": d} for c, d in concept.options]}]}}


def valuesets() -> dict[str, dict]:
    return {vs["id"]: vs for vs in (build_valueset(c) for c in CONCEPTS.values() if c.answer_type == CODING)}


def expand(vs: dict) -> dict:
    include = vs["compose"]["include"][0]
    return {**vs, "expansion": {"timestamp": datetime.now(UTC).replace(microsecond=0).isoformat(),
                                "total": len(include["concept"]),
                                "contains": [{"system": include["system"], **c} for c in include["concept"]]}}
