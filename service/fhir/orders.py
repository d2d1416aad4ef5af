"""Which orders and claim items are Besponsa (CONTRACT: The drug), by every route the contract names."""
from __future__ import annotations

from service.fhir.json import listed, obj, reference_of, text_of
from service.policies.drug import BESPONSA

ORDER_TYPES = {"MedicationRequest", "ServiceRequest", "MedicationDispense"}
# The declaration's sets, read once: Drug.hcpcs_codes builds a new frozenset on each read, and every
# order-sign checks each coding of each order (issue 25).
HCPCS_SYSTEMS, HCPCS_CODES = BESPONSA.hcpcs_systems, BESPONSA.hcpcs_codes
NDC_SYSTEM, NDC_CODES, NAMES = BESPONSA.ndc_system, BESPONSA.ndc_codes, BESPONSA.names


def names_besponsa(text: object) -> bool:
    """A display or text that mentions the drug by one of its names (any case)."""
    if not isinstance(text, str) or not text:
        return False
    lowered = text.lower()
    return any(n in lowered for n in NAMES)


def concept_is_besponsa(concept: dict | None) -> bool:
    """A CodeableConcept naming Besponsa by HCPCS (any of three systems), NDC or name."""
    if not isinstance(concept, dict):
        return False
    for coding in listed(concept.get("coding")):
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if isinstance(code, str) and isinstance(system, str) and (
                (system in HCPCS_SYSTEMS and code.upper() in HCPCS_CODES)
                or (system == NDC_SYSTEM and code.upper() in NDC_CODES)):
            return True
        if names_besponsa(coding.get("display")):
            return True
    return names_besponsa(concept.get("text"))


def resolve_medication(order: dict, reference: str | None, known: dict[str, dict]) -> dict | None:
    """The Medication an order points to: contained (#id) or elsewhere in the request."""
    if not reference:
        return None
    if reference.startswith("#"):
        return next((c for c in listed(order.get("contained")) if isinstance(c, dict)
                     and c.get("id") == reference[1:]), None)
    return known.get(reference) or known.get(reference.split("/_history")[0])


def is_besponsa_order(order: dict, known: dict[str, dict]) -> bool:
    """True for a MedicationRequest/ServiceRequest/MedicationDispense of Besponsa."""
    if not isinstance(order, dict) or order.get("resourceType") not in ORDER_TYPES:
        return False
    if concept_is_besponsa(order.get("code")) or concept_is_besponsa(order.get("medicationCodeableConcept")):
        return True
    medication = resolve_medication(order, reference_of(order.get("medicationReference")), known)
    return medication is not None and concept_is_besponsa(medication.get("code"))


def unresolved_medications(orders: list[dict], known: dict[str, dict]) -> list[str]:
    """'Medication/id' references of orders that neither the order nor the request resolves."""
    out = []
    for order in orders:
        if isinstance(order, dict) and order.get("resourceType") in ORDER_TYPES:
            ref = reference_of(order.get("medicationReference"))
            if ref is not None and not ref.startswith("#") and resolve_medication(order, ref, known) is None:
                out.append(ref.split("/_history")[0])
    return out


def is_besponsa_item(item: dict) -> bool:
    """A Claim.item whose productOrService is the drug's HCPCS code (or its legacy one)."""
    return any(text_of(c.get("system")) in HCPCS_SYSTEMS and text_of(c.get("code")) in HCPCS_CODES
               for c in listed(obj(item.get("productOrService")).get("coding")) if isinstance(c, dict))
