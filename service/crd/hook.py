"""Answer one CDS Hooks call: validate, find Besponsa orders, find the payer, assert coverage."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from service.crd.answer import (
    COVERAGE_INFO,
    CRD_TEMP,
    ChartOutcome,
    annotate_resource,
    build_cards,
    build_coverage_info,
    card_ids,
    same_assertion,
)
from service.crd.chart import gather_chart, read_references
from service.crd.context import find_carriers, find_orders, order_references
from service.crd.services import HookService, read_configuration
from service.engine.evaluate import decide
from service.engine.prefill import prefill_resources
from service.errors import Issue, bad_request, invalid, problem
from service.fhir.bundle import find_coverage, flatten, index_resources
from service.fhir.client import HttpClient
from service.fhir.coverage import payer_of_coverage, unknown_payer_message
from service.fhir.json import listed
from service.fhir.orders import is_besponsa_order, unresolved_medications
from service.fhir.shape import readable, resource_problems
from service.policies.model import Policy
from service.policies.registry import require_policy


@dataclass
class HookResult:
    body: dict
    payer_id: str | None = None
    orders: int = 0
    summary: list[dict] = field(default_factory=list)


def assess_chart(policy: Policy, resources: list[dict], today: date) -> ChartOutcome:
    """Prefill the policy's concepts from the chart (the CQL equivalents) and decide on them."""
    return decide(policy, prefill_resources(resources, policy.concepts, today))


@dataclass(frozen=True)
class HookSettings:
    """What every call needs besides the request: our URL, the way out to the EHR, the assessor."""

    base_url: str
    http: HttpClient
    allowed_origins: tuple[str, ...]
    assess: Callable[[Policy, list[dict], date], ChartOutcome] = assess_chart


def validate_request(service: HookService, request: object) -> dict:
    """CDS Hooks 2.0 request shape: hook, hookInstance, context with this hook's fields."""
    if not isinstance(request, dict):
        raise bad_request("the request body must be a JSON object")
    problems: list[Issue] = []
    if request.get("hook") != service.hook:
        problems.append(problem("hook", f"must be '{service.hook}' for service {service.id}"))
    if not isinstance(request.get("hookInstance"), str) or not request["hookInstance"]:
        problems.append(problem("hookInstance", "is required"))
    context: Any = request.get("context")
    if not isinstance(context, dict):
        problems.append(problem("context", "must be an object"))
    else:
        problems += [Issue("required", f"context.{label} is required", tuple(f"context.{n}" for n in names))
                     for label, names in service.required_fields
                     if all(context.get(name) in (None, "", []) for name in names)]
    if problems:
        raise invalid(problems, status=400)
    for key in ("draftOrders", "appointments"):
        value = context.get(key)
        if value is not None and (not isinstance(value, dict) or value.get("resourceType") != "Bundle"):
            raise invalid(problem(f"context.{key}", "must be a FHIR Bundle"))
        if value is not None and not readable(value):
            problems += resource_problems(value, f"context.{key}")
    prefetch = request.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        problems.append(problem("prefetch", "must be an object"))
    for key, value in (prefetch if isinstance(prefetch, dict) else {}).items():
        # CDS Hooks 2.0: null means the EHR could not prefetch it
        if value is not None and not readable(value):
            problems += resource_problems(value, f"prefetch.{key}")
    if problems:  # not readable as FHIR: refuse it whole rather than guess (nothing is assessed)
        raise invalid(problems[:10])
    return request


def find_payer(coverage: dict, known: dict[str, dict]) -> str:
    """Payer id of the Coverage's payor; an unknown payer is a 400 (CRD 2.1, CONTRACT)."""
    payer = payer_of_coverage(coverage, known)
    if payer is None:
        raise bad_request(unknown_payer_message(coverage, known), "Coverage.payor")
    return payer


def no_coverage_card() -> dict:
    # CRD 2.1: without a Coverage there is nothing for coverage-information to reference.
    return {"uuid": card_ids(1)[0], "summary": "No active coverage was found for this patient",
            "indicator": "warning", "source": {"label": "Besponsa prior authorization service",
                                               "topic": {"system": CRD_TEMP,
                                                         "code": "coverage-info"}}}


async def answer_hook(service: HookService, request: dict, cfg: HookSettings, today: date) -> HookResult:
    """The CDS Hooks response for one validated request."""
    context = request["context"]
    config = read_configuration(request)
    drafts = flatten(context.get("draftOrders"))
    sent = index_resources(drafts + flatten(context.get("appointments")))
    # Besponsa by what the hook sent stays Besponsa once the chart is known too (what the hook
    # sent wins over prefetch): each draft is checked once.
    matched = {id(o) for o in drafts if is_besponsa_order(o, sent)}
    if service.hook in ("order-sign", "order-select") and not matched and not unresolved_medications(drafts, sent):
        return HookResult({"cards": [], "systemActions": []})  # other drugs: no chart is read
    chart = await gather_chart(request, service.queries, cfg.http, cfg.allowed_origins)
    # What the hook sent wins over prefetch; prefetch keys we did not ask for only resolve references.
    known = {**index_resources(chart.extra + chart.resources), **sent}
    unsent = [r for r in order_references(service, context) if r not in known]
    if unsent:
        known.update(index_resources(await read_references(request, unsent, cfg.http, cfg.allowed_origins)))
    candidates = find_orders(service, context, known)
    if medications := unresolved_medications(candidates, known):  # CONTRACT: Medication by reference
        known.update(index_resources(await read_references(request, medications, cfg.http, cfg.allowed_origins)))
    orders = [o for o in candidates if id(o) in matched or is_besponsa_order(o, known)]
    if not orders:
        return HookResult({"cards": [], "systemActions": []})
    coverage = find_coverage(chart.resources)
    if coverage is None:
        return HookResult({"cards": [no_coverage_card()], "systemActions": []}, None, len(orders))
    payer_id = find_payer(coverage, known)
    policy = require_policy(payer_id)
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
