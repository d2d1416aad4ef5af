"""Which orders and claim items are Besponsa (CONTRACT: The drug), by every route the contract names."""
from __future__ import annotations

from service.fhir.json import listed, obj, reference_of, text_of
from service.policies.drug import BESPONSA

ORDER_TYPES = {"MedicationRequest", "ServiceRequest", "MedicationDispense"}


def concept_is_besponsa(concept: dict | None) -> bool:
    """A CodeableConcept naming Besponsa by HCPCS (any of three systems), NDC or name."""
    if not isinstance(concept, dict):
        return False
    for coding in listed(concept.get("coding")):
        if not isinstance(coding, dict):
            continue
        system, code = text_of(coding.get("system")), text_of(coding.get("code")).upper()
        if (system in BESPONSA.hcpcs_systems and code in BESPONSA.hcpcs_codes) or (
                system == BESPONSA.ndc_system and code in BESPONSA.ndc_codes):
            return True
        if any(n in text_of(coding.get("display")).lower() for n in BESPONSA.names):
            return True
    return any(n in text_of(concept.get("text")).lower() for n in BESPONSA.names)


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
    return any(text_of(c.get("system")) in BESPONSA.hcpcs_systems and text_of(c.get("code")) in BESPONSA.hcpcs_codes
               for c in listed(obj(item.get("productOrService")).get("coding")) if isinstance(c, dict))
