"""The payer behind a Coverage (CONTRACT: Payers): payor Organization by payer-id, else by name."""
from __future__ import annotations

from service.fhir.json import objs, reference_of, text_of
from service.policies.registry import PAYER_ID_SYSTEM, all_policies, find_payer_id


def payer_of_coverage(coverage: dict, known: dict[str, dict]) -> str | None:
    """Payer id from the payor Organization (contained, or in `known` by 'Organization/id')."""
    payors, contained = coverage.get("payor"), coverage.get("contained")
    for ref in payors if isinstance(payors, list) else ():
        if not isinstance(ref, dict):
            continue
        target = reference_of(ref) or ""
        org = (next((c for c in contained if isinstance(c, dict) and c.get("id") == target[1:]), None)
               if target.startswith("#") and isinstance(contained, list) else known.get(target)) or {}
        identifiers = org.get("identifier") or ([ref["identifier"]] if ref.get("identifier") else [])
        payer = find_payer_id(identifiers, org.get("name") or ref.get("display"))
        if payer:
            return payer
    return None


def describe_payor(coverage: dict, known: dict[str, dict]) -> str:
    """What the Coverage names as its payer (for an error that says what it got), or 'nothing'."""
    named = []
    contained = objs(coverage.get("contained"))
    for ref in objs(coverage.get("payor")):
        target = reference_of(ref) or ""
        org = (next((c for c in contained if c.get("id") == target[1:]), {}) if target.startswith("#")
               else known.get(target) or {})
        named += [f"{text_of(i.get('system'))}|{text_of(i.get('value'))}" for i in objs(org.get("identifier"))]
        named += [text_of(n) for n in (org.get("name"), ref.get("display")) if text_of(n)]
        if not org and target:
            named.append(f"{target} (not in the request)")
    return ", ".join(named) or "nothing"


def unknown_payer_message(coverage: dict, known: dict[str, dict]) -> str:
    """The unknown-payer error in words: what it got and what this service knows (CONTRACT: Payers)."""
    return (f"is not one this service serves: it names {describe_payor(coverage, known)}; known payers are "
            f"{', '.join(f'{PAYER_ID_SYSTEM}|{p}' for p in sorted(all_policies()))}")
