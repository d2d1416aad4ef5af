"""Answer one CDS Hooks call: validate, find Besponsa orders, find the payer, assert coverage."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import cql_equivalents
from service.crd.answer import annotate_order, build_cards, build_coverage_info
from service.crd.chart import HookError, flatten, gather_chart
from service.crd.detect import index_resources, is_besponsa_order
from service.crd.services import HookService, read_configuration
from service.engine.evaluate import score_response
from service.policies.model import concepts_used
from service.fhir.coverage import payer_of_coverage
from service.policies.registry import get_policy


@dataclass
class HookResult:
    body: dict
    payer_id: str | None = None
    orders: int = 0
    summary: list[dict] = field(default_factory=list)


def validate_request(service: HookService, request: object) -> dict:
    """CDS Hooks 2.0 request shape: hook, hookInstance, context with this hook's fields."""
    if not isinstance(request, dict):
        raise HookError(400, "the request body must be a JSON object")
    problems = []
    if request.get("hook") != service.hook:
        problems.append(f"hook must be '{service.hook}' for service {service.id}")
    if not isinstance(request.get("hookInstance"), str) or not request["hookInstance"]:
        problems.append("hookInstance is required")
    context = request.get("context")
    if not isinstance(context, dict):
        problems.append("context must be an object")
    else:
        problems += [f"context.{k} is required" for k in service.required_context if context.get(k) in (None, "")]
    if problems:
        raise HookError(400, "; ".join(problems))
    for key in ("draftOrders", "appointments"):
        value = context.get(key)
        if value is not None and (not isinstance(value, dict) or value.get("resourceType") != "Bundle"):
            raise HookError(422, f"context.{key} must be a FHIR Bundle")
    return request


def find_orders(service: HookService, context: dict, known: dict[str, dict]) -> list[dict]:
    """The orders this hook is about (draft, selected, dispatched, booked or in the encounter)."""
    hook = service.hook
    if hook in ("order-sign", "order-select"):
        orders = flatten(context.get("draftOrders"))
        if hook == "order-select" and isinstance(context.get("selections"), list):
            chosen = set(context["selections"])
            orders = [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in chosen]
        return orders
    if hook == "order-dispatch":
        refs = context.get("dispatchedOrders") if isinstance(context.get("dispatchedOrders"), list) else []
        return [known[r] for r in refs if isinstance(r, str) and r in known]
    if hook == "appointment-book":
        refs = [b.get("reference") for a in flatten(context.get("appointments"))
                for b in a.get("basedOn") or () if isinstance(b, dict)]
        return [known[r] for r in refs if r in known]
    encounter = f"Encounter/{context.get('encounterId')}"
    return [r for r in known.values() if r.get("resourceType") == "MedicationRequest"
            and (r.get("encounter") or {}).get("reference") == encounter
            and r.get("status") in ("draft", "active")]


def find_coverage(resources: list[dict]) -> dict | None:
    coverages = [r for r in resources if r.get("resourceType") == "Coverage"]
    return next((c for c in coverages if c.get("status") == "active"), coverages[0] if coverages else None)


def find_payer(coverage: dict, known: dict[str, dict]) -> str:
    """Payer id of the Coverage's payor; an unknown payer is a 400 (CRD 2.1, CONTRACT)."""
    payer = payer_of_coverage(coverage, known)
    if payer is None:
        raise HookError(400, "the Coverage's payer is not one this service serves")
    return payer


async def answer_hook(service: HookService, request: dict, *, today: date, base_url: str,
                      timeout: float, default_months: int) -> HookResult:
    """The CDS Hooks response for one validated request."""
    context = request["context"]
    config = read_configuration(request)
    drafts = flatten(context.get("draftOrders"))
    quick_known = index_resources(drafts + flatten(context.get("appointments")))
    if not any(is_besponsa_order(o, quick_known) for o in drafts) and service.hook in ("order-sign", "order-select"):
        return HookResult({"cards": []})  # nothing to say: no chart is read for other drugs
    chart = await gather_chart(request, timeout)
    known = index_resources(chart.resources + drafts)
    orders = [o for o in find_orders(service, context, known) if is_besponsa_order(o, known)]
    if not orders:
        return HookResult({"cards": []})
    coverage = find_coverage(chart.resources)
    if coverage is None:
        return HookResult({"cards": [{"uuid": str(uuid.uuid4()), "summary":
                           "No active coverage was found for this patient", "indicator": "warning",
                           "source": {"label": "Besponsa prior authorization service"}}]}, None, len(orders))
    payer_id = find_payer(coverage, known)
    policy = get_policy(payer_id)
    inactive = coverage.get("status") != "active"
    det = None
    if not inactive:
        bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in chart.resources]}
        answers = cql_equivalents.prefill(bundle, concepts_used(policy), today)
        det = score_response(policy, answers, default_period_months=default_months)
    coverage_ref = f"Coverage/{coverage.get('id')}"
    actions, summary = [], []
    for order in orders:
        info = build_coverage_info(order=order, coverage_ref=coverage_ref, policy=policy, today=today,
                                   primary=service.primary, base_url=base_url, det=det, inactive=inactive)
        actions.append({"type": "update", "description": f"Coverage information from {policy.payer_name}",
                        "resource": annotate_order(order, info)})
        summary.append({e["url"]: e.get("valueCode") for e in info["extension"] if "valueCode" in e})
    body: dict = {"cards": build_cards(policy, det, service.primary, base_url, inactive)[:config["max-cards"]]
                  if config["cards"] else []}
    if config["coverage"]:
        body["systemActions"] = actions
    return HookResult(body, payer_id, len(orders), summary)
