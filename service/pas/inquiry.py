"""Claim/$inquire (PAS 2.2 "Prior Authorization Inquiries"): query by example on member + provider."""
from __future__ import annotations

from service.pas.bundle import BundleIndex, identifier_key
from service.pas.request import provider_keys
from service.storage import claims as repo

AUTH_NUMBER = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-authorizationNumber"


def inquiry_keys(bundle: dict) -> tuple[dict | None, list[str]]:
    """Member ids, provider ids, and optional narrowing keys from a PAS inquiry Bundle."""
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    first = entries[0] if entries and isinstance(entries[0], dict) else {}
    claim = first.get("resource") if isinstance(first.get("resource"), dict) else {}
    if claim.get("resourceType") != "Claim":
        return None, ["Bundle.entry[0]: the first entry must be the inquiry Claim (PAS ClaimFirst)"]
    index, problems = BundleIndex(bundle), []
    patient = index.resolve(claim.get("patient"), "Patient") or {}
    idents = list(patient.get("identifier") or ())
    if isinstance((claim.get("patient") or {}).get("identifier"), dict):
        idents.append(claim["patient"]["identifier"])
    members = [k for k in (identifier_key(i) for i in idents) if k]
    if not members:
        problems.append("Claim.patient: the inquiry must identify the patient by member "
                        "identifier (PAS 2.2 inquiry: loop 2000C)")
    providers = provider_keys(index, claim.get("provider"))
    if not providers:
        problems.append("Claim.provider: the inquiry must identify the requesting provider by "
                        "identifier, e.g. NPI (PAS 2.2 spec-53)")
    numbers = {e.get("valueString") for e in claim.get("extension") or ()
               if isinstance(e, dict) and e.get("url") == AUTH_NUMBER}
    for item in claim.get("item") or ():
        numbers |= {e.get("valueString") for e in (item or {}).get("extension") or ()
                    if isinstance(e, dict) and e.get("url") == AUTH_NUMBER}
    claim_ids = [k for k in (identifier_key(i) for i in claim.get("identifier") or ()) if k]
    return {"members": members, "providers": providers, "numbers": numbers - {None},
            "claim_ids": claim_ids}, problems


def find_matches(storage, keys: dict) -> list[repo.Stored]:
    """Stored determinations for that member AND provider, narrowed by number or Claim id if given."""
    found = [s for s in repo.search(storage, member_keys=keys["members"])
             if s.claim.provider_ref in keys["providers"]]
    if keys["numbers"]:
        found = [s for s in found if s.response.auth_number in keys["numbers"]]
    # An inquiry's own identifier is its TRN; it narrows only when it names an earlier Claim.
    same_claim = [s for s in found if s.claim.claim_identifier in keys["claim_ids"]]
    return same_claim or found
