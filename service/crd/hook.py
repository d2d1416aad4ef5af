"""Answer one CDS Hooks call: validate, find Besponsa orders, find the payer, assert coverage."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import orjson

import cql_equivalents
from service.crd.answer import COVERAGE_INFO, annotate_order, build_cards, build_coverage_info, same_assertion
from service.crd.chart import HookError, flatten, gather_chart, read_references
from service.crd.detect import index_resources, is_besponsa_order, unresolved_medications
from service.crd.services import HookService, read_configuration
from service.engine.evaluate import Determination, score_response
from service.fhir.coverage import payer_of_coverage
from service.policies.model import Policy
from service.policies.registry import get_policy


@dataclass
class HookResult:
    body: dict
    payer_id: str | None = None
    orders: int = 0
    summary: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class HookSettings:
    """What every call needs besides the request: our URL, the EHR timeout, the assessor."""

    base_url: str
    timeout: float
    default_months: int
    assess: Callable[[Policy, list[dict], date, int], Determination]


def assess_chart(policy: Policy, resources: list[dict], today: date, months: int) -> Determination:
    """Prefill the policy's concepts from the chart (the CQL equivalents) and score them."""
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    answers = cql_equivalents.prefill(bundle, policy.concepts, today)
    return score_response(policy, answers, default_period_months=months)


class AssessmentMemo:
    """assess_chart, remembered per (policy version, day, chart digest). Prefill and scoring are
    pure, and one patient's chart repeats across order-select, order-sign and re-signing."""

    def __init__(self, size: int = 4096):
        self.size, self.entries = size, {}

    def assess(self, policy: Policy, resources: list[dict], today: date, months: int) -> Determination:
        try:
            digest = hashlib.blake2b(orjson.dumps(resources), digest_size=16).digest()
        except (TypeError, orjson.JSONEncodeError):  # not plain JSON: assess, do not remember
            return assess_chart(policy, resources, today, months)
        key = (policy.payer_id, policy.version, today, months, digest)
        hit = self.entries.get(key)
        if hit is None:
            hit = assess_chart(policy, resources, today, months)
            if len(self.entries) >= self.size:
                del self.entries[next(iter(self.entries))]  # oldest first
            self.entries[key] = hit
        return hit


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


def order_references(service: HookService, context: dict) -> list[str]:
    """Orders a dispatch or booking names by reference (CDS Hooks order-dispatch, appointment-book)."""
    if service.hook == "order-dispatch":
        refs = context.get("dispatchedOrders")
        return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
    if service.hook == "appointment-book":
        return [b.get("reference") for a in flatten(context.get("appointments"))
                for b in a.get("basedOn") or () if isinstance(b, dict) and isinstance(b.get("reference"), str)]
    return []


def find_orders(service: HookService, context: dict, known: dict[str, dict]) -> list[dict]:
    """The orders this hook is about (draft, selected, dispatched, booked or in the encounter)."""
    hook = service.hook
    if hook in ("order-sign", "order-select"):
        orders = flatten(context.get("draftOrders"))
        if hook == "order-select" and isinstance(context.get("selections"), list):
            chosen = set(context["selections"])
            orders = [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in chosen]
        return orders
    if hook in ("order-dispatch", "appointment-book"):
        return [known[r] for r in order_references(service, context) if r in known]
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


def no_coverage_card() -> dict:
    # CRD 2.1: without a Coverage there is nothing for coverage-information to reference.
    return {"uuid": str(uuid.uuid4()), "summary": "No active coverage was found for this patient",
            "indicator": "warning", "source": {"label": "Besponsa prior authorization service",
                                               "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
                                                         "code": "coverage-info"}}}


async def answer_hook(service: HookService, request: dict, cfg: HookSettings, today: date) -> HookResult:
    """The CDS Hooks response for one validated request."""
    context = request["context"]
    config = read_configuration(request)
    drafts = flatten(context.get("draftOrders"))
    quick_known = index_resources(drafts + flatten(context.get("appointments")))
    if service.hook in ("order-sign", "order-select") and not any(
            is_besponsa_order(o, quick_known) for o in drafts) and not unresolved_medications(drafts, quick_known):
        return HookResult({"cards": [], "systemActions": []})  # other drugs: no chart is read
    chart = await gather_chart(request, cfg.timeout)
    known = index_resources(chart.resources + drafts)
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
    det = None if inactive else cfg.assess(policy, chart.resources, today, cfg.default_months)
    coverage_ref = f"Coverage/{coverage.get('id')}"
    actions, summary = [], []
    for order in orders:
        info = build_coverage_info(order=order, coverage_ref=coverage_ref, policy=policy, today=today,
                                   primary=service.primary, base_url=cfg.base_url, det=det, inactive=inactive)
        summary.append({e["url"]: e.get("valueCode") for e in info["extension"] if "valueCode" in e})
        if any(e.get("url") == COVERAGE_INFO and same_assertion(e, info) for e in order.get("extension") or ()):
            continue  # CRD 2.1: no system action unless something is new
        actions.append({"type": "update", "description": f"Coverage information from {policy.payer_name}",
                        "resource": annotate_order(order, info)})
    cards = build_cards(policy, det, service.primary, cfg.base_url, inactive,
                        coverage_cards=config["coverage-info"], guideline_cards=config["guideline"])
    return HookResult({"cards": cards[:config["max-cards"]],
                       "systemActions": actions if config["coverage-info"] else []},
                      payer_id, len(orders), summary)
