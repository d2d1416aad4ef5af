"""The payer behind a Coverage (CONTRACT: Payers): payor Organization by payer-id, else by name."""
from __future__ import annotations

from service.policies.registry import find_payer_id


def payer_of_coverage(coverage: dict, known: dict[str, dict]) -> str | None:
    """Payer id from the payor Organization (contained, or in `known` by 'Organization/id')."""
    for ref in coverage.get("payor") or ():
        if not isinstance(ref, dict):
            continue
        target = ref.get("reference") or ""
        contained = [c for c in coverage.get("contained") or () if isinstance(c, dict)]
        org = (next((c for c in contained if c.get("id") == target[1:]), None)
               if target.startswith("#") else known.get(target))
        identifiers = (org or {}).get("identifier") or ([ref["identifier"]] if ref.get("identifier") else [])
        payer = find_payer_id(identifiers, (org or {}).get("name") or ref.get("display"))
        if payer:
            return payer
    return None
