"""The CRD service registry: one table drives discovery (CDS Hooks 2.0 section 3) and routing."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from service.fhir.chart import CHART_QUERIES, ENCOUNTER_QUERY, ChartQuery

# CRD 2.1 "Configuration options extension": one boolean per card type we return, coded from
# the CRD card types (coverage-info, guideline), plus max-cards as in the guide's examples.
CONFIG_OPTIONS = (
    {"code": "coverage-info", "type": "boolean", "name": "Coverage information",
     "description": "Coverage-information system actions on Besponsa orders, and the card saying "
                    "what documentation prior authorization needs.", "default": True},
    {"code": "guideline", "type": "boolean", "name": "Payer policy",
     "description": "A card linking the payer's Besponsa medical policy.", "default": True},
    {"code": "max-cards", "type": "integer", "name": "Maximum cards",
     "description": "The most cards returned in one response; the coverage card comes first.",
     "default": 10},
)


DEFAULT_CONFIGURATION = {o["code"]: o["default"] for o in CONFIG_OPTIONS}


@dataclass(frozen=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str
    primary: bool  # CRD 2.1 primary hooks (order-sign, order-dispatch, appointment-book) ask for documentation
    # Context fields the hook requires; "a|b" accepts either (an older draft's name for the field).
    required_context: tuple[str, ...]
    extra_queries: tuple[ChartQuery, ...] = ()

    @cached_property
    def required_fields(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(how to name it, the names that satisfy it) for each required context field."""
        return tuple((" or ".join(k.split("|")), tuple(k.split("|"))) for k in self.required_context)

    @cached_property
    def queries(self) -> tuple[ChartQuery, ...]:
        """The chart queries this service prefetches (discovery) and fetches when missing."""
        return CHART_QUERIES + self.extra_queries

    @cached_property
    def prefetch(self) -> dict[str, str]:
        """Discovery's prefetch templates (CDS Hooks 2.0 section 3)."""
        return {q.key: q.template for q in self.queries}


SERVICES: tuple[HookService, ...] = (
    HookService("besponsa-order-sign", "order-sign", "Besponsa coverage at order signing",
                "Coverage, prior authorization and documentation for inotuzumab ozogamicin orders.",
                True, ("userId", "patientId", "draftOrders")),
    HookService("besponsa-order-select", "order-select", "Besponsa coverage at order selection",
                "Early coverage and prior authorization information while an order is chosen.",
                False, ("userId", "patientId", "selections", "draftOrders")),
    HookService("besponsa-order-dispatch", "order-dispatch", "Besponsa coverage at order dispatch",
                "Coverage and prior authorization when an order is sent to a performer.",
                True, ("patientId", "dispatchedOrders|order", "performer")),
    HookService("besponsa-appointment-book", "appointment-book", "Besponsa coverage at booking",
                "Coverage information for Besponsa orders behind a booked appointment.",
                True, ("userId", "patientId", "appointments")),
    HookService("besponsa-encounter-start", "encounter-start", "Besponsa coverage at encounter start",
                "Coverage information for the encounter's Besponsa orders.",
                False, ("userId", "patientId", "encounterId"), (ENCOUNTER_QUERY,)),
    HookService("besponsa-encounter-discharge", "encounter-discharge",
                "Besponsa coverage at discharge", "Coverage information for discharge Besponsa orders.",
                False, ("userId", "patientId", "encounterId"), (ENCOUNTER_QUERY,)),
)
SERVICES_BY_ID = {s.id: s for s in SERVICES}


def discovery_document() -> dict:
    """GET /cds-services (CDS Hooks 2.0 Discovery), built from SERVICES."""
    return {"services": [{
        "hook": s.hook, "id": s.id, "title": s.title, "description": s.description,
        "prefetch": s.prefetch,
        "extension": {"davinci-crd.configuration-options": list(CONFIG_OPTIONS)},
    } for s in SERVICES]}


def read_configuration(request: dict) -> dict:
    """Options the request sets (davinci-crd.configuration), over the defaults; bad values ignored."""
    extension = request.get("extension")
    given = extension.get("davinci-crd.configuration") if isinstance(extension, dict) else None
    if not given:
        return DEFAULT_CONFIGURATION  # most calls configure nothing; shared, never mutated
    chosen = dict(DEFAULT_CONFIGURATION)
    if isinstance(given, dict):
        for option in CONFIG_OPTIONS:
            value = given.get(option["code"])
            kind = bool if option["type"] == "boolean" else int
            if isinstance(value, kind) and (kind is bool or (not isinstance(value, bool) and value >= 0)):
                chosen[option["code"]] = value  # integers here are counts: a negative one is ignored
    return chosen
