"""What a stored ClaimResponse says about its criteria (PAS 2.2 reviewAction), read once at write so
listings and reports count columns instead of re-parsing the JSON (issue 25)."""
from __future__ import annotations

from service.fhir.json import listed, obj, objs, text_of
from service.policies.concepts import SYSTEM as CRITERIA_SYSTEM

__all__ = ["reason_codes"]


def reason_codes(resource: dict) -> tuple[str, ...]:
    """pa-criteria codes of item.adjudication reviewAction reasonCode (PAS 2.2), in order, once each."""
    codes: dict[str, None] = {}
    for item in objs(resource.get("item")):
        for adjudication in objs(item.get("adjudication")):
            for action in objs(adjudication.get("extension")):
                for sub in objs(action.get("extension")):
                    if sub.get("url") != "reasonCode":
                        continue
                    for coding in objs(obj(sub.get("valueCodeableConcept")).get("coding")):
                        if coding.get("system") == CRITERIA_SYSTEM and text_of(coding.get("code")):
                            codes.setdefault(coding["code"], None)
    return tuple(codes)


def search_name(patient: object) -> str | None:
    """A Patient's names as the desk searches them: every given and family part, lower case, one space
    apart ("maria elena garcia lopez"); None when it has no name. Kept on the claim so a reviewer's
    name fragment is one indexed LIKE, not a scan of stored Bundles."""
    parts: list[str] = []
    for name in objs(obj(patient).get("name")):
        for part in [*listed(name.get("given")), name.get("family")]:
            text = text_of(part)
            if text:
                parts.extend(text.lower().split())
    return " ".join(dict.fromkeys(parts))[:256] or None
