"""Answer one CDS Hooks call: validate, find Besponsa orders, find the payer, assert coverage."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from service.engine.prefill import prefill_resources
from service.crd.answer import (COVERAGE_INFO, Outcome, annotate_resource, build_cards, build_coverage_info, card_ids,
                                same_assertion)
from service.crd.chart import HookError, flatten, gather_chart, read_references, readable, resource_problems
from service.crd.context import find_carriers, find_orders, order_references
from service.crd.detect import index_resources, is_besponsa_order, unresolved_medications
from service.crd.services import HookService, read_configuration
from service.engine.evaluate import decide
from service.fhir.coverage import payer_of_coverage
from service.fhir.json import listed
from service.policies.model import Policy
from service.policies.registry import get_policy


@dataclass
class HookResult:
    body: dict
    payer_id: str | None = None
    orders: int = 0
    summary: list[dict] = field(default_factory=list)


def assess_chart(policy: Policy, resources: list[dict], today: date) -> Outcome:
    """Prefill the policy's concepts from the chart (the CQL equivalents) and decide on them."""
    return decide(policy, prefill_resources(resources, policy.concepts, today))


@dataclass(frozen=True)
class HookSettings:
    """What every call needs besides the request: our URL, the EHR timeout, the assessor."""

    base_url: str
    timeout: float
    assess: Callable[[Policy, list[dict], date], Outcome] = assess_chart


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
        problems += [f"context.{label} is required" for label, names in service.required_fields
                     if all(context.get(name) in (None, "", []) for name in names)]
    if problems:
        raise HookError(400, "; ".join(problems))
    for key in ("draftOrders", "appointments"):
        value = context.get(key)
        if value is not None and (not isinstance(value, dict) or value.get("resourceType") != "Bundle"):
            raise HookError(422, f"context.{key} must be a FHIR Bundle")
        if value is not None and not readable(value):
            problems += resource_problems(value, f"context.{key}")
    prefetch = request.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        problems.append("prefetch must be an object")
    for key, value in (prefetch if isinstance(prefetch, dict) else {}).items():
        # CDS Hooks 2.0: null means the EHR could not prefetch it
        if value is not None and not readable(value):
            problems += resource_problems(value, f"prefetch.{key}")
    if problems:  # not readable as FHIR: refuse it whole rather than guess (nothing is assessed)
        raise HookError(422, "; ".join(problems[:10]))
    return request


def find_coverage(resources: list[dict]) -> dict | None:
    coverages = [r for r in resources if r.get("resourceType") == "Coverage"]
    return next((c for c in coverages if c.get("status") == "active"), coverages[0] if coverages else None)


def find_payer(coverage: dict, known: dict[str, dict]) -> str:
    """Payer id of the Coverage's payor; an unknown payer is a 400 (CRD 2.1, CONTRACT)."""
    payer = payer_of_coverage(coverage, known)
    if payer is None:
        raise HookError(400, "the Coverage's payer is not one this service serves")
    return payer


def no_coverage_card() -> dict:
    # CRD 2.1: without a Coverage there is nothing for coverage-information to reference.
    return {"uuid": card_ids(1)[0], "summary": "No active coverage was found for this patient",
            "indicator": "warning", "source": {"label": "Besponsa prior authorization service",
                                               "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
                                                         "code": "coverage-info"}}}


async def answer_hook(service: HookService, request: dict, cfg: HookSettings, today: date) -> HookResult:
    """The CDS Hooks response for one validated request."""
    context = request["context"]
    config = read_configuration(request)
    drafts = flatten(context.get("draftOrders"))
    sent = index_resources(drafts + flatten(context.get("appointments")))
    if service.hook in ("order-sign", "order-select") and not any(
            is_besponsa_order(o, sent) for o in drafts) and not unresolved_medications(drafts, sent):
        return HookResult({"cards": [], "systemActions": []})  # other drugs: no chart is read
    chart = await gather_chart(request, service.prefetch, cfg.timeout)
    # What the hook sent wins over prefetch; prefetch keys we did not ask for only resolve references.
    known = {**index_resources(chart.extra + chart.resources), **sent}
    unsent = [r for r in order_references(service, context) if r not in known]
    if unsent:
        known.update(index_resources(await read_references(request, unsent, cfg.timeout)))
    candidates = find_orders(service, context, known)
    if medications := unresolved_medications(candidates, known):  # CONTRACT: Medication by reference
        known.update(index_resources(await read_references(request, medications, cfg.timeout)))
    orders = [o for o in candidates if is_besponsa_order(o, known)]
    if not orders:
        return HookResult({"cards": [], "systemActions": []})
    coverage = find_coverage(chart.resources)
    if coverage is None:
        return HookResult({"cards": [no_coverage_card()], "systemActions": []}, None, len(orders))
    payer_id = find_payer(coverage, known)
    policy = get_policy(payer_id)
    inactive = coverage.get("status") != "active"
    outcome = None if inactive else cfg.assess(policy, chart.resources, today)
    coverage_ref = f"Coverage/{coverage.get('id')}"
    actions, summary = [], []
    for target in orders + find_carriers(service, context, known, orders):
        info = build_coverage_info(resource=target, coverage_ref=coverage_ref, policy=policy, today=today,
                                   primary=service.primary, base_url=cfg.base_url, outcome=outcome,
                                   inactive=inactive)
        summary.append({e["url"]: e.get("valueCode") for e in info["extension"] if "valueCode" in e})
        if any(isinstance(e, dict) and e.get("url") == COVERAGE_INFO and same_assertion(e, info)
               for e in listed(target.get("extension"))):
            continue  # CRD 2.1: no system action unless something is new
        actions.append({"type": "update", "description": f"Coverage information from {policy.payer_name}",
                        "resource": annotate_resource(target, info)})
    cards = build_cards(policy, outcome, service.primary, cfg.base_url, inactive,
                        coverage_cards=config["coverage-info"], guideline_cards=config["guideline"])
    return HookResult({"cards": cards[:config["max-cards"]],
                       "systemActions": actions if config["coverage-info"] else []},
                      payer_id, len(orders), summary)
