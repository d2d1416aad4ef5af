"""Claim/$inquire (PAS 2.2 "Prior Authorization Inquiries"): query by example on member + provider."""
from __future__ import annotations

from service.errors import Issue, invalid, problem
from service.fhir.bundle import BundleIndex
from service.fhir.json import obj, objs
from service.pas.bundle import identifier_key
from service.pas.request import npi_problems, provider_keys
from service.storage import claims as repo

AUTH_NUMBER = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-authorizationNumber"


def inquiry_keys(bundle: dict) -> dict:
    """Member ids, provider ids, and optional narrowing keys from a PAS inquiry Bundle (or a 422)."""
    entries = objs(bundle.get("entry"))
    claim = obj(entries[0].get("resource")) if entries else {}
    if claim.get("resourceType") != "Claim":
        raise invalid(problem("Bundle.entry[0]", "the first entry must be the inquiry Claim (PAS ClaimFirst)"))
    index, problems = BundleIndex(bundle), list[Issue]()
    patient = index.resolve(claim.get("patient"), "Patient") or {}
    idents = objs(patient.get("identifier"))
    if isinstance(obj(claim.get("patient")).get("identifier"), dict):
        idents.append(claim["patient"]["identifier"])
    members = [k for k in (identifier_key(i) for i in idents) if k]
    if not members:
        problems.append(problem("Claim.patient", "the inquiry must identify the patient by member "
                                "identifier (PAS 2.2 inquiry: loop 2000C)"))
    providers = provider_keys(index, claim.get("provider"))
    problems += npi_problems(providers, "Claim.provider")
    if not providers:
        problems.append(problem("Claim.provider", "the inquiry must identify the requesting provider by "
                                "identifier, e.g. NPI (PAS 2.2 spec-53)"))
    numbers = auth_numbers(claim, problems)
    claim_ids = [k for k in (identifier_key(i) for i in objs(claim.get("identifier"))) if k]
    if problems:
        raise invalid(problems)
    return {"members": members, "providers": providers, "numbers": numbers, "claim_ids": claim_ids}


def listed_objects(value: object, path: str, problems: list[Issue]) -> list[dict]:
    """A list of objects, or [] with a problem naming the path (absent is fine)."""
    if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
        problems.append(problem(path, "must be a list of objects"))
        return []
    return value or []


def auth_numbers(claim: dict, problems: list[Issue]) -> set[str]:
    """The authorization numbers the inquiry narrows by (PAS extension-authorizationNumber, a string)."""
    places = [(claim.get("extension"), "Claim.extension")]
    for n, item in enumerate(listed_objects(claim.get("item"), "Claim.item", problems)):
        places.append((item.get("extension"), f"Claim.item[{n}].extension"))
    numbers = set()
    for value, path in places:
        for k, ext in enumerate(listed_objects(value, path, problems)):
            if ext.get("url") != AUTH_NUMBER:
                continue
            number = ext.get("valueString")
            if isinstance(number, str) and number:
                numbers.add(number)
            else:
                problems.append(problem(f"{path}[{k}].valueString", "the authorization number must be a string"))
    return numbers


def find_matches(storage, keys: dict, owner: str | None = None) -> list[repo.Stored]:
    """Stored determinations for that member AND provider (and the caller's, when isolated), narrowed by
    number or Claim id if given."""
    found = [s for s in repo.search(storage, member_keys=keys["members"], owner=owner)
             if s.claim.provider_ref in keys["providers"]]
    if keys["numbers"]:
        found = [s for s in found if s.response.auth_number in keys["numbers"]]
    # An inquiry's own identifier is its TRN; it narrows only when it names an earlier Claim.
    same_claim = [s for s in found if s.claim.claim_identifier in keys["claim_ids"]]
    return same_claim or found
