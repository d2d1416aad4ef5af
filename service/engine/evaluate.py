"""The pure decision engine: answers keyed by concept -> a cited determination (three-valued logic)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.policies.concepts import get_concept
from service.policies.model import (
    CONTINUATION,
    INITIAL,
    LEAF_TESTS,
    AllOf,
    AnyOf,
    Fact,
    Node,
    Policy,
    Review,
    concepts_used,
)

APPROVE, DENY, PEND = "approve", "deny", "pend"
NOT_MET, UNKNOWN, EXCLUDED, REVIEW, MET = "not-met", "unknown", "excluded", "review", "met"


@dataclass(frozen=True)
class Reason:
    """One criterion's outcome; `concept` is also the reason code (pa-criteria)."""

    concept: str
    status: str
    cite: str
    path: str


@dataclass(frozen=True)
class Determination:
    decision: str
    request_type: str
    period_months: int | None
    period_stated: bool
    path: str | None
    reasons: tuple[Reason, ...]
    met: tuple[Reason, ...]
    would_deny: bool = False


def check_leaf(fact: Fact, answers: Mapping[str, object]) -> bool | None:
    """Kleene value of one leaf: None when the answer is missing or records 'unknown'."""
    value = answers.get(fact.concept)
    if value is None or value in get_concept(fact.concept).unknown_codes:
        return None
    return LEAF_TESTS[fact.test].compare(value, fact.value)


def evaluate_tree(node: Node, answers: Mapping[str, object]) -> dict[int, bool | None]:
    """Value of every node keyed by id(node): AND/OR in Kleene's strong three-valued logic."""
    values: dict[int, bool | None] = {}

    # The four node classes are final: type() is cheaper than isinstance on this hot path, and
    # mypy does not narrow on it, hence the ignores.
    def visit(n: Node) -> bool | None:
        kind = type(n)
        v: bool | None
        if kind is Fact:
            v = check_leaf(n, answers)  # type: ignore[arg-type]
        elif kind is Review:
            v = None  # clinical judgement is never assumed
        else:
            kids = [visit(c) for c in n.children]  # type: ignore[union-attr]
            if kind is AllOf:
                v = False if False in kids else (None if None in kids else True)
            else:
                v = True if True in kids else (None if None in kids else False)
        values[id(n)] = v
        return v

    visit(node)
    return values


def verdict(node: Node, answers: Mapping[str, object]) -> bool | None:
    """evaluate_tree's value for the root alone, stopping at the first child that settles a node
    (a False under all-of, a True under any-of): what a decision needs when nothing is explained."""
    kind = type(node)  # see evaluate_tree on type() and the ignores
    if kind is Fact:
        return check_leaf(node, answers)  # type: ignore[arg-type]
    if kind is Review:
        return None
    settles = kind is not AllOf
    result: bool | None = not settles
    for child in node.children:  # type: ignore[union-attr]
        v = verdict(child, answers)
        if v is settles:
            return settles
        if v is None:
            result = None
    return result


def _join(trail: str, label: str) -> str:
    return f"{trail} > {label}" if trail else label


def explain_tree(node: Node, values: Mapping[int, bool | None], trail: str = "") -> list[Reason]:
    """Every unmet or unknown leaf that stands between this node and 'met', with its citation."""
    v = values[id(node)]
    if v is True:
        return []
    if isinstance(node, Fact):
        return [Reason(node.concept, UNKNOWN if v is None else NOT_MET, node.cite, trail)]
    if isinstance(node, Review):
        return [Reason(node.concept, REVIEW, node.cite, trail)]
    here = _join(trail, node.label)
    kids = node.children
    if isinstance(node, AnyOf) and v is None:
        # Only branches still open matter for a pend: the closed ones cannot approve.
        kids = tuple(c for c in kids if values[id(c)] is None)
    out: list[Reason] = []
    for child in kids:
        out.extend(explain_tree(child, values, here))
    return out


def trace_met(node: Node, values: Mapping[int, bool | None], trail: str = "") -> tuple[str, list[Reason]]:
    """The first fully met path of a true tree and the cited facts that met it."""
    if isinstance(node, Fact):
        return trail, ([Reason(node.concept, MET, node.cite, trail)] if node.cite else [])
    if isinstance(node, Review):  # never true, so never on a met path
        return trail, []
    here = _join(trail, node.label)
    if isinstance(node, AnyOf):
        first = next(c for c in node.children if values[id(c)] is True)
        return trace_met(first, values, here)
    met: list[Reason] = []
    path = here
    for child in node.children:
        sub_path, sub_met = trace_met(child, values, here)
        path = max(path, sub_path, key=len)
        met.extend(sub_met)
    return path, met


def _dedupe(reasons: list[Reason]) -> tuple[Reason, ...]:
    seen: dict[tuple[str, str, str], Reason] = {}
    for r in reasons:
        seen.setdefault((r.concept, r.status, r.cite), r)
    return tuple(seen.values())


def find_exclusions(policy: Policy, answers: Mapping[str, object]) -> tuple[Reason, ...]:
    """The uses the policy excludes that these answers show (each a reason to deny)."""
    return tuple(Reason(e.when.concept, EXCLUDED, e.cite, "exclusion")
                 for e in policy.exclusions if check_leaf(e.when, answers) is True)


def judge_tree(policy: Policy, answers: Mapping[str, object]) -> tuple[tuple[Reason, ...], Node, dict[int, bool | None]]:
    """The exclusions met, the branch judged and every node's value: what each decision rests on."""
    excluded = find_exclusions(policy, answers)
    # Once the request type is known the other branch is moot, not unmet: judge this one only.
    tree = policy.criteria_for(answers.get("request-type"))
    return excluded, tree, evaluate_tree(tree, answers)


def decide(policy: Policy, answers: Mapping[str, object]) -> tuple[str, tuple[Reason, ...]]:
    """The decision, with reasons for a denial only: what CRD shows at order signing.

    Same decision as score_response (before review routing) without tracing the met path or
    explaining a pend, which an order-sign answer never shows.
    """
    excluded = find_exclusions(policy, answers)
    if excluded:
        return DENY, excluded
    tree = policy.criteria_for(answers.get("request-type"))
    met = verdict(tree, answers)
    if met is False:  # only a denial is explained, from every node's value
        return DENY, _dedupe(explain_tree(tree, evaluate_tree(tree, answers)))
    return (APPROVE if met else PEND), ()


def score_response(policy: Policy, answers: Mapping[str, object], *,
                   deny_requires_review: bool = False,
                   default_period_months: int | None = None) -> Determination:
    """Score answers against a policy: approve on a complete met path, deny, or pend."""
    given = answers.get("request-type")
    request_type = given if isinstance(given, str) and given else INITIAL
    if policy.renewal is None:
        request_type = INITIAL  # one set of criteria: a renewal is judged as a first request
    period = policy.periods.get(request_type) or policy.periods[INITIAL]
    months = period.months if period.months is not None else default_period_months

    excluded, tree, values = judge_tree(policy, answers)
    verdict = values[id(tree)]
    reasons: tuple[Reason, ...]
    met: tuple[Reason, ...]
    path: str | None
    if excluded:
        decision, reasons, path, met = DENY, excluded, None, ()
    elif verdict is True:
        path, met_list = trace_met(tree, values)
        decision, reasons, met = APPROVE, (), _dedupe(met_list)
    else:
        decision = DENY if verdict is False else PEND
        reasons, path, met = _dedupe(explain_tree(tree, values)), None, ()
    would_deny = decision == DENY and deny_requires_review
    if would_deny:
        decision = PEND  # a clinician signs every denial; the reasons stay as they are
    return Determination(decision, request_type, months if decision == APPROVE else None,
                         period.months is not None, path, reasons, met, would_deny)


def open_concepts(policy: Policy, answers: Mapping[str, object]) -> list[str]:
    """Unanswered concepts whose answer could still change the decision, in question order."""
    excluded, tree, values = judge_tree(policy, answers)
    if excluded:
        return []
    wanted: set[str] = set()

    def visit(n: Node) -> None:
        if values[id(n)] is not None:
            return  # decided subtrees cannot change the outcome
        if isinstance(n, Fact):
            wanted.add(n.concept)
        for c in getattr(n, "children", ()):
            visit(c)

    visit(tree)
    for e in policy.exclusions:
        if check_leaf(e.when, answers) is None and values[id(tree)] is not False:
            wanted.add(e.when.concept)
    return [c for c in concepts_used(policy) if c in wanted]


__all__ = ["APPROVE", "DENY", "PEND", "CONTINUATION", "Determination", "Reason",
           "score_response", "decide", "open_concepts", "evaluate_tree", "check_leaf"]
