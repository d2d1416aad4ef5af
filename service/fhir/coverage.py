"""The payer behind a Coverage (CONTRACT: Payers): payor Organization by payer-id, else by name."""
from __future__ import annotations

from service.fhir.json import reference_of
from service.policies.registry import find_payer_id


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
