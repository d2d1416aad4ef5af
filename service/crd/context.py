"""What each hook's context names (CDS Hooks 2.0 hook definitions; CRD 2.1 coverage-information contexts)."""
from __future__ import annotations

from service.crd.services import HookService
from service.fhir.bundle import flatten
from service.fhir.json import listed, reference_of

ENCOUNTER_HOOKS = ("encounter-start", "encounter-discharge")


def references(value: object) -> list[str]:
    """The string references in a list of Reference objects (e.g. Appointment.basedOn)."""
    return [ref for r in listed(value) if (ref := reference_of(r)) is not None]


def order_references(service: HookService, context: dict) -> list[str]:
    """Orders a dispatch or booking names by reference (CDS Hooks order-dispatch, appointment-book)."""
    if service.hook == "order-dispatch":
        refs = context.get("dispatchedOrders")
        if isinstance(refs, list):
            return [r for r in refs if isinstance(r, str)]
        # The earlier order-dispatch draft, still sent by CRD 2.0.1 test kits: one `order` reference.
        return [context["order"]] if isinstance(context.get("order"), str) else []
    if service.hook == "appointment-book":
        return [ref for a in flatten(context.get("appointments")) for ref in references(a.get("basedOn"))]
    return []


def find_orders(service: HookService, context: dict, known: dict[str, dict]) -> list[dict]:
    """The orders this hook is about (draft, selected, dispatched, booked or in the encounter)."""
    hook = service.hook
    if hook in ("order-sign", "order-select"):
        orders = flatten(context.get("draftOrders"))
        if hook == "order-select" and isinstance(context.get("selections"), list):
            chosen = {s for s in context["selections"] if isinstance(s, str)}
            orders = [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in chosen]
        return orders
    if hook in ("order-dispatch", "appointment-book"):
        return [known[r] for r in order_references(service, context) if r in known]
    encounter = f"Encounter/{context.get('encounterId')}"
    return [r for r in known.values() if r.get("resourceType") == "MedicationRequest"
            and reference_of(r.get("encounter")) == encounter and r.get("status") in ("draft", "active")]


def find_carriers(service: HookService, context: dict, known: dict[str, dict], orders: list[dict]) -> list[dict]:
    """Resources besides the orders that carry their coverage information (CRD 2.1 extension
    contexts, and what CRD test kits look for): each booked Appointment based on a Besponsa order
    (appointment-book), and the Encounter itself (encounter-start, encounter-discharge)."""
    if service.hook == "appointment-book":
        ordered = {f"{o['resourceType']}/{o['id']}" for o in orders if o.get("id")}
        return [a for a in flatten(context.get("appointments")) if a.get("resourceType") == "Appointment"
                and ordered.intersection(references(a.get("basedOn")))]
    if service.hook in ENCOUNTER_HOOKS:
        encounter = known.get(f"Encounter/{context.get('encounterId')}")
        return [encounter] if encounter is not None else []
    return []
