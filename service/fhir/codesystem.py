"""The pa-criteria CodeSystem resource, built from the concept table (FHIR R4 CodeSystem)."""
from __future__ import annotations

from service.policies.concepts import CONCEPTS, SYSTEM, answer_codes

VERSION = "1.0.0"


def build_codesystem() -> dict:
    """Criterion concepts first, then every answer code; one row per code."""
    rows = [{"code": c.code, "display": c.display, "definition": c.question,
             "property": [{"code": "kind", "valueCode": "criterion"},
                          {"code": "answer-type", "valueCode": c.answer_type}]}
            for c in CONCEPTS.values()]
    rows += [{"code": code, "display": display,
              "property": [{"code": "kind", "valueCode": "answer"}]}
             for code, display in answer_codes().items()]
    return {
        "resourceType": "CodeSystem",
        "id": "pa-criteria",
        "url": SYSTEM,
        "version": VERSION,
        "name": "PACriteria",
        "title": "Prior authorization criterion concepts for inotuzumab ozogamicin (Besponsa)",
        "status": "active",
        "experimental": False,
        "publisher": "Besponsa prior authorization service",
        "description": "The facts payer policies depend on: item codes, answer keys, scoring keys "
                       "and reason codes at once.",
        "caseSensitive": True,
        "content": "complete",
        "count": len(rows),
        "property": [
            {"code": "kind", "type": "code", "description": "criterion or answer"},
            {"code": "answer-type", "type": "code", "description": "integer, decimal, boolean, coding"},
        ],
        "concept": rows,
    }
