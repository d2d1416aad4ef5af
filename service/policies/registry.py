"""The payer registry: every declaration under policies/payers/, validated once at start-up."""
from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache
from importlib import resources

from service.policies import payers
from service.policies.concepts import CODING, CONCEPTS
from service.policies.model import LEAF_TESTS, OPERATIONS, STATED, Fact, Policy, Review, walk

PAYER_ID_SYSTEM = "http://example.org/fhir/sid/payer-id"


class DeclarationError(ValueError):
    """A policy declaration that cannot be served; raised at start-up, never on a request."""


def normalize_text(text: str) -> str:
    """Policy text as citations quote it: no markdown emphasis, words rejoined, spaces folded."""
    text = text.replace("**", "").replace("\u00a0", " ")
    text = re.sub(r"(?<=\w)-\s*\n\s*", "-", text)  # "veno-\n\nocclusive" -> "veno-occlusive"
    return re.sub(r"\s+", " ", text)


def read_policy_text(policy: Policy) -> str:
    """The policy's own text, shipped with the package (a copy of shared/policies)."""
    return resources.files("service.policies").joinpath("texts", f"{policy.payer_id}.txt").read_text(
        encoding="utf-8")


def _check_fact(policy: Policy, fact: Fact) -> list[str]:
    concept = CONCEPTS.get(fact.concept)
    if concept is None:
        return [f"{policy.payer_id}: unknown concept {fact.concept!r}"]
    test = LEAF_TESTS.get(fact.test)
    if test is None or concept.answer_type not in test.answer_types:
        return [f"{policy.payer_id}: test {fact.test!r} cannot score {concept.answer_type} "
                f"concept {fact.concept!r}"]
    if concept.answer_type == CODING:
        values = test.codes(fact.value) if test.codes else ()
        bad = [v for v in values if v not in dict(concept.options)]
        if bad:
            return [f"{policy.payer_id}: {fact.concept} has no answer code(s) {bad}"]
    return []


def validate_policy(policy: Policy) -> list[str]:
    """Every problem that would make a declaration unservable or a citation untrue."""
    problems: list[str] = []
    text = normalize_text(read_policy_text(policy))
    cites = []
    for node in walk(policy.criteria):
        if isinstance(node, Fact):
            problems += _check_fact(policy, node)
            cites.append(node.cite)
        elif isinstance(node, Review):
            problems += [] if node.concept in CONCEPTS else [f"unknown concept {node.concept!r}"]
            cites.append(node.cite)
    for exclusion in policy.exclusions:
        problems += _check_fact(policy, exclusion.when)
        cites.append(exclusion.cite)
    cites += [p.cite for p in policy.periods.values() if p.stated_in_policy]
    problems += period_problems(policy)
    for cite in cites:
        if not cite:
            problems.append(f"{policy.payer_id}: a criterion cites nothing")
        elif normalize_text(cite) not in text:
            problems.append(f"{policy.payer_id}: citation not found in the policy text: {cite!r}")
    for kind in ("initial",) + (("continuation",) if policy.renewal is not None else ()):
        if kind not in policy.periods:
            problems.append(f"{policy.payer_id}: no {kind} authorization period declared")
    return problems


def period_problems(policy: Policy) -> list[str]:
    """A period is either the policy's (months, citing it) or the payer's operations' (no months:
    the operator sets them), never an unstated period passed off as the policy's (issue 21)."""
    problems = []
    for kind, period in policy.periods.items():
        if period.source not in (STATED, OPERATIONS):
            problems.append(f"{policy.payer_id}: {kind} period source {period.source!r} is neither "
                            f"{STATED!r} nor {OPERATIONS!r}")
        elif period.stated_in_policy and period.months is None:
            problems.append(f"{policy.payer_id}: the {kind} period states no months; declare it "
                            "operational_period() (the payer's operations set it)")
        elif not period.stated_in_policy and (period.months is not None or period.cite):
            problems.append(f"{policy.payer_id}: the operational {kind} period takes its months from "
                            "DEFAULT_AUTH_MONTHS and cites nothing")
    return problems


def load_policies() -> dict[str, Policy]:
    """Import every declaration module and validate them all; raise naming each problem."""
    found: dict[str, Policy] = {}
    problems: list[str] = []
    for info in sorted(pkgutil.iter_modules(payers.__path__), key=lambda m: m.name):
        policy = importlib.import_module(f"{payers.__name__}.{info.name}").POLICY
        if policy.payer_id in found:
            problems.append(f"duplicate payer id {policy.payer_id!r}")
        found[policy.payer_id] = policy
        problems += validate_policy(policy)
    if problems:
        raise DeclarationError("invalid policy declarations:\n  " + "\n  ".join(problems))
    return found


@lru_cache(maxsize=1)
def all_policies() -> dict[str, Policy]:
    """The validated registry, built once per process (declarations are immutable)."""
    return load_policies()


def get_policy(payer_id: str) -> Policy | None:
    return all_policies().get(payer_id)


def require_policy(payer_id: str) -> Policy:
    """A served payer's policy; KeyError names an id that none of the declarations has (a defect:
    callers hold ids that were checked when the request was read)."""
    policy = all_policies().get(payer_id)
    if policy is None:
        raise KeyError(f"no policy declared for payer {payer_id!r}")
    return policy


def find_payer_id(identifiers: object, name: str | None) -> str | None:
    """Payer id from an Organization's payer-id identifier, else its exact name (CONTRACT: Payers)."""
    policies = all_policies()
    for ident in identifiers if isinstance(identifiers, list) else ():
        if not isinstance(ident, dict) or ident.get("system") != PAYER_ID_SYSTEM:
            continue
        value = ident.get("value")
        if isinstance(value, str) and value in policies:
            return value
    for policy in policies.values():
        if isinstance(name, str) and name.strip().casefold() == policy.payer_name.casefold():
            return policy.payer_id
    return None
